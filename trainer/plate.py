"""The background plate of a static-camera target: the per-pixel median of its frames, person removed.

Pixels the person covers in a frame (its mask, slightly grown to catch soft edges and shadows) are
left out of that pixel's median, so places the person often stands on still get the floor's colour.
Where the person stands in (nearly) every frame there are too few clean samples for a median, and the
few there are mostly catch the person's blurred edge: those pixels are filled from the surrounding
clean plate by inpainting instead, so the plate holds no ghost of the person.
How well the plate explains the frames outside the person tells whether the camera was static:
a moving camera gives a plate that fits no frame, and compositing is then turned off.

The plate then cleans the person masks (`clear_background`): MediaPipe's segmentation takes in
background that touches the person (on the Pose2Sim target, a rim of wall and floor along the
silhouette, and a white lampshade behind a raised hand), and that background would travel with the
person wherever a mask cuts them out.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MAX_PLATE_FRAMES = 200  # evenly spaced frames are plenty for a median
STATIC_RESIDUAL_LIMIT = 0.05  # mean |frame - plate| outside the person, in [0, 1] units
MASK_THRESHOLD = 0.3
ROW_CHUNK = 64  # rows per median pass, to bound memory at high resolutions
# A pixel is filled from its surroundings when it has fewer clean (person-free) samples than
# max(MIN_CLEAN_SAMPLES, MIN_CLEAN_FRACTION * sampled frames), i.e. the person covers it in more than
# 90% of the frames. Its few clean views then come from the moments the person's edge just left it,
# where motion blur, soft edges and shadows outside the grown mask tint it: on real footage
# (pose2sim cam01) the ghost's pixels have 0-10 clean samples out of 100. A median of under 5 values
# is one or two frames' colour, however many frames there are; 10% keeps that margin at 200 frames.
MIN_CLEAN_SAMPLES = 5
MIN_CLEAN_FRACTION = 0.1
INPAINT_RADIUS = 5  # px around each filled pixel that cv2.inpaint (Telea) draws its colour from
# A masked pixel within this many uint8 levels of the plate in every channel shows the background.
# The smallest of 12 / 20 / 30 that takes the Pose2Sim target's lampshade out of its masks (20 and
# 30 also cut into a shin against the floor); chosen on the masks alone.
BACKGROUND_LEVEL = 12


@dataclass(frozen=True)
class PlateEstimate:
    plate: np.ndarray  # HxWx3 uint8 RGB
    residual: float  # median over frames of the mean |frame - plate| outside the person, in [0, 1]
    guessed: np.ndarray  # HxW bool: pixels with too few clean samples, filled from the surrounding plate

    @property
    def filled(self) -> float:
        """The share of pixels filled from their surroundings."""
        return float(self.guessed.mean())

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
    clean = (~person).sum(axis=0)
    # Pixels the person never covers are never filled (without masks nothing is).
    fill = (clean < max(MIN_CLEAN_SAMPLES, MIN_CLEAN_FRACTION * len(sample))) & (clean < len(sample))
    plate = np.empty(sample.shape[1:], np.uint8)
    for top in range(0, sample.shape[1], ROW_CHUNK):
        rows = slice(top, top + ROW_CHUNK)
        values = sample[:, rows].astype(np.float32)
        hidden = person[:, rows]
        values[hidden] = np.nan
        always_hidden = hidden.all(axis=0)
        values[:, always_hidden] = sample[:, rows][:, always_hidden]  # plain median; inpainted below when any pixel is clean
        plate[rows] = np.nanmedian(values, axis=0).round().astype(np.uint8)
    if fill.any() and not fill.all():  # with no clean pixel at all there is nothing to fill from
        plate = cv2.inpaint(plate, fill.astype(np.uint8), INPAINT_RADIUS, cv2.INPAINT_TELEA)
    background = ~person
    diff = np.abs(sample.astype(np.float32) - plate).mean(axis=-1) / 255.0
    per_frame = [d[b].mean() if b.any() else 0.0 for d, b in zip(diff, background)]
    return PlateEstimate(plate, float(np.median(per_frame)), fill)


def clear_background(frames: np.ndarray, masks: np.ndarray, plate: PlateEstimate, level: int = BACKGROUND_LEVEL) -> None:
    """Zeroes, in place, the (T, H, W) uint8 `masks` where (T, H, W, 3) `frames` match the plate within
    `level` in every channel: background the segmentation took for the person. A 3x3 opening first
    drops lone matching pixels, so skin that happens to match a wall behind it stays the person, and
    the plate's guessed pixels (where the person nearly always stands) are never cleared: there the
    plate is no view of the background."""
    kernel = np.ones((3, 3), np.uint8)
    for t in range(len(frames)):
        matches = (np.abs(frames[t].astype(np.int16) - plate.plate).max(axis=-1) < level).astype(np.uint8)
        background = (cv2.morphologyEx(matches, cv2.MORPH_OPEN, kernel) > 0) & ~plate.guessed
        masks[t][background] = 0
