"""Upper-body mode: a desk source (no hips or legs) drives the target's arms and head while the
target's own legs stand still on its floor."""

from __future__ import annotations

import numpy as np
import pytest

from shared.errors import DanceError
from shared.pose.keypoints import PoseSequence
from shared.synthetic.body import SOURCE_BODY, TARGET_BODY
from shared.synthetic.dancer import dance_poses
from shared.pose.schema import ANKLES, LOWER_BODY, Joint
from shared.normalize.upper_body import (
    UpperBodyNormalizer,
    legs_missing,
    standing_pose,
    upper_body_stats,
)

SIZE = (256, 256)
WRIST = Joint.LEFT_WRIST


def desk(seq: PoseSequence) -> PoseSequence:
    """The source as a desk webcam sees it: hips and legs out of view."""
    valid = seq.valid.copy()
    valid[:, list(LOWER_BODY)] = False
    return seq.replace(valid=valid)


@pytest.fixture(scope="module")
def target() -> PoseSequence:
    return dance_poses(TARGET_BODY, 60, SIZE, seed=0)


@pytest.fixture(scope="module")
def source() -> PoseSequence:
    return dance_poses(SOURCE_BODY, 60, SIZE, seed=3)


def test_upper_body_mode_engages_only_without_legs(source: PoseSequence):
    assert not legs_missing(source)
    assert legs_missing(desk(source))


def test_the_desk_source_moves_the_arms_and_the_legs_stand_still(target: PoseSequence, source: PoseSequence):
    standing = standing_pose(target)
    normalizer = UpperBodyNormalizer(upper_body_stats(desk(source)), standing)
    out = [normalizer(desk(source)[t]) for t in range(len(source))]
    legs = np.stack([f.keypoints[list(LOWER_BODY)] for f in out])
    assert np.isfinite(legs).all()
    assert np.ptp(legs, axis=0).max() == 0  # the same standing legs in every frame
    feet = legs[:, [LOWER_BODY.index(a) for a in ANKLES], 1]
    floor = target.keypoints[:, list(ANKLES), 1]
    assert np.nanmin(floor) - 1 <= feet.min() and feet.max() <= np.nanmax(floor) + 1  # on the target's floor band
    wrists = np.stack([f.keypoints[WRIST] for f in out])
    assert np.ptp(wrists[:, 1]) > 10  # the source's arms move the target's
    # the shoulders are the target's size, and sit on the target's own shoulders
    width = np.median([np.linalg.norm(f.keypoints[Joint.LEFT_SHOULDER] - f.keypoints[Joint.RIGHT_SHOULDER]) for f in out])
    target_width = np.linalg.norm(standing.keypoints[Joint.LEFT_SHOULDER] - standing.keypoints[Joint.RIGHT_SHOULDER])
    assert width == pytest.approx(target_width, rel=0.15)
    centre = np.median([(f.keypoints[Joint.LEFT_SHOULDER] + f.keypoints[Joint.RIGHT_SHOULDER]) / 2 for f in out], axis=0)
    target_centre = (standing.keypoints[Joint.LEFT_SHOULDER] + standing.keypoints[Joint.RIGHT_SHOULDER]) / 2
    assert np.linalg.norm(centre - target_centre) < 0.25 * target_width


def test_no_shoulders_is_a_dance_error(source: PoseSequence):
    valid = source.valid.copy()
    valid[:, [Joint.LEFT_SHOULDER, Joint.RIGHT_SHOULDER]] = False
    with pytest.raises(DanceError, match="shoulders"):
        upper_body_stats(source.replace(valid=valid))


def test_real_top_half_of_a_clip_engages_upper_body_mode():
    from shared.pose.mediapipe_estimator import MediaPipeEstimator
    from shared.io.video import read_frames
    from tests.conftest import fetch_pose2sim_clip

    frames = list(read_frames(fetch_pose2sim_clip("cam01"), max_frames=40))[::2]
    height, width = frames[0].shape[:2]
    with MediaPipeEstimator() as estimator:
        whole = [estimator(f) for f in frames]
    with MediaPipeEstimator() as estimator:
        top = [estimator(np.ascontiguousarray(f[: height // 2])) for f in frames]
    schema = whole[0].schema
    whole_seq = PoseSequence.from_frames(whole, (width, height), 30.0, schema)
    top_seq = PoseSequence.from_frames(top, (width, height // 2), 30.0, schema)
    assert whole_seq.present.sum() >= 15 and not legs_missing(whole_seq)
    assert top_seq.present.sum() >= 15 and legs_missing(top_seq)
    assert upper_body_stats(top_seq).num_frames >= 15


def test_the_target_stats_carry_its_standing_pose_through_json(target: PoseSequence):
    from shared.normalize.stats import NormalizationStats, compute_stats
    from shared.pose.schema import HOLISTIC_SCHEMA

    stats = compute_stats(target)
    again = NormalizationStats.from_json(stats.to_json())
    assert again == stats
    pose = again.standing_pose(HOLISTIC_SCHEMA)
    expected = standing_pose(target)
    legs = list(LOWER_BODY)
    np.testing.assert_allclose(pose.keypoints[legs], expected.keypoints[legs], atol=0.01)
    assert not pose.valid[target.schema.num_joints :].any()  # hands come from the source
    old = stats.to_json()
    del old["standing"]
    assert NormalizationStats.from_json(old).standing_pose(target.schema) is None  # stats from before: no upper-body mode
