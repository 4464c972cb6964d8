"""Facing (shared/normalize/facing.py): a source seen from behind is drawn facing the way the target
was filmed. A pose seen from behind is the front view reflected left-right in the image with the
person's own left and right kept: the synthetic dancer (who faces the camera) reflected in code."""

from __future__ import annotations

import numpy as np
import pytest

from shared.normalize.calibrator import LiveNormalizer
from shared.normalize.facing import FACING_CLEAR, FacingMatcher, facing, front_share
from shared.normalize.stats import NormalizationStats, compute_stats
from shared.pose.keypoints import PoseFrame, PoseSequence
from shared.pose.schema import HIPS, SHOULDERS, Joint
from shared.synthetic.body import SOURCE_BODY, TARGET_BODY
from shared.synthetic.dancer import dance_poses

SIZE = (256, 256)
FPS = 30.0


def seen_from_behind(pose: PoseFrame) -> PoseFrame:
    """The same body turned round: its image reflected about the middle column, labels kept."""
    keypoints = pose.keypoints.copy()
    keypoints[:, 0] = SIZE[0] - keypoints[:, 0]
    return PoseFrame(keypoints, pose.confidence.copy(), pose.valid.copy(), pose.schema_tag)


def side_on(pose: PoseFrame) -> PoseFrame:
    """Shoulders and hips brought onto the body's middle line: seen from the side."""
    keypoints = pose.keypoints.copy()
    for left, right in (SHOULDERS, HIPS):
        keypoints[[left, right], 0] = keypoints[[left, right], 0].mean()
    return PoseFrame(keypoints, pose.confidence.copy(), pose.valid.copy(), pose.schema_tag)


def rotated(pose: PoseFrame, degrees: float) -> PoseFrame:
    angle = np.deg2rad(degrees)
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], np.float32)
    centre = np.array(SIZE, np.float32) / 2
    keypoints = (pose.keypoints - centre) @ turn.T + centre
    return PoseFrame(keypoints, pose.confidence.copy(), pose.valid.copy(), pose.schema_tag)


@pytest.fixture(scope="module")
def dancer() -> PoseSequence:
    return dance_poses(SOURCE_BODY, 30, SIZE, FPS)


def test_facing_is_positive_towards_the_camera_negative_away_and_near_zero_side_on(dancer: PoseSequence) -> None:
    for t in range(len(dancer)):
        front = dancer[t]
        assert facing(front.keypoints, front.valid) > FACING_CLEAR
        back = seen_from_behind(front)
        assert facing(back.keypoints, back.valid) < -FACING_CLEAR
        side = side_on(front)
        assert abs(facing(side.keypoints, side.valid)) < FACING_CLEAR
        lying = rotated(front, 90.0)  # the sign follows the body, not the image's axes
        assert facing(lying.keypoints, lying.valid) > FACING_CLEAR
    unseen = dancer[0].valid.copy()
    unseen[Joint.LEFT_HIP] = False
    assert facing(dancer[0].keypoints, unseen) is None


def test_front_share_counts_the_clearly_facing_frames(dancer: PoseSequence) -> None:
    assert front_share(dancer) == 1.0
    half = [dancer[t] if t % 2 else seen_from_behind(dancer[t]) for t in range(len(dancer))]
    sides = [side_on(dancer[t]) for t in range(len(dancer))]
    mixed = PoseSequence.from_frames(half + sides, SIZE, FPS, dancer.schema)
    assert front_share(mixed) == pytest.approx(0.5)  # side-on frames do not count
    assert front_share(PoseSequence.from_frames(sides, SIZE, FPS, dancer.schema)) is None


def test_a_source_seen_from_behind_is_turned_to_a_target_filmed_from_the_front(dancer: PoseSequence) -> None:
    matcher = FacingMatcher(target_front_share=1.0)
    back = seen_from_behind(dancer[0])
    turned = matcher(back)
    assert facing(turned.keypoints, turned.valid) > FACING_CLEAR
    np.testing.assert_array_equal(turned.keypoints[Joint.LEFT_WRIST], back.keypoints[Joint.RIGHT_WRIST])
    np.testing.assert_array_equal(turned.keypoints[Joint.NOSE], back.keypoints[Joint.NOSE])
    side = side_on(back)
    np.testing.assert_array_equal(matcher(side).keypoints, side.sides_swapped().keypoints)  # side-on: still turned
    front = matcher(dancer[1])
    np.testing.assert_array_equal(front.keypoints, dancer[1].keypoints)  # facing the camera: untouched
    side = side_on(dancer[2])
    np.testing.assert_array_equal(matcher(side).keypoints, side.keypoints)  # side-on after the front: untouched
    matcher(back)
    assert matcher.swapping
    matcher(PoseFrame.missing(dancer.schema))  # the person left: the next one starts untouched
    assert not matcher.swapping



def test_a_turned_source_has_its_depth_turned_round_with_it(dancer: PoseSequence) -> None:
    """Seen from behind, a hand held out in front of the person is farther from the camera than the
    hips (positive depth); drawn facing the camera, that hand is nearer (negative), and it is the
    person's other hand."""
    back = seen_from_behind(dancer[0])
    back.depth = np.zeros(len(back.valid), np.float32)
    back.depth[Joint.LEFT_WRIST] = 0.4
    turned = FacingMatcher(target_front_share=1.0)(back)
    assert turned.depth[Joint.RIGHT_WRIST] == pytest.approx(-0.4)
    assert turned.depth[Joint.LEFT_WRIST] == 0.0
    assert back.depth[Joint.LEFT_WRIST] == pytest.approx(0.4)  # the source's own pose is left as it was
    front = dancer[1]
    front.depth = back.depth.copy()
    np.testing.assert_array_equal(FacingMatcher(target_front_share=1.0)(front).depth, back.depth)  # not turned: as it was


@pytest.mark.parametrize("share", [None, 0.5, 0.9])
def test_nothing_is_turned_for_a_target_filmed_both_ways_or_of_unknown_facing(dancer: PoseSequence, share: float | None) -> None:
    back = seen_from_behind(dancer[0])
    np.testing.assert_array_equal(FacingMatcher(share)(back).keypoints, back.keypoints)


def test_a_target_filmed_from_behind_gets_front_facing_sources_turned(dancer: PoseSequence) -> None:
    turned = FacingMatcher(target_front_share=0.0)(dancer[0])
    assert facing(turned.keypoints, turned.valid) < -FACING_CLEAR


def test_the_targets_facing_is_kept_in_its_stats_and_old_stats_load_without_it() -> None:
    stats = compute_stats(dance_poses(TARGET_BODY, 30, SIZE, FPS))
    assert stats.front_share == 1.0
    assert NormalizationStats.from_json(stats.to_json()).front_share == 1.0
    old = stats.to_json()
    del old["front_share"]
    assert NormalizationStats.from_json(old).front_share is None


def test_live_normalization_draws_a_source_from_behind_facing_as_the_target(dancer: PoseSequence) -> None:
    target = compute_stats(dance_poses(TARGET_BODY, 60, SIZE, FPS))
    live = LiveNormalizer(target)
    for t in range(10):
        out = live(seen_from_behind(dancer[t]), t / FPS)
        assert facing(out.keypoints, out.valid) > FACING_CLEAR
    assert "turned" in live.describe()
