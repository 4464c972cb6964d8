"""Facing: a source seen from behind is drawn facing the way the target was filmed.

A target filmed only facing the camera has no back view to learn from: a label whose left side is
on the image's left (a person seen from behind) asks the generator and the exemplar warp for
something they never saw, and they answer with a face on the back of the head and a torso warped
through itself. When the target's training frames all face one way and the source clearly faces
the other, the source pose is drawn with its left and right exchanged (and its depth turned round):
the same silhouette, the target's own facing. A source side-on keeps the last decision (no flicker
while turning).
"""

from __future__ import annotations

import numpy as np

from shared.pose.keypoints import PoseFrame, PoseSequence
from shared.pose.schema import HIPS, SHOULDERS

FACING_CLEAR = 0.2  # |facing| above this (torso heights): clearly towards or away from the camera; below: side-on
ONE_WAY_SHARE = 0.95  # a target whose clear frames face one way at least this often was filmed only that way
_LEFT, _RIGHT = np.array([SHOULDERS[0], HIPS[0]]), np.array([SHOULDERS[1], HIPS[1]])


def facing(keypoints: np.ndarray, valid: np.ndarray) -> float | None:
    """How far the body faces the camera: its left-to-right width (shoulders and hips) across the
    torso's up direction, in torso heights; positive facing the camera (the person's left on the
    image's right), negative facing away, near 0 side-on. None without both shoulders and hips."""
    if not valid[_LEFT].all() or not valid[_RIGHT].all():
        return None
    points = keypoints.astype(np.float64)
    shoulders_mid = (points[SHOULDERS[0]] + points[SHOULDERS[1]]) / 2
    hips_mid = (points[HIPS[0]] + points[HIPS[1]]) / 2
    up = shoulders_mid - hips_mid
    torso = float(np.hypot(*up))
    if torso < 1e-6:
        return None
    across = (points[_LEFT] - points[_RIGHT]).mean(axis=0)  # the person's right to left
    return float(up[0] * across[1] - up[1] * across[0]) / (torso * torso)


def front_share(poses: PoseSequence) -> float | None:
    """The share of a video's clearly facing frames (front or back) that face the camera; None when
    no frame clearly faces either way."""
    values = [facing(poses.keypoints[t], poses.valid[t]) for t in range(len(poses))]
    clear = np.array([v for v in values if v is not None and abs(v) > FACING_CLEAR])
    return float((clear > 0).mean()) if len(clear) else None


class FacingMatcher:
    """Per frame: exchanges the source's left and right while it clearly faces the way the target
    never did (`target_front_share` from `front_share` of the target's poses; None: the target's
    facing is unknown, nothing is exchanged)."""

    def __init__(self, target_front_share: float | None) -> None:
        self.target_sign = 0
        if target_front_share is not None and target_front_share >= ONE_WAY_SHARE:
            self.target_sign = 1
        elif target_front_share is not None and target_front_share <= 1 - ONE_WAY_SHARE:
            self.target_sign = -1
        self.swapping = False

    def __call__(self, pose: PoseFrame) -> PoseFrame:
        if self.target_sign == 0 or not pose.present:
            self.swapping = False
            return pose
        value = facing(pose.keypoints, pose.valid)
        if value is not None and abs(value) > FACING_CLEAR:
            self.swapping = value * self.target_sign < 0
        return turned_around(pose) if self.swapping else pose


def turned_around(pose: PoseFrame) -> PoseFrame:
    """The pose seen from the other side with the same silhouette: left and right exchanged, and
    depth mirrored about the hips (a hand held out in front of a person seen from behind is beyond
    them, farther from the camera; turned to face it, the hand is between them and the camera)."""
    turned = pose.sides_swapped()
    if turned.depth is not None:
        turned.depth = -turned.depth
    return turned
