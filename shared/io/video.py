"""Video files in and out: RGB frames with their fps, H.264 mp4 out.

Reading and writing go through PyAV (FFmpeg). Writing falls back from H.264 to MPEG-4 Part 2 and then
to OpenCV's writer, so an output file is always produced. Files are written under a temporary name and
renamed when closed, so a crash never leaves a half-written file that looks finished.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from shared.errors import DanceError
from shared.io.audio import SourceAudio, add_soundtrack


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    width: int
    height: int
    fps: float
    frame_count: int  # from the container header; may be an estimate for some formats

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)


def _open_input(path: Path) -> av.container.InputContainer:
    if not path.exists():
        raise DanceError(f"{path}: no such file")
    if path.is_dir():
        raise DanceError(f"{path}: is a folder, expected a video file")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError) as err:
        raise DanceError(f"{path}: not a readable video ({err.__class__.__name__})") from None
    if not container.streams.video:
        container.close()
        raise DanceError(f"{path}: has no video frames")
    return container


def probe_video(path: str | Path) -> VideoInfo:
    """Size, fps and frame count, after checking the file really holds decodable frames."""
    path = Path(path)
    container = _open_input(path)
    try:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or Fraction(30)
        count = stream.frames
        if count <= 0 and stream.duration and stream.time_base:
            count = int(round(float(stream.duration * stream.time_base) * float(rate)))
        try:
            first = next(container.decode(stream), None)
        except av.error.FFmpegError:
            first = None
        if first is None:
            raise DanceError(f"{path}: has no video frames")
        return VideoInfo(path, first.width, first.height, float(rate), int(count))
    finally:
        container.close()


def count_frames(path: str | Path) -> int:
    """The exact number of frames, counted from the container's packets (no decoding, so fast);
    the header's count (`probe_video`) may be an estimate."""
    path = Path(path)
    container = _open_input(path)
    try:
        return sum(1 for packet in container.demux(container.streams.video[0]) if packet.size > 0)
    except av.error.FFmpegError as err:
        raise DanceError(f"{path}: reading failed ({err})") from None
    finally:
        container.close()


def read_frames(path: str | Path, max_frames: int | None = None, frame_threads: bool = True) -> Iterator[np.ndarray]:
    """Decoded frames as HxWx3 uint8 RGB, in order.

    `frame_threads` lets the decoder work on several frames at once, which speeds up clips encoded
    without slices (slice threads alone then decode on one thread). Beside other busy threads
    (live) slice threads only waste less: on the 1080x1920 Pose2Sim clip, which has slices, 4.8
    core-ms a frame against 7.2 with frame threads (and 4.6 ms against 5.4 ms of wall time).
    """
    path = Path(path)
    container = _open_input(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO" if frame_threads else "SLICE"
        for index, frame in enumerate(container.decode(stream)):
            if max_frames is not None and index >= max_frames:
                break
            yield frame.to_ndarray(format="rgb24")
    except av.error.FFmpegError as err:
        raise DanceError(f"{path}: decoding failed ({err})") from None
    finally:
        container.close()


class _PyAVEncoder:
    def __init__(self, path: Path, fps: float, size: tuple[int, int], codec: str, crf: int) -> None:
        self.container = av.open(str(path), mode="w", format="mp4")
        try:
            self.stream = self.container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
            self.stream.width, self.stream.height = size
            self.stream.pix_fmt = "yuv420p"
            if codec == "libx264":
                self.stream.options = {"crf": str(crf), "preset": "veryfast"}
            else:
                self.stream.bit_rate = 4_000_000
            self.stream.codec_context.open()  # fail now, not at the first frame
        except Exception:
            self.container.close()
            raise

    def write(self, frame: np.ndarray) -> None:
        for packet in self.stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
            self.container.mux(packet)

    def close(self) -> None:
        try:
            for packet in self.stream.encode():
                self.container.mux(packet)
        finally:
            self.container.close()


class _OpenCVEncoder:
    def __init__(self, path: Path, fps: float, size: tuple[int, int]) -> None:
        self.writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        if not self.writer.isOpened():
            raise OSError("OpenCV could not open an mp4v writer")

    def write(self, frame: np.ndarray) -> None:
        self.writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        self.writer.release()


# Tried in order; OpenCV's mp4v writer is the last resort.
PYAV_CODECS = ("libx264", "mpeg4")


class VideoWriter:
    """Write RGB frames to an mp4, H.264 when FFmpeg has it.

    Use as a context manager; the file appears under its final name only when closed (also after an
    exception or Ctrl-C, so whatever was written stays playable). Frame sizes must be even (H.264
    with 4:2:0 chroma needs that); odd sizes are padded by one pixel.
    """

    def __init__(
        self, path: str | Path, fps: float, size: tuple[int, int], crf: int = 18, codecs: tuple[str, ...] = PYAV_CODECS
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.size = (size[0] + size[0] % 2, size[1] + size[1] % 2)
        self.frames_written = 0
        self._partial = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix or '.mp4'}")
        self._encoder, self.codec = self._open_encoder(fps, crf, codecs)

    def _open_encoder(self, fps: float, crf: int, codecs: tuple[str, ...]) -> tuple[_PyAVEncoder | _OpenCVEncoder, str]:
        for codec in codecs:
            try:
                return _PyAVEncoder(self._partial, fps, self.size, codec, crf), codec
            except (av.error.FFmpegError, ValueError, OSError):
                continue
        try:
            return _OpenCVEncoder(self._partial, fps, self.size), "mp4v"
        except OSError as err:
            raise DanceError(f"{self.path}: cannot write video ({err})") from None

    def write(self, frame: np.ndarray) -> None:
        height, width = frame.shape[:2]
        if (width + width % 2, height + height % 2) != self.size:
            raise ValueError(f"frame is {width}x{height}, the video is {self.size[0]}x{self.size[1]}")
        if (width, height) != self.size:
            frame = np.pad(frame, ((0, self.size[1] - height), (0, self.size[0] - width), (0, 0)), mode="edge")
        self._encoder.write(np.ascontiguousarray(frame, dtype=np.uint8))
        self.frames_written += 1

    def close(self, audio: SourceAudio | None = None) -> None:
        """Finalize the file under its name; with no frame written no file appears (there is no
        video to keep, and the encoder may not have created its partial file yet).

        With `audio`, that soundtrack is muxed beside the frames, cut to their length (a source
        without audio gives video only); still under the temporary name until it is done."""
        if self._encoder is None:
            return
        encoder, self._encoder = self._encoder, None
        encoder.close()
        if self.frames_written == 0:
            self._partial.unlink(missing_ok=True)
            return
        try:
            if audio is not None:  # a soundtrack that fails to mux is reported, the video kept
                add_soundtrack(self._partial, audio, self._partial.with_name(f"{self._partial.stem}.audio{self._partial.suffix}"))
        finally:
            os.replace(self._partial, self.path)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_video(path: str | Path, frames: Iterator[np.ndarray] | list[np.ndarray] | np.ndarray, fps: float) -> int:
    """Write all frames to `path`; returns how many were written."""
    writer: VideoWriter | None = None
    try:
        for frame in frames:
            if writer is None:
                writer = VideoWriter(path, fps, (frame.shape[1], frame.shape[0]))
            writer.write(frame)
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        raise ValueError("no frames to write")
    return writer.frames_written
