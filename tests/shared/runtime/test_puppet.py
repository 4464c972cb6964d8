"""The puppet step (normalize -> label -> face box -> conditioning -> generate), on the tiny engine (no MediaPipe)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shared.label.exemplar.conditioner import conditioner_for
from shared.label.facebox import face_box
from shared.label.render import render_label
from shared.normalize.calibrator import LiveNormalizer
from shared.normalize.stats import NormalizationStats, compute_stats
from shared.pose.keypoints import PoseFrame, PoseSequence
from shared.pose.schema import BODY_SCHEMA
from shared.runtime.feedback import FeedbackLoop
from shared.runtime.puppet import PuppetStep
from shared.runtime.torch_engine import TorchEngine
from shared.runtime.trained import load_trained
from shared.synthetic.body import SOURCE_BODY
from shared.synthetic.dancer import dance_poses
from tests.spy_engine import SpyEngine

SIZE = (256, 256)
FPS = 30.0


@pytest.fixture(scope="module")
def engine(tiny_run: Path) -> TorchEngine:
    engine = TorchEngine(load_trained(tiny_run))
    engine.set_plate(None)
    return engine


@pytest.fixture(scope="module")
def source() -> PoseSequence:
    """Another body than the target's, dancing: its stats differ, so normalization moves it."""
    return dance_poses(SOURCE_BODY, 10, SIZE, FPS)


@pytest.fixture(scope="module")
def source_stats(source: PoseSequence) -> NormalizationStats:
    return compute_stats(source)


def test_the_step_is_normalize_label_face_box_conditioning_then_feedback(engine, source, source_stats) -> None:  # noqa: ANN001
    assert engine.info.exemplars is not None and engine.info.has_face  # every stage is exercised
    step = PuppetStep(engine, source_stats, full_body=True)
    normalizer = LiveNormalizer(engine.info.norm_stats, source_stats)
    conditioner = conditioner_for(engine.info.exemplars)
    feedback = FeedbackLoop(engine)
    for t in range(len(source)):
        labelled, generated = step(source[t], t / FPS)
        driving = normalizer(source[t], t / FPS)
        label = render_label(driving, SIZE)
        box = face_box(driving, SIZE, engine.info.face_box_size)
        expected = feedback(conditioner(driving, label), box, True)
        assert np.array_equal(labelled.pose.keypoints, driving.keypoints, equal_nan=True)
        assert not np.array_equal(driving.keypoints, source[t].keypoints, equal_nan=True)  # normalized onto the target
        assert np.array_equal(labelled.label, label) and labelled.face_box == box and labelled.present
        assert np.array_equal(generated.image, expected.image) and not generated.held
        assert generated.restarted == (t == 0)


def test_the_two_halves_called_apart_give_what_the_call_gives(engine, source, source_stats) -> None:  # noqa: ANN001
    whole, halves = PuppetStep(engine, source_stats), PuppetStep(engine, source_stats)
    labelled = [halves.label(source[t], t / FPS) for t in range(4)]  # live labels ahead of the generator
    for t in range(4):
        assert np.array_equal(whole(source[t], t / FPS)[1].image, halves.generate(labelled[t]).image)


def test_without_stats_it_normalizes_from_the_first_frame(engine, source) -> None:  # noqa: ANN001
    step = PuppetStep(engine)
    first = step.label(source[0], 0.0)
    assert not step.normalizer.calibrating and first.present and step.normalizer.mode == "full body"
    assert not np.array_equal(first.pose.keypoints, source[0].keypoints, equal_nan=True)  # normalized at once
    drawn = np.nanmean(first.pose.keypoints[[27, 28], 1]) - first.pose.keypoints[0, 1]
    assert drawn == pytest.approx(engine.info.norm_stats.height_far, rel=0.15)  # at the target's height


def test_nobody_seen_has_no_face_box_and_holds_without_calling_the_engine(engine, source, source_stats) -> None:  # noqa: ANN001
    spy = SpyEngine(engine)
    step = PuppetStep(spy, source_stats, lost_frames=2)
    _, shown = step(source[0], 0.0)
    nobody, held = step(PoseFrame.missing(BODY_SCHEMA), 1 / FPS)
    assert not nobody.present and nobody.face_box is None
    assert held.held and np.array_equal(held.image, shown.image) and len(spy.body_calls) == 1


def test_a_new_plate_refreshes_the_empty_scene(engine, source_stats) -> None:  # noqa: ANN001
    spy = SpyEngine(engine)
    step = PuppetStep(spy, source_stats)
    nobody = PoseFrame.missing(BODY_SCHEMA)
    empty = step(nobody, 0.0)[1].image
    assert np.array_equal(step(nobody, 1 / FPS)[1].image, empty) and len(spy.body_calls) == 1  # cached
    try:
        step.set_plate(np.zeros((*SIZE[::-1], 3), np.uint8))
        black = step(nobody, 2 / FPS)[1].image
        assert len(spy.body_calls) == 2 and not np.array_equal(black, empty)
    finally:
        engine.set_plate(None)
