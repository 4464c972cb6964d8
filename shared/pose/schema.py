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

POSE_LANDMARK_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye_inner", "left_eye", "left_eye_outer",
    "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear",
    "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow",
    "left_wrist", "right_wrist",
    "left_pinky", "right_pinky",
    "left_index", "right_index",
    "left_thumb", "right_thumb",
    "left_hip", "right_hip",
    "left_knee", "right_knee",
    "left_ankle", "right_ankle",
    "left_heel", "right_heel",
    "left_foot_index", "right_foot_index",
)  # fmt: skip

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


def _i(name: str) -> int:
    return POSE_LANDMARK_NAMES.index(name)


def _limb(start: str | tuple[str, ...], end: str, color: Color) -> Limb:
    starts = (start,) if isinstance(start, str) else start
    return Limb(tuple(_i(s) for s in starts), (_i(end),), color)


# OpenPose-like palette: left side warm, right side cool, torso and head neutral hues.
_BODY_LIMBS: tuple[Limb, ...] = (
    _limb(("left_shoulder", "right_shoulder"), "nose", (255, 0, 85)),  # neck
    _limb("left_shoulder", "right_shoulder", (255, 0, 0)),
    _limb("left_shoulder", "left_elbow", (255, 170, 0)),
    _limb("left_elbow", "left_wrist", (255, 255, 0)),
    _limb("right_shoulder", "right_elbow", (0, 255, 0)),
    _limb("right_elbow", "right_wrist", (0, 255, 170)),
    _limb("left_shoulder", "left_hip", (170, 255, 0)),
    _limb("right_shoulder", "right_hip", (0, 170, 255)),
    _limb("left_hip", "right_hip", (85, 0, 255)),
    _limb("left_hip", "left_knee", (255, 85, 0)),
    _limb("left_knee", "left_ankle", (170, 0, 255)),
    _limb("left_ankle", "left_heel", (255, 0, 170)),
    _limb("left_heel", "left_foot_index", (255, 0, 255)),
    _limb("right_hip", "right_knee", (0, 255, 255)),
    _limb("right_knee", "right_ankle", (0, 85, 255)),
    _limb("right_ankle", "right_heel", (0, 0, 255)),
    _limb("right_heel", "right_foot_index", (85, 85, 255)),
)

_BODY_JOINTS = tuple(
    _i(n)
    for n in (
        "nose", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
        "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee",
        "left_ankle", "right_ankle", "left_heel", "right_heel",
        "left_foot_index", "right_foot_index",
    )
)  # fmt: skip

# The paper draws 8 sparse face points from OpenPose; MediaPipe Pose gives 7 of the same kind
# (it has no chin point).
_FACE_POINTS = tuple(
    _i(n) for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "mouth_left", "mouth_right")
)

_SPARSE_HAND_POINTS = tuple(
    _i(f"{side}_{part}") for side in ("left", "right") for part in ("wrist", "pinky", "index", "thumb")
)
_SPARSE_HAND_BONES = tuple(
    (_i(f"{side}_wrist"), _i(f"{side}_{part}")) for side in ("left", "right") for part in ("pinky", "index", "thumb")
)

BODY_SCHEMA = SkeletonSchema(
    name="mediapipe33",
    version=1,
    joint_names=POSE_LANDMARK_NAMES,
    limbs=_BODY_LIMBS,
    body_joints=_BODY_JOINTS,
    face_points=_FACE_POINTS,
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
    face_points=_FACE_POINTS,
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
