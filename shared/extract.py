"""MediaPipe pose estimation, per frame (live) or over a whole video (dataset preparation).

Runs fully offline: mediapipe 0.10.21 ships the `pose_landmark_full` and hand models in its wheel,
and `model_complexity=1` is the only setting that does not try to download another model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from shared.pose import PoseFrame, PoseSequence
from shared.skeleton import BODY_SCHEMA, HOLISTIC_SCHEMA, POSE_LANDMARK_NAMES, SkeletonSchema
from shared.video import probe_video, read_frames

# MediaPipe's native logging floods stderr with per-graph INFO/WARNING lines; keep errors only.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MODEL_COMPLEXITY = 1  # 0 and 2 need models the wheel does not ship


@dataclass(frozen=True)
class EstimatorConfig:
    holistic: bool = False  # add MediaPipe's 21-point hands (MediaPipe Holistic)
    min_visibility: float = 0.5  # a landmark below this visibility counts as not seen
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5

    @property
    def schema(self) -> SkeletonSchema:
        return HOLISTIC_SCHEMA if self.holistic else BODY_SCHEMA


class PoseEstimator:
    """MediaPipe Pose (or Holistic) in tracking mode: one RGB frame in, one `PoseFrame` out.

    Tracking mode reuses the previous frame's body region, so frames must come in order from one
    video or camera; make a new estimator (or call `reset`) for a new stream.
    """

    def __init__(self, config: EstimatorConfig | None = None) -> None:
        self.config = config or EstimatorConfig()
        self._solution = self._create()

    def _create(self):  # noqa: ANN202 - mediapipe has no type stubs
        import mediapipe as mp

        options = dict(
            static_image_mode=False,
            model_complexity=MODEL_COMPLEXITY,
            smooth_landmarks=True,
            min_detection_confidence=self.config.min_detection_confidence,
            min_tracking_confidence=self.config.min_tracking_confidence,
        )
        if self.config.holistic:
            return mp.solutions.holistic.Holistic(**options)
        return mp.solutions.pose.Pose(enable_segmentation=False, **options)

    def reset(self) -> None:
        self.close()
        self._solution = self._create()

    def __call__(self, frame_rgb: np.ndarray) -> PoseFrame:
        height, width = frame_rgb.shape[:2]
        result = self._solution.process(np.ascontiguousarray(frame_rgb))
        schema = self.config.schema
        pose = PoseFrame.missing(schema)
        if result.pose_landmarks is None:
            return pose
        body = np.array([(p.x, p.y, p.visibility) for p in result.pose_landmarks.landmark], np.float32)
        n_body = len(POSE_LANDMARK_NAMES)
        pose.keypoints[:n_body] = body[:, :2] * (width, height)
        pose.confidence[:n_body] = body[:, 2]
        pose.valid[:n_body] = body[:, 2] >= self.config.min_visibility
        if self.config.holistic:
            hands = (result.left_hand_landmarks, result.right_hand_landmarks)
            for side, hand in enumerate(hands):
                if hand is None:
                    continue
                start = n_body + side * 21
                points = np.array([(p.x, p.y) for p in hand.landmark], np.float32)
                pose.keypoints[start : start + 21] = points * (width, height)
                pose.confidence[start : start + 21] = 1.0
                pose.valid[start : start + 21] = True
        pose.keypoints[~pose.valid] = np.nan
        return pose

    def close(self) -> None:
        self._solution.close()

    def __enter__(self) -> PoseEstimator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def extract_poses(
    video: str | Path, config: EstimatorConfig | None = None, max_frames: int | None = None, progress: bool = True
) -> PoseSequence:
    """Poses for every frame of a video, in the video's own pixels; frames without a person are missing."""
    info = probe_video(video)
    config = config or EstimatorConfig()
    total = min(info.frame_count, max_frames) if max_frames else info.frame_count
    frames: list[PoseFrame] = []
    with PoseEstimator(config) as estimator:
        for rgb in tqdm(read_frames(video, max_frames), total=total or None, desc="poses", unit="frame", disable=not progress):
            frames.append(estimator(rgb))
    return PoseSequence.from_frames(frames, info.size, info.fps, config.schema)
