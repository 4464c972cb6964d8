"""The pose schema: `Joint` is MediaPipe's landmark order, and the named joint groups hold."""

from __future__ import annotations

from shared.pose.schema import BODY_SCHEMA, HOLISTIC_SCHEMA, POSE_LANDMARK_NAMES, TORSO, Joint


def test_joint_is_mediapipes_pose_landmark_order() -> None:
    from mediapipe.python.solutions.pose import PoseLandmark

    assert [(j.name, j.value) for j in Joint] == [(m.name, m.value) for m in PoseLandmark]
    assert POSE_LANDMARK_NAMES == tuple(m.name.lower() for m in PoseLandmark)


def test_joints_index_the_body_of_both_schemas() -> None:
    for schema in (BODY_SCHEMA, HOLISTIC_SCHEMA):
        assert all(schema.index(j.name.lower()) == j for j in Joint)


def test_mirrored_swaps_sides_and_keeps_the_nose() -> None:
    assert Joint.LEFT_WRIST.mirrored is Joint.RIGHT_WRIST
    assert Joint.RIGHT_FOOT_INDEX.mirrored is Joint.LEFT_FOOT_INDEX
    assert Joint.MOUTH_LEFT.mirrored is Joint.MOUTH_RIGHT
    assert Joint.NOSE.mirrored is Joint.NOSE
    assert all(j.mirrored.mirrored is j for j in Joint)


def test_torso_goes_round_its_polygon() -> None:
    assert TORSO == (Joint.LEFT_SHOULDER, Joint.RIGHT_SHOULDER, Joint.RIGHT_HIP, Joint.LEFT_HIP)


def test_sides_swapped_gives_each_joint_its_twin_in_both_schemas() -> None:
    assert BODY_SCHEMA.sides_swapped == tuple(int(j.mirrored) for j in Joint)
    order = HOLISTIC_SCHEMA.sides_swapped
    assert order[: len(Joint)] == BODY_SCHEMA.sides_swapped
    names = HOLISTIC_SCHEMA.joint_names
    assert names[order[names.index("left_hand_thumb_tip")]] == "right_hand_thumb_tip"
    assert names[order[names.index("right_hand_wrist")]] == "left_hand_wrist"
    assert all(order[order[j]] == j for j in range(len(order)))
