"""A wrapper around any engine that records its calls, for the feedback and pipeline tests."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


class SpyEngine:
    """Wraps an engine and records every body call's inputs and output."""

    def __init__(self, engine) -> None:  # noqa: ANN001 - any Engine
        self.engine = engine
        self.info = engine.info
        self.backend = engine.backend
        self.body_calls: list[tuple[Tensor, Tensor, Tensor]] = []  # (label, prev, output)
        self.face_calls = 0

    def body(self, label: Tensor, prev: Tensor) -> Tensor:
        out = self.engine.body(label, prev)
        self.body_calls.append((label.clone(), prev.clone(), out.clone()))
        return out

    def add_face(self, frame: Tensor, label: Tensor, face_box: Tensor) -> Tensor:
        self.face_calls += 1
        return self.engine.add_face(frame, label, face_box)

    def set_plate(self, plate: np.ndarray | None) -> None:
        self.engine.set_plate(plate)

    def prev_is_zero(self, call: int) -> bool:
        return bool(torch.count_nonzero(self.body_calls[call][1]) == 0)
