"""The background plate of a static-camera target: the per-pixel median of its frames, person removed.

Pixels the person covers in a frame (its mask, slightly grown to catch soft edges and shadows) are
left out of that pixel's median, so places the person often stands on still get the floor's colour.
How well the plate explains the frames outside the person tells whether the camera was static:
a moving camera gives a plate that fits no frame, and compositing is then turned off.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MAX_PLATE_FRAMES = 200  # evenly spaced frames are plenty for a median
STATIC_RESIDUAL_LIMIT = 0.05  # mean |frame - plate| outside the person, in [0, 1] units
MASK_THRESHOLD = 0.3
ROW_CHUNK = 64  # rows per median pass, to bound memory at high resolutions


@dataclass(frozen=True)
class PlateEstimate:
    plate: np.ndarray  # HxWx3 uint8 RGB
    residual: float  # median over frames of the mean |frame - plate| outside the person, in [0, 1]
    uncovered: float  # fraction of pixels the person covered in every sampled frame (plain median used)

    @property
    def static(self) -> bool:
        return self.residual <= STATIC_RESIDUAL_LIMIT


def person_masks(masks: np.ndarray, grow: float = 0.02) -> np.ndarray:
    """(T, H, W) soft masks (uint8 0-255 or float 0-1) -> bool masks grown by `grow` of the image size."""
    scale = 255.0 if masks.dtype == np.uint8 else 1.0
    size = max(3, int(round(grow * max(masks.shape[1:]))) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    return np.stack([cv2.dilate((m >= MASK_THRESHOLD * scale).astype(np.uint8), kernel) > 0 for m in masks])


def estimate_plate(frames: np.ndarray, masks: np.ndarray | None) -> PlateEstimate:
    """Median background of (T, H, W, 3) uint8 frames, leaving out person pixels where masks are given."""
    picks = np.unique(np.linspace(0, len(frames) - 1, min(len(frames), MAX_PLATE_FRAMES)).round().astype(int))
    sample = np.asarray(frames[picks])
    person = person_masks(np.asarray(masks[picks])) if masks is not None else np.zeros(sample.shape[:3], bool)
    plate = np.empty(sample.shape[1:], np.uint8)
    for top in range(0, sample.shape[1], ROW_CHUNK):
        rows = slice(top, top + ROW_CHUNK)
        values = sample[:, rows].astype(np.float32)
        hidden = person[:, rows]
        values[hidden] = np.nan
        always_hidden = hidden.all(axis=0)
        values[:, always_hidden] = sample[:, rows][:, always_hidden]
        plate[rows] = np.nanmedian(values, axis=0).round().astype(np.uint8)
    background = ~person
    diff = np.abs(sample.astype(np.float32) - plate).mean(axis=-1) / 255.0
    per_frame = [d[b].mean() if b.any() else 0.0 for d, b in zip(diff, background)]
    uncovered = float(person.all(axis=0).mean())
    return PlateEstimate(plate, float(np.median(per_frame)), uncovered)
