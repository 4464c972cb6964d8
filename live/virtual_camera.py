"""The output as a webcam for Zoom, Meet, OBS or Discord, through `pyvirtualcam`
(v4l2loopback on Linux, OBS Virtual Camera on Windows and macOS).

A virtual camera is read at its own steady rate, whatever the pipeline does, so the sink does not
send from the pipeline's thread: `write` only publishes the newest output to a `LatestFrame` and
returns. A sender thread ticks at the camera's fps: it takes the newest output (several written
since the last tick: only the newest is sent, nothing queues), or repeats the last one when none
came (the held frame: the picture stays up while the pipeline is slow or nobody is seen),
letterboxes it to the size meeting apps accept, and sends it.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from live.pipeline import OutputFrame
from live.slots import HandoffClosed, LatestFrame
from live.stats import LiveStats
from shared.errors import DanceError
from shared.pose.framing import letterbox

DEFAULT_SIZE = (1280, 720)  # 720p: every meeting app takes it
DEFAULT_FPS = 30.0
MAX_FPS = 30.0  # meeting apps send at most this; sending more (each frame converted by the backend) only costs CPU


def camera_fps(source_fps: float | None) -> float:
    """The virtual camera's rate for a source: the source's own, at most MAX_FPS."""
    return min(source_fps, MAX_FPS) if source_fps and source_fps > 0 else DEFAULT_FPS


@dataclass(frozen=True)
class VirtualCameraConfig:
    size: tuple[int, int] = DEFAULT_SIZE  # (width, height) the apps receive
    fps: float = DEFAULT_FPS  # frames sent per second, new or repeated
    device: str | None = None  # e.g. /dev/video10 or "OBS Virtual Camera"; None: the first one found


class VirtualCameraDevice(Protocol):
    """What the sink needs of a `pyvirtualcam.Camera` (tests pass a fake)."""

    @property
    def device(self) -> str: ...

    def send(self, frame: np.ndarray) -> None: ...

    def sleep_until_next_frame(self) -> None: ...

    def close(self) -> None: ...


CameraFactory = Callable[[VirtualCameraConfig], VirtualCameraDevice]


def install_hint(device: str | None = None, reason: str | None = None, platform: str = sys.platform) -> str:
    """One line: why no virtual camera opened, and what to install to get one."""
    where = f" {device}" if device else ""
    why = f" ({reason})" if reason else ""
    if platform.startswith("linux"):
        return (f"no virtual camera device{where}{why}: install v4l2loopback (sudo apt install v4l2loopback-dkms) "
                "and load it with `sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label=dancenow`")
    return (f"no virtual camera device{where}{why}: install OBS Studio (https://obsproject.com) "
            "and start its Virtual Camera once (Start Virtual Camera), then close OBS")


def open_pyvirtualcam(config: VirtualCameraConfig, backend: str | None = None) -> VirtualCameraDevice:
    """A `pyvirtualcam.Camera` taking RGB frames, or a DanceError saying what to install."""
    try:
        import pyvirtualcam
    except ImportError:
        raise DanceError("--virtual-camera needs the pyvirtualcam package: pip install pyvirtualcam") from None
    width, height = config.size
    try:
        return pyvirtualcam.Camera(width, height, config.fps, fmt=pyvirtualcam.PixelFormat.RGB,
                                   device=config.device or None, backend=backend)
    except RuntimeError as err:
        # pyvirtualcam's own text (one "'backend': reason" line per backend) only helps when a device was named.
        reason = "; ".join(line.split(": ", 1)[-1] for line in str(err).splitlines()) if config.device else None
        raise DanceError(install_hint(config.device, reason)) from None


class VirtualCameraSink:
    """Sends the output to a virtual camera, paced by its own thread (see the module docstring)."""

    def __init__(self, config: VirtualCameraConfig, open_camera: CameraFactory | None = None) -> None:
        self.config = config
        self.camera = (open_camera or open_pyvirtualcam)(config)  # looked up now: tests replace it
        self.device = self.camera.device  # the name apps list it under (kept: a closed camera has none)
        self.frames: LatestFrame[np.ndarray] = LatestFrame()
        self.sent = 0  # frames sent, repeats included
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._send_loop, name="virtual-camera", daemon=True)
        self._thread.start()

    def write(self, out: OutputFrame, stats: LiveStats) -> None:
        self._raise_error()
        self.frames.publish(out.image)

    def _raise_error(self) -> None:
        """A failed sender stops the run, reported once (by write, or by close)."""
        error, self.error = self.error, None
        if error is not None:
            raise DanceError(f"virtual camera {self.device} stopped: {error}")

    def _send_loop(self) -> None:
        width, height = self.config.size
        picture = np.zeros((height, width, 3), np.uint8)  # black until the first output
        seen = 0
        try:
            while True:
                try:
                    newest = self.frames.next(seen, timeout=0)
                except HandoffClosed:
                    return
                if newest is not None:
                    seen = newest.version
                    picture = np.ascontiguousarray(letterbox(newest.item, self.config.size))
                self.camera.send(picture)
                self.sent += 1
                self.camera.sleep_until_next_frame()
        except Exception as err:  # noqa: BLE001 - reported by the next write() and by close()
            self.error = err

    def close(self) -> None:
        """Stop the sender (it finishes at most one frame interval later), then release the device."""
        self.frames.close()
        self._thread.join(timeout=5)
        self.camera.close()
        self._raise_error()
