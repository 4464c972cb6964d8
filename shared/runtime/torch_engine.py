"""The torch backend: a trained run's networks run eagerly, as in training (the baseline every
exported graph is checked against)."""

from __future__ import annotations

import torch
from torch import Tensor

from shared.model.compositing import composite
from shared.model.face_residual import add_face_residual
from shared.runtime.engine import EngineInfo, PlateSwapping
from shared.runtime.trained import TrainedModel


class TorchEngine(PlateSwapping):
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
            exemplars=model.exemplars,
        )
        self.trained_plate = model.plate_image
        self.plate: Tensor | None = None
        self.set_plate(None)

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
