"""Live faults with small counts: a camera that sends garbage, changes resolution, pauses, stops.

The scenarios (tests/faults/live_faults.py) run the real pipeline (MediaPipe + the tiny engine)
on a scripted camera into an mp4; the capture tests below pin down the fixes they led to.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from live.capture import CaptureConfig, CaptureThread, Frame, unusable
from live.pipeline import LivePipeline, PipelineConfig
from live.slots import LatestSlot
from shared.io.video import read_frames
from tests.faults.live_faults import (
    STILL_IMAGES,
    STOPS,
    Recorder,
    ScriptedCamera,
    Segment,
    camera_pauses,
    camera_stops,
    garbage_frames,
    garbage_kinds,
    resolution_changes,
)


@pytest.fixture
def live_one_thread() -> Iterator[None]:
    """The generator on one core beside the pose thread, as `dance-live` on 2 CPUs."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


@pytest.fixture(scope="module")
def frames(live_small_clip: Path) -> list[np.ndarray]:
    return list(read_frames(live_small_clip))


def test_garbage_frames_hold_the_last_output_then_the_dancer_comes_back(live_engine, frames, tmp_path: Path, live_one_thread) -> None:  # noqa: ANN001
    row = garbage_frames(live_engine, frames, tmp_path, count=4, seed=3)
    assert row.all_passed, row.summary()


def test_a_resolution_change_finds_the_dancer_again_at_once(live_engine, frames, tmp_path: Path, live_one_thread) -> None:  # noqa: ANN001
    row = resolution_changes(live_engine, frames, tmp_path, count=3, seed=1)
    assert row.all_passed, row.summary()


def test_failed_raising_and_hung_reads_pause_the_stream_which_then_goes_on(live_engine, frames, tmp_path: Path, live_one_thread) -> None:  # noqa: ANN001
    row = camera_pauses(live_engine, frames, tmp_path, count=3)
    assert row.all_passed, row.summary()


def test_a_camera_that_stops_for_good_ends_the_run_with_the_mp4_finalized(live_engine, frames, tmp_path: Path, live_one_thread) -> None:  # noqa: ANN001
    row = camera_stops(live_engine, frames, tmp_path, count=len(STOPS), stall_timeout=0.6)
    assert row.count == 6 and row.all_passed, row.summary()


def test_a_first_pose_slower_than_the_stall_timeout_is_no_camera_stall(live_engine, frames, live_one_thread) -> None:  # noqa: ANN001
    """The stall clock runs where frames are read: before, a first pose slower than the stall
    timeout (MediaPipe warming up on a busy machine) ended a healthy camera's run as "stalled"."""
    camera = ScriptedCamera([Segment("good", 2.0, lambda i: frames[i % len(frames)])], end=True)
    logs: list[str] = []
    config = PipelineConfig(stall_warning=0.3, stall_timeout=0.5)
    pipeline = LivePipeline(live_engine, camera, config, log=logs.append)
    estimate, calls = pipeline.tracker.estimate, []

    def slow_first(image: np.ndarray, media_time: float | None = None):  # noqa: ANN202 - a PoseFrame
        calls.append(media_time)
        if len(calls) == 1:
            time.sleep(1.0)
        return estimate(image, media_time)

    pipeline.tracker.estimate = slow_first  # type: ignore[method-assign]
    recorder = Recorder()
    pipeline.run([recorder])  # CameraStalled before
    assert len(recorder.outputs) >= 2 and not any("no frame" in line for line in logs)


class ListSource:
    """Returns its items in order (raising the exceptions among them), then finishes."""

    name = "camera 9"
    fps = 30.0
    size = None

    def __init__(self, items: list[object], live: bool = True, reopen_error: Exception | None = None) -> None:
        self.items = list(items)
        self.live = live
        self.finished = False
        self.reopen_error = reopen_error
        self.reopened = 0

    def read(self) -> object:
        if not self.items:
            self.finished = True
            return None
        item = self.items.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    def reopen(self) -> bool:
        self.reopened += 1
        if self.reopen_error is not None:
            raise self.reopen_error
        return True

    def close(self) -> None:
        pass


def _capture(source: ListSource) -> tuple[CaptureThread, list[Frame], list[str]]:
    slot: LatestSlot[Frame] = LatestSlot(latest_wins=False)
    logs: list[str] = []
    thread = CaptureThread(source, slot, CaptureConfig(retry_interval=0.001, stall_timeout=5.0), log=logs.append)
    thread.start()
    got = []
    while (frame := slot.get(timeout=10)) is not None:
        got.append(frame)
    thread.join(10)
    assert not thread.is_alive()
    return thread, got, logs


def test_garbage_becomes_a_black_frame_of_the_last_good_size() -> None:
    good = np.full((6, 4, 3), 200, np.uint8)
    kinds = {name: make for name, make in garbage_kinds(good, 0).items() if name != "None" and name not in STILL_IMAGES}
    assert all(unusable(make(0)) for make in kinds.values()) and unusable(good) is None
    items = [good] + [make(0) for make in kinds.values()] + [good]
    thread, got, logs = _capture(ListSource(items, live=False))
    assert len(got) == len(items) and thread.error is None
    assert all(f.image.shape == (6, 4, 3) and f.image.dtype == np.uint8 for f in got)
    assert all(not f.image.any() for f in got[1:-1]) and got[0].image.all() and got[-1].image.all()
    assert thread.frames_unusable == len(kinds)
    assert sum("unusable frame" in line for line in logs) == 1 and any("good frames again" in line for line in logs)


def test_a_camera_read_that_raises_is_a_failed_read_and_the_camera_is_reopened() -> None:
    good = np.zeros((4, 4, 3), np.uint8)
    source = ListSource([good, OSError("VIDIOC_DQBUF: No such device"), good, good, good], reopen_error=None)
    thread, got, logs = _capture(source)
    assert thread.error is None and not thread.stalled and source.reopened >= 1
    assert len(got) == 3  # the frame read right after reopening only proves the camera works again
    assert any("reading a frame failed (OSError" in line for line in logs)


def test_a_reopen_that_raises_counts_as_not_reopened() -> None:
    good = np.zeros((4, 4, 3), np.uint8)
    source = ListSource([good, None, good, good], reopen_error=RuntimeError("device busy"))
    slot: LatestSlot[Frame] = LatestSlot(latest_wins=False)
    logs: list[str] = []
    thread = CaptureThread(source, slot, CaptureConfig(retry_interval=0.001, stall_timeout=0.05), log=logs.append)
    thread.run()  # on this thread: it must return, not raise
    assert thread.stalled and thread.error is None and source.reopened >= 1
    assert any("reopening failed (RuntimeError: device busy)" in line for line in logs)


def test_a_file_that_fails_to_decode_still_raises() -> None:
    good = np.zeros((4, 4, 3), np.uint8)
    thread, got, _ = _capture(ListSource([good, ValueError("decoding failed")], live=False))
    assert len(got) == 1 and isinstance(thread.error, ValueError)
