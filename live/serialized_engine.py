"""One engine shared by several live pipelines (the server's viewer and mirror sessions)."""

from __future__ import annotations

import threading

import numpy as np
from torch import Tensor

from shared.runtime.engine import Engine


class SerializedEngine:
    """One engine shared by several pipelines, one call at a time: TensorRT contexts and ONNX
    Runtime IO bindings are not re-entrant, and on a CPU parallel calls only fight over the same
    cores."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.info = engine.info
        self.backend = engine.backend
        self._lock = threading.Lock()

    def body(self, label: Tensor, prev: Tensor) -> Tensor:
        with self._lock:
            return self.engine.body(label, prev)

    def add_face(self, frame: Tensor, label: Tensor, face_box: Tensor) -> Tensor:
        with self._lock:
            return self.engine.add_face(frame, label, face_box)

    def set_plate(self, plate: np.ndarray | None) -> None:
        with self._lock:
            self.engine.set_plate(plate)
