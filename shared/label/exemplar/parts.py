"""The exemplar's body parts: which pixels of a training frame belong to which part (`part_map`),
and the affine map that moves each part from the exemplar's pose onto another (`part_transforms`)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from shared.label.geometry import bone_affine, bone_affines, least_squares_affine, umeyama
from shared.pose.keypoints import torso_size
from shared.pose.schema import EARS, FACE_POINTS, NECK, SHOULDERS, TORSO, Joint

NO_PART = 255
MASK_THRESHOLD = 128  # mask value (0-255) from which a pixel is the person
PART_REACH = 0.6  # torso heights: farther from every bone, a masked pixel is not the person
# The head's scale, as a share of the body's: its face points collapse in 2D when the face turns
# down or away (a source seen from behind), and a head fitted to them alone shrank to nothing.
HEAD_SCALE_RANGE = (0.75, 1.33)


# Not a joint: the point between the shoulders, where the neck meets the torso (a segment end only).
NECK_BASE = -1


@dataclass(frozen=True)
class Part:
    """A body part: warped by the affine map of its bone (`bone`), or (`part_transform`) the torso
    by an affine fit to its corners, the head by a similarity fit to the face (its scale kept
    within HEAD_SCALE_RANGE of the body's) and the neck by the affine map of its bone, shoulders'
    middle to nose; its pixels are those nearest to its `segments`."""

    name: str
    segments: tuple[tuple[int, int], ...]
    bone: tuple[int, int] | None = None


def _limb(name: str, upper: Joint, lower: Joint, *extra: Joint) -> Part:
    """A limb warped by its bone `upper`-`lower`; its pixels also reach out to the `extra` joints."""
    return Part(name, ((upper, lower),) + tuple((lower, e) for e in extra), bone=(upper, lower))


# A part's index is its value in a bank's part maps: a new part goes at the end, so that banks
# written before it keep their meaning (their head holds their neck).
PARTS: tuple[Part, ...] = (
    Part("torso", tuple(zip(TORSO, TORSO[1:] + TORSO[:1]))),  # its outline
    _limb("left_hip_knee", Joint.LEFT_HIP, Joint.LEFT_KNEE),
    _limb("right_hip_knee", Joint.RIGHT_HIP, Joint.RIGHT_KNEE),
    _limb("left_knee_ankle", Joint.LEFT_KNEE, Joint.LEFT_ANKLE, Joint.LEFT_HEEL, Joint.LEFT_FOOT_INDEX),
    _limb("right_knee_ankle", Joint.RIGHT_KNEE, Joint.RIGHT_ANKLE, Joint.RIGHT_HEEL, Joint.RIGHT_FOOT_INDEX),
    Part("head", (EARS, (Joint.NOSE, Joint.NOSE))),  # the face: nearest the ears' line or the nose
    _limb("left_shoulder_elbow", Joint.LEFT_SHOULDER, Joint.LEFT_ELBOW),
    _limb("right_shoulder_elbow", Joint.RIGHT_SHOULDER, Joint.RIGHT_ELBOW),
    _limb("left_elbow_wrist", Joint.LEFT_ELBOW, Joint.LEFT_WRIST, Joint.LEFT_INDEX, Joint.LEFT_PINKY),
    _limb("right_elbow_wrist", Joint.RIGHT_ELBOW, Joint.RIGHT_WRIST, Joint.RIGHT_INDEX, Joint.RIGHT_PINKY),
    # The neck, from the shoulders' middle to the nose, moved like a limb so that it always joins the
    # head to the body. (The head used to own the pixels nearest the nose-to-shoulder lines, a
    # wedge of shoulder skin that, turned with the face, stood beside the shoulders and covered the
    # shoulder behind a turned head; moved with the face, a neck does not reach a leaning body.)
    Part("neck", ((NECK_BASE, Joint.NOSE),)),
)
TORSO_PART, HEAD_PART, NECK_PART = 0, 5, 10
# Painter's order without depth: what is usually in front is drawn last (the neck over the torso,
# the head over the neck, arms over the torso, forearms over upper arms). With depth,
# `painting_order` draws the farthest first.
DRAWING_ORDER = np.array([0, 1, 2, 3, 4, NECK_PART, HEAD_PART, 6, 7, 8, 9])
# The joints whose mean depth places each part nearer or farther: a limb's bone, the torso's
# corners, the head's nose and ears, the neck's nose and shoulders.
_OWN_DEPTH_JOINTS = {TORSO_PART: TORSO, HEAD_PART: (Joint.NOSE, *EARS), NECK_PART: NECK}
DEPTH_JOINTS = tuple(np.array(part.bone or _OWN_DEPTH_JOINTS[p]) for p, part in enumerate(PARTS))


def _depth_weights() -> np.ndarray:
    """(P, J): 1 where a joint places a part, so a pose's part depths are one product."""
    weights = np.zeros((len(PARTS), max(map(max, DEPTH_JOINTS)) + 1))
    for part, joints in enumerate(DEPTH_JOINTS):
        weights[part, joints] = 1.0
    return weights


DEPTH_WEIGHTS = _depth_weights()
LIMB_PARTS = np.array([p for p, part in enumerate(PARTS) if part.bone is not None])
LIMB_BONES = np.array([PARTS[p].bone for p in LIMB_PARTS]).T  # (2, limbs): each limb's bone start and end


def painting_order(depth: np.ndarray | None) -> np.ndarray:
    """Part indices in drawing order: farthest from the camera first (each part at the mean depth of
    its DEPTH_JOINTS), so that an arm behind the body is covered by it and one reaching towards the
    camera covers the face. A part whose depth is unknown is level with the torso (ties keep
    DRAWING_ORDER); without the torso's depth (or any), DRAWING_ORDER."""
    if depth is None:
        return DRAWING_ORDER
    known = np.isfinite(depth[: DEPTH_WEIGHTS.shape[1]])
    counts = DEPTH_WEIGHTS @ known
    part_depth = (DEPTH_WEIGHTS @ np.where(known, depth[: DEPTH_WEIGHTS.shape[1]], 0.0)) / np.maximum(counts, 1)
    if counts[TORSO_PART] == 0:
        return DRAWING_ORDER
    part_depth = np.where(counts > 0, part_depth, part_depth[TORSO_PART])
    return DRAWING_ORDER[np.argsort(-part_depth[DRAWING_ORDER], kind="stable")]


def _segment_distance(xs: np.ndarray, ys: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    dx, dy = b[0] - a[0], b[1] - a[1]
    length2 = dx * dx + dy * dy
    t = np.zeros_like(xs) if length2 < 1e-9 else np.clip(((xs - a[0]) * dx + (ys - a[1]) * dy) / length2, 0.0, 1.0)
    return np.hypot(xs - (a[0] + t * dx), ys - (a[1] + t * dy))


def part_map(mask: np.ndarray, keypoints: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(H, W) uint8: each person pixel's part index (nearest bone; inside the torso polygon: torso),
    NO_PART outside the mask or farther than PART_REACH torso heights from every bone seen."""
    height, width = mask.shape
    result = np.full((height, width), NO_PART, np.uint8)
    ys, xs = np.nonzero(mask >= MASK_THRESHOLD)
    torso = torso_size(keypoints, valid)
    if len(xs) == 0 or torso is None:
        return result
    xs_f, ys_f = xs.astype(np.float32), ys.astype(np.float32)
    best = np.full(len(xs), PART_REACH * torso, np.float32)
    label = np.full(len(xs), NO_PART, np.uint8)
    for index, part in enumerate(PARTS):
        ends = [(_end(keypoints, valid, a), _end(keypoints, valid, b)) for a, b in part.segments]
        seen = [(a, b) for a, b in ends if a is not None and b is not None]
        if not seen:
            continue
        distance = np.min([_segment_distance(xs_f, ys_f, a, b) for a, b in seen], axis=0)
        if index == TORSO_PART:
            polygon = keypoints[list(TORSO)].astype(np.float32).reshape(-1, 1, 2)
            inside = _inside_polygon(polygon, (width, height))[ys, xs]
            distance = np.where(inside, 0.0, distance)
        closer = distance < best
        best[closer], label[closer] = distance[closer], index
    result[ys, xs] = label
    return result


def _end(keypoints: np.ndarray, valid: np.ndarray, joint: int) -> np.ndarray | None:
    """A segment's end: the joint's point, or for NECK_BASE the shoulders' middle; None when not seen."""
    if joint == NECK_BASE:
        shoulders = list(SHOULDERS)
        return keypoints[shoulders].mean(axis=0) if valid[shoulders].all() else None
    return keypoints[joint] if valid[joint] else None


def _inside_polygon(polygon: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    canvas = np.zeros((size[1], size[0]), np.uint8)
    cv2.fillPoly(canvas, [np.round(polygon).astype(np.int32)], 1)
    return canvas.astype(bool)


def part_transform(index: int, src: np.ndarray, src_valid: np.ndarray, dst: np.ndarray, dst_valid: np.ndarray,
                   body_scale: float) -> np.ndarray | None:  # fmt: skip
    """The 2x3 map moving part `index` from pose `src` onto pose `dst`, or None when a joint it
    needs is not seen in both."""
    both = src_valid & dst_valid
    if index == TORSO_PART:
        joints = list(TORSO)
        if both[joints].all():
            affine = least_squares_affine(src[joints], dst[joints])
            if affine is not None:
                return affine
        joints = [j for j in TORSO if both[j]]
    elif index == NECK_PART:
        if not both[list(NECK)].all():
            return None
        return bone_affine(_end(src, both, NECK_BASE), src[Joint.NOSE], _end(dst, both, NECK_BASE), dst[Joint.NOSE], body_scale)
    elif index == HEAD_PART:
        joints = [j for j in FACE_POINTS if both[j]]
        if len(joints) < 2:
            joints = [j for j in FACE_POINTS + SHOULDERS if both[j]]
    else:
        a, b = PARTS[index].bone  # type: ignore[misc]
        if not (both[a] and both[b]):
            return None
        return bone_affine(src[a], src[b], dst[a], dst[b], body_scale)
    if len(joints) < 2:
        return None
    fit = umeyama(src[joints], dst[joints])
    if fit is None:
        return None
    if index == HEAD_PART:
        low, high = HEAD_SCALE_RANGE
        fit = fit.rescaled(float(np.clip(fit.scale, low * body_scale, high * body_scale)), src[joints].mean(axis=0))
    return fit.matrix()


def part_transforms(src: np.ndarray, src_valid: np.ndarray, dst: np.ndarray, dst_valid: np.ndarray,
                    body_scale: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """`part_transform` for every part: (P, 2, 3) maps (zeros where there is none) and (P,) bool,
    whether there is one. `src` is one pose (J, 2) for all parts, or each part's own source pose
    (P, J, 2), with `src_valid` and `body_scale` shaped alike ((P, J) and (P,)). The limbs' maps come
    from one `bone_affines` call, not one `bone_affine` call each: live warps every camera frame, and
    eight calls cost 0.2 ms."""
    count = len(PARTS)
    sources = src if np.ndim(src) == 3 else np.broadcast_to(src, (count, *np.shape(src)))
    valids = src_valid if np.ndim(src_valid) == 2 else np.broadcast_to(src_valid, (count, *np.shape(src_valid)))
    scales = np.broadcast_to(np.asarray(body_scale, np.float64), (count,))
    matrices = np.zeros((count, 2, 3))
    mapped = np.zeros(count, bool)
    for p in (TORSO_PART, HEAD_PART, NECK_PART):
        matrix = part_transform(p, sources[p], valids[p], dst, dst_valid, float(scales[p]))
        if matrix is not None:
            matrices[p], mapped[p] = matrix, True
    a, b = LIMB_BONES
    limbs = np.arange(len(LIMB_PARTS))
    limb_sources, limb_valids = sources[LIMB_PARTS], valids[LIMB_PARTS]
    maps, nonzero = bone_affines(limb_sources[limbs, a], limb_sources[limbs, b], dst[a], dst[b], scales[LIMB_PARTS])
    seen = limb_valids[limbs, a] & limb_valids[limbs, b] & dst_valid[a] & dst_valid[b] & nonzero
    matrices[LIMB_PARTS[seen]], mapped[LIMB_PARTS] = maps[seen], seen
    return matrices, mapped
