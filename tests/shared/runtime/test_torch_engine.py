"""The torch backend, loaded from a trained run: frames, feedback, face and plate swapping."""

from pathlib import Path

import numpy as np
import torch

from shared.runtime.loading import load_engine


def test_torch_engine_generates_frames_with_feedback_and_face(tiny_run: Path) -> None:
    engine = load_engine(tiny_run)
    assert engine.backend == "torch"
    assert engine.info.image_size == (256, 256) and engine.info.composite and engine.info.has_face
    assert engine.info.schema_tag == "mediapipe33@1" and engine.info.face_box_size == 64
    label = torch.zeros(1, engine.info.label_nc, 256, 256)
    label[..., 100:140, 120:130] = 1.0
    first = engine.body(label, torch.zeros(1, 3, 256, 256))
    second = engine.body(label, first)
    assert first.shape == (1, 3, 256, 256) and float(first.abs().max()) <= 1.0
    assert not torch.equal(first, second), "the previous frame is an input that matters"
    box = torch.tensor([[96, 40, 64]])
    with_face = engine.add_face(second, label, box)
    outside = torch.ones(256, 256, dtype=torch.bool)
    outside[40:104, 96:160] = False
    assert torch.equal(with_face[..., outside], second[..., outside]), "the face residual stays inside its box"


def test_set_plate_swaps_the_background(tiny_run: Path) -> None:
    engine = load_engine(tiny_run)
    label, prev = torch.zeros(1, engine.info.label_nc, 256, 256), torch.zeros(1, 3, 256, 256)
    trained = engine.body(label, prev)
    engine.set_plate(np.full((100, 100, 3), 255, np.uint8))  # resized to the engine's size
    white = engine.body(label, prev)
    assert float(white.mean()) > float(trained.mean()) + 0.2
    engine.set_plate(None)
    assert torch.allclose(engine.body(label, prev), trained)
