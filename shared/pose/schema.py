"""Skeleton schemas: which keypoints exist, how they connect, and how each limb is coloured.

Every dataset, checkpoint and engine records the schema's `tag` (name@version), so a model is never
driven by poses laid out differently from the ones it was trained on.

The body is MediaPipe Pose's 33 landmarks. Its first 11 points already hold the sparse face (nose,
eyes, ears, mouth corners) and points 15-22 the sparse hands (wrist, pinky, index, thumb), so the
default schema needs nothing but MediaPipe Pose. The holistic schema appends MediaPipe Hands' 21
points per hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from enum import IntEnum


class Joint(IntEnum):
    """MediaPipe Pose's 33 body landmarks, by their index (as mediapipe's `PoseLandmark`). Both
    schemas start with them, so a `Joint` indexes the body part of any pose."""

    NOSE = 0
    LEFT_EYE_INNER = 1
    LEFT_EYE = 2
    LEFT_EYE_OUTER = 3
    RIGHT_EYE_INNER = 4
    RIGHT_EYE = 5
    RIGHT_EYE_OUTER = 6
    LEFT_EAR = 7
    RIGHT_EAR = 8
    MOUTH_LEFT = 9
    MOUTH_RIGHT = 10
    LEFT_SHOULDER = 11
    RIGHT_SHOULDER = 12
    LEFT_ELBOW = 13
    RIGHT_ELBOW = 14
    LEFT_WRIST = 15
    RIGHT_WRIST = 16
    LEFT_PINKY = 17
    RIGHT_PINKY = 18
    LEFT_INDEX = 19
    RIGHT_INDEX = 20
    LEFT_THUMB = 21
    RIGHT_THUMB = 22
    LEFT_HIP = 23
    RIGHT_HIP = 24
    LEFT_KNEE = 25
    RIGHT_KNEE = 26
    LEFT_ANKLE = 27
    RIGHT_ANKLE = 28
    LEFT_HEEL = 29
    RIGHT_HEEL = 30
    LEFT_FOOT_INDEX = 31
    RIGHT_FOOT_INDEX = 32

    @property
    def mirrored(self) -> Joint:
        """The same joint on the person's other side (the nose is its own)."""
        swap = {"LEFT": "RIGHT", "RIGHT": "LEFT"}
        return Joint["_".join(swap.get(word, word) for word in self.name.split("_"))]


POSE_LANDMARK_NAMES: tuple[str, ...] = tuple(joint.name.lower() for joint in Joint)

HAND_LANDMARK_NAMES: tuple[str, ...] = (
    "wrist",
    "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip",
    "index_mcp", "index_pip", "index_dip", "index_tip",
    "middle_mcp", "middle_pip", "middle_dip", "middle_tip",
    "ring_mcp", "ring_pip", "ring_dip", "ring_tip",
    "pinky_mcp", "pinky_pip", "pinky_dip", "pinky_tip",
)  # fmt: skip

# MediaPipe Hands' bones, as index pairs inside one 21-point hand.
HAND_BONES: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (3, 4),
    (0, 5), (5, 6), (6, 7), (7, 8),
    (5, 9), (9, 10), (10, 11), (11, 12),
    (9, 13), (13, 14), (14, 15), (15, 16),
    (13, 17), (0, 17), (17, 18), (18, 19), (19, 20),
)  # fmt: skip

Color = tuple[int, int, int]


@dataclass(frozen=True)
class Limb:
    """A bone drawn as a filled ellipse. Each end is the mean of one or more joints (the neck
    runs from the mid-shoulder to the nose)."""

    start: tuple[int, ...]
    end: tuple[int, ...]
    color: Color  # RGB


@dataclass(frozen=True)
class SkeletonSchema:
    name: str
    version: int
    joint_names: tuple[str, ...]
    limbs: tuple[Limb, ...]
    body_joints: tuple[int, ...]  # drawn as large dots, in the colour of their first limb
    face_points: tuple[int, ...]  # drawn as small dark dots
    hand_points: tuple[int, ...]  # drawn as small dots
    hand_bones: tuple[tuple[int, int], ...]  # thin lines between hand points

    @property
    def tag(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    def index(self, joint_name: str) -> int:
        return self.joint_names.index(joint_name)

    @cached_property  # worked out once per schema: live and the scorer swap sides every frame
    def sides_swapped(self) -> tuple[int, ...]:
        """For each joint, its twin on the person's other side (the nose is its own; a left-hand
        landmark's twin is the same landmark of the right hand)."""
        names = [name.replace("left", "\0").replace("right", "left").replace("\0", "right") for name in self.joint_names]
        return tuple(self.joint_names.index(name) for name in names)


# Named groups of joints: the one place a module finds "the shoulders" or "the head points".
SHOULDERS = (Joint.LEFT_SHOULDER, Joint.RIGHT_SHOULDER)
HIPS = (Joint.LEFT_HIP, Joint.RIGHT_HIP)
ANKLES = (Joint.LEFT_ANKLE, Joint.RIGHT_ANKLE)
EARS = (Joint.LEFT_EAR, Joint.RIGHT_EAR)
TORSO = (Joint.LEFT_SHOULDER, Joint.RIGHT_SHOULDER, Joint.RIGHT_HIP, Joint.LEFT_HIP)  # in order round the polygon
NECK = (Joint.NOSE, Joint.LEFT_SHOULDER, Joint.RIGHT_SHOULDER)  # the nose and the shoulders it hangs from
ARMS = (  # each arm from its root to its end: shoulder, elbow, wrist
    (Joint.LEFT_SHOULDER, Joint.LEFT_ELBOW, Joint.LEFT_WRIST), (Joint.RIGHT_SHOULDER, Joint.RIGHT_ELBOW, Joint.RIGHT_WRIST),
)
LEGS = ((Joint.LEFT_HIP, Joint.LEFT_KNEE, Joint.LEFT_ANKLE), (Joint.RIGHT_HIP, Joint.RIGHT_KNEE, Joint.RIGHT_ANKLE))  # hip, knee, ankle
# The paper draws 8 sparse face points from OpenPose; MediaPipe Pose gives 7 of the same kind
# (it has no chin point).
FACE_POINTS = (
    Joint.NOSE, Joint.LEFT_EYE, Joint.RIGHT_EYE, Joint.LEFT_EAR, Joint.RIGHT_EAR, Joint.MOUTH_LEFT, Joint.MOUTH_RIGHT,
)  # fmt: skip
# The nose and the limbs' main joints, shoulders to ankles: what two poses are compared by.
MAIN_JOINTS = (
    Joint.NOSE, Joint.LEFT_SHOULDER, Joint.RIGHT_SHOULDER, Joint.LEFT_ELBOW, Joint.RIGHT_ELBOW,
    Joint.LEFT_WRIST, Joint.RIGHT_WRIST, Joint.LEFT_HIP, Joint.RIGHT_HIP, Joint.LEFT_KNEE, Joint.RIGHT_KNEE,
    Joint.LEFT_ANKLE, Joint.RIGHT_ANKLE,
)  # fmt: skip
LOWER_BODY = tuple(Joint(j) for j in range(Joint.LEFT_HIP, Joint.RIGHT_FOOT_INDEX + 1))  # hips, legs and feet


def _limb(start: Joint | tuple[Joint, ...], end: Joint, color: Color) -> Limb:
    return Limb(start if isinstance(start, tuple) else (start,), (end,), color)


# OpenPose-like palette: left side warm, right side cool, torso and head neutral hues.
_BODY_LIMBS: tuple[Limb, ...] = (
    _limb(SHOULDERS, Joint.NOSE, (255, 0, 85)),  # neck
    _limb(Joint.LEFT_SHOULDER, Joint.RIGHT_SHOULDER, (255, 0, 0)),
    _limb(Joint.LEFT_SHOULDER, Joint.LEFT_ELBOW, (255, 170, 0)),
    _limb(Joint.LEFT_ELBOW, Joint.LEFT_WRIST, (255, 255, 0)),
    _limb(Joint.RIGHT_SHOULDER, Joint.RIGHT_ELBOW, (0, 255, 0)),
    _limb(Joint.RIGHT_ELBOW, Joint.RIGHT_WRIST, (0, 255, 170)),
    _limb(Joint.LEFT_SHOULDER, Joint.LEFT_HIP, (170, 255, 0)),
    _limb(Joint.RIGHT_SHOULDER, Joint.RIGHT_HIP, (0, 170, 255)),
    _limb(Joint.LEFT_HIP, Joint.RIGHT_HIP, (85, 0, 255)),
    _limb(Joint.LEFT_HIP, Joint.LEFT_KNEE, (255, 85, 0)),
    _limb(Joint.LEFT_KNEE, Joint.LEFT_ANKLE, (170, 0, 255)),
    _limb(Joint.LEFT_ANKLE, Joint.LEFT_HEEL, (255, 0, 170)),
    _limb(Joint.LEFT_HEEL, Joint.LEFT_FOOT_INDEX, (255, 0, 255)),
    _limb(Joint.RIGHT_HIP, Joint.RIGHT_KNEE, (0, 255, 255)),
    _limb(Joint.RIGHT_KNEE, Joint.RIGHT_ANKLE, (0, 85, 255)),
    _limb(Joint.RIGHT_ANKLE, Joint.RIGHT_HEEL, (0, 0, 255)),
    _limb(Joint.RIGHT_HEEL, Joint.RIGHT_FOOT_INDEX, (85, 85, 255)),
)

_BODY_JOINTS = MAIN_JOINTS + (Joint.LEFT_HEEL, Joint.RIGHT_HEEL, Joint.LEFT_FOOT_INDEX, Joint.RIGHT_FOOT_INDEX)

_SPARSE_HANDS = (  # per side: the wrist, then the fingers drawn from it
    (Joint.LEFT_WRIST, Joint.LEFT_PINKY, Joint.LEFT_INDEX, Joint.LEFT_THUMB),
    (Joint.RIGHT_WRIST, Joint.RIGHT_PINKY, Joint.RIGHT_INDEX, Joint.RIGHT_THUMB),
)
_SPARSE_HAND_POINTS = tuple(joint for hand in _SPARSE_HANDS for joint in hand)
_SPARSE_HAND_BONES = tuple((hand[0], finger) for hand in _SPARSE_HANDS for finger in hand[1:])

BODY_SCHEMA = SkeletonSchema(
    name="mediapipe33",
    version=1,
    joint_names=POSE_LANDMARK_NAMES,
    limbs=_BODY_LIMBS,
    body_joints=_BODY_JOINTS,
    face_points=FACE_POINTS,
    hand_points=_SPARSE_HAND_POINTS,
    hand_bones=_SPARSE_HAND_BONES,
)

_HAND_OFFSETS = {"left": len(POSE_LANDMARK_NAMES), "right": len(POSE_LANDMARK_NAMES) + len(HAND_LANDMARK_NAMES)}

HOLISTIC_SCHEMA = SkeletonSchema(
    name="mediapipe33-hands42",
    version=1,
    joint_names=POSE_LANDMARK_NAMES
    + tuple(f"{side}_hand_{n}" for side in ("left", "right") for n in HAND_LANDMARK_NAMES),
    limbs=_BODY_LIMBS,
    body_joints=_BODY_JOINTS,
    face_points=FACE_POINTS,
    hand_points=tuple(range(len(POSE_LANDMARK_NAMES), len(POSE_LANDMARK_NAMES) + 2 * len(HAND_LANDMARK_NAMES))),
    hand_bones=tuple((off + a, off + b) for off in _HAND_OFFSETS.values() for a, b in HAND_BONES),
)

SCHEMAS: dict[str, SkeletonSchema] = {s.tag: s for s in (BODY_SCHEMA, HOLISTIC_SCHEMA)}


def get_schema(tag: str) -> SkeletonSchema:
    """Look a schema up by its tag; an unknown tag is a clear error, never a silent fallback."""
    try:
        return SCHEMAS[tag]
    except KeyError:
        known = ", ".join(sorted(SCHEMAS))
        raise ValueError(f"unknown skeleton schema {tag!r} (this version knows: {known})") from None
