"""The square box around the head that the face GAN refines.

The paper uses a 128x128 box at 1024x512, centred on the nose (mid-ears when the nose is missing)
and shifted to stay inside the frame. The size is fixed per resolution, never per frame, so every
crop has the shape the face networks were built for; it is a multiple of 8 because the face
generator downsamples three times.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from shared.pose.keypoints import PoseFrame, PoseSequence
from shared.pose.schema import EARS, Joint

PAPER_FACE_SIZE = 128  # pixels at the paper's 1024x512 labels
PAPER_HEIGHT = 512
SIZE_MULTIPLE = 8  # 2 ** (face generator downsamplings)
MIN_FACE_SIZE = 16


@dataclass(frozen=True)
class FaceBox:
    """A size x size square whose top-left pixel is (x0, y0)."""

    x0: int
    y0: int
    size: int

    @property
    def x1(self) -> int:
        return self.x0 + self.size

    @property
    def y1(self) -> int:
        return self.y0 + self.size

    @property
    def slices(self) -> tuple[slice, slice]:
        """(rows, columns) slices, for image[rows, cols] or tensor[..., rows, cols]."""
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    def as_row(self) -> np.ndarray:
        return np.array([self.x0, self.y0, self.size], np.int64)

    @classmethod
    def from_row(cls, row: np.ndarray | tuple[int, int, int]) -> FaceBox | None:
        """The inverse of a `face_boxes` row; None for a -1 row (no box in that frame)."""
        x0, y0, size = (int(v) for v in row)
        return None if size < 0 else cls(x0, y0, size)

    def _check_fits(self, height: int, width: int) -> None:
        if self.x0 < 0 or self.y0 < 0 or self.x1 > width or self.y1 > height:
            raise ValueError(f"{self} does not fit inside a {width}x{height} image")

    def crop(self, image: Any) -> Any:
        """The box's pixels: rows/cols of an HxW(xC) numpy array, or the last two dims of a
        (..., H, W) tensor. A view, not a copy."""
        rows, cols = self.slices
        if isinstance(image, np.ndarray):
            self._check_fits(image.shape[0], image.shape[1])
            return image[rows, cols]
        self._check_fits(image.shape[-2], image.shape[-1])
        return image[..., rows, cols]

    def paste(self, image: Any, crop: Any) -> Any:
        """A copy of image with crop written into the box (same layouts as `crop`). Out of place, so
        it is safe on arrays others hold and on tensors that autograd tracks."""
        rows, cols = self.slices
        if isinstance(image, np.ndarray):
            self._check_fits(image.shape[0], image.shape[1])
            out = image.copy()
            out[rows, cols] = crop
            return out
        self._check_fits(image.shape[-2], image.shape[-1])
        out = image.clone()
        out[..., rows, cols] = crop
        return out


def face_box_size(image_size: tuple[int, int]) -> int:
    """The face box side for frames of image_size (width, height): the paper's 128 px at 512 px
    high, scaled with the height, rounded to a multiple of 8, at least 16, at most min(w, h)."""
    w, h = int(image_size[0]), int(image_size[1])
    scaled = PAPER_FACE_SIZE * h / PAPER_HEIGHT
    size = max(int(np.floor(scaled / SIZE_MULTIPLE + 0.5)) * SIZE_MULTIPLE, MIN_FACE_SIZE)
    limit = min(w, h)
    if size > limit:
        # Keep the multiple of 8 when the image allows it at all.
        size = limit // SIZE_MULTIPLE * SIZE_MULTIPLE or limit
    return size


def _head_centre(keypoints: np.ndarray, valid: np.ndarray) -> np.ndarray | None:
    ok = valid & np.isfinite(keypoints).all(axis=-1)
    if ok[Joint.NOSE]:
        return keypoints[Joint.NOSE]
    seen = [e for e in EARS if ok[e]]
    if not seen:
        return None
    return keypoints[seen].mean(axis=0)


def _place(centre: np.ndarray, size: int, image_size: tuple[int, int]) -> FaceBox:
    """The box centred on centre, shifted (never shrunk) to lie inside the image."""
    w, h = image_size
    x0 = int(np.floor(float(centre[0]) - size / 2 + 0.5))
    y0 = int(np.floor(float(centre[1]) - size / 2 + 0.5))
    return FaceBox(min(max(x0, 0), w - size), min(max(y0, 0), h - size), size)


def _checked_size(image_size: tuple[int, int], size: int | None) -> int:
    side = face_box_size(image_size) if size is None else int(size)
    if side < 1 or side > min(image_size):
        raise ValueError(f"face box size {side} does not fit a {image_size[0]}x{image_size[1]} image")
    return side


def face_box(pose: PoseFrame, image_size: tuple[int, int], size: int | None = None) -> FaceBox | None:
    """The face box for one pose: centred on the nose, else on the ears' midpoint (or the one ear
    seen); None when no head point was seen. size defaults to `face_box_size(image_size)`."""
    image_size = (int(image_size[0]), int(image_size[1]))
    side = _checked_size(image_size, size)
    centre = _head_centre(np.asarray(pose.keypoints, np.float64), np.asarray(pose.valid, bool))
    return None if centre is None else _place(centre, side, image_size)


def face_boxes(seq: PoseSequence, size: int | None = None) -> np.ndarray:
    """(T, 3) int64 rows of x0, y0, size for every frame, -1 rows where there is no box; datasets
    store this so training crops exactly where the data preparation decided."""
    out = np.full((len(seq), 3), -1, np.int64)
    for t in range(len(seq)):
        box = face_box(seq[t], seq.image_size, size)
        if box is not None:
            out[t] = box.as_row()
    return out
