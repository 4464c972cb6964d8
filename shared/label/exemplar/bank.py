"""The exemplar bank: training frames to borrow texture from, each cut into its parts once, and
warped part by part onto a new pose (`ExemplarBank.warp_into`); built from a dataset by `build_bank`."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from shared.errors import DanceError
from shared.io.files import atomic_write
from shared.label.channels import EXEMPLAR_NC, IMAGE_NC
from shared.label.exemplar.parts import PARTS, painting_order, part_map, part_transforms
from shared.label.exemplar.retrieval import (
    DESCRIPTOR_JOINTS, descriptor, descriptor_distances, farthest_poses, part_descriptors, part_distances,
)
from shared.pose.keypoints import PoseFrame, torso_size

DEFAULT_BANK_SIZE = 256
SEAM_PX = 2
_SEAM_KERNEL = np.ones((2 * SEAM_PX + 1, 2 * SEAM_PX + 1), np.uint8)
LEVEL = np.float32(1 / 255)  # one uint8 level, in [0, 1] units


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
    per_part: bool = False  # each part warped from its own nearest frame (`choose_parts`), not one frame for all

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
        parts = [part_descriptors(k, v, t or self.median_torso) for k, v, t in zip(self.keypoints, self.valid, self.torso_sizes)]
        self.part_points, self.part_valid = np.stack([p[0] for p in parts]), np.stack([p[1] for p in parts])
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

    def part_distances(self, pose: PoseFrame) -> np.ndarray:
        """(K, P) each part's pose distance from `pose` to every exemplar (inf where it cannot be compared)."""
        scale = torso_size(pose.keypoints, pose.valid) or self.median_torso
        return part_distances(self.part_points, self.part_valid, *part_descriptors(np.nan_to_num(pose.keypoints), pose.valid, scale))

    def choose(self, pose: PoseFrame, frame: int, exclude_radius: int, rng: np.random.Generator | None,
               top: int = 3) -> int | np.ndarray | None:  # fmt: skip
        """Training: one of the `top` nearest exemplars (the nearest without `rng`), none from
        within `exclude_radius` frames of `frame` (they would show the answer); for a per-part bank
        (P,) indices, each part's own."""
        if self.per_part:
            return self._choose_parts(pose, frame, exclude_radius, rng, top)
        distances = self.distances(pose)
        distances[np.abs(self.frame_ids - frame) <= exclude_radius] = np.inf
        order = np.argsort(distances)[:top]
        order = order[np.isfinite(distances[order])]
        if len(order) == 0:
            return None
        return int(order[0] if rng is None else order[rng.integers(len(order))])

    def _choose_parts(self, pose: PoseFrame, frame: int, exclude_radius: int, rng: np.random.Generator | None,
                      top: int = 3) -> np.ndarray | None:  # fmt: skip
        """`choose` part by part: (P,) exemplar indices, -1 for a part none can be compared on; None
        when no part can."""
        distances = self.part_distances(pose)
        distances[np.abs(self.frame_ids - frame) <= exclude_radius] = np.inf
        order = np.argsort(distances, axis=0)[:top]
        picks = np.full(len(PARTS), -1, np.int64)
        for p in range(len(PARTS)):
            near = order[:, p][np.isfinite(distances[order[:, p], p])]
            if len(near):
                picks[p] = near[0] if rng is None else near[rng.integers(len(near))]
        return picks if (picks >= 0).any() else None

    def warp(self, index: int | np.ndarray, pose: PoseFrame) -> tuple[np.ndarray, np.ndarray]:
        """Exemplar `index` (or (P,) indices, one per part, -1: not drawn) moved part by part onto
        `pose`: (H, W, 3) uint8 RGB on black, (H, W) uint8 mask."""
        width, height = self.image_size
        canvas = np.zeros((EXEMPLAR_NC, height, width), np.float32)
        self.warp_into(index, pose, canvas)
        rgb = np.ascontiguousarray(canvas[:IMAGE_NC].round().astype(np.uint8).transpose(1, 2, 0))
        return rgb, canvas[IMAGE_NC].astype(np.uint8)  # the mask is a maximum of uint8 levels: whole already

    def warp_into(self, index: int | np.ndarray, pose: PoseFrame, canvas: np.ndarray) -> None:
        """Draws exemplar `index` (or each part from its own, (P,) indices, -1: not drawn), moved
        part by part onto `pose` (farthest part first, by the pose's depth), over `canvas`: (4, H, W)
        float32, zeros before, after RGB in 0-255 (not rounded) and the mask. Channel-first so that
        each part's blend runs along image rows, and so the live conditioner paints into its tensor."""
        width, height = self.image_size
        if canvas.shape != (EXEMPLAR_NC, height, width):
            raise ValueError(f"canvas {canvas.shape} for a {width}x{height} exemplar bank")
        sources = np.full(len(PARTS), index, np.int64) if np.isscalar(index) else np.asarray(index, np.int64)
        dst, dst_valid = np.nan_to_num(pose.keypoints.astype(np.float32)), pose.valid
        picked = np.maximum(sources, 0)
        torsos = self.torso_sizes[picked].astype(np.float64)
        source_torsos = np.where(torsos > 0, torsos, self.median_torso)
        scales = (torso_size(dst, dst_valid) or self.median_torso) / source_torsos
        matrices, mapped = part_transforms(self.keypoints[picked], self.valid[picked] & (sources >= 0)[:, None], dst, dst_valid, scales)
        parts = np.arange(len(PARTS))
        boxes, box_corners = self.boxes[picked, parts], self.box_corners[picked, parts]
        # Each part's box moved: the canvas region it is drawn into, and its map shifted to that region
        # (the same arithmetic as part by part: cv2 rounds sample positions to 1/32 px, an ulp can move one).
        corners = box_corners @ matrices.transpose(0, 2, 1)
        starts = np.maximum(np.floor(corners.min(axis=1)).astype(int), 0)
        ends = np.minimum(np.ceil(corners.max(axis=1)).astype(int) + 1, (width, height))
        local = matrices.copy()
        local[:, :, 2] = (matrices[:, :, :2] @ boxes[:, :2, None])[:, :, 0] + matrices[:, :, 2] - starts
        drawn = mapped & (ends > starts).all(axis=1) & (boxes[:, 2] > boxes[:, 0])
        for p in painting_order(pose.depth):
            if not drawn[p]:
                continue
            (dx0, dy0), (dx1, dy1) = starts[p].tolist(), ends[p].tolist()
            moved = cv2.warpAffine(self.sprites[sources[p]][p], local[p], (dx1 - dx0, dy1 - dy0),
                                   flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)  # fmt: skip
            _draw_over(canvas[:, dy0:dy1, dx0:dx1], moved)

    def save(self, path: str | Path) -> None:
        """Written under a temporary name and renamed: never half a bank under the real name."""
        path = Path(path)
        atomic_write(path, lambda tmp: np.savez_compressed(
            tmp, images=self.images, alphas=self.alphas, parts=self.parts, keypoints=self.keypoints,
            valid=self.valid, frame_ids=self.frame_ids, schema_tag=np.str_(self.schema_tag), per_part=np.bool_(self.per_part)))  # fmt: skip

    @classmethod
    def load(cls, path: str | Path) -> ExemplarBank:
        try:
            with np.load(path, allow_pickle=False) as data:
                return cls(data["images"], data["alphas"], data["parts"], data["keypoints"], data["valid"],
                           data["frame_ids"], str(data["schema_tag"]), bool(data["per_part"]) if "per_part" in data.files else False)  # fmt: skip
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
                            self.keypoints * scale, self.valid, self.frame_ids, self.schema_tag, self.per_part)  # fmt: skip


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
    change *= alpha * LEVEL
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


def build_bank(images: np.ndarray, masks: np.ndarray, keypoints: np.ndarray, valid: np.ndarray, frame_ids: np.ndarray,
               schema_tag: str, max_size: int = DEFAULT_BANK_SIZE, per_part: bool = False) -> ExemplarBank:  # fmt: skip
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
                        keypoints[picks], np.asarray(valid)[picks], np.asarray(frame_ids)[picks], schema_tag, per_part)  # fmt: skip
