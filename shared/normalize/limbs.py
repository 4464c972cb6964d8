"""Unseen elbows and knees, placed from the joints on either side of them and the target's limb lengths.

MediaPipe often sees a wrist but not its elbow (an arm raised over the head, seen from behind):
the label then shows a hand floating beside the head with no arm to it, and the exemplar warp has
no forearm to move there. When a limb's two ends are seen and its middle joint is not, the middle
joint is placed where the target's own upper and lower bone lengths (in torso sizes, measured on
its clip by `limb_lengths`) put it, bent away from the body (the two-bone solution farther from
the torso's centre); a limb reaching farther than both bones is drawn straight.
"""

from __future__ import annotations

import numpy as np

from shared.pose.keypoints import PoseFrame, PoseSequence, torso_size
from shared.pose.schema import ARMS, LEGS, TORSO

MIN_FRAMES = 2  # frames that see a bone and the torso needed to measure it
# each limb with the index in `limb_lengths` where its two lengths start (the arms', then the legs')
LIMB_LENGTHS_AT = tuple((limb, 0) for limb in ARMS) + tuple((limb, 2) for limb in LEGS)


def limb_lengths(seq: PoseSequence) -> list[float] | None:
    """The target's upper arm, forearm, thigh and shin, each the median over the frames (both sides
    pooled) of its 2D length over that frame's torso size; None when a bone is seen too rarely."""
    torsos = np.array([torso_size(k, v) or np.nan for k, v in zip(seq.keypoints, seq.valid)])
    lengths = []
    for limbs in (ARMS, LEGS):
        for start, stop in ((0, 1), (1, 2)):  # the upper bone, then the lower
            ratios = []
            for limb in limbs:
                a, b = limb[start], limb[stop]
                seen = seq.valid[:, a] & seq.valid[:, b] & np.isfinite(torsos)
                ratios.append(np.linalg.norm(seq.keypoints[seen, a] - seq.keypoints[seen, b], axis=-1) / torsos[seen])
            pooled = np.concatenate(ratios)
            if len(pooled) < MIN_FRAMES:
                return None
            lengths.append(float(np.median(pooled)))
    return lengths


def _middle(root: np.ndarray, end: np.ndarray, upper: float, lower: float, away_from: np.ndarray) -> np.ndarray | None:
    """The middle joint of a two-bone limb from `root` to `end`, bent away from `away_from`."""
    gap = end - root
    reach = float(np.hypot(gap[0], gap[1]))
    if reach < 1e-6:
        return None
    along = gap / reach
    if reach >= upper + lower:
        return root + along * reach * upper / (upper + lower)
    reach = max(reach, abs(upper - lower))  # an end nearer the root than the bones can fold to: fold them fully
    cos = float(np.clip((upper * upper + reach * reach - lower * lower) / (2 * upper * reach), -1.0, 1.0))
    sin = float(np.sqrt(1.0 - cos * cos))
    across = np.array([-along[1], along[0]])
    bends = [root + upper * (cos * along + side * sin * across) for side in (1.0, -1.0)]
    return max(bends, key=lambda point: float(np.hypot(*(point - away_from))))


def complete_limbs(pose: PoseFrame, lengths: list[float] | None) -> PoseFrame:
    """`pose` with each unseen elbow or knee whose limb's ends are seen placed by the target's
    `lengths` (`limb_lengths`); the pose itself when there is nothing to place."""
    if lengths is None or not pose.present:
        return pose
    missing = [(limb, first) for limb, first in LIMB_LENGTHS_AT if pose.valid[limb[0]] and pose.valid[limb[2]] and not pose.valid[limb[1]]]
    scale = torso_size(pose.keypoints, pose.valid) if missing else None
    if scale is None:
        return pose
    keypoints = pose.keypoints.astype(np.float64)
    centre = keypoints[list(TORSO)].mean(axis=0)
    completed = pose.moved_to(pose.keypoints)
    for (root, middle, end), first in missing:
        point = _middle(keypoints[root], keypoints[end], lengths[first] * scale, lengths[first + 1] * scale, centre)
        if point is None:
            continue
        completed.keypoints[middle] = point
        completed.valid[middle] = True
        completed.confidence[middle] = min(pose.confidence[root], pose.confidence[end])
        if completed.depth is not None:
            completed.depth[middle] = (pose.depth[root] + pose.depth[end]) / 2  # NaN stays NaN: its order unknown
    return completed
