"""The engine interface: one call shape for every backend, and what live needs besides the networks.

    frame = engine.body(label, prev)                 # (1, 3, H, W): label in [0, 1], prev/frame in [-1, 1]
    frame = engine.add_face(frame, label, face_box)  # FaceGAN residual inside the face box (if trained)

`engine.info` carries image size, skeleton schema, the target's normalization statistics, face box
size, whether feedback is used, the plate. Compositing happens inside `body`, over the engine's
current plate, which `set_plate` replaces (`dance-live --background`), so callers never
special-case compositing models. Every engine takes and returns torch tensors; on CUDA they stay
on the device between calls, so the feedback frame never visits the host.

The backends: shared.runtime.torch_engine (eager, from a run's checkpoint: the baseline) and
shared.runtime.graph_engine (exported graphs, run by shared.runtime.onnx_graph or
shared.runtime.tensorrt_plans); shared.runtime.loading picks one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np
import torch
from torch import Tensor

from shared.errors import DanceError
from shared.io.tensors import image_to_tensor
from shared.label.exemplar.bank import ExemplarBank
from shared.label.channels import EXEMPLAR_NC, IMAGE_NC
from shared.normalize.stats import NormalizationStats

BACKENDS = ("auto", "torch", "onnxruntime", "onnxruntime-fp32", "onnxruntime-fp16", "onnxruntime-int8", "tensorrt")


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
    precision: str = "fp32"  # of the networks as run: "fp32" or "fp16"
    # The training frames to warp onto each pose (shared/label/exemplar/), for models conditioned on
    # them; build the label input with shared.label.exemplar.conditioner_for(info.exemplars).
    exemplars: ExemplarBank | None = field(default=None, compare=False, repr=False)

    @property
    def label_nc(self) -> int:
        """Channels of the body's label input: the stick figure, plus the warped exemplar."""
        return IMAGE_NC + (EXEMPLAR_NC if self.exemplars is not None else 0)


class Engine(Protocol):
    """What every backend offers."""

    info: EngineInfo
    backend: str  # "torch", "onnxruntime", "tensorrt"

    def body(self, label: Tensor, prev: Tensor) -> Tensor: ...

    def add_face(self, frame: Tensor, label: Tensor, face_box: Tensor) -> Tensor: ...

    def set_plate(self, plate: np.ndarray | None) -> None: ...


def plate_tensor(image: np.ndarray, size: tuple[int, int], device: torch.device) -> Tensor:
    """HxWx3 uint8 RGB, resized to `size` (width, height) -> (1, 3, H, W) in [-1, 1] on `device`."""
    width, height = size
    if image.shape[:2] != (height, width):
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    return image_to_tensor(image).to(device)


def resolve_device(device: str | torch.device) -> torch.device:
    """"auto" is CUDA when torch sees a GPU, else the CPU; asking for CUDA without one is an error."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise DanceError(f"unknown device {device!r}; use cpu, cuda, cuda:N or auto") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise DanceError(f"device {device} asked for, but torch sees no CUDA GPU here; use cpu")
    return resolved


class PlateSwapping:
    """`set_plate` for every engine: each sets `info`, `device` and `trained_plate` (HxWx3 uint8 or None)."""

    info: EngineInfo
    device: torch.device
    trained_plate: np.ndarray | None
    plate: Tensor | None

    def set_plate(self, plate: np.ndarray | None) -> None:
        """Composite over `plate` (HxWx3 uint8 RGB, resized to the engine's size), or the trained plate."""
        if not self.info.composite:
            return
        self.plate = plate_tensor(self.trained_plate if plate is None else plate, self.info.image_size, self.device)
