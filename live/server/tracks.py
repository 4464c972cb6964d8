"""Video between the live pipeline and WebRTC peers.

Outgoing: `HandoffTrack` turns the pipeline's newest output (a `LatestFrame`) into video frames. It
sends only the newest frame each time the encoder asks, so a slow generator never queues frames
behind it, and it stamps each frame with its capture time on the 90 kHz RTP clock: the receiver
then plays frames at the pace they were filmed, even when some were dropped.

Incoming (mirror sessions): `BrowserFrameSource` is the pipeline's source for a browser camera.
`pump_track` moves received frames into it as they arrive; only the newest waits there (older
ones are dropped), and the conversion to RGB happens on the pipeline's capture thread, for the
frames actually used, not on the event loop.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np
from aiortc import MediaStreamTrack, VideoStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import VideoFrame

from live.capture import PushSource
from live.slots import HandoffClosed, LatestFrame

if TYPE_CHECKING:  # the pipeline pulls in torch and MediaPipe, which a client (client.py) does not need
    from live.pipeline import OutputFrame

VIDEO_CLOCK = 90_000  # Hz: the RTP clock rate of every video codec WebRTC uses
TIME_BASE = Fraction(1, VIDEO_CLOCK)


def even_size(image: np.ndarray) -> np.ndarray:
    """Drop a last odd row / column: H.264 (libx264, 4:2:0) cannot encode odd sizes."""
    height, width = image.shape[:2]
    return image[: height - height % 2, : width - width % 2]


def clock_pts(captured: float, origin: float) -> int:
    """A capture time (perf_counter seconds) as ticks of the 90 kHz clock since `origin`."""
    return round((captured - origin) * VIDEO_CLOCK)


def to_video_frame(image: np.ndarray, pts: int) -> VideoFrame:
    """RGB -> a yuv420p frame, converted once here so that every peer's encoder can skip it."""
    frame = VideoFrame.from_ndarray(np.ascontiguousarray(even_size(image)), format="rgb24").reformat(format="yuv420p")
    frame.pts = pts
    frame.time_base = TIME_BASE
    return frame


class HandoffTrack(VideoStreamTrack):
    """The pipeline's output as a WebRTC video track, newest frame first (never a backlog).

    Paced by the pipeline itself: `recv` waits for a frame newer than the last one sent. Ends
    (MediaStreamError) when the hand-off closes, i.e. when the pipeline stops.
    """

    def __init__(self, handoff: LatestFrame[OutputFrame]) -> None:
        super().__init__()
        self.handoff = handoff
        self.origin: float | None = None  # capture time of the first frame sent: pts 0
        self.frames_sent = 0
        self._seen = 0
        self._last_pts = -1

    async def recv(self) -> VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        try:
            got = await self.handoff.next_async(self._seen)
        except HandoffClosed:
            self.stop()
            raise MediaStreamError from None
        self._seen = got.version
        captured = got.item.frame.captured
        if self.origin is None:
            self.origin = captured
        pts = max(clock_pts(captured, self.origin), self._last_pts + 1)  # strictly increasing
        self._last_pts = pts
        self.frames_sent += 1
        return to_video_frame(got.item.image, pts)


class BrowserFrameSource(PushSource):
    """A pipeline source fed with decoded WebRTC frames (av.VideoFrame) from a browser's camera.

    Frames may change size mid-stream (browsers lower the resolution under load); every frame is
    converted at its own size.
    """

    def __init__(self, fps: float = 30.0, name: str = "browser camera") -> None:
        super().__init__(fps, name)
        self.frames_received = 0
        self.last_size: tuple[int, int] | None = None  # (width, height) of the newest frame

    def push_frame(self, frame: VideoFrame) -> bool:
        self.frames_received += 1
        self.last_size = (frame.width, frame.height)
        return self.push(frame)  # type: ignore[arg-type] - converted in read(), on the capture thread

    def read(self) -> np.ndarray | None:
        frame = super().read()
        if frame is None:
            return None
        if isinstance(frame, np.ndarray):
            return frame
        return frame.to_ndarray(format="rgb24")


async def pump_track(track: MediaStreamTrack, source: BrowserFrameSource) -> None:
    """Receive frames from a remote track into `source` until the track ends or the source closes.

    Receiving every frame as soon as it is decoded keeps aiortc's receive queue empty; the source
    keeps only the newest, so a slow pipeline sees fresh frames instead of a growing backlog.
    """
    try:
        while not source.finished:
            frame = await track.recv()
            if isinstance(frame, VideoFrame):
                source.push_frame(frame)
    except MediaStreamError:  # the peer stopped sending or went away
        return


async def drain_track(track: MediaStreamTrack) -> None:
    """Receive and drop a track nobody uses, so aiortc's receive queue cannot grow."""
    try:
        while True:
            await track.recv()
    except MediaStreamError:
        return
