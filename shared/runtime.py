"""The one inference seam: `load_generator(...)` gives an engine with one call shape for every backend.

    engine = load_generator("runs/target")           # a trained run (torch eager), or an engines folder
    frame = engine.body(label, prev)                 # (1, 3, H, W): label in [0, 1], prev/frame in [-1, 1]
    frame = engine.add_face(frame, label, face_box)  # FaceGAN residual inside the face box (if trained)

`engine.info` carries everything live needs besides the networks: image size, skeleton schema,
the target's normalization statistics, face box size, whether feedback is used, the plate.
Compositing happens inside `body`, over the engine's current plate, which `set_plate` replaces
(`dance-live --background`), so callers never special-case compositing models.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from shared.compositing import composite, plate_to_tensor
from shared.errors import DanceError
from shared.face_residual import add_face_residual
from shared.normalize import NormalizationStats
from shared.trained import TrainedModel, load_trained


@dataclass(frozen=True)
class EngineInfo:
    image_size: tuple[int, int]  # (width, height) of labels and frames
    schema_tag: str
    temporal: bool  # feed the previous output back (False: always zeros)
    composite: bool  # the body generator outputs RGB + alpha over a plate
    has_face: bool
    face_box_size: int
    norm_stats: NormalizationStats  # the target's, for global pose normalization
    fps: float  # the target video's frame rate


class FrameGenerator(Protocol):
    """What every backend offers."""

    info: EngineInfo
    backend: str  # "torch", "onnxruntime", "tensorrt", ...

    def body(self, label: Tensor, prev: Tensor) -> Tensor: ...

    def add_face(self, frame: Tensor, label: Tensor, face_box: Tensor) -> Tensor: ...

    def set_plate(self, plate: np.ndarray | None) -> None: ...


class TorchEngine:
    """Torch eager on a trained run: the paper's way of running the model (the baseline)."""

    backend = "torch"

    def __init__(self, model: TrainedModel, device: str | torch.device = "cpu") -> None:
        self.model = model
        self.device = torch.device(device)
        self.generator = model.generator.to(self.device).eval()
        self.face_generator = model.face_generator.to(self.device).eval() if model.face_generator else None
        config = model.config
        self.info = EngineInfo(
            image_size=tuple(config.image_size),
            schema_tag=model.schema_tag,
            temporal=config.temporal,
            composite=config.generator.composite,
            has_face=self.face_generator is not None,
            face_box_size=config.face.box_size,
            norm_stats=model.norm_stats,
            fps=model.fps,
        )
        self.trained_plate = model.plate_image
        self.plate: Tensor | None = None
        self.set_plate(None)

    def set_plate(self, plate: np.ndarray | None) -> None:
        """Composite over `plate` (HxWx3 uint8 RGB, resized to the engine's size), or the trained plate."""
        if not self.info.composite:
            return
        image = self.trained_plate if plate is None else plate
        width, height = self.info.image_size
        if image.shape[:2] != (height, width):
            import cv2

            image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        self.plate = plate_to_tensor(image).to(self.device)

    @torch.inference_mode()
    def body(self, label: Tensor, prev: Tensor) -> Tensor:
        if not self.info.temporal:
            prev = torch.zeros_like(prev)
        return composite(self.generator(label.to(self.device), prev.to(self.device)), self.plate)

    @torch.inference_mode()
    def add_face(self, frame: Tensor, label: Tensor, face_box: Tensor) -> Tensor:
        if self.face_generator is None:
            return frame
        return add_face_residual(frame, label.to(self.device), face_box, self.face_generator)


def load_generator(source: str | Path, backend: str = "auto", device: str = "cpu") -> FrameGenerator:
    """An engine for a trained run folder (torch) or an exported engines folder (see export/)."""
    source = Path(source)
    if not source.exists():
        raise DanceError(f"{source}: no such run or engines folder")
    if (source / "checkpoints").is_dir():
        if backend not in ("auto", "torch"):
            raise DanceError(f"{source} is a training run: only the torch backend runs it; export it with dance-export for {backend}")
        return TorchEngine(load_trained(source), device)
    raise DanceError(f"{source}: neither a training run (no checkpoints/) nor an engines folder (no manifest.json)")
