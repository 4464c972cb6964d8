"""The source's normalization statistics over a stretch of its poses, and live's normalizer.

Global pose normalization needs the source dancer's floor lines and body heights, measured in the
same pixel frame as the target's (the model's label frame). `Calibrator` gathers them over a
video's first seconds (`dance-live calibrate`, and the eval's `--calibrate-whole-clip`); a person
who is not fully in view keeps it waiting until they are. `LiveNormalizer` is what live and the
eval run per frame: those stats fixed, or, without them, normalization adapting from the first
frame (shared/normalize/adaptive.py), which also drives only the upper body of a source whose
legs are not in view (a desk webcam).
"""

from __future__ import annotations

from collections import deque

import numpy as np

from shared.errors import DanceError
from shared.normalize.adaptive import AdaptiveNormalizer
from shared.normalize.facing import FacingMatcher
from shared.normalize.limbs import complete_limbs
from shared.normalize.stats import NormalizationStats, PoseNormalizer, compute_stats
from shared.pose.keypoints import PoseFrame, PoseSequence

DEFAULT_SECONDS = 3.0
FLOOR_JUMP_SECONDS = 1.0  # feet outside the target's floor band this long: the fixed floor no longer fits, adapt


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

    def __init__(self, label_size: tuple[int, int], seconds: float = DEFAULT_SECONDS) -> None:
        if seconds <= 0:
            raise DanceError(f"calibration needs a positive duration, got {seconds:g} s")
        self.label_size = (int(label_size[0]), int(label_size[1]))
        self.seconds = seconds
        self._poses: deque[tuple[float, PoseFrame]] = deque()
        self._start: float | None = None
        self._elapsed = 0.0

    @property
    def progress(self) -> float:
        """Fraction of the calibration time gathered so far (stays near 1 while waiting for a full view)."""
        return min(self._elapsed / self.seconds, 1.0)

    def _stats(self) -> NormalizationStats | None:
        frames = [pose for _, pose in self._poses]
        seq = seen_in_frame(PoseSequence.from_frames(frames, self.label_size, 30.0, frames[0].schema))
        try:
            return compute_stats(seq)
        except DanceError:
            return None

    def add(self, pose: PoseFrame, media_time: float) -> NormalizationStats | None:
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

    def finish(self) -> NormalizationStats:
        """The stats from everything gathered (a video shorter than the calibration time)."""
        stats = self._stats() if self._poses else None
        if stats is None:
            raise DanceError(
                "could not calibrate: the whole body (head and feet) was not in view in enough frames; "
                "film the source standing fully in view for a few seconds"
            )
        return stats


class LiveNormalizer:
    """Normalizes each label-frame pose onto the target, from the first frame that shows a person.

    Without source stats it adapts (shared/normalize/adaptive.py); with them (a calibration file)
    they are fixed, until the feet sit outside the target's floor band for FLOOR_JUMP_SECONDS on
    end: the source's floor moved, and it adapts from then on. With the target's standing pose
    (`target_pose`) and not `full_body`, a source without legs drives the upper body only. A source
    facing away from the camera is turned round first when the target was only filmed facing it
    (shared/normalize/facing.py)."""

    def __init__(
        self,
        target: NormalizationStats,
        source: NormalizationStats | None = None,
        target_pose: PoseFrame | None = None,
        full_body: bool = False,
    ) -> None:
        self.target = target
        self.target_pose = target_pose
        self.upper_body_allowed = target_pose is not None and not full_body
        self.source: NormalizationStats | None = None  # the fixed stats; None while adapting
        self._fixed: PoseNormalizer | None = None
        self._adaptive = AdaptiveNormalizer(target, target_pose, self.upper_body_allowed)
        self.facing = FacingMatcher(target.front_share)
        self._off_floor_since: float | None = None
        self._unmeasured = False
        if source is not None:
            self.use(source)

    @property
    def adaptive(self) -> bool:
        return self._fixed is None

    @property
    def calibrating(self) -> bool:
        """The last frame showed a person who could not be measured yet, so it passed un-normalized
        (only for a target without a standing pose, until a frame shows head and feet)."""
        return self._unmeasured

    @property
    def mode(self) -> str | None:
        """"full body" or "upper body" once normalizing, else None."""
        if self._fixed is not None:
            return "full body"
        if not self._adaptive.ready:
            return None
        return "upper body" if self._adaptive.upper_body else "full body"

    def describe(self) -> str:
        """Which normalization is in use, for the start line and the HUD."""
        how = "adaptive from the first frame" if self._fixed is None else "fixed from the calibration file"
        mode = self.mode
        described = how if mode is None else f"{how}, {mode}"
        return f"{described}, turned to the target's facing" if self.facing.swapping else described

    def use(self, source: NormalizationStats) -> None:
        """Fix the source's stats (no adapting)."""
        self._fixed = PoseNormalizer(source, self.target)  # refuses stats for another label size
        self.source = source
        self._off_floor_since = None

    def recalibrate(self) -> None:
        """Forget the source: adapt again from the next frame with a person (fixed stats are dropped)."""
        self._fixed = None
        self.source = None
        self._off_floor_since = None
        self._adaptive.reset()

    def __call__(self, pose: PoseFrame, media_time: float) -> PoseFrame:
        pose = self.facing(pose)
        if self._fixed is None:
            out = self._adaptive(pose, media_time)
            self._unmeasured = pose.present and not self._adaptive.ready
        else:
            out = self._fixed(pose)
            if self._floor_jumped(self._fixed.clamped, media_time):
                self.recalibrate()
        return complete_limbs(out, self.target.limbs)

    def _floor_jumped(self, clamped: bool, media_time: float) -> bool:
        """True once the feet were held in the floor band for FLOOR_JUMP_SECONDS on end."""
        if not clamped:
            self._off_floor_since = None
            return False
        if self._off_floor_since is None:
            self._off_floor_since = media_time
        return media_time - self._off_floor_since >= FLOOR_JUMP_SECONDS
