"""The source's normalization statistics: learnt live from its first seconds, or read from a file.

Global pose normalization needs the source dancer's floor lines and body heights, measured in the
same pixel frame as the target's (the model's label frame). Live, they are gathered from the first
few seconds of poses, while the output shows the un-normalized pose; a person who is not fully in
view then keeps it calibrating until they are. `dance-live calibrate --source VIDEO` runs the
exact same steps over a video and saves the result, so a session can start already calibrated.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from shared.errors import DanceError
from shared.normalize import NormalizationStats, PoseNormalizer, compute_stats
from shared.pose import PoseFrame, PoseSequence

DEFAULT_SECONDS = 3.0


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
        seq = PoseSequence.from_frames(frames, self.label_size, 30.0, frames[0].schema)
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
    """Normalizes each label-frame pose onto the target; calibrates first when it has no source stats."""

    def __init__(
        self, target: NormalizationStats, source: NormalizationStats | None = None, seconds: float = DEFAULT_SECONDS,
    ) -> None:
        self.target = target
        self.seconds = seconds
        self.source: NormalizationStats | None = None
        self._normalizer: PoseNormalizer | None = None
        self._calibrator: Calibrator | None = None
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

    def use(self, source: NormalizationStats) -> None:
        self.source = source
        self._normalizer = PoseNormalizer(source, self.target)  # refuses stats for another label size
        self._calibrator = None

    def recalibrate(self) -> None:
        """Forget the source stats and learn them again from the coming frames."""
        self._normalizer = None
        self._calibrator = Calibrator(self.target.image_size, self.seconds)

    def __call__(self, pose: PoseFrame, media_time: float) -> PoseFrame:
        if self._calibrator is not None:
            stats = self._calibrator.add(pose, media_time)
            if stats is not None:
                self.use(stats)
        if self._normalizer is None:
            return pose  # un-normalized while calibrating
        return self._normalizer(pose)


# --- the calibration file ---------------------------------------------------------------------

FORMAT = "dancenow-calibration"


@dataclass(frozen=True)
class Calibration:
    stats: NormalizationStats  # in the label frame
    source_size: tuple[int, int]  # (width, height) of the footage it was measured on
    source: str = ""
    seconds: float = DEFAULT_SECONDS

    def save(self, path: str | Path) -> None:
        data = {
            "format": FORMAT,
            "source": self.source,
            "source_size": list(self.source_size),
            "seconds": self.seconds,
            "stats": self.stats.to_json(),
        }
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(data, indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Calibration:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except OSError as err:
            raise DanceError(f"{path}: cannot read the calibration file ({err.strerror or err})") from None
        except (ValueError, UnicodeDecodeError):
            raise DanceError(f"{path}: not a calibration file (not JSON); make one with `dance-live calibrate --source VIDEO`") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT or "stats" not in data:
            raise DanceError(f"{path}: not a calibration file; make one with `dance-live calibrate --source VIDEO`")
        try:
            stats = NormalizationStats.from_json(data["stats"])
            width, height = (int(v) for v in data["source_size"])
            seconds = float(data.get("seconds", DEFAULT_SECONDS))
        except DanceError as err:
            raise DanceError(f"{path}: {err}") from None
        except (KeyError, TypeError, ValueError):
            raise DanceError(f"{path}: malformed calibration file; make it again with `dance-live calibrate`") from None
        return cls(stats, (width, height), str(data.get("source", "")), seconds)

    def check(self, label_size: tuple[int, int], source_size: tuple[int, int] | None, path: str | Path = "calibration") -> None:
        """Refuse a calibration made for another model size or another camera framing."""
        if tuple(self.stats.image_size) != tuple(label_size):
            w, h = self.stats.image_size
            raise DanceError(
                f"{path} was made for {w}x{h} labels but the model's are {label_size[0]}x{label_size[1]}; "
                "run `dance-live calibrate` again with this model"
            )
        if source_size is not None and tuple(source_size) != tuple(self.source_size):
            w, h = self.source_size
            raise DanceError(
                f"{path} was measured on {w}x{h} footage but this source is {source_size[0]}x{source_size[1]}; "
                "calibrate on footage from this camera (or let it calibrate live)"
            )


def calibrate_video(
    path: str | Path, schema_tag: str, label_size: tuple[int, int], seconds: float = DEFAULT_SECONDS,
    max_frames: int | None = None,
) -> Calibration:
    """Calibrate on a video's first `seconds` (all of it when shorter), with the same pose tracking,
    frame timing and calibrator as a live session on that video, so both give the same stats."""
    from live.capture import VideoFileSource
    from live.tracking import PoseTracker

    source = VideoFileSource(path, max_frames)
    tracker = PoseTracker(schema_tag, label_size)
    calibrator = Calibrator(label_size, seconds)
    try:
        stats: NormalizationStats | None = None
        index = 0
        while stats is None:
            image = source.read()
            if image is None:
                stats = calibrator.finish()
                break
            media_time = index / source.fps  # the capture thread's clock for a file
            stats = calibrator.add(tracker(image, media_time), media_time)
            index += 1
    finally:
        tracker.close()
        source.close()
    return Calibration(stats, source.size, str(path), seconds)
