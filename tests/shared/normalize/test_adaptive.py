"""Normalization from the first frame (shared/normalize/adaptive.py), on the synthetic dancer's exact
poses, scaled and shifted in code (shared/synthetic/moves.py) to walk towards the camera, jump or
step back."""

from __future__ import annotations


import numpy as np
import pytest

from shared.normalize.calibrator import Calibrator, LiveNormalizer
from shared.normalize.stats import NormalizationStats, PoseNormalizer, compute_stats
from shared.pose.schema import ANKLES, Joint
from shared.synthetic.body import SOURCE_BODY, TARGET_BODY
from shared.synthetic.dancer import dance_poses
from shared.synthetic.moves import jumping, moved, stepping_back

SIZE = (256, 256)
FPS = 30.0


def drawn_height(keypoints: np.ndarray) -> float:
    """Head-to-ankle height of one pose (mean ankle y - nose y), as the stats measure it."""
    return float(np.nanmean(keypoints[list(ANKLES), 1]) - keypoints[Joint.NOSE, 1])


@pytest.fixture(scope="module")
def target() -> NormalizationStats:
    return compute_stats(dance_poses(TARGET_BODY, 60, SIZE, FPS))


def normalizer(target: NormalizationStats) -> LiveNormalizer:
    return LiveNormalizer(target, target_pose=target.standing_pose(dance_poses(TARGET_BODY, 1, SIZE, FPS).schema))


def test_a_half_second_clip_is_normalized_from_its_first_frame(target: NormalizationStats) -> None:
    source = dance_poses(SOURCE_BODY, 15, SIZE, FPS)  # 0.5 s: shorter than any calibration window
    whole_clip = Calibrator(SIZE, seconds=0.5)
    for t in range(len(source)):
        whole_clip.add(source[t], t / FPS)
    calibrated = PoseNormalizer(whole_clip.finish(), target)
    live = normalizer(target)
    for t in range(len(source)):
        out = live(source[t], t / FPS)
        assert not live.calibrating and live.mode == "full body"
        assert not np.allclose(out.keypoints[out.valid], source[t].keypoints[source[t].valid])  # normalized
        if t == 0:
            first = drawn_height(out.keypoints)
            assert first == pytest.approx(drawn_height(calibrated(source[0]).keypoints), rel=0.15)
            assert first == pytest.approx(target.height_far, rel=0.15)
            assert abs(np.nanmax(out.keypoints[list(ANKLES), 1]) - target.ankle_med) < 0.1 * target.height_far  # on its floor


def test_a_dancer_walking_towards_the_camera_stays_at_the_targets_height(target: NormalizationStats) -> None:
    frames = 90  # 3 s
    source = dance_poses(SOURCE_BODY, frames, SIZE, FPS)
    growth = 0.6 * (1.0 + 0.5 * np.arange(frames) / (frames - 1))  # x1.5 over 3 s
    walking = moved(source, growth, np.zeros(frames))
    assert drawn_height(walking.keypoints[-1]) > 1.4 * drawn_height(walking.keypoints[0])
    live = normalizer(target)
    ratios = [drawn_height(live(walking[t], t / FPS).keypoints) / target.height_far for t in range(frames)]
    assert max(abs(r - 1.0) for r in ratios) < 0.15, ratios
    # the fixed whole-clip stats of the first second do not follow: the end is drawn far too big
    first_second = compute_stats(walking.replace(keypoints=walking.keypoints[:30], valid=walking.valid[:30],
                                                 confidence=walking.confidence[:30]))
    fixed = PoseNormalizer(first_second, target)
    assert drawn_height(fixed(walking[frames - 1]).keypoints) / target.height_far > 1.2


@pytest.mark.parametrize("air_frames", [12, 18])  # 0.4 s and 0.6 s in the air
def test_a_jump_does_not_change_the_scale_or_the_floor(target: NormalizationStats, air_frames: int) -> None:
    frames = 60
    source = dance_poses(SOURCE_BODY, frames, SIZE, FPS)
    in_the_air = jumping(source, 30, air_frames)  # 40 px up at the top
    live = normalizer(target)
    adaptive = live._adaptive  # noqa: SLF001 - the estimates under test
    outs, scales, floors = [], [], []
    for t in range(frames):
        outs.append(live(in_the_air[t], t / FPS))
        scales.append(adaptive.scale)
        floors.append(adaptive.floor)
    before = scales[29]
    assert max(abs(s / before - 1.0) for s in scales[30:]) < 0.05
    assert max(abs(f - floors[29]) for f in floors[30:]) < 0.05 * target.height_far
    feet = [np.nanmax(o.keypoints[list(ANKLES), 1]) for o in outs]
    assert feet[29] - min(feet[30 : 30 + air_frames]) > 20  # the jump is drawn


def test_a_dancer_stepping_back_is_put_back_on_the_floor_within_a_second(target: NormalizationStats) -> None:
    frames = 90
    source = dance_poses(SOURCE_BODY, frames, SIZE, FPS)
    stepping = stepping_back(source, 30, 6)  # from 1.0 s to 1.2 s: feet 25 px up, body x0.85
    live = normalizer(target)
    feet = [np.nanmax(live(stepping[t], t / FPS).keypoints[list(ANKLES), 1]) for t in range(frames)]
    floor = live._adaptive.target_floor  # noqa: SLF001 - where the feet are put
    assert min(feet[30:40]) < floor - 20  # the step is drawn at first (it might be a jump) ...
    assert all(abs(f - floor) < 3 for f in feet[60:])  # ... and 0.8 s after it, the feet are back on the floor


def test_a_source_the_size_of_the_target_is_drawn_unchanged_in_size(target: NormalizationStats) -> None:
    same = dance_poses(TARGET_BODY, 30, SIZE, FPS)
    live = normalizer(target)
    for t in range(30):
        out = live(same[t], t / FPS)
        assert drawn_height(out.keypoints) == pytest.approx(drawn_height(same.keypoints[t]), rel=0.05)


def test_a_person_lost_for_a_whole_window_is_measured_afresh(target: NormalizationStats) -> None:
    source = dance_poses(SOURCE_BODY, 30, SIZE, FPS)
    near = moved(source, np.full(30, 1.2), np.zeros(30))
    live = normalizer(target)
    for t in range(30):
        live(source[t], t / FPS)
    out = live(near[0], 5.0)  # back after 4 s, nearer: no easing from the old estimate
    assert drawn_height(out.keypoints) == pytest.approx(target.height_far, rel=0.1)

