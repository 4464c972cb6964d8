"""The engine over an exported model: the body graph and the optional face graph, whichever runner
(shared.runtime.onnx_graph's OrtGraph, shared.runtime.tensorrt_plans' TensorRTGraph) runs them.

The graphs take batch 1 and static shapes; this turns them back into the `Engine` call shape.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import Tensor

from shared.errors import DanceError
from shared.label.exemplar.bank import ExemplarBank
from shared.model.face_residual import add_face_residual
from shared.runtime.engine import EngineInfo, PlateSwapping
from shared.runtime.manifest import EngineManifest

Graph = Callable[..., Tensor]  # graph(**named inputs) -> output; batch 1, static shapes


def read_plate(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DanceError(f"{path}: missing or unreadable plate image; re-export with `dance-export`")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


class _FaceCall:
    """Lets `add_face_residual` call a face graph like the torch FaceGenerator (crops one at a time,
    as the graph's batch is 1), so the crop / residual / paste math lives in one place."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph

    def __call__(self, label_crop: Tensor, image_crop: Tensor) -> Tensor:
        return torch.cat([self.graph(label_crop=lab[None], image_crop=img[None]) for lab, img in zip(label_crop, image_crop)])


class GraphEngine(PlateSwapping):
    """An exported model: the body graph (compositing inside it: the plate is an input) and the
    optional face graph, run by onnxruntime or TensorRT."""

    def __init__(self, manifest: EngineManifest, folder: Path, body: Graph, face: Graph | None, backend: str,
                 device: torch.device, precision: str) -> None:  # fmt: skip
        self.manifest = manifest
        self.folder = folder
        self.backend = backend
        self.device = device
        self.body_graph = body
        self.face_graph = face
        self.providers: list[str] = list(getattr(body, "providers", []))
        self.info = EngineInfo(
            image_size=manifest.image_size,
            schema_tag=manifest.schema_tag,
            temporal=manifest.temporal,
            composite=manifest.composite,
            has_face=face is not None,
            face_box_size=manifest.face_box_size,
            norm_stats=manifest.norm_stats,
            fps=manifest.fps,
            precision=precision,
            exemplars=ExemplarBank.load(folder / manifest.exemplars) if manifest.exemplars else None,
        )
        self.trained_plate = read_plate(folder / manifest.plate) if manifest.composite and manifest.plate else None
        self.plate: Tensor | None = None
        self.set_plate(None)

    @torch.inference_mode()
    def body(self, label: Tensor, prev: Tensor) -> Tensor:
        if not self.info.temporal:
            prev = torch.zeros_like(prev)
        frames = []
        for i in range(label.shape[0]):  # the graph's batch is 1
            feeds = {"label": label[i : i + 1], "prev": prev[i : i + 1]}
            if self.plate is not None:
                feeds["plate"] = self.plate
            frames.append(self.body_graph(**feeds))
        return frames[0] if len(frames) == 1 else torch.cat(frames)

    @torch.inference_mode()
    def add_face(self, frame: Tensor, label: Tensor, face_box: Tensor) -> Tensor:
        if self.face_graph is None:
            return frame
        return add_face_residual(frame, label.to(self.device), face_box, _FaceCall(self.face_graph))
