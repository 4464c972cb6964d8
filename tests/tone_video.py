"""Test footage with a known soundtrack: silence, then a 440 Hz tone from a known time."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

TONE_HZ = 440.0


def write_tone_video(path: Path, frames: np.ndarray | list[np.ndarray], fps: float, tone_at: float,
                     rate: int = 44100, audio_delay: float = 0.0, audio_seconds: float | None = None) -> Path:
    """An mp4 of `frames` (H.264) with a stereo AAC track: silence until `tone_at` seconds, then a
    440 Hz sine. `audio_delay` starts the audio track that late after the first frame (its
    samples keep their times on the video clock); `audio_seconds` is its length (default: the video's)."""
    out = av.open(str(path), mode="w")
    video = out.add_stream("libx264", rate=round(fps))
    video.height, video.width = frames[0].shape[:2]
    video.pix_fmt = "yuv420p"
    audio = out.add_stream("aac", rate=rate, layout="stereo")
    for frame in frames:
        for packet in video.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
            out.mux(packet)
    seconds = audio_seconds if audio_seconds is not None else len(frames) / fps - audio_delay
    times = audio_delay + np.arange(round(seconds * rate)) / rate  # on the video clock
    wave = np.where(times >= tone_at, 0.5 * np.sin(2 * np.pi * TONE_HZ * times), 0.0).astype(np.float32)
    delay = round(audio_delay * rate)
    for first in range(0, len(wave), 1024):
        chunk = wave[first : first + 1024]
        frame = av.AudioFrame.from_ndarray(np.stack([chunk, chunk]), format="fltp", layout="stereo")
        frame.sample_rate, frame.pts = rate, delay + first
        for packet in audio.encode(frame):
            out.mux(packet)
    for stream in (video, audio):
        for packet in stream.encode():
            out.mux(packet)
    out.close()
    return path


def tone_onset(samples: np.ndarray, rate: int, threshold: float = 0.1) -> float | None:
    """Seconds from the start of `samples` (samples x channels, or mono) to the first loud sample."""
    loud = np.flatnonzero(np.abs(samples.reshape(len(samples), -1)[:, 0]) > threshold)
    return None if len(loud) == 0 else float(loud[0] / rate)


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    """The strongest frequency in `samples` (the first channel)."""
    mono = samples.reshape(len(samples), -1)[:, 0]
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(len(mono))))
    return float(np.argmax(spectrum) * rate / len(mono))
