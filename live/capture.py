"""Frame sources (camera, video file, a file looped, frames pushed by a server) and the thread that reads them.

The capture thread stamps every frame with the moment it was read, so the pipeline measures its
latency instead of guessing it, and hands it on through a `LatestSlot`: for a camera (or a file
paced to real time) a frame the pipeline has not picked up yet is replaced by the newer one;
for a file read as fast as possible every frame is kept.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from live.slots import LatestSlot
from shared.errors import DanceError
from shared.io.quiet import native_stderr_silenced
from shared.io.video import probe_video, read_frames


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # HxWx3 uint8 RGB
    index: int  # position in the source's stream (dropped frames count too)
    media_time: float  # seconds on the source's own clock (smoothing needs real motion speeds)
    captured: float  # time.perf_counter() right after the read: latency is measured from here


class FrameSource(Protocol):
    name: str  # for messages: "camera 0", a file name
    fps: float  # nominal frame rate
    live: bool  # frames come at their own pace, so stale ones are dropped rather than queued

    @property
    def size(self) -> tuple[int, int] | None: ...  # (width, height) when known before the first frame

    @property
    def finished(self) -> bool: ...  # no frame will ever come again (a camera never finishes)

    def read(self) -> np.ndarray | None: ...  # the next RGB frame; None when finished or failing

    def reopen(self) -> bool: ...  # try again after failures; True when the source works again

    def close(self) -> None: ...


class CameraSource:
    """An OpenCV camera (V4L2 on Linux). A failed read is reported as None, and `reopen` tries to
    open the device again, so a camera unplugged for a moment can come back."""

    live = True
    finished = False

    def __init__(self, index: int) -> None:
        self.index = index
        self.name = f"camera {index}"
        device = Path(f"/dev/video{index}")
        if sys.platform.startswith("linux") and not device.exists():
            raise DanceError(f"camera {index} does not exist ({device} not found); plug a camera in, pick another --camera, or use --source VIDEO")
        self._capture = self._open()
        if self._capture is None:
            raise DanceError(f"camera {index} could not be opened (busy, or no permission?); close other programs using it or use --source VIDEO")
        fps = float(self._capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 1.0 <= fps <= 240.0 else 30.0
        width = int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self._size = (width, height) if width > 0 and height > 0 else None

    def _open(self) -> cv2.VideoCapture | None:
        with native_stderr_silenced():
            capture = cv2.VideoCapture(self.index)
        if capture.isOpened():
            return capture
        capture.release()
        return None

    @property
    def size(self) -> tuple[int, int] | None:
        return self._size

    def read(self) -> np.ndarray | None:
        if self._capture is None:
            return None
        ok, bgr = self._capture.read()
        if not ok or bgr is None:
            return None
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def reopen(self) -> bool:
        self.close()
        self._capture = self._open()
        return self._capture is not None

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class IterSource:
    """Frames from any iterable of RGB arrays (tests, generated footage)."""

    def __init__(self, frames: Iterable[np.ndarray], fps: float = 30.0, live: bool = False, name: str = "frames") -> None:
        self.name = name
        self.fps = fps
        self.live = live
        self._frames = iter(frames)
        self._finished = False

    @property
    def size(self) -> tuple[int, int] | None:
        return None

    @property
    def finished(self) -> bool:
        return self._finished

    def read(self) -> np.ndarray | None:
        frame = next(self._frames, None)
        self._finished = frame is None
        return frame

    def reopen(self) -> bool:
        return not self._finished

    def close(self) -> None:
        close = getattr(self._frames, "close", None)
        if close is not None:
            close()


class VideoFileSource(IterSource):
    """The frames of a video file, decoded in order (a file, once finished, cannot be reopened), with
    slice threads only: the decoder shares the CPUs with the pose model and the generator."""

    def __init__(self, path: str | Path, max_frames: int | None = None) -> None:
        info = probe_video(path)  # a DanceError for anything that is not a video
        super().__init__(read_frames(path, max_frames, frame_threads=False), fps=info.fps, live=False, name=Path(path).name)
        self.path = Path(path)
        self._size = info.size

    @property
    def size(self) -> tuple[int, int]:
        return self._size

    def reopen(self) -> bool:
        return False


class LoopingVideoSource:
    """A video file played over and over, so viewers always have something to watch (the server's
    own source when it is a file)."""

    live = False  # the pipeline paces it at its fps (PipelineConfig.pace_fps)

    def __init__(self, path: str | Path) -> None:
        info = probe_video(path)  # a DanceError for anything that is not a video
        self.path = Path(path)
        self.name = self.path.name
        self.fps = info.fps
        self._size = info.size
        self._frames = read_frames(self.path)
        self._empty = False

    @property
    def size(self) -> tuple[int, int]:
        return self._size

    @property
    def finished(self) -> bool:
        return self._empty

    def read(self) -> np.ndarray | None:
        frame = next(self._frames, None)
        if frame is None:
            self._frames = read_frames(self.path)
            frame = next(self._frames, None)
            self._empty = frame is None
        return frame

    def reopen(self) -> bool:
        return False

    def close(self) -> None:
        self._frames.close()


class PushSource:
    """Frames pushed in by another component (the WebRTC server's mirror sessions): the capture
    thread reads the newest one; frames pushed faster than they are read are dropped."""

    live = True

    def __init__(self, fps: float = 30.0, name: str = "pushed frames") -> None:
        self.name = name
        self.fps = fps
        self._slot: LatestSlot[np.ndarray] = LatestSlot(latest_wins=True)

    @property
    def size(self) -> tuple[int, int] | None:
        return None

    @property
    def finished(self) -> bool:
        return self._slot.closed

    def push(self, frame_rgb: np.ndarray) -> bool:
        return self._slot.put(frame_rgb)

    def read(self) -> np.ndarray | None:
        while not self._slot.closed:
            frame = self._slot.get(timeout=0.5)
            if frame is not None:
                return frame
        return None

    def reopen(self) -> bool:
        return not self._slot.closed

    def close(self) -> None:
        self._slot.close()


def open_source(camera: int | None = None, video: str | Path | None = None, max_frames: int | None = None) -> FrameSource:
    """The camera or the video file the command line names (exactly one of them)."""
    if (camera is None) == (video is None):
        raise DanceError("give either --camera N or --source VIDEO")
    if camera is not None:
        return CameraSource(camera)
    return VideoFileSource(video, max_frames)  # type: ignore[arg-type]


@dataclass(frozen=True)
class CaptureConfig:
    pace_fps: float | None = None  # deliver a file's frames at this rate, like a camera would
    retry_interval: float = 0.5  # seconds between attempts to reopen a failing camera
    stall_timeout: float = 5.0  # give up after this long without a frame


def unusable(image: object) -> str | None:
    """Why `image` cannot be used as a frame (anything but a non-empty HxWx3 uint8 array), or None.

    A camera driver can hand over a buffer of the wrong size, type or layout; MediaPipe would
    then raise and end the whole run, so such a frame is caught here instead.
    """
    if not isinstance(image, np.ndarray):
        return f"a {type(image).__name__}, not an image"
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
        return f"{image.dtype} {'x'.join(map(str, image.shape)) or 'scalar'}, not a HxWx3 uint8 image"
    return None


class CaptureThread(threading.Thread):
    """Reads the source into a slot until the source finishes, fails for good, or `stop()`.

    A live source that fails (a read that returns nothing or raises) is reopened every
    `retry_interval` seconds for up to `stall_timeout`; after that `stalled` is set and the slot
    closed, which ends the pipeline cleanly. A frame that is not an image (see `unusable`) is
    passed on as a black frame of the last good size: the pipeline sees nobody and holds its last
    output, and goes on when good frames come back.
    """

    def __init__(
        self, source: FrameSource, slot: LatestSlot[Frame], config: CaptureConfig | None = None,
        log: Callable[[str], None] = print,
    ) -> None:
        super().__init__(name="capture", daemon=True)  # daemon: a read stuck in a driver cannot block exit
        self.source = source
        self.slot = slot
        self.config = config or CaptureConfig()
        self.log = log
        self.stalled = False
        self.recovering = False  # reopening a failing source right now
        self.error: BaseException | None = None
        self.frames_read = 0
        self.last_read = time.perf_counter()  # when the source last gave a frame (or the thread started)
        self.frames_unusable = 0  # garbage frames replaced by black ones
        self._last_shape: tuple[int, ...] | None = None  # of the last good frame: garbage is replaced at this size
        self._garbage_run = 0  # garbage frames in a row (logged at the first and when it ends)
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()
        self.slot.close()

    def run(self) -> None:
        try:
            self._loop()
        except BaseException as err:  # noqa: BLE001 - handed to the main thread, which re-raises it
            self.error = err
        finally:
            self.slot.close()

    def _loop(self) -> None:
        start = self.last_read = time.perf_counter()
        pace = self.config.pace_fps
        while not self._stop_event.is_set():
            image = self._read()
            if image is None:
                if self.source.finished or not self.source.live or not self._recover():
                    return
                continue
            self.last_read = time.perf_counter()
            index = self.frames_read
            self.frames_read += 1
            if pace:
                delay = start + index / pace - time.perf_counter()
                if delay > 0 and self._stop_event.wait(delay):
                    return
            now = time.perf_counter()
            media_time = now - start if self.source.live else index / self.source.fps
            if not self.slot.put(Frame(image, index, media_time, now)):
                return

    def _read(self) -> np.ndarray | None:
        """The source's next frame, garbage replaced (see `unusable`). A live source whose read
        raises (a driver error) has failed this read, like one that returns None; a file's
        decoding error is raised."""
        try:
            image = self.source.read()
        except Exception as err:
            if not self.source.live:
                raise
            self.log(f"{self.source.name}: reading a frame failed ({type(err).__name__}: {err})")
            return None
        if image is None:
            return None
        problem = unusable(image)
        if problem is None:
            if self._garbage_run:
                self.log(f"{self.source.name}: good frames again after {self._garbage_run} unusable")
            self._garbage_run = 0
            self._last_shape = image.shape
            return image
        if not self._garbage_run:
            self.log(f"{self.source.name}: unusable frame ({problem}); shown as an empty frame until good ones come")
        self._garbage_run += 1
        self.frames_unusable += 1
        return np.zeros(self._last_shape or self._blank_shape(), np.uint8)

    def _blank_shape(self) -> tuple[int, int, int]:
        """The black frame's shape before any good frame: the source's size when it says."""
        width, height = self.source.size or (64, 64)
        return (height, width, 3)

    def _recover(self) -> bool:
        """Reopen a failing live source until it delivers again (True) or `stall_timeout` passes."""
        config = self.config
        self.log(f"{self.source.name} stopped delivering frames; retrying for up to {config.stall_timeout:g} s")
        self.recovering = True
        deadline = time.perf_counter() + config.stall_timeout
        try:
            while not self._stop_event.wait(config.retry_interval):
                if self._reopen() and self._read() is not None:
                    self.log(f"{self.source.name} is delivering frames again")
                    return True
                if time.perf_counter() >= deadline:
                    self.stalled = True
                    return False
            return False
        finally:
            self.recovering = False

    def _reopen(self) -> bool:
        """`source.reopen()`, with an error counted as not reopened (try again later)."""
        try:
            return self.source.reopen()
        except Exception as err:
            self.log(f"{self.source.name}: reopening failed ({type(err).__name__}: {err})")
            return False
