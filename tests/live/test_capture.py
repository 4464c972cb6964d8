"""The capture thread and sources, with fake sources (no camera, no MediaPipe)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from live.capture import CaptureConfig, CaptureThread, Frame, IterSource, PushSource, VideoFileSource, open_source
from live.slots import LatestSlot
from shared.errors import DanceError


def _frames(n: int) -> list[np.ndarray]:
    return [np.full((8, 8, 3), i, np.uint8) for i in range(n)]


def _run(source, config: CaptureConfig | None = None, latest_wins: bool = False) -> tuple[CaptureThread, list[Frame]]:  # noqa: ANN001
    slot: LatestSlot[Frame] = LatestSlot(latest_wins)
    logs: list[str] = []
    thread = CaptureThread(source, slot, config, log=logs.append)
    thread.logs = logs  # type: ignore[attr-defined]
    thread.start()
    got = []
    while (frame := slot.get(timeout=10)) is not None:
        got.append(frame)
    thread.join(timeout=10)
    assert not thread.is_alive()
    return thread, got


def test_file_frames_keep_order_and_carry_their_clock() -> None:
    thread, got = _run(IterSource(_frames(6), fps=25.0))
    assert [f.index for f in got] == list(range(6))
    assert [int(f.image[0, 0, 0]) for f in got] == list(range(6))
    assert [f.media_time for f in got] == [i / 25.0 for i in range(6)]  # the video's clock, not the wall's
    assert all(b.captured >= a.captured for a, b in zip(got, got[1:]))
    assert not thread.stalled and thread.error is None


class FlakyCamera:
    """A live source that fails `failures` reads after `good` frames, and reopens after `reopens_needed` tries."""

    name = "camera 9"
    fps = 30.0
    live = True
    finished = False
    size = None

    def __init__(self, good: int, failures: int, total: int, reopen_works: bool = True) -> None:
        self.good, self.failures, self.total, self.reopen_works = good, failures, total, reopen_works
        self.reads = 0
        self.delivered = 0
        self.reopened = 0

    def read(self) -> np.ndarray | None:
        self.reads += 1
        if self.delivered >= self.total:
            self.finished = True
            return None
        if self.good <= self.delivered and self.failures > 0:
            self.failures -= 1
            return None
        self.delivered += 1
        return np.zeros((4, 4, 3), np.uint8)

    def reopen(self) -> bool:
        self.reopened += 1
        return self.reopen_works

    def close(self) -> None:
        pass


def test_a_camera_that_fails_briefly_is_reopened_and_goes_on() -> None:
    camera = FlakyCamera(good=3, failures=2, total=8)
    thread, got = _run(camera, CaptureConfig(retry_interval=0.001, stall_timeout=30))
    assert camera.reopened >= 1 and not thread.stalled
    assert len(got) == 7  # the frame read right after reopening only proves the camera works again
    assert any("stopped delivering" in line for line in thread.logs) and any("again" in line for line in thread.logs)


def test_a_camera_that_never_comes_back_stalls_and_closes_the_slot() -> None:
    camera = FlakyCamera(good=2, failures=10**9, total=10, reopen_works=False)
    thread, got = _run(camera, CaptureConfig(retry_interval=0.001, stall_timeout=0.05))
    assert thread.stalled and len(got) == 2 and camera.reopened >= 1


def test_push_source_hands_over_the_newest_frame() -> None:
    source = PushSource()
    for i in range(3):
        source.push(np.full((2, 2, 3), i, np.uint8))
    assert int(source.read()[0, 0, 0]) == 2  # older pushes were dropped
    source.close()
    assert source.read() is None and source.finished and not source.push(np.zeros((2, 2, 3), np.uint8))


def test_bad_sources_are_clear_errors(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a video")
    with pytest.raises(DanceError, match="not a readable video"):
        VideoFileSource(text)
    with pytest.raises(DanceError, match="no such file"):
        VideoFileSource(tmp_path / "missing.mp4")
    with pytest.raises(DanceError, match="camera 57"):
        open_source(camera=57)
    with pytest.raises(DanceError, match="either --camera"):
        open_source()
