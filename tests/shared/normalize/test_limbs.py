"""Unseen elbows and knees placed from their limb's ends and the target's limb lengths."""

from __future__ import annotations

import numpy as np

from shared.normalize.calibrator import LiveNormalizer
from shared.normalize.limbs import complete_limbs, limb_lengths
from shared.normalize.stats import NormalizationStats, compute_stats
from shared.pose.keypoints import PoseFrame, PoseSequence
from shared.pose.schema import BODY_SCHEMA, Joint
from shared.synthetic.body import SOURCE_BODY, TARGET_BODY
from shared.synthetic.dancer import dance_poses

# a figure whose torso is 100 px (shoulders' middle to hips' middle), arms hanging, legs straight
POINTS = {
    Joint.NOSE: (100, 40), Joint.LEFT_SHOULDER: (120, 70), Joint.RIGHT_SHOULDER: (80, 70),
    Joint.LEFT_ELBOW: (120, 130), Joint.RIGHT_ELBOW: (80, 130), Joint.LEFT_WRIST: (120, 180), Joint.RIGHT_WRIST: (80, 180),
    Joint.LEFT_HIP: (110, 170), Joint.RIGHT_HIP: (90, 170), Joint.LEFT_KNEE: (110, 260), Joint.RIGHT_KNEE: (90, 260),
    Joint.LEFT_ANKLE: (110, 340), Joint.RIGHT_ANKLE: (90, 340),
}  # fmt: skip
LENGTHS = [0.6, 0.5, 0.9, 0.8]  # upper arm, forearm, thigh, shin, in torso sizes: POINTS' own


def figure(unseen: tuple[Joint, ...] = (), **moved: tuple[float, float]) -> PoseFrame:
    pose = PoseFrame.missing(BODY_SCHEMA)
    for joint, point in POINTS.items():
        if joint not in unseen:
            pose.keypoints[joint] = moved.get(joint.name.lower(), point)
            pose.valid[joint] = True
            pose.confidence[joint] = 0.9
    return pose


def test_limb_lengths_are_the_bones_over_the_torso_pooled_over_both_sides() -> None:
    seq = PoseSequence.from_frames([figure(), figure(), figure((Joint.LEFT_ELBOW,))], (256, 400), 30.0, BODY_SCHEMA)
    np.testing.assert_allclose(limb_lengths(seq), LENGTHS, atol=1e-6)
    no_knees = PoseSequence.from_frames([figure((Joint.LEFT_KNEE, Joint.RIGHT_KNEE))] * 3, (256, 400), 30.0, BODY_SCHEMA)
    assert limb_lengths(no_knees) is None  # a bone never seen: no lengths, and nothing is ever placed


def test_an_unseen_elbow_is_placed_by_the_lengths_and_bent_away_from_the_body() -> None:
    raised = figure((Joint.LEFT_ELBOW,), left_wrist=(130, 0))  # the wrist over the head, 70 px above the shoulder
    completed = complete_limbs(raised, LENGTHS)
    elbow, shoulder, wrist = (completed.keypoints[j].astype(np.float64) for j in (Joint.LEFT_ELBOW, Joint.LEFT_SHOULDER, Joint.LEFT_WRIST))
    assert completed.valid[Joint.LEFT_ELBOW] and completed.confidence[Joint.LEFT_ELBOW] == np.float32(0.9)
    assert abs(np.hypot(*(elbow - shoulder)) - 60.0) < 1e-3
    assert abs(np.hypot(*(elbow - wrist)) - 50.0) < 1e-3
    assert elbow[0] > 130  # outwards, away from the torso (its centre is at x = 100)
    assert not raised.valid[Joint.LEFT_ELBOW]  # the input is left as it was
    others = [j for j in range(BODY_SCHEMA.num_joints) if j != Joint.LEFT_ELBOW]
    np.testing.assert_array_equal(completed.valid[others], raised.valid[others])
    np.testing.assert_array_equal(np.nan_to_num(completed.keypoints[others]), np.nan_to_num(raised.keypoints[others]))


def test_a_limb_reaching_farther_than_its_bones_is_drawn_straight() -> None:
    stretched = figure((Joint.RIGHT_KNEE,), right_ankle=(90, 400))  # 230 px from the hip, longer than 90 + 80
    knee = complete_limbs(stretched, LENGTHS).keypoints[Joint.RIGHT_KNEE]
    np.testing.assert_allclose(knee, (90, 170 + 230 * 90 / 170), atol=1e-3)


def test_nothing_is_placed_without_both_ends_or_without_lengths() -> None:
    no_wrist = figure((Joint.LEFT_ELBOW, Joint.LEFT_WRIST))
    assert complete_limbs(no_wrist, LENGTHS) is no_wrist
    no_elbow = figure((Joint.LEFT_ELBOW,))
    assert complete_limbs(no_elbow, None) is no_elbow  # stats written before the lengths were kept
    whole = figure()
    assert complete_limbs(whole, LENGTHS) is whole


def test_live_normalizer_places_an_unseen_elbow_and_stats_keep_the_lengths() -> None:
    size, fps = (256, 256), 30.0
    target = compute_stats(dance_poses(TARGET_BODY, 30, size, fps))
    assert target.limbs is not None and all(length > 0 for length in target.limbs)
    assert NormalizationStats.from_json(target.to_json()) == target
    older = target.to_json()
    del older["limbs"]
    assert NormalizationStats.from_json(older).limbs is None

    source = dance_poses(SOURCE_BODY, 30, size, fps)
    frames = [source[t] for t in range(30)]
    frames[20].valid[Joint.RIGHT_ELBOW] = False
    frames[20].keypoints[Joint.RIGHT_ELBOW] = np.nan
    live = LiveNormalizer(target, target_pose=target.standing_pose(source.schema))
    outputs = [live(pose, t / fps) for t, pose in enumerate(frames)]
    assert outputs[20].valid[Joint.RIGHT_ELBOW] and np.isfinite(outputs[20].keypoints[Joint.RIGHT_ELBOW]).all()
    without = LiveNormalizer(NormalizationStats.from_json(older), target_pose=target.standing_pose(source.schema))
    assert not [without(pose, t / fps) for t, pose in enumerate(frames)][20].valid[Joint.RIGHT_ELBOW]
