"""Which part of a camera frame becomes the model's image, and how poses follow it.

A dataset uses one fixed window for the whole video (the camera is static and normalization needs one
pixel frame): the smallest window of the model's aspect ratio that holds the person in every frame.
A window may reach past the frame's edges; that part is padded black.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from shared.errors import DanceError
from shared.pose.keypoints import PoseSequence


@dataclass(frozen=True)
class CropWindow:
    x0: int
    y0: int
    width: int
    height: int

    def scale_to(self, out_size: tuple[int, int]) -> float:
        return out_size[0] / self.width

    def apply(self, frame: np.ndarray, out_size: tuple[int, int]) -> np.ndarray:
        """Crop (padding black outside the frame) and resize to `out_size` (width, height)."""
        frame_h, frame_w = frame.shape[:2]
        pad_left, pad_top = max(0, -self.x0), max(0, -self.y0)
        pad_right = max(0, self.x0 + self.width - frame_w)
        pad_bottom = max(0, self.y0 + self.height - frame_h)
        if pad_left or pad_top or pad_right or pad_bottom:
            frame = cv2.copyMakeBorder(frame, pad_top, pad_bottom, pad_left, pad_right, cv2.BORDER_CONSTANT, value=0)
        x0, y0 = self.x0 + pad_left, self.y0 + pad_top
        crop = frame[y0 : y0 + self.height, x0 : x0 + self.width]
        shrinking = out_size[0] < self.width
        return cv2.resize(crop, out_size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)

    def map_poses(self, poses: PoseSequence, out_size: tuple[int, int]) -> PoseSequence:
        """The same poses in the pixels of the cropped and resized image."""
        scale = self.scale_to(out_size)
        # Pixel centres: source pixel x maps to (x + 0.5 - x0) * scale - 0.5 under cv2.resize.
        offset = (0.5 * scale - 0.5 - self.x0 * scale, 0.5 * scale - 0.5 - self.y0 * scale)
        return poses.transformed(scale, offset, out_size)

    def scaled(self, factor: float) -> CropWindow:
        """The same window on a copy of the frame resized by `factor` (e.g. a smaller mask)."""
        return CropWindow(*(max(1, int(round(v * factor))) if i >= 2 else int(round(v * factor)) for i, v in enumerate(
            (self.x0, self.y0, self.width, self.height))))

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def _fit_aspect(cx: float, cy: float, width: float, height: float, aspect: float) -> CropWindow:
    """The window of `aspect` (w/h) centred on (cx, cy) that just holds width x height."""
    height = max(height, width / aspect)
    width = height * aspect
    return CropWindow(int(round(cx - width / 2)), int(round(cy - height / 2)), int(round(width)), int(round(height)))


def full_frame_window(image_size: tuple[int, int], out_size: tuple[int, int]) -> CropWindow:
    """The whole frame, letterboxed to the output's aspect ratio."""
    width, height = image_size
    return _fit_aspect(width / 2, height / 2, width, height, out_size[0] / out_size[1])


def letterbox(image: np.ndarray, out_size: tuple[int, int]) -> np.ndarray:
    """The whole image resized to `out_size` (width, height), aspect kept, centred between black bars."""
    height, width = image.shape[:2]
    if (width, height) == tuple(out_size):
        return image
    return full_frame_window((width, height), out_size).apply(image, out_size)


def person_window(poses: PoseSequence, out_size: tuple[int, int], margin: float = 0.15) -> CropWindow:
    """Smallest window of the output's aspect that holds the person in (nearly) every frame.

    Uses the 0.5-99.5 percentiles of all seen keypoints (a few wild detections don't blow the window
    up), adds `margin` of the body's height on every side (hair and shoe tips lie beyond the
    landmarks), and slides the window inside the frame when it fits there.
    """
    points = poses.keypoints[poses.valid]
    if len(points) == 0:
        raise DanceError("no person was found in the video")
    (left, top), (right, bottom) = np.percentile(points, [0.5, 99.5], axis=0)
    pad = margin * (bottom - top)
    left, top, right, bottom = left - pad, top - pad, right + pad, bottom + pad
    window = _fit_aspect((left + right) / 2, (top + bottom) / 2, right - left, bottom - top, out_size[0] / out_size[1])
    frame_w, frame_h = poses.image_size
    x0 = min(max(window.x0, 0), frame_w - window.width) if window.width <= frame_w else (frame_w - window.width) // 2
    y0 = min(max(window.y0, 0), frame_h - window.height) if window.height <= frame_h else (frame_h - window.height) // 2
    return CropWindow(x0, y0, window.width, window.height)
