"""Which exemplar to warp: poses compared by their main joints relative to the mid-shoulder, in
torso heights (`descriptor`), a bank's frames spread over pose space (`farthest_poses`), and each
part compared on its own (`part_descriptors`)."""

from __future__ import annotations

import numpy as np

from shared.label.exemplar.parts import HEAD_PART, LIMB_BONES, LIMB_PARTS, NECK_PART, PARTS, TORSO_PART
from shared.pose.keypoints import torso_size
from shared.pose.schema import FACE_POINTS, MAIN_JOINTS, SHOULDERS, TORSO, Joint

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


# --- per part: each body part from the exemplar where that part alone is posed most alike ------------

FACING_WEIGHT = 0.5  # the shoulder line joins each limb's description at this weight: which way the body faces
# A limb's 2D length joins its description at this weight, beside its bone (direction and length):
# a limb taken from a frame where it was foreshortened is stretched along its bone (up to 3x) into
# a smear, while one of the right length pointing elsewhere is only turned, its texture kept whole.
LENGTH_WEIGHT = 1.0
PART_POINTS = len(FACE_POINTS)  # the most points a part is described by (the head's)


def part_descriptors(keypoints: np.ndarray, valid: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """(P, PART_POINTS, 2) float32 and (P, PART_POINTS) bool: each part of PARTS described by its own
    joints, in torso heights (`scale` pixels): a limb by its bone (direction and foreshortening), the
    shoulder line (which way the body faces) and its length alone (LENGTH_WEIGHT); the torso by its
    four corners and the head by its face points, both from the mid-shoulder; the neck like a limb,
    its bone from the mid-shoulder to the nose. The limbs are described all at once (live describes
    every camera frame)."""
    points = np.zeros((len(PARTS), PART_POINTS, 2), np.float32)
    seen = np.zeros((len(PARTS), PART_POINTS), bool)
    shoulders = bool(valid[list(SHOULDERS)].all())
    mid = keypoints[list(SHOULDERS)].mean(axis=0)
    starts, ends = LIMB_BONES
    along = keypoints[ends] - keypoints[starts]
    bone = valid[starts] & valid[ends]
    points[LIMB_PARTS, 0] = along
    facing = (keypoints[SHOULDERS[1]] - keypoints[SHOULDERS[0]]) * FACING_WEIGHT
    points[LIMB_PARTS, 1] = facing
    points[LIMB_PARTS, 2, 0] = np.hypot(along[:, 0], along[:, 1]) * LENGTH_WEIGHT
    seen[LIMB_PARTS, 0], seen[LIMB_PARTS, 1], seen[LIMB_PARTS, 2] = bone, bone & shoulders, bone
    neck = keypoints[Joint.NOSE] - mid
    points[NECK_PART, :2] = neck, facing
    points[NECK_PART, 2, 0] = np.hypot(*neck) * LENGTH_WEIGHT
    seen[NECK_PART, :3] = shoulders and bool(valid[Joint.NOSE])
    for p, joints in ((TORSO_PART, TORSO), (HEAD_PART, FACE_POINTS)):
        points[p, : len(joints)] = keypoints[list(joints)] - mid
        seen[p, : len(joints)] = shoulders & valid[list(joints)]
    points /= scale
    return np.nan_to_num(points), seen


def part_distances(bank_points: np.ndarray, bank_valid: np.ndarray, points: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(K, P) mean point distance from one pose's part descriptors to each bank frame's, part by
    part; inf where a part shares no point."""
    common = bank_valid & valid[None]
    gaps = np.linalg.norm(bank_points - points[None], axis=-1) * common
    counts = common.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        distances = gaps.sum(axis=-1) / counts
    distances[counts == 0] = np.inf
    return distances
