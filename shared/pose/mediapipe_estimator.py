"""MediaPipe pose estimation, per frame (live) or over a whole video (dataset preparation).

Runs fully offline: mediapipe 0.10.21 ships the `pose_landmark_full` and hand models in its wheel,
and `model_complexity=1` is the only setting that does not try to download another model.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from shared.pose.person_lock import LockConfig, PersonLockedEstimator
from shared.pose.keypoints import PoseFrame, PoseSequence
from shared.io.quiet import native_stderr_silenced
from shared.pose.schema import BODY_SCHEMA, HOLISTIC_SCHEMA, POSE_LANDMARK_NAMES, SkeletonSchema
from shared.io.video import probe_video, read_frames

MODEL_COMPLEXITY = 1  # 0 and 2 need models the wheel does not ship


@dataclass(frozen=True)
class EstimatorConfig:
    holistic: bool = False  # add MediaPipe's 21-point hands (MediaPipe Holistic)
    min_visibility: float = 0.5  # a landmark below this visibility counts as not seen
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    segmentation: bool = False  # also return MediaPipe Pose's person mask (a free by-product of the pose pass)
    static: bool = False  # detect afresh in every frame (no tracking): finding the people in one frame

    @property
    def schema(self) -> SkeletonSchema:
        return HOLISTIC_SCHEMA if self.holistic else BODY_SCHEMA


class MediaPipeEstimator:
    """MediaPipe Pose (or Holistic) in tracking mode: one RGB frame in, one `PoseFrame` out.

    Tracking mode reuses the previous frame's body region, so frames must come in order from one
    video or camera; make a new estimator (or call `reset`) for a new stream.

    MediaPipe's native log lines are silenced where they are written (shared/io/quiet.py): each
    graph logs as its calculators open, on the graph's own threads after the constructor returns
    (TensorFlow Lite's "Created ... XNNPACK delegate", absl's "inference_feedback_manager"
    warnings), and the process logs once more in the call that first finds a person
    ("landmark_projection_calculator").
    """

    def __init__(self, config: EstimatorConfig | None = None) -> None:
        self.config = config or EstimatorConfig()
        self._solution = self._create()
        self._seen_person = False  # until then every call may be the one that logs
        # the last estimate's 33 body landmarks in pixels, seen or not (MediaPipe places the
        # unseen ones too): where a follower starts from (shared/pose/onnx_follower.py); None for nobody
        self.body_points: np.ndarray | None = None

    def _create(self):  # noqa: ANN202 - mediapipe has no type stubs
        with native_stderr_silenced():
            import mediapipe as mp

        options = dict(
            static_image_mode=self.config.static,
            model_complexity=MODEL_COMPLEXITY,
            smooth_landmarks=True,
            min_detection_confidence=self.config.min_detection_confidence,
            min_tracking_confidence=self.config.min_tracking_confidence,
        )
        with native_stderr_silenced():
            if self.config.holistic:
                solution = mp.solutions.holistic.Holistic(enable_segmentation=self.config.segmentation, **options)
            else:
                solution = mp.solutions.pose.Pose(enable_segmentation=self.config.segmentation, **options)
            solution._graph.wait_until_idle()  # the calculators open (and log) on the graph's threads: wait for them here
        return solution

    def reset(self) -> None:
        self.close()
        self._solution = self._create()

    def __call__(self, frame_rgb: np.ndarray) -> PoseFrame:
        return self.estimate(frame_rgb)[0]

    def estimate(self, frame_rgb: np.ndarray) -> tuple[PoseFrame, np.ndarray | None]:
        """The pose and, with `segmentation`, the person mask (HxW float32 in [0, 1]; zeros when nobody is seen)."""
        height, width = frame_rgb.shape[:2]
        if self._seen_person:
            result = self._solution.process(np.ascontiguousarray(frame_rgb))
        else:
            with native_stderr_silenced():  # the first person found logs a line (once per process)
                result = self._solution.process(np.ascontiguousarray(frame_rgb))
            self._seen_person = result.pose_landmarks is not None
        mask = None
        if self.config.segmentation:
            found = getattr(result, "segmentation_mask", None)
            mask = np.zeros((height, width), np.float32) if found is None else np.asarray(found, np.float32)
        return self._pose(result, width, height), mask

    def _pose(self, result, width: int, height: int) -> PoseFrame:  # noqa: ANN001 - mediapipe result
        pose = PoseFrame.missing(self.config.schema)
        self.body_points = None
        if result.pose_landmarks is None:
            return pose
        body = np.array([(p.x, p.y, p.visibility, p.z) for p in result.pose_landmarks.landmark], np.float32)
        n_body = len(POSE_LANDMARK_NAMES)
        self.body_points = body[:, :2] * (width, height)
        pose.keypoints[:n_body] = self.body_points
        pose.confidence[:n_body] = body[:, 2]
        pose.valid[:n_body] = body[:, 2] >= self.config.min_visibility
        pose.depth = np.full(len(pose.valid), np.nan, np.float32)  # the hands' points carry none
        pose.depth[:n_body] = np.where(pose.valid[:n_body], body[:, 3], np.nan)
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

    def __enter__(self) -> MediaPipeEstimator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def extract_poses(
    video: str | Path,
    config: EstimatorConfig | None = None,
    max_frames: int | None = None,
    progress: bool = True,
    on_mask: Callable[[int, np.ndarray], None] | None = None,
) -> PoseSequence:
    """Poses for every frame of a video, in the video's own pixels; frames without a person are missing.

    With `on_mask`, segmentation is switched on and each frame's person mask is handed to it with the
    frame index (so a caller can store masks without holding a whole video's worth in memory).
    """
    return _extract(video, config, max_frames, progress, on_mask, lock=None)[0]


def extract_person_poses(
    video: str | Path,
    config: EstimatorConfig | None = None,
    lock: LockConfig | None = None,
    progress: bool = True,
    on_mask: Callable[[int, np.ndarray], None] | None = None,
) -> tuple[PoseSequence, int]:
    """`extract_poses` for one locked person (shared/pose/person_lock.py), so a bystander is never
    taken for them; also returns how many frames showed only someone else (those are missing)."""
    return _extract(video, config, None, progress, on_mask, lock=lock or LockConfig())


def _extract(
    video: str | Path,
    config: EstimatorConfig | None,
    max_frames: int | None,
    progress: bool,
    on_mask: Callable[[int, np.ndarray], None] | None,
    lock: LockConfig | None,
) -> tuple[PoseSequence, int]:
    info = probe_video(video)
    config = config or EstimatorConfig()
    if on_mask is not None:
        config = replace(config, segmentation=True)
    total = min(info.frame_count, max_frames) if max_frames else info.frame_count
    frames: list[PoseFrame] = []
    with ExitStack() as stack:
        estimator = stack.enter_context(MediaPipeEstimator(config))
        locked = None
        if lock is not None:
            detector = stack.enter_context(MediaPipeEstimator(replace(config, static=True, segmentation=False)))
            # MediaPipe's mask smoothing needs one frame size: grey out around the person, not crop
            locked = PersonLockedEstimator(estimator, detector, config.schema, lock, crop=not config.segmentation)
        decoded = read_frames(video, max_frames)
        for index, rgb in enumerate(tqdm(decoded, total=total or None, desc="poses", unit="frame", disable=not progress)):
            if locked is None:
                pose, mask = estimator.estimate(rgb)
            else:
                pose, mask = locked.estimate(rgb, index / info.fps)
            frames.append(pose)
            if on_mask is not None and mask is not None:
                on_mask(index, mask)
    others_only = 0 if locked is None else locked.others_only
    return PoseSequence.from_frames(frames, info.size, info.fps, config.schema), others_only
