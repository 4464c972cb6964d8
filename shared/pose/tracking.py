"""Camera frame -> the person's pose in the model's label frame, smoothed online.

In shared/ because live runs it on every camera frame and the trainer's eval must run a source
video through exactly the same steps.

MediaPipe finds the person on a region around the locked one (shared/pose/person_lock.py: one person
is chosen and followed, a bystander or an identity switch reads as nobody); from then on the
body is followed from frame to frame by MediaPipe's own landmark model under onnxruntime
(shared/pose/onnx_follower.py, 12-14 ms a frame where MediaPipe's tracking took 21-26), and MediaPipe
runs again only when that loses the person. The keypoints are then mapped into the label frame (the camera frame letterboxed to the
model's aspect, exactly as `full_frame_window` crops it) and smoothed with the One Euro filter.
Smoothing happens in label pixels, so the filter's speed threshold can be set for the label size
(an affine map before or after the filter is the same thing once beta is scaled to match).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from shared.errors import DanceError
from shared.pose.mediapipe_estimator import EstimatorConfig, MediaPipeEstimator
from shared.pose.framing import CropWindow, full_frame_window
from shared.pose.person_lock import LockConfig, PersonLockedEstimator
from shared.pose.keypoints import PoseFrame, PoseSequence
from shared.pose.onnx_follower import OnnxPoseFollower
from shared.pose.schema import SCHEMAS
from shared.pose.smoothing import OneEuroPoseFilter

# OneEuroPoseFilter's beta is tuned for labels about 512 px on their short side; beta is in
# 1 / (px/s), so it scales inversely with the label size.
ONE_EURO_REFERENCE_SIDE = 512
ONE_EURO_BETA = 0.05
ONE_EURO_MIN_CUTOFF = 1.0
NOMINAL_FPS = 30.0  # the frame interval assumed when a caller gives no media time


def estimator_config(schema_tag: str) -> EstimatorConfig:
    """The pose estimator that produces the model's skeleton, or a clear error when none does."""
    for holistic in (False, True):
        config = EstimatorConfig(holistic=holistic)
        if config.schema.tag == schema_tag:
            return config
    known = ", ".join(sorted(SCHEMAS))
    raise DanceError(
        f"the model was trained on skeleton schema {schema_tag!r}, but the live pose estimator gives only {known}; "
        "use a model trained (and exported) with this version of dancenow"
    )


class SourcePoseTracker:
    """One stream's pose estimator, letterbox mapping and One Euro filter (call `reset` on a cut)."""

    def __init__(
        self,
        schema_tag: str,
        label_size: tuple[int, int],
        min_cutoff: float = ONE_EURO_MIN_CUTOFF,
        person: LockConfig | None = None,
        follow: bool = True,
    ) -> None:
        self.label_size = (int(label_size[0]), int(label_size[1]))
        config = estimator_config(schema_tag)
        self.estimator = MediaPipeEstimator(config)
        self.detector = MediaPipeEstimator(replace(config, static=True))
        # the body alone is followed by the landmark model under onnxruntime (faster than
        # MediaPipe's own tracking); MediaPipe Holistic's hands have no follower
        self.follower = None if config.holistic or not follow else OnnxPoseFollower(config.min_visibility)
        self.locked = PersonLockedEstimator(self.estimator, self.detector, config.schema, person, follower=self.follower)
        self._frames = 0
        beta = ONE_EURO_BETA * ONE_EURO_REFERENCE_SIDE / min(self.label_size)
        self.filter = OneEuroPoseFilter(min_cutoff=min_cutoff, beta=beta)
        self._windows: dict[tuple[int, int], CropWindow] = {}

    @property
    def schema(self):  # noqa: ANN201 - SkeletonSchema
        return self.estimator.config.schema

    def window(self, frame_size: tuple[int, int]) -> CropWindow:
        """Where the label frame lies in a camera frame of this size (the size may change mid-stream)."""
        if frame_size not in self._windows:
            self._windows[frame_size] = full_frame_window(frame_size, self.label_size)
        return self._windows[frame_size]

    @property
    def lock(self):  # noqa: ANN201 - PersonLock
        return self.locked.lock

    def estimate(self, image: np.ndarray, media_time: float | None = None) -> PoseFrame:
        """The locked person's pose in the camera frame's pixels (missing for nobody or someone else)."""
        if media_time is None:
            media_time = self._frames / NOMINAL_FPS
        self._frames += 1
        return self.locked.estimate(image, media_time)[0]

    def rechoose(self) -> None:
        """Choose the person again (the `c` key: someone else is dancing now)."""
        self.locked.rechoose()

    def to_label(self, pose: PoseFrame, frame_size: tuple[int, int], media_time: float) -> PoseFrame:
        """The pose mapped into the label frame and smoothed; a frame without a person stays empty."""
        seq = PoseSequence.from_frames([pose], frame_size, 30.0, self.schema)
        mapped = self.window(frame_size).map_poses(seq, self.label_size)[0]
        return self.filter(mapped, media_time)

    def __call__(self, image: np.ndarray, media_time: float) -> PoseFrame:
        height, width = image.shape[:2]
        return self.to_label(self.estimate(image, media_time), (width, height), media_time)

    def warm_up(self, frame_size: tuple[int, int] = (640, 480)) -> None:
        """Run every model once on a blank frame, so that the first camera frame does not pay for
        loading them (MediaPipe's first call takes 200-270 ms here); nobody is found, so the
        tracking state stays empty."""
        blank = np.zeros((frame_size[1], frame_size[0], 3), np.uint8)
        self.estimator(blank)
        self.detector(blank)
        if self.follower is not None:
            self.follower.warm_up()

    def reset(self) -> None:
        self.estimator.reset()
        self.locked.rechoose()  # the follower too
        self.filter.reset()

    def close(self) -> None:
        self.estimator.close()
        self.detector.close()
