"""Exemplar warping: real target texture, moved part by part onto the pose to render.

A small CPU generator trained for minutes cannot invent a person's clothes and face from a stick
figure; it blurs them. Following Siarohin et al. (Deformable GANs, CVPR 2018) and Balakrishnan et
al. (CVPR 2018), the generator is also shown a real training frame whose pose is close to the one
asked for, with each body part (torso, head, upper and lower limbs) moved onto the new pose by its
own affine map from the keypoints. The generator then corrects real texture instead of making it up.

An `ExemplarBank` holds up to a few hundred training frames (picked far apart in pose), each with
its person mask, a per-pixel part map (which body part a pixel belongs to: nearest bone inside the
mask) and its pose. The conditioning the generator sees is 7 channels: the stick-figure label
(3), the warped exemplar (3) and its mask (1), all in [0, 1].

Retrieval compares body joints relative to the mid-shoulder, in torso heights. Live keeps the
current exemplar until another is clearly closer (`ExemplarConditioner`), so texture does not
flicker between two near-equal frames; training draws among the nearest few, never from the
frames around the one being learnt (`ExemplarBank.choose`), so the generator learns to fix the
misfit of an exemplar that is near, not equal, as it will be for a new source pose.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import Tensor

from shared.errors import DanceError
from shared.io.files import atomic_write
from shared.io.tensors import label_to_tensor
from shared.label.geometry import bone_affine, bone_affines, least_squares_affine, umeyama
from shared.model.config import EXEMPLAR_NC, IMAGE_NC
from shared.pose.keypoints import PoseFrame
from shared.pose.schema import POSE_LANDMARK_NAMES

EXEMPLAR_FILE = "exemplars.npz"
DEFAULT_BANK_SIZE = 256
NO_PART = 255
SWITCH_RATIO = 0.85  # live: change exemplar only when another is this much closer
MIN_COMMON_JOINTS = 4
SEAM_PX = 2
_SEAM_KERNEL = np.ones((2 * SEAM_PX + 1, 2 * SEAM_PX + 1), np.uint8)
MASK_THRESHOLD = 128  # mask value (0-255) from which a pixel is the person
PART_REACH = 0.6  # torso heights: farther from every bone, a masked pixel is not the person
_LEVEL = np.float32(1 / 255)  # one uint8 level, in [0, 1] units


def _i(name: str) -> int:
    return POSE_LANDMARK_NAMES.index(name)


L_SH, R_SH, L_HIP, R_HIP = _i("left_shoulder"), _i("right_shoulder"), _i("left_hip"), _i("right_hip")
TORSO = (L_SH, R_SH, R_HIP, L_HIP)  # polygon order
HEAD_POINTS = tuple(_i(n) for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "mouth_left", "mouth_right"))
DESCRIPTOR_JOINTS = np.array([_i(n) for n in (
    "nose", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)])  # fmt: skip


@dataclass(frozen=True)
class Part:
    """A body part: warped by the affine map of its bone (`bone`), or by `fit` points for the
    torso (affine) and head (similarity); its pixels are those nearest to its `segments`."""

    name: str
    segments: tuple[tuple[int, int], ...]
    bone: tuple[int, int] | None = None


def _limb(side: str, upper: str, lower: str, *extra: str) -> Part:
    a, b = _i(f"{side}_{upper}"), _i(f"{side}_{lower}")
    segments = ((a, b),) + tuple((b, _i(f"{side}_{e}")) for e in extra)
    return Part(f"{side}_{upper}_{lower}", segments, bone=(a, b))


# Painter's order: what is usually in front is drawn last (arms over the torso, forearms over upper arms).
PARTS: tuple[Part, ...] = (
    Part("torso", ((L_SH, R_SH), (R_SH, R_HIP), (R_HIP, L_HIP), (L_HIP, L_SH))),
    _limb("left", "hip", "knee"), _limb("right", "hip", "knee"),
    _limb("left", "knee", "ankle", "heel", "foot_index"), _limb("right", "knee", "ankle", "heel", "foot_index"),
    Part("head", ((_i("left_ear"), _i("right_ear")), (_i("nose"), L_SH), (_i("nose"), R_SH))),
    _limb("left", "shoulder", "elbow"), _limb("right", "shoulder", "elbow"),
    _limb("left", "elbow", "wrist", "index", "pinky"), _limb("right", "elbow", "wrist", "index", "pinky"),
)  # fmt: skip
TORSO_PART, HEAD_PART = 0, 5
LIMB_PARTS = np.array([p for p, part in enumerate(PARTS) if part.bone is not None])
LIMB_BONES = np.array([PARTS[p].bone for p in LIMB_PARTS]).T  # (2, limbs): each limb's bone start and end


# --- pose geometry --------------------------------------------------------------------------------


def torso_size(keypoints: np.ndarray, valid: np.ndarray) -> float | None:
    """Mid-shoulder to mid-hip distance in pixels, or None without both shoulders and hips."""
    if not all(valid[j] for j in TORSO):
        return None
    points = keypoints[[L_SH, R_SH, L_HIP, R_HIP]].astype(np.float64)
    gap = (points[0] + points[1]) / 2 - (points[2] + points[3]) / 2
    size = float(np.sqrt(gap.dot(gap)))  # np.linalg.norm's arithmetic without its overhead: live calls this twice a frame
    return size if size > 1e-6 else None


def descriptor(keypoints: np.ndarray, valid: np.ndarray, fallback_scale: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Body joints relative to the mid-shoulder, in torso heights (`fallback_scale` pixels when the
    hips are not seen); None without both shoulders."""
    if not valid[[L_SH, R_SH]].all():
        return None
    scale = torso_size(keypoints, valid) or fallback_scale
    points = (keypoints[DESCRIPTOR_JOINTS] - keypoints[[L_SH, R_SH]].mean(axis=0)) / scale
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
        seen = [(a, b) for a, b in part.segments if valid[a] and valid[b]]
        if not seen:
            continue
        distance = np.min([_segment_distance(xs_f, ys_f, keypoints[a], keypoints[b]) for a, b in seen], axis=0)
        if index == TORSO_PART:
            polygon = keypoints[list(TORSO)].astype(np.float32).reshape(-1, 1, 2)
            inside = _inside_polygon(polygon, (width, height))[ys, xs]
            distance = np.where(inside, 0.0, distance)
        closer = distance < best
        best[closer], label[closer] = distance[closer], index
    result[ys, xs] = label
    return result


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
    elif index == HEAD_PART:
        joints = [j for j in HEAD_POINTS if both[j]]
        if len(joints) < 2:
            joints = [j for j in HEAD_POINTS + (L_SH, R_SH) if both[j]]
    else:
        a, b = PARTS[index].bone  # type: ignore[misc]
        if not (both[a] and both[b]):
            return None
        return bone_affine(src[a], src[b], dst[a], dst[b], body_scale)
    if len(joints) < 2:
        return None
    fit = umeyama(src[joints], dst[joints])
    return None if fit is None else fit.matrix()


def part_transforms(src: np.ndarray, src_valid: np.ndarray, dst: np.ndarray, dst_valid: np.ndarray,
                    body_scale: float) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """`part_transform` for every part: (P, 2, 3) maps (zeros where there is none) and (P,) bool,
    whether there is one. The limbs' maps come from one `bone_affines` call, not one `bone_affine`
    call each: live warps every camera frame, and eight calls cost 0.2 ms."""
    matrices = np.zeros((len(PARTS), 2, 3))
    mapped = np.zeros(len(PARTS), bool)
    for p in (TORSO_PART, HEAD_PART):
        matrix = part_transform(p, src, src_valid, dst, dst_valid, body_scale)
        if matrix is not None:
            matrices[p], mapped[p] = matrix, True
    a, b = LIMB_BONES
    limbs, nonzero = bone_affines(src[a], src[b], dst[a], dst[b], body_scale)
    seen = src_valid[a] & src_valid[b] & dst_valid[a] & dst_valid[b] & nonzero
    matrices[LIMB_PARTS[seen]], mapped[LIMB_PARTS] = limbs[seen], seen
    return matrices, mapped


# --- the bank -------------------------------------------------------------------------------------


@dataclass
class ExemplarBank:
    """Training frames to borrow texture from, at the model's size."""

    images: np.ndarray  # (K, H, W, 3) uint8 RGB
    alphas: np.ndarray  # (K, H, W) uint8 person masks
    parts: np.ndarray  # (K, H, W) uint8 part index per pixel (NO_PART: not the person)
    keypoints: np.ndarray  # (K, J, 2) float32 pixels
    valid: np.ndarray  # (K, J) bool
    frame_ids: np.ndarray  # (K,) int64: the dataset frame each came from
    schema_tag: str

    def __post_init__(self) -> None:
        self.keypoints = np.nan_to_num(np.asarray(self.keypoints, np.float32))
        self.valid = np.asarray(self.valid, bool)
        self.frame_ids = np.asarray(self.frame_ids, np.int64)
        count = len(self.images)
        if not (len(self.alphas) == len(self.parts) == len(self.keypoints) == len(self.valid) == len(self.frame_ids) == count):
            raise ValueError("exemplar arrays disagree on the number of exemplars")
        if count == 0:
            raise ValueError("an exemplar bank needs at least one exemplar")
        self.torso_sizes = np.array([torso_size(k, v) or 0.0 for k, v in zip(self.keypoints, self.valid)], np.float32)
        self.median_torso = float(np.median(self.torso_sizes[self.torso_sizes > 0])) if (self.torso_sizes > 0).any() else 1.0
        described = [descriptor(k, v, self.median_torso) for k, v in zip(self.keypoints, self.valid)]
        self.descriptor_points = np.stack([d[0] if d else np.zeros((len(DESCRIPTOR_JOINTS), 2), np.float32) for d in described])
        self.descriptor_valid = np.stack([d[1] if d else np.zeros(len(DESCRIPTOR_JOINTS), bool) for d in described])
        self.boxes = np.array([[_part_box(parts == p, SEAM_PX, self.image_size) for p in range(len(PARTS))] for parts in self.parts], np.int32)
        # Cut once here rather than at every warp (live warps one per camera frame): for 256
        # exemplars at 256x256, ~20 MB and 0.1 s.
        self.sprites = [[_part_sprite(self, k, p) for p in range(len(PARTS))] for k in range(count)]
        self.box_corners = _box_corners(self.boxes)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def image_size(self) -> tuple[int, int]:
        return int(self.images.shape[2]), int(self.images.shape[1])

    def distances(self, pose: PoseFrame) -> np.ndarray:
        """(K,) pose distance from `pose` to every exemplar (inf where they cannot be compared)."""
        described = descriptor(pose.keypoints, pose.valid, self.median_torso)
        if described is None:
            return np.full(len(self), np.inf)
        return descriptor_distances(self.descriptor_points, self.descriptor_valid, *described)

    def choose(self, pose: PoseFrame, frame: int, exclude_radius: int, rng: np.random.Generator | None, top: int = 3) -> int | None:
        """Training: one of the `top` nearest exemplars (the nearest without `rng`), none from
        within `exclude_radius` frames of `frame` (they would show the answer)."""
        distances = self.distances(pose)
        distances[np.abs(self.frame_ids - frame) <= exclude_radius] = np.inf
        order = np.argsort(distances)[:top]
        order = order[np.isfinite(distances[order])]
        if len(order) == 0:
            return None
        return int(order[0] if rng is None else order[rng.integers(len(order))])

    def warp(self, index: int, pose: PoseFrame) -> tuple[np.ndarray, np.ndarray]:
        """Exemplar `index` moved part by part onto `pose`: (H, W, 3) uint8 RGB on black, (H, W) uint8 mask."""
        width, height = self.image_size
        canvas = np.zeros((EXEMPLAR_NC, height, width), np.float32)
        self.warp_into(index, pose, canvas)
        rgb = np.ascontiguousarray(canvas[:IMAGE_NC].round().astype(np.uint8).transpose(1, 2, 0))
        return rgb, canvas[IMAGE_NC].astype(np.uint8)  # the mask is a maximum of uint8 levels: whole already

    def warp_into(self, index: int, pose: PoseFrame, canvas: np.ndarray) -> None:
        """Draws exemplar `index`, moved part by part onto `pose`, over `canvas`: (4, H, W) float32,
        zeros before, after RGB in 0-255 (not rounded) and the mask. Channel-first so that each
        part's blend runs along image rows, and so the live conditioner paints into its tensor."""
        width, height = self.image_size
        if canvas.shape != (EXEMPLAR_NC, height, width):
            raise ValueError(f"canvas {canvas.shape} for a {width}x{height} exemplar bank")
        src, src_valid = self.keypoints[index], self.valid[index]
        dst, dst_valid = np.nan_to_num(pose.keypoints.astype(np.float32)), pose.valid
        scale = (torso_size(dst, dst_valid) or self.median_torso) / (self.torso_sizes[index] or self.median_torso)
        matrices, mapped = part_transforms(src, src_valid, dst, dst_valid, scale)
        # Each part's box moved: the canvas region it is drawn into, and its map shifted to that region
        # (the same arithmetic as part by part: cv2 rounds sample positions to 1/32 px, an ulp can move one).
        corners = self.box_corners[index] @ matrices.transpose(0, 2, 1)
        starts = np.maximum(np.floor(corners.min(axis=1)).astype(int), 0)
        ends = np.minimum(np.ceil(corners.max(axis=1)).astype(int) + 1, (width, height))
        local = matrices.copy()
        local[:, :, 2] = (matrices[:, :, :2] @ self.boxes[index, :, :2, None])[:, :, 0] + matrices[:, :, 2] - starts
        drawn = mapped & (ends > starts).all(axis=1) & (self.boxes[index, :, 2] > self.boxes[index, :, 0])
        for p in np.flatnonzero(drawn):  # painter's order
            (dx0, dy0), (dx1, dy1) = starts[p].tolist(), ends[p].tolist()
            moved = cv2.warpAffine(self.sprites[index][p], local[p], (dx1 - dx0, dy1 - dy0),
                                   flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)  # fmt: skip
            _draw_over(canvas[:, dy0:dy1, dx0:dx1], moved)

    def save(self, path: str | Path) -> None:
        """Written under a temporary name and renamed: never half a bank under the real name."""
        path = Path(path)
        atomic_write(path, lambda tmp: np.savez_compressed(
            tmp, images=self.images, alphas=self.alphas, parts=self.parts, keypoints=self.keypoints,
            valid=self.valid, frame_ids=self.frame_ids, schema_tag=np.str_(self.schema_tag)))  # fmt: skip

    @classmethod
    def load(cls, path: str | Path) -> ExemplarBank:
        try:
            with np.load(path, allow_pickle=False) as data:
                return cls(data["images"], data["alphas"], data["parts"], data["keypoints"], data["valid"],
                           data["frame_ids"], str(data["schema_tag"]))  # fmt: skip
        except FileNotFoundError:
            raise DanceError(f"{path}: the exemplar bank is missing; train again (or use --no-exemplar)") from None
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as err:
            raise DanceError(f"{path}: not a readable exemplar bank ({err})") from None

    def resized(self, size: tuple[int, int]) -> ExemplarBank:
        """The same bank at another (width, height): for a coarse training stage."""
        if size == self.image_size:
            return self
        width, height = size
        scale = np.array([width / self.image_size[0], height / self.image_size[1]], np.float32)
        resize = lambda arrays, mode: np.stack([cv2.resize(a, size, interpolation=mode) for a in arrays])  # noqa: E731
        return ExemplarBank(resize(self.images, cv2.INTER_AREA), resize(self.alphas, cv2.INTER_AREA), resize(self.parts, cv2.INTER_NEAREST),
                            self.keypoints * scale, self.valid, self.frame_ids, self.schema_tag)  # fmt: skip


def _part_sprite(bank: ExemplarBank, index: int, part: int) -> np.ndarray | None:
    """(h, w, 4) uint8 RGBA: exemplar `index` inside the box of `part`, its alpha the person mask
    where the part's pixels grown by SEAM_PX are (None for a part with no pixels). The growth makes
    neighbouring parts overlap instead of leaving a seam of half-transparent pixels where they
    meet (the later part is drawn on top)."""
    x0, y0, x1, y1 = bank.boxes[index, part]
    if x1 <= x0:
        return None
    member = cv2.dilate((bank.parts[index, y0:y1, x0:x1] == part).astype(np.uint8), _SEAM_KERNEL)
    return np.dstack([bank.images[index, y0:y1, x0:x1], bank.alphas[index, y0:y1, x0:x1] * member])


def _box_corners(boxes: np.ndarray) -> np.ndarray:
    """(..., 4) int boxes (x0, y0, x1, y1) -> (..., 4, 3) float64 corners, homogeneous, as rows."""
    x0, y0, x1, y1 = np.moveaxis(boxes.astype(np.float64), -1, 0)
    corners = [np.stack([x, y, np.ones_like(x)], axis=-1) for x, y in ((x0, y0), (x1, y0), (x0, y1), (x1, y1))]
    return np.stack(corners, axis=-2)


def _draw_over(region: np.ndarray, moved: np.ndarray) -> None:
    """Paints one warped part, (h, w, 4) uint8 RGBA, over `region`, a (4, h, w) float32 view of a
    canvas: RGB blended by the part's alpha, the mask the maximum of both. Plane by plane, numpy
    loops along rows; over interleaved RGB it looped over 3 channels per pixel, 3x slower."""
    rgb, alpha = moved.transpose(2, 0, 1)[:IMAGE_NC], moved[..., IMAGE_NC]
    under = region[:IMAGE_NC]
    change = np.subtract(rgb, under)
    change *= alpha * _LEVEL
    under += change
    np.maximum(region[IMAGE_NC], alpha, out=region[IMAGE_NC])


def _part_box(pixels: np.ndarray, margin: int, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1), exclusive ends, of the True pixels grown by `margin` inside `size`;
    (0, 0, 0, 0) when there are none."""
    ys = np.flatnonzero(pixels.any(axis=1))
    if len(ys) == 0:
        return (0, 0, 0, 0)
    xs = np.flatnonzero(pixels.any(axis=0))
    width, height = size
    return (max(int(xs[0]) - margin, 0), max(int(ys[0]) - margin, 0), min(int(xs[-1]) + 1 + margin, width), min(int(ys[-1]) + 1 + margin, height))


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


def build_bank(images: np.ndarray, masks: np.ndarray, keypoints: np.ndarray, valid: np.ndarray, frame_ids: np.ndarray,
               schema_tag: str, max_size: int = DEFAULT_BANK_SIZE) -> ExemplarBank:  # fmt: skip
    """A bank from training frames (all at one size): frames without a whole torso are left out,
    then at most `max_size` spread over pose space are kept."""
    keypoints = np.nan_to_num(np.asarray(keypoints, np.float32))
    usable = [i for i in range(len(frame_ids)) if torso_size(keypoints[i], valid[i]) is not None]
    if not usable:
        raise DanceError("no training frame shows a whole torso (both shoulders and hips): no exemplar to warp from")
    median = float(np.median([torso_size(keypoints[i], valid[i]) for i in usable]))
    described = [descriptor(keypoints[i], valid[i], median) for i in usable]
    picks = [usable[i] for i in farthest_poses(np.stack([d[0] for d in described]), np.stack([d[1] for d in described]), max_size)]
    parts = np.stack([part_map(np.asarray(masks[i]), keypoints[i], valid[i]) for i in picks])
    return ExemplarBank(np.stack([np.asarray(images[i]) for i in picks]), np.stack([np.asarray(masks[i]) for i in picks]), parts,
                        keypoints[picks], np.asarray(valid)[picks], np.asarray(frame_ids)[picks], schema_tag)  # fmt: skip


# --- conditioning ---------------------------------------------------------------------------------


def stack_conditioning(label: np.ndarray, rgb: np.ndarray | None, alpha: np.ndarray | None) -> np.ndarray:
    """(H, W, 7) uint8: label, warped exemplar, its mask (zeros when there is no exemplar)."""
    height, width = label.shape[:2]
    if rgb is None or alpha is None:
        return np.concatenate([label, np.zeros((height, width, EXEMPLAR_NC), np.uint8)], axis=2)
    return np.concatenate([label, rgb, alpha[..., None]], axis=2)


class ExemplarConditioner:
    """Live: the exemplar nearest each pose, kept until another is SWITCH_RATIO closer, warped onto it."""

    def __init__(self, bank: ExemplarBank, switch_ratio: float = SWITCH_RATIO) -> None:
        self.bank = bank
        self.switch_ratio = switch_ratio
        self.reset()

    def reset(self) -> None:
        self.current: int | None = None

    def pick(self, pose: PoseFrame) -> int | None:
        distances = self.bank.distances(pose)
        best = int(np.argmin(distances))
        if not np.isfinite(distances[best]):
            return self.current
        if self.current is None or distances[best] < self.switch_ratio * distances[self.current]:
            self.current = best
        return self.current

    def __call__(self, pose: PoseFrame, label: np.ndarray) -> Tensor:
        """(1, 7, H, W) float in [0, 1], the engine's label input, filled channel-first directly:
        the exemplar is painted into its planes, with no (H, W, 7) or uint8 image in between."""
        height, width = label.shape[:2]
        planes = np.zeros((IMAGE_NC + EXEMPLAR_NC, height, width), np.float32)
        for plane, channel in zip(planes, cv2.split(label)):  # split first: half the time of one strided pass
            np.multiply(channel, _LEVEL, out=plane, dtype=np.float32)
        index = self.pick(pose) if pose.present else None
        if index is not None:
            exemplar = planes[IMAGE_NC:]
            self.bank.warp_into(index, pose, exemplar)
            np.rint(exemplar[:IMAGE_NC], out=exemplar[:IMAGE_NC])  # the levels `warp` would give
            exemplar *= _LEVEL
        return torch.from_numpy(planes)[None]


class LabelOnly:
    """The paper's conditioning: the label image alone (models trained with --no-exemplar)."""

    def reset(self) -> None:
        pass

    def __call__(self, pose: PoseFrame, label: np.ndarray) -> Tensor:
        del pose  # the label already shows it
        return label_to_tensor(label)


def conditioner_for(bank: ExemplarBank | None) -> ExemplarConditioner | LabelOnly:
    """What turns (pose, label) into an engine's label input: one per stream (it keeps state)."""
    return LabelOnly() if bank is None else ExemplarConditioner(bank)
