"""The synthetic dancer: a procedurally drawn person dancing, with exact ground truth.

Tests and the demo use it so nothing has to be downloaded. Every frame comes with the true 33
MediaPipe Pose landmarks in pixels, the exact person mask, and a static textured background
(`render_background`), so pose extraction, normalisation, background estimation and segmentation
can all be checked against known answers. The same arguments always give the same pixels.

The job is split by module: body.py (who dances), motion.py (how they move), drawing.py (how they
look, with the exact mask), background.py (the set); this module puts them together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, overload

import numpy as np

from shared.errors import DanceError
from shared.io.video import write_video
from shared.pose.keypoints import PoseSequence
from shared.pose.schema import BODY_SCHEMA, POSE_LANDMARK_NAMES
from shared.synthetic.background import render_background
from shared.synthetic.body import BodyStyle
from shared.synthetic.drawing import Painter, draw_person
from shared.synthetic.motion import Dance, Skeleton, pose_at


def _check_args(num_frames: int, size: tuple[int, int], fps: float) -> tuple[int, int]:
    width, height = int(size[0]), int(size[1])
    if width < 32 or height < 32:
        raise DanceError(f"synthetic dancer size {width}x{height} is too small: use at least 32x32 pixels")
    if num_frames < 0:
        raise DanceError(f"cannot render {num_frames} frames of the synthetic dancer: ask for 0 or more")
    if not fps > 0:
        raise DanceError(f"synthetic dancer fps must be positive, got {fps}")
    return width, height


def _skeletons(body: BodyStyle, num_frames: int, size: tuple[int, int], fps: float, seed: int) -> list[Skeleton]:
    dance = Dance.from_seed(seed)
    return [pose_at(body, dance, i / fps, size) for i in range(num_frames)]


def _ground_truth(skeletons: list[Skeleton], size: tuple[int, int], fps: float) -> PoseSequence:
    """Every landmark is known exactly; those that left the frame are marked invalid."""
    k = len(POSE_LANDMARK_NAMES)
    points = np.zeros((len(skeletons), k, 2), np.float32)
    for i, skeleton in enumerate(skeletons):
        points[i] = skeleton.points
    x, y = points[..., 0], points[..., 1]
    inside = (x >= 0) & (x < size[0]) & (y >= 0) & (y < size[1])
    return PoseSequence(points, inside.astype(np.float32), inside, size, fps, BODY_SCHEMA.tag)


def dance_poses(
    body: BodyStyle, num_frames: int, size: tuple[int, int] = (256, 256), fps: float = 30.0, seed: int = 0
) -> PoseSequence:
    """The ground truth of `render_dance` with the same arguments, without drawing any pixels."""
    size = _check_args(num_frames, size, fps)
    return _ground_truth(_skeletons(body, num_frames, size, fps, seed), size, fps)


@overload
def render_dance(body: BodyStyle, num_frames: int, size: tuple[int, int] = ..., fps: float = ..., seed: int = ...,
                 with_masks: Literal[False] = ...) -> tuple[np.ndarray, PoseSequence]: ...  # fmt: skip
@overload
def render_dance(body: BodyStyle, num_frames: int, size: tuple[int, int] = ..., fps: float = ..., seed: int = ...,
                 *, with_masks: Literal[True]) -> tuple[np.ndarray, PoseSequence, np.ndarray]: ...  # fmt: skip


def render_dance(
    body: BodyStyle,
    num_frames: int,
    size: tuple[int, int] = (256, 256),
    fps: float = 30.0,
    seed: int = 0,
    with_masks: bool = False,
) -> tuple[np.ndarray, PoseSequence] | tuple[np.ndarray, PoseSequence, np.ndarray]:
    """Render `num_frames` of the dance: frames (T, H, W, 3) uint8 RGB and their exact poses.

    Every landmark inside the frame is valid with confidence 1; landmarks outside it are invalid.
    With `with_masks=True` a third array (T, H, W) bool holds the exact person mask; outside it,
    each frame equals `render_background(size, seed)` pixel for pixel.
    """
    width, height = _check_args(num_frames, size, fps)
    background = render_background((width, height), seed)
    skeletons = _skeletons(body, num_frames, (width, height), fps, seed)
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    masks = np.empty((num_frames, height, width), bool)
    for i, skeleton in enumerate(skeletons):
        painter = Painter(background.copy())
        draw_person(painter, body, skeleton)
        masks[i] = painter.mask > 0
        # Clip to the silhouette so face and clothing details can never leak onto the background.
        np.copyto(frames[i], np.where(masks[i][..., None], painter.frame, background))
    poses = _ground_truth(skeletons, (width, height), fps)
    if with_masks:
        return frames, poses, masks
    return frames, poses


def write_dance_video(
    path: str | Path,
    body: BodyStyle,
    num_frames: int,
    size: tuple[int, int] = (256, 256),
    fps: float = 30.0,
    seed: int = 0,
) -> PoseSequence:
    """Write the dance as an H.264 mp4 and return its ground-truth poses.

    The video is lossy, so its pixels differ slightly from `render_dance`'s; the poses do not.
    """
    frames, poses = render_dance(body, num_frames, size, fps, seed)
    write_video(path, frames, fps)
    return poses
