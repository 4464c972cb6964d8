"""The server's file source's soundtrack, sent to viewers as a WebRTC audio track in step with the video.

The viewer pipeline plays the file in a loop, paced at its fps, and each output carries the media
time of the frame it was made from. `SoundtrackTrack` plays the file's audio by the same clock: at
every 20 ms packet it asks which media time the video is showing now (the newest output's media
time, plus the time since it was published) and plays on from there. Both tracks are timed when
they are sent, so the browser, which lines tracks of one stream up by their send times (RTCP sender
reports), plays the tone with the frames it belongs to. The audio jumps only when it is off by more
than RESYNC_S (the loop restarting, a stalled source), never for ordinary jitter.

The audio is decoded once (off the event loop) into memory, one loop long: the video's frame count
over its fps, since that is when the looped video starts again.
"""

from __future__ import annotations

import asyncio
import time
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import av
import numpy as np
from aiortc import AudioStreamTrack
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import SessionDescription

from shared.io.audio import SourceAudio, read_audio
from shared.io.video import count_frames, probe_video

if TYPE_CHECKING:
    from live.pipeline import OutputFrame
    from live.server.tracks import HandoffTrack
    from live.slots import LatestFrame

SAMPLE_RATE = 48000  # Opus's rate: aiortc's encoder would resample to it anyway
PACKET_S = 0.02  # WebRTC's usual audio packet
PACKET_SAMPLES = round(SAMPLE_RATE * PACKET_S)
TIME_BASE = Fraction(1, SAMPLE_RATE)
RESYNC_S = 0.08  # follow the video by jumping when further off than this (lip sync tolerates about that)


def wants_audio(sdp: str) -> bool:
    """Whether an offer has an audio section that can receive (a viewer page that plays sound)."""
    try:
        media = SessionDescription.parse(sdp).media
    except Exception:  # noqa: BLE001 - the offer's own checks report bad SDP
        return False
    return any(m.kind == "audio" and (m.direction or "sendrecv") in ("sendrecv", "recvonly") for m in media)


class Soundtrack:
    """A looped video file's audio for its viewers: decoded once, shared by every viewer's track."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._pcm: np.ndarray | None = None  # one loop, samples x 2, int16 at SAMPLE_RATE
        self._loaded = False
        self._lock = asyncio.Lock()

    def _load(self) -> np.ndarray | None:
        loop_s = count_frames(self.path) / probe_video(self.path).fps
        pcm = read_audio(SourceAudio(self.path), loop_s, SAMPLE_RATE, "stereo")
        if pcm is None or len(pcm) == 0:
            return None
        return (np.clip(pcm, -1.0, 1.0) * 32767).astype(np.int16)

    async def pcm(self) -> np.ndarray | None:
        """The loop's samples (decoded on first use, in an executor); None when the file has no audio."""
        async with self._lock:
            if not self._loaded:
                self._pcm = await asyncio.get_running_loop().run_in_executor(None, self._load)
                self._loaded = True
        return self._pcm

    async def track(self, video: HandoffTrack | None) -> SoundtrackTrack | None:
        """A new viewer's audio track, following `video`'s hand-off; None when there is no audio
        (or no video to follow)."""
        pcm = await self.pcm()
        return None if pcm is None or video is None else SoundtrackTrack(pcm, video.handoff)


class SoundtrackTrack(AudioStreamTrack):
    """One loop of PCM played in step with the pipeline's newest output (see the module doc).

    Silence until the first output is published; ends (MediaStreamError) with the hand-off."""

    def __init__(self, pcm: np.ndarray, handoff: LatestFrame[OutputFrame]) -> None:
        super().__init__()
        self.pcm = pcm
        self.handoff = handoff
        self.packets_sent = 0
        self.resyncs = 0  # jumps to follow the video (the first placement counts)
        self._cursor: int | None = None  # next sample of the loop to send
        self._anchor: tuple[int, float, float] | None = None  # (version, media time, when first seen)
        self._start: float | None = None

    def video_position(self, now: float) -> int | None:
        """The loop sample the video is showing at `now` (perf_counter), or None before any frame."""
        latest = self.handoff.latest
        if latest is None:
            return None
        if self._anchor is None or self._anchor[0] != latest.version:
            self._anchor = (latest.version, latest.item.frame.media_time, now)
        _, media_time, seen = self._anchor
        return round((media_time + now - seen) * SAMPLE_RATE) % len(self.pcm)

    def _next_samples(self, now: float) -> np.ndarray:
        target = self.video_position(now)
        if target is None:
            return np.zeros((PACKET_SAMPLES, 2), np.int16)
        size = len(self.pcm)
        if self._cursor is None or min((self._cursor - target) % size, (target - self._cursor) % size) > RESYNC_S * SAMPLE_RATE:
            self._cursor = target
            self.resyncs += 1
        indices = (self._cursor + np.arange(PACKET_SAMPLES)) % size
        self._cursor = (self._cursor + PACKET_SAMPLES) % size
        return self.pcm[indices]

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.perf_counter()
        delay = self._start + self.packets_sent * PACKET_S - time.perf_counter()
        if delay > 0:  # paced here: aiortc sends a packet as soon as recv returns
            await asyncio.sleep(delay)
        if self.handoff.closed:
            self.stop()
            raise MediaStreamError
        samples = self._next_samples(time.perf_counter())
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate, frame.time_base = SAMPLE_RATE, TIME_BASE
        frame.pts = self.packets_sent * PACKET_SAMPLES
        self.packets_sent += 1
        return frame
