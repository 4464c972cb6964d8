"""A video file's soundtrack: read a span of it as PCM, or mux it beside a written video.

Times are on the video's clock: 0 is the source's first video frame (the clock the live pipeline
stamps frames with, `index / fps`), so audio cut from `start` lines up with the frame shown at
`start`, whatever the container's own start offsets are. A span is returned at exactly its
length: silence fills where the soundtrack starts late or ends early, so a written file's audio
always lasts as long as its video.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from shared.errors import DanceError

AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)
CHUNK = 1024  # samples per chunk handed out (also AAC's frame size)
SEEK_MARGIN_S = 1.0  # seek this far before the wanted start: audio seeks land on a packet, not a sample


@dataclass(frozen=True)
class SourceAudio:
    """The soundtrack of `path` from `start` seconds of its video's clock (see the module doc)."""

    path: Path
    start: float = 0.0


@dataclass(frozen=True)
class AudioInfo:
    sample_rate: int
    channels: int


def probe_audio(path: str | Path) -> AudioInfo | None:
    """The first audio stream's rate and channel count; None when the file has no audio (or is
    not readable at all: a video without sound is the common case, not an error)."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            return AudioInfo(int(stream.rate or stream.codec_context.sample_rate), int(stream.codec_context.channels or 1))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError):
        return None


def _video_origin(container: av.container.InputContainer) -> float:
    """Container time of the first video frame: time 0 of the clock audio spans are cut on."""
    if not container.streams.video:
        return 0.0
    stream = container.streams.video[0]
    if stream.start_time is None or stream.time_base is None:
        return 0.0
    return float(stream.start_time * stream.time_base)


def _decoded(path: Path, begin: float, rate: int, layout: str) -> Iterator[tuple[float, np.ndarray]]:
    """(container time of the first sample, samples x channels float32) from about `begin` on,
    resampled to `rate` and `layout`."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        if begin > SEEK_MARGIN_S and stream.time_base:
            container.seek(int((begin - SEEK_MARGIN_S) / stream.time_base), stream=stream)
        resampler = av.AudioResampler(format="flt", layout=layout, rate=rate)
        position: float | None = None
        for frame in container.decode(stream):
            if position is None:  # resampled samples are counted from the first decoded one
                position = float(frame.pts * frame.time_base) if frame.pts is not None else 0.0
            for out in resampler.resample(frame):
                samples = out.to_ndarray().reshape(-1, out.layout.nb_channels)
                yield position, samples
                position += len(samples) / rate
        if position is not None:
            for out in resampler.resample(None):
                yield position, out.to_ndarray().reshape(-1, out.layout.nb_channels)


def audio_chunks(audio: SourceAudio, duration: float, rate: int, layout: str = "stereo") -> Iterator[np.ndarray]:
    """The span [start, start + duration) of the soundtrack as float32 chunks (samples x channels)
    of at most CHUNK samples, exactly `round(duration * rate)` samples in all. A file without
    audio gives nothing. Decoding errors end the soundtrack early (the rest is silence)."""
    total = max(0, round(duration * rate))
    channels = av.AudioLayout(layout).nb_channels
    if total == 0 or probe_audio(audio.path) is None:
        return
    with av.open(str(audio.path)) as container:
        begin = _video_origin(container) + audio.start
    sent = 0  # samples handed out
    pending = np.zeros((0, channels), np.float32)
    try:
        for at, samples in _decoded(audio.path, begin, rate, layout):
            skip = round((begin - at) * rate)  # samples before the wanted start (negative: a gap to fill)
            if skip > 0:
                samples = samples[skip:]
            elif skip < 0 and sent == 0 and len(pending) == 0:
                samples = np.concatenate([np.zeros((-skip, channels), np.float32), samples])
            pending = np.concatenate([pending, samples[: total - sent - len(pending)]])
            while len(pending) >= CHUNK:
                yield pending[:CHUNK]
                sent, pending = sent + CHUNK, pending[CHUNK:]
            if sent + len(pending) >= total:
                break
    except av.error.FFmpegError:
        pass
    pending = np.concatenate([pending, np.zeros((total - sent - len(pending), channels), np.float32)])
    for first in range(0, len(pending), CHUNK):
        yield pending[first : first + CHUNK]


def read_audio(audio: SourceAudio, duration: float, rate: int = 48000, layout: str = "stereo") -> np.ndarray | None:
    """The whole span at once (samples x channels float32); None when the file has no audio."""
    if probe_audio(audio.path) is None:
        return None
    chunks = list(audio_chunks(audio, duration, rate, layout))
    channels = av.AudioLayout(layout).nb_channels
    return np.concatenate(chunks) if chunks else np.zeros((0, channels), np.float32)


def _aac_packets(audio: SourceAudio, duration: float, stream: av.audio.stream.AudioStream) -> Iterator[av.Packet]:
    layout = stream.codec_context.layout.name
    count = 0
    for chunk in audio_chunks(audio, duration, stream.codec_context.sample_rate, layout):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk.T), format="fltp", layout=layout)
        frame.sample_rate, frame.pts = stream.codec_context.sample_rate, count
        count += len(chunk)
        yield from stream.encode(frame)
    yield from stream.encode(None)


def mux_audio(video: Path, audio: SourceAudio, output: Path) -> bool:
    """Write `output`: `video`'s video stream copied as is, with `audio` cut to the video's length
    and encoded as AAC beside it. False, and no `output`, when the source has no audio."""
    info = probe_audio(audio.path)
    if info is None:
        return False
    try:
        with av.open(str(video)) as source, av.open(str(output), mode="w", format="mp4") as out:
            video_in = source.streams.video[0]
            duration = float(video_in.duration * video_in.time_base) if video_in.duration else float(source.duration or 0) / av.time_base
            video_out = out.add_stream_from_template(video_in)
            rate = info.sample_rate if info.sample_rate in AAC_RATES else 48000
            audio_out = out.add_stream("aac", rate=rate, layout="mono" if info.channels == 1 else "stereo")
            audio_out.bit_rate = 160_000
            audio_packets = _aac_packets(audio, duration, audio_out)
            waiting = next(audio_packets, None)
            for packet in source.demux(video_in):
                if packet.dts is None:
                    continue
                at = float(packet.dts * packet.time_base)
                while waiting is not None and waiting.pts is not None and float(waiting.pts * waiting.time_base) <= at:
                    out.mux(waiting)
                    waiting = next(audio_packets, None)
                packet.stream = video_out
                out.mux(packet)
            while waiting is not None:
                out.mux(waiting)
                waiting = next(audio_packets, None)
    except (av.error.FFmpegError, ValueError) as err:
        output.unlink(missing_ok=True)
        raise DanceError(f"{audio.path}: could not add its soundtrack to {video} ({err})") from None
    return True


def add_soundtrack(video: Path, audio: SourceAudio, partial: Path) -> bool:
    """Replace `video` by a copy with `audio` beside its frames, written under `partial` and
    renamed (a crash never leaves a half-written file under the video's name). False, and
    `video` untouched, when the source has no audio."""
    if not mux_audio(video, audio, partial):
        return False
    os.replace(partial, video)
    return True
