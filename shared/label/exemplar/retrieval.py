"""Which exemplar to warp: poses compared by their main joints relative to the mid-shoulder, in
torso heights (`descriptor`), and a bank's frames spread over pose space (`farthest_poses`)."""

from __future__ import annotations

import numpy as np

from shared.pose.keypoints import torso_size
from shared.pose.schema import MAIN_JOINTS, SHOULDERS

MIN_COMMON_JOINTS = 4
DESCRIPTOR_JOINTS = np.array(MAIN_JOINTS)


def descriptor(keypoints: np.ndarray, valid: np.ndarray, fallback_scale: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Body joints relative to the mid-shoulder, in torso heights (`fallback_scale` pixels when the
    hips are not seen); None without both shoulders."""
    if not valid[list(SHOULDERS)].all():
        return None
    scale = torso_size(keypoints, valid) or fallback_scale
    points = (keypoints[DESCRIPTOR_JOINTS] - keypoints[list(SHOULDERS)].mean(axis=0)) / scale
    return np.nan_to_num(points.astype(np.float32)), valid[DESCRIPTOR_JOINTS].copy()


def descriptor_distances(bank_points: np.ndarray, bank_valid: np.ndarray, points: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(K,) mean joint distance from one descriptor to each bank descriptor; inf where fewer than
    MIN_COMMON_JOINTS joints are seen in both."""
    common = bank_valid & valid[None]
    counts = common.sum(axis=1)
    squares = np.square(bank_points - points[None])
    gaps = np.sqrt(squares[..., 0] + squares[..., 1])  # np.linalg.norm(axis=2), without its loop over pairs
    gaps *= common
    with np.errstate(invalid="ignore", divide="ignore"):
        distances = gaps.sum(axis=1) / counts
    distances[counts < MIN_COMMON_JOINTS] = np.inf
    return distances


def farthest_poses(points: np.ndarray, valid: np.ndarray, count: int) -> np.ndarray:
    """Indices of `count` descriptors spread over pose space (farthest-point sampling, from the first)."""
    total = len(points)
    if total <= count:
        return np.arange(total)
    chosen = [0]
    nearest = descriptor_distances(points, valid, points[0], valid[0])
    for _ in range(count - 1):
        nearest[chosen] = -1.0
        finite = np.where(np.isfinite(nearest), nearest, -1.0)
        pick = int(np.argmax(finite))
        chosen.append(pick)
        nearest = np.minimum(nearest, descriptor_distances(points, valid, points[pick], valid[pick]))
    return np.sort(np.array(chosen))
