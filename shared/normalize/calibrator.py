"""The source's normalization statistics, learnt from its first seconds of poses.

Global pose normalization needs the source dancer's floor lines and body heights, measured in the
same pixel frame as the target's (the model's label frame). Live, they are gathered from the first
few seconds of poses, while the output shows the un-normalized pose; a person who is not fully in
view then keeps it calibrating until they are, unless upper-body mode is allowed: a source whose
legs are missing for the whole window (a desk webcam) is then measured by shoulders and head
(shared/normalize/upper_body.py) and drives the target's upper body over its own standing legs. In shared/ because the trainer's eval calibrates a
source video with the same rules as live.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from shared.errors import DanceError
from shared.normalize.stats import NormalizationStats, PoseNormalizer, compute_stats
from shared.pose.keypoints import PoseFrame, PoseSequence
from shared.normalize.upper_body import (
    UpperBodyNormalizer,
    UpperBodyStats,
    legs_missing,
    upper_body_stats,
)

DEFAULT_SECONDS = 3.0
FLOOR_JUMP_SECONDS = 1.0  # feet outside the target's floor band this long: the source's floor moved, recalibrate


def seen_in_frame(seq: PoseSequence) -> PoseSequence:
    """`seq` with every joint outside the label frame marked unseen. MediaPipe places out-of-view
    joints where it guesses them, often with a visibility above the threshold: a desk webcam's
    top-half view of the Pose2Sim clip had ankles "seen" 35-60 px below the 256 px frame in 13 of
    100 frames, enough (2 frames make ankle statistics) to calibrate a sitting person to full body."""
    width, height = seq.image_size
    x, y = seq.keypoints[..., 0], seq.keypoints[..., 1]
    valid = seq.valid & (x >= 0) & (x < width) & (y >= 0) & (y < height)  # NaN (unseen) compares False
    return seq.replace(valid=valid, keypoints=np.where(valid[..., None], seq.keypoints, np.nan))


class Calibrator:
    """Collects label-frame poses for `seconds` of source time, then computes the stats.

    When the stats cannot be computed yet (the whole body was not in view often enough), it keeps
    going over a sliding window of the last `seconds` until they can.
    """

    def __init__(self, label_size: tuple[int, int], seconds: float = DEFAULT_SECONDS, upper_body: bool = False) -> None:
        if seconds <= 0:
            raise DanceError(f"calibration needs a positive duration, got {seconds:g} s")
        self.label_size = (int(label_size[0]), int(label_size[1]))
        self.seconds = seconds
        self.upper_body = upper_body  # a window without legs gives UpperBodyStats instead of waiting
        self._poses: deque[tuple[float, PoseFrame]] = deque()
        self._start: float | None = None
        self._elapsed = 0.0

    @property
    def progress(self) -> float:
        """Fraction of the calibration time gathered so far (stays near 1 while waiting for a full view)."""
        return min(self._elapsed / self.seconds, 1.0)

    def _stats(self) -> NormalizationStats | UpperBodyStats | None:
        frames = [pose for _, pose in self._poses]
        seq = seen_in_frame(PoseSequence.from_frames(frames, self.label_size, 30.0, frames[0].schema))
        if self.upper_body and legs_missing(seq):
            # First: a desk view where a few frames show (guessed) ankles is still a desk view.
            try:
                return upper_body_stats(seq)
            except DanceError:
                return None
        try:
            return compute_stats(seq)
        except DanceError:
            return None

    def add(self, pose: PoseFrame, media_time: float) -> NormalizationStats | UpperBodyStats | None:
        """Feed one frame's pose; returns the stats once the calibration time has passed."""
        if self._start is None:
            self._start = media_time
        self._elapsed = media_time - self._start
        if self._elapsed >= self.seconds and self._poses:
            stats = self._stats()
            if stats is not None:
                return stats
            while self._poses and self._poses[0][0] < media_time - self.seconds:
                self._poses.popleft()
        self._poses.append((media_time, pose))
        return None

    def finish(self) -> NormalizationStats | UpperBodyStats:
        """The stats from everything gathered (a video shorter than the calibration time)."""
        stats = self._stats() if self._poses else None
        if stats is None:
            raise DanceError(
                "could not calibrate: the whole body (head and feet) was not in view in enough frames; "
                "film the source standing fully in view for a few seconds"
            )
        return stats


class LiveNormalizer:
    """Normalizes each label-frame pose onto the target; calibrates first when it has no source stats.

    With the target's standing pose (`target_pose`) and not `full_body`, a source calibrated
    without legs switches to upper-body mode."""

    def __init__(
        self,
        target: NormalizationStats,
        source: NormalizationStats | None = None,
        seconds: float = DEFAULT_SECONDS,
        target_pose: PoseFrame | None = None,
        full_body: bool = False,
    ) -> None:
        self.target = target
        self.seconds = seconds
        self.target_pose = target_pose
        self.upper_body_allowed = target_pose is not None and not full_body
        self.source: NormalizationStats | UpperBodyStats | None = None
        self._normalizer: PoseNormalizer | UpperBodyNormalizer | None = None
        self._calibrator: Calibrator | None = None
        self._off_floor_since: float | None = None
        if source is None:
            self.recalibrate()
        else:
            self.use(source)

    @property
    def calibrating(self) -> bool:
        return self._normalizer is None

    @property
    def progress(self) -> float:
        return 1.0 if self._calibrator is None else self._calibrator.progress

    @property
    def mode(self) -> str | None:
        """"full body" or "upper body" once calibrated (for the start line and the HUD), else None."""
        if self._normalizer is None:
            return None
        return "upper body" if isinstance(self._normalizer, UpperBodyNormalizer) else "full body"

    def use(self, source: NormalizationStats | UpperBodyStats) -> None:
        self.source = source
        if isinstance(source, UpperBodyStats):
            if self.target_pose is None:
                raise DanceError("upper-body calibration needs the target's standing pose")
            self._normalizer = UpperBodyNormalizer(source, self.target_pose)
        else:
            self._normalizer = PoseNormalizer(source, self.target)  # refuses stats for another label size
        self._calibrator = None

    def recalibrate(self) -> None:
        """Forget the source stats and learn them again from the coming frames."""
        self._normalizer = None
        self._off_floor_since = None
        self._calibrator = Calibrator(self.target.image_size, self.seconds, upper_body=self.upper_body_allowed)

    def __call__(self, pose: PoseFrame, media_time: float) -> PoseFrame:
        if self._calibrator is not None:
            stats = self._calibrator.add(pose, media_time)
            if stats is not None:
                self.use(stats)
        if self._normalizer is None:
            return pose  # un-normalized while calibrating
        out = self._normalizer(pose)
        if isinstance(self._normalizer, PoseNormalizer) and self._floor_jumped(self._normalizer.clamped, media_time):
            self.recalibrate()
        return out

    def _floor_jumped(self, clamped: bool, media_time: float) -> bool:
        """True once the feet were held in the floor band for FLOOR_JUMP_SECONDS on end."""
        if not clamped:
            self._off_floor_since = None
            return False
        if self._off_floor_since is None:
            self._off_floor_since = media_time
        return media_time - self._off_floor_since >= FLOOR_JUMP_SECONDS
