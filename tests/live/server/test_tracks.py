"""Frames between pipelines and peers: newest frame wins, pts on the 90 kHz capture clock, even sizes."""

from __future__ import annotations

import asyncio
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError
from av import VideoFrame

from live.capture import Frame, LoopingVideoSource
from live.pipeline import OutputFrame
from live.server.tracks import BrowserFrameSource, HandoffTrack, even_size, pump_track, to_video_frame
from live.slots import LatestFrame
from shared.io.video import probe_video


def _output(value: int, captured: float, size: tuple[int, int] = (64, 48)) -> OutputFrame:
    width, height = size
    image = np.full((height, width, 3), value, np.uint8)
    return OutputFrame(image, Frame(image, value, captured, captured), image, False, True, False)


def test_even_size_drops_an_odd_last_row_and_column() -> None:
    image = np.zeros((49, 65, 3), np.uint8)
    assert even_size(image).shape == (48, 64, 3)
    assert even_size(image[:48, :64]).shape == (48, 64, 3)
    frame = to_video_frame(image, 7)
    assert (frame.width, frame.height, frame.format.name) == (64, 48, "yuv420p")
    assert frame.pts == 7 and frame.time_base == Fraction(1, 90_000)


def test_the_track_sends_only_the_newest_output_with_pts_from_its_capture_time() -> None:
    async def scenario() -> list:
        handoff: LatestFrame[OutputFrame] = LatestFrame()
        track = HandoffTrack(handoff)
        handoff.publish(_output(10, captured=100.0))
        first = await track.recv()
        for value, captured in ((20, 100.1), (30, 100.2), (40, 100.5)):  # the encoder was busy: three outputs came
            handoff.publish(_output(value, captured))
        second = await track.recv()
        waiting = asyncio.ensure_future(track.recv())  # nothing newer yet: it waits instead of repeating
        await asyncio.sleep(0.05)
        assert not waiting.done()
        handoff.publish(_output(50, captured=100.5))  # same capture time: pts still moves forward
        third = await waiting
        handoff.close()
        with pytest.raises(MediaStreamError):
            await track.recv()
        return [first, second, third, track]

    first, second, third, track = asyncio.run(scenario())
    assert [f.pts for f in (first, second, third)] == [0, 45_000, 45_001]
    assert all(f.time_base == Fraction(1, 90_000) for f in (first, second, third))
    assert second.to_ndarray(format="rgb24")[0, 0, 0] == pytest.approx(40, abs=2)  # the newest, not the next in line
    assert track.frames_sent == 3 and track.readyState == "ended"


def _av(value: int, size: tuple[int, int]) -> VideoFrame:
    width, height = size
    return VideoFrame.from_ndarray(np.full((height, width, 3), value, np.uint8), format="rgb24")


def test_browser_frames_reach_the_pipeline_newest_first_at_whatever_size_they_come() -> None:
    source = BrowserFrameSource()
    for value in (10, 20, 30):
        assert source.push_frame(_av(value, (64, 48)))
    image = source.read()
    assert image.shape == (48, 64, 3) and abs(int(image[0, 0, 0]) - 30) <= 2  # older frames were dropped
    source.push_frame(_av(90, (32, 24)))  # the browser lowered its resolution
    assert source.read().shape == (24, 32, 3)
    assert source.frames_received == 4 and source.last_size == (32, 24)
    source.close()
    assert source.read() is None and source.finished and not source.push_frame(_av(1, (8, 8)))


class _FakeRemote:
    """A received track: some frames, then the peer goes away."""

    def __init__(self, frames: list[VideoFrame]) -> None:
        self.frames = list(frames)

    async def recv(self) -> VideoFrame:
        await asyncio.sleep(0)
        if not self.frames:
            raise MediaStreamError
        return self.frames.pop(0)


def test_pump_moves_received_frames_into_the_source_until_the_peer_leaves() -> None:
    source = BrowserFrameSource()
    asyncio.run(asyncio.wait_for(pump_track(_FakeRemote([_av(v, (16, 16)) for v in (5, 6, 7)]), source), 5))
    assert source.frames_received == 3
    assert abs(int(source.read()[0, 0, 0]) - 7) <= 2


def test_the_looping_source_never_runs_out(small_clip: Path) -> None:
    count = probe_video(small_clip).frame_count
    source = LoopingVideoSource(small_clip)
    try:
        frames = [source.read() for _ in range(count + 5)]
    finally:
        source.close()
    assert all(f is not None and f.shape[1::-1] == source.size for f in frames)
    assert not source.finished
    assert np.array_equal(frames[count], frames[0])  # back to the start
