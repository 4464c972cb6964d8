"""The calibration file: a source's normalization statistics measured on a video, saved for live.

`dance-live calibrate --source VIDEO` runs the exact same steps as a live session's calibration
(shared/normalize/calibrator.py) over a video and saves the result, so a session can start already calibrated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from shared.normalize.calibrator import DEFAULT_SECONDS, Calibrator
from shared.errors import DanceError
from shared.normalize.stats import NormalizationStats

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
    from shared.pose.tracking import SourcePoseTracker

    source = VideoFileSource(path, max_frames)
    tracker = SourcePoseTracker(schema_tag, label_size)
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
