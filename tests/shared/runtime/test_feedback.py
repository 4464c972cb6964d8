"""The generator stage's feedback rules, on the tiny engine with a spy (no MediaPipe)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from shared.label.facebox import face_box
from shared.label.exemplar.conditioner import conditioner_for
from shared.runtime.feedback import FeedbackLoop, rollout
from shared.io.tensors import tensor_to_image
from shared.label.render import render_label
from shared.runtime.torch_engine import TorchEngine
from shared.synthetic.body import SOURCE_BODY
from shared.synthetic.dancer import dance_poses
from shared.runtime.trained import load_trained
from tests.spy_engine import SpyEngine

SIZE = (256, 256)


@pytest.fixture(scope="module")
def engine(tiny_run: Path) -> TorchEngine:
    return TorchEngine(load_trained(tiny_run))


@pytest.fixture
def spy(engine: TorchEngine) -> SpyEngine:
    engine.set_plate(None)
    return SpyEngine(engine)


@pytest.fixture(scope="module")
def labels(engine: TorchEngine) -> list[tuple[torch.Tensor, object]]:
    poses = dance_poses(SOURCE_BODY, 12, SIZE)
    conditioner = conditioner_for(engine.info.exemplars)
    return [(conditioner(poses[t], render_label(poses[t], SIZE)), face_box(poses[t], SIZE, 64)) for t in range(0, 12, 3)]


def test_first_frame_starts_from_zeros_then_the_output_is_fed_back(spy, labels) -> None:  # noqa: ANN001
    gen = FeedbackLoop(spy, lost_frames=2)
    first = gen(*labels[0], True)
    second = gen(*labels[1], True)
    assert first.restarted and not first.held and spy.prev_is_zero(0)
    assert not second.restarted and torch.equal(spy.body_calls[1][1], spy.body_calls[0][2])  # its own body output
    assert spy.face_calls == 2 and first.image.shape == (256, 256, 3) and first.image.dtype == np.uint8
    from_zeros = tensor_to_image(spy.engine.body(labels[1][0], torch.zeros(1, 3, 256, 256)))
    assert np.abs(from_zeros.astype(int) - tensor_to_image(spy.body_calls[1][2]).astype(int)).max() > 0, \
        "the previous frame is an input that changes the output"


def test_lost_person_holds_the_last_frame_then_restarts_from_zeros(spy, labels) -> None:  # noqa: ANN001
    gen = FeedbackLoop(spy, lost_frames=2)
    blank = torch.zeros_like(labels[0][0])
    out = gen(*labels[0], True)
    for _ in range(2):  # lost for K frames: held, and the engine is not called
        held = gen(blank, None, False)
        assert held.held and np.array_equal(held.image, out.image)
    assert len(spy.body_calls) == 1
    back = gen(*labels[1], True)  # back within K: the feedback continues
    assert not back.restarted and torch.equal(spy.body_calls[1][1], spy.body_calls[0][2])
    for _ in range(3):  # lost for more than K frames
        assert np.array_equal(gen(blank, None, False).image, back.image)
    again = gen(*labels[2], True)
    assert again.restarted and spy.prev_is_zero(2)


def test_before_anyone_is_seen_the_empty_scene_is_shown(spy, labels) -> None:  # noqa: ANN001
    gen = FeedbackLoop(spy)
    blank = torch.zeros_like(labels[0][0])
    first = gen(blank, None, False)
    second = gen(blank, None, False)
    assert first.held and np.array_equal(first.image, second.image) and len(spy.body_calls) == 1  # made once
    assert torch.count_nonzero(spy.body_calls[0][0]) == 0 and spy.prev_is_zero(0)
    gen.plate_changed()
    gen(blank, None, False)
    assert len(spy.body_calls) == 2
    assert gen(*labels[0], True).restarted  # the idle scene is never fed back


def test_rollout_feeds_each_output_back_from_zeros() -> None:
    """The rule eval, int8 calibration and the export parity cases share with live."""
    calls = []

    def body(label: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        calls.append(prev.clone())
        return prev + label

    labels = [torch.full((1, 3, 4, 6), float(v)) for v in (1, 2, 3)]
    steps = list(rollout(body, labels))
    assert [float(s.frame.mean()) for s in steps] == [1.0, 3.0, 6.0]
    assert calls[0].shape == (1, 3, 4, 6) and torch.count_nonzero(calls[0]) == 0, "zeros first, at the label's size"
    assert all(torch.equal(steps[t].prev, steps[t - 1].frame) for t in (1, 2)), "then the previous output"
    frame_by_frame = list(rollout(body, labels, feed_back=False))
    assert [float(s.frame.mean()) for s in frame_by_frame] == [1.0, 2.0, 3.0] and all(torch.count_nonzero(s.prev) == 0 for s in frame_by_frame)
