"""Pose-position augmentation for small target sets: move, turn and resize the person, keep the stage.

A few minutes of one person cover few places, sizes and leans in the frame, but a source dancer
normalized onto the target can stand anywhere near its floor line and lean either way (a clip of
someone leaning to one side teaches nothing about leaning to the other, and a longer-trained model
smears such poses). Each augmented pair is one random similarity (a turn and a scale about the
person's centre in frame t, then a shift) applied alike to both frames of the pair: the labels are
warped with it (nearest neighbour, so label colours stay exact) and the person is cut out of each
frame by its mask, warped, and pasted over the background plate. The plate is the one the
compositing generator draws over, so the background of an augmented frame is exactly what the
model must leave alone, and only the person moves. The masks move with it (as pasted, soft edge
included), so alpha's supervision (trainer/stages.py) says where the moved person is.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from shared.label.exemplar.parts import MASK_THRESHOLD


@dataclass(frozen=True)
class AugmentConfig:
    probability: float = 0.5  # share of pairs augmented (the rest are the real frames, untouched)
    max_scale: float = 0.15  # scale drawn in [1 - max_scale, 1 + max_scale]
    max_shift: float = 0.12  # shift drawn in +-max_shift of the image width / height
    max_rotation: float = 60.0  # degrees: turn about the person's centre drawn in +-max_rotation
    mask_blur: int = 5  # px: soft edge of the pasted person (odd)


def random_similarity(rng: np.random.Generator, size: tuple[int, int], config: AugmentConfig,
                      pivot: tuple[float, float] | None = None) -> np.ndarray:
    """A 2x3 matrix: turn and scale about `pivot` (the image centre by default), then shift."""
    width, height = size
    scale = rng.uniform(1 - config.max_scale, 1 + config.max_scale)
    dx, dy = rng.uniform(-config.max_shift, config.max_shift, 2) * (width, height)
    angle = rng.uniform(-config.max_rotation, config.max_rotation)
    matrix = cv2.getRotationMatrix2D(pivot if pivot is not None else (width / 2, height / 2), angle, scale)
    matrix[:, 2] += (dx, dy)
    return matrix


def move_face_box(box: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A face box row (x0, y0, side) moved with its centre; the side stays (boxes are fixed per size)."""
    x0, y0, side = (int(v) for v in box)
    if side <= 0:
        return np.asarray(box).copy()
    cx, cy = matrix @ np.array([x0 + side / 2, y0 + side / 2, 1.0])
    width, height = size
    nx = int(np.clip(round(cx - side / 2), 0, width - side))
    ny = int(np.clip(round(cy - side / 2), 0, height - side))
    return np.array([nx, ny, side], dtype=np.asarray(box).dtype)


def warp_person(frame: np.ndarray, mask: np.ndarray, plate: np.ndarray, matrix: np.ndarray, blur: int) -> tuple[np.ndarray, np.ndarray]:
    """The frame's person (mask 0-255) moved by `matrix` and pasted over the plate (all HxW uint8),
    and the mask it was pasted with (moved, its edge softened by `blur`)."""
    height, width = frame.shape[:2]
    moved = cv2.warpAffine(frame, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    alpha = cv2.warpAffine(mask, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    if blur > 1:
        alpha = cv2.GaussianBlur(alpha, (blur, blur), 0)
    weight = alpha[..., None].astype(np.float32) / 255.0
    return (weight * moved + (1 - weight) * plate).round().astype(np.uint8), alpha


def augment_pair(
    labels: np.ndarray, frames: np.ndarray, masks: np.ndarray, boxes: np.ndarray, plate: np.ndarray,
    rng: np.random.Generator, config: AugmentConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(2, H, W, 3) labels and frames, (2, H, W) masks, (2, 3) face boxes of frames t-1, t -> the
    same, moved by one random similarity, or unchanged with probability 1 - config.probability."""
    if rng.uniform() >= config.probability:
        return labels, frames, masks, boxes
    height, width = frames.shape[1:3]
    ys, xs = np.nonzero(masks[1] >= MASK_THRESHOLD)  # the person's centre in frame t: a turn leans it in place
    pivot = (float(xs.mean()), float(ys.mean())) if xs.size else None
    matrix = random_similarity(rng, (width, height), config, pivot)
    new_labels = np.stack(
        [cv2.warpAffine(label, matrix, (width, height), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT) for label in labels]
    )
    pasted = [warp_person(f, m, plate, matrix, config.mask_blur) for f, m in zip(frames, masks)]
    new_frames, new_masks = np.stack([p[0] for p in pasted]), np.stack([p[1] for p in pasted])
    new_boxes = np.stack([move_face_box(b, matrix, (width, height)) for b in boxes])
    return new_labels, new_frames, new_masks, new_boxes
