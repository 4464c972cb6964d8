"""The pose detector as the judge of generated frames: MediaPipe on each frame on its own.

Static image mode (a fresh detection per frame, nothing carried over from the frame before: a
tracker that keeps last frame's landmarks would credit a smear with the pose it held a moment ago),
searched inside the region where the frame differs from the background plate, i.e. where the model
drew something (so a bystander standing in the plate is not scored instead, and the region is
found from the output itself, not handed over by the driving pose). Models that redraw the whole
frame (no plate) are searched around the driving pose instead.

The same judge run on real target frames against their dataset poses is the ceiling: what the
detector reads on the real person at this size (`judge_real_frames`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import cv2
import numpy as np
from tqdm import tqdm

from shared.pose.keypoints import PoseFrame
from shared.pose.mediapipe_estimator import MediaPipeEstimator
from shared.pose.person_lock import box_of, crop_region, offset_pose
from shared.pose.tracking import estimator_config
from trainer.dataset import Dataset
from trainer.pose_score import PoseScore, score_poses

Region = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels, exclusive ends

CHANGE_LEVEL = 24  # uint8 levels: a pixel differing from the plate by more (in any channel) was drawn
JOIN_PX = 5  # changed pixels this close belong to one blob (a limb the model drew apart from the body)
MIN_BLOB_SHARE = 0.002  # a largest blob under this share of the frame is noise: nobody was drawn
REGION_MARGIN = 0.25  # the region: the blob's (or driving pose's) box grown by this share of its size each side


def changed_region(image: np.ndarray, plate: np.ndarray, margin: float = REGION_MARGIN) -> Region | None:
    """The box of the largest blob of pixels that differ from `plate`, grown by `margin` inside the
    image; None when nothing of a person's size was drawn."""
    height, width = image.shape[:2]
    changed = (cv2.absdiff(image, plate).max(axis=2) > CHANGE_LEVEL).astype(np.uint8)
    changed = cv2.morphologyEx(changed, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))  # single-pixel noise out
    joined = cv2.dilate(changed, np.ones((2 * JOIN_PX + 1, 2 * JOIN_PX + 1), np.uint8))
    count, blobs, stats, _ = cv2.connectedComponentsWithStats(joined)
    if count < 2:
        return None
    drawn = np.bincount(blobs[changed > 0], minlength=count)[1:]  # changed pixels per blob (not its joined area)
    best = 1 + int(np.argmax(drawn))
    if drawn[best - 1] < MIN_BLOB_SHARE * height * width:
        return None
    x, y, w, h = (int(v) for v in stats[best, :4])
    return crop_region(np.array([x, y, x + w, y + h], np.float32), (width, height), margin)


def region_around(pose: PoseFrame, size: tuple[int, int], margin: float = REGION_MARGIN) -> Region | None:
    """Where the driving pose put the person: its box grown as the person lock grows its own
    (shared/pose/person_lock.py); None when the pose has no person."""
    box = box_of(pose)
    return None if box is None else crop_region(box, size, margin)


def judge_regions(images: Sequence[np.ndarray], plate: np.ndarray | None, driving: Sequence[PoseFrame]) -> list[Region | None]:
    """Where to look in each frame: where it differs from `plate`, or without a plate around the driving pose."""
    if plate is None:
        return [region_around(pose, images[0].shape[1::-1]) for pose in driving]
    return [changed_region(np.asarray(image), plate) for image in images]


def detect_each(images: Sequence[np.ndarray], regions: Sequence[Region | None], schema_tag: str, desc: str,
                progress: bool = True) -> list[PoseFrame]:  # fmt: skip
    """MediaPipe in static image mode (the tracker's other settings) on each frame's region alone;
    a frame without a region has nobody."""
    found = []
    with MediaPipeEstimator(replace(estimator_config(schema_tag), static=True)) as estimator:
        for image, region in zip(tqdm(images, desc=desc, unit="frame", disable=not progress), regions):
            if region is None:
                found.append(PoseFrame.missing(estimator.config.schema))
                continue
            x0, y0, x1, y1 = region
            crop = np.ascontiguousarray(np.asarray(image)[y0:y1, x0:x1])
            found.append(offset_pose(estimator(crop), x0, y0))
    return found


def judge(images: Sequence[np.ndarray], driving: Sequence[PoseFrame], plate: np.ndarray | None, schema_tag: str,
          desc: str, progress: bool = True, frame_ids: Sequence[int] | None = None) -> tuple[PoseScore, list[PoseFrame]]:  # fmt: skip
    """The score of `images` against the poses that drove them, and the poses found on them."""
    detected = detect_each(images, judge_regions(images, plate, driving), schema_tag, desc, progress)
    return score_poses(detected, driving, frame_ids), detected


def judge_real_frames(dataset: Dataset, frames: Sequence[int], size: tuple[int, int], schema_tag: str,
                      progress: bool = True) -> PoseScore:  # fmt: skip
    """The ceiling: the same judge on the real target frames (at `size`, the model's), against the
    dataset's poses of them, the plate being the dataset's."""
    frames = list(frames)
    poses = dataset.poses
    images = [np.asarray(dataset.frames[t]) for t in frames]
    plate = np.asarray(dataset.plate)
    if tuple(dataset.manifest.image_size) != tuple(size):
        poses = poses.transformed(size[0] / dataset.manifest.image_size[0], (0.0, 0.0), size)
        images = [cv2.resize(image, size, interpolation=cv2.INTER_AREA) for image in images]
        plate = cv2.resize(plate, size, interpolation=cv2.INTER_AREA)
    score, _ = judge(images, [poses[t] for t in frames], plate, schema_tag, "real target frames: poses", progress, frames)
    return score
