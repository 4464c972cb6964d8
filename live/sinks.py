"""Where output frames go: an mp4 file, an OpenCV window with a HUD, the hand-off to a server.

Every sink has `write(out, stats)` and `close()`; the pipeline closes them however a run ends, so
the mp4 is always finalized (playable) and the window always destroyed.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from live.pipeline import OutputFrame, Sink
from live.slots import LatestFrame
from live.stats import LiveStats
from shared.errors import DanceError
from shared.pose.framing import letterbox
from shared.io.audio import SourceAudio
from shared.io.video import VideoWriter


class VideoFileSink:
    """The output frames as an mp4 (written under a temporary name, renamed when closed).

    With `follow_clock` (a camera, or a file played in real time, where frames may be dropped),
    each frame stays in the file until the next one's source time, as it stayed on screen, so the
    file plays at the real speed instead of fast-forwarding over the dropped frames.

    With `soundtrack` (the source video), its audio goes beside the frames, from the first written
    frame's media time for as long as the video lasts; muxed at close, never per frame.
    """

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int], follow_clock: bool = False,
                 soundtrack: Path | None = None) -> None:
        self.path = Path(path)
        self.fps = fps
        self.follow_clock = follow_clock
        self.soundtrack = soundtrack
        self.writer = VideoWriter(self.path, fps, size)
        self._start: float | None = None
        self._last: np.ndarray | None = None

    def write(self, out: OutputFrame, stats: LiveStats) -> None:
        if self._start is None:
            self._start = out.frame.media_time
        if self.follow_clock:
            slot = int(round((out.frame.media_time - self._start) * self.fps))  # this frame's place in the file
            while self._last is not None and self.writer.frames_written < slot:
                self.writer.write(self._last)
            self._last = out.image
        self.writer.write(out.image)

    def close(self) -> None:
        audio = None if self.soundtrack is None or self._start is None else SourceAudio(self.soundtrack, self._start)
        self.writer.close(audio)  # a camera that never gave a frame leaves no file, and no error


class HandoffSink:
    """Publishes each output to a `LatestFrame`, which the WebRTC server's tracks read from."""

    def __init__(self, handoff: LatestFrame[OutputFrame] | None = None) -> None:
        self.handoff: LatestFrame[OutputFrame] = handoff if handoff is not None else LatestFrame()

    def write(self, out: OutputFrame, stats: LiveStats) -> None:
        self.handoff.publish(out)

    def close(self) -> None:
        self.handoff.close()


class BorrowedSink:
    """Writes to a sink that outlives one pipeline run, without closing it (its owner does): the
    virtual camera stays open while `--serve` restarts its viewer pipeline."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    def write(self, out: OutputFrame, stats: LiveStats) -> None:
        self.sink.write(out, stats)

    def close(self) -> None:
        pass


def _x_display_reachable(display: str) -> bool:
    """Whether an X server answers at DISPLAY (":0", "unix:0", "localhost:10.0")."""
    host, _, rest = display.rpartition(":")
    number = rest.split(".")[0]
    if not number.isdigit():
        return False
    if host in ("", "unix"):
        path = f"/tmp/.X11-unix/X{number}"
        addresses = [(socket.AF_UNIX, path), (socket.AF_UNIX, "\0" + path)]  # file socket, then abstract
    else:
        addresses = [(socket.AF_INET, (host, 6000 + int(number)))]
    for family, address in addresses:
        try:
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                probe.settimeout(0.5)
                probe.connect(address)
                return True
        except OSError:
            continue
    return False


def display_problem() -> str | None:
    """Why no window can be opened, or None. OpenCV's Qt backend (X11 only in these wheels) aborts
    the whole process when it cannot reach a display, so this is checked first."""
    if not sys.platform.startswith("linux"):
        return None
    display = os.environ.get("DISPLAY")
    if not display:
        return "DISPLAY is not set"
    if not _x_display_reachable(display):
        return f"no X server answers at DISPLAY={display}"
    return None


def display_available() -> bool:
    return display_problem() is None


# --- the window ------------------------------------------------------------------------------

VIEWS = ("output", "side by side")
HUD_REFRESH_S = 0.5  # the HUD's numbers change this often (readable, and cheap)
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_WHITE, _YELLOW, _GREY = (255, 255, 255), (255, 220, 0), (200, 200, 200)


def side_by_side(out: OutputFrame) -> np.ndarray:
    """Source (letterboxed like the model sees it) | stick figure | output, all at the engine's size."""
    height, width = out.image.shape[:2]
    source = letterbox(out.frame.image, (width, height))
    return np.hstack([source, out.label, out.image])


def _text(canvas: np.ndarray, text: str, origin: tuple[int, int], scale: float, color: tuple[int, int, int]) -> None:
    """Text with a dark outline, readable over any picture."""
    thickness = max(1, round(scale * 2))
    cv2.putText(canvas, text, origin, _FONT, scale, (0, 0, 0), thickness + 2, cv2.LINE_AA)
    cv2.putText(canvas, text, origin, _FONT, scale, color, thickness, cv2.LINE_AA)


def hud_lines(stats: dict) -> list[str]:
    """The HUD's numbers: fps, latency and per-stage ms (p50)."""
    latency = stats["latency_ms"]
    stages = " ".join(f"{name} {v['p50']:.0f}" for name, v in stats["stages_ms"].items())
    return [
        f"{stats['recent_fps']:.1f} fps   latency {latency['p50']:.0f} / p95 {latency['p95']:.0f} ms",
        f"ms: {stages}",
        f"dropped {stats['dropped_total']}",
    ]


def draw_hud(canvas: np.ndarray, lines: list[str], out: OutputFrame) -> None:
    scale = max(canvas.shape[0] / 900, 0.4)
    step = int(30 * scale * 1.3)
    for i, line in enumerate(lines):
        _text(canvas, line, (10, step * (i + 1)), scale, _WHITE)
    bottom = canvas.shape[0] - 12
    if out.calibrating:
        _text(canvas, "MEASURING THE PERSON - stand fully in view", (10, bottom - 2 * step),
              scale * 1.3, _YELLOW)
    elif not out.present:
        _text(canvas, "nobody in view", (10, bottom - 2 * step), scale * 1.3, _YELLOW)
    if out.mode is not None:
        _text(canvas, f"normalization: {out.mode}", (10, bottom - step), scale, _WHITE)
    _text(canvas, "v: view   c: choose person again   q/Esc: quit", (10, bottom), scale, _GREY)


class WindowSink:
    """An OpenCV window: the output (or source | stick figure | output) with a HUD.

    Keys: `v` switches the view, `c` recalibrates, `q` or Esc quits. It must run on the thread that
    created it, which is the pipeline's calling thread.
    """

    def __init__(
        self, on_recalibrate: Callable[[], None], on_quit: Callable[[], None], title: str = "dance-live",
        min_height: int = 512,
    ) -> None:
        problem = display_problem()
        if problem is not None:
            raise DanceError(f"--window needs a display, and none was found ({problem}); use --output OUT.mp4 instead")
        self.on_recalibrate = on_recalibrate
        self.on_quit = on_quit
        self.title = title
        self.min_height = min_height
        self.view = 0
        self._lines: list[str] = []
        self._lines_at = 0.0
        cv2.namedWindow(self.title, cv2.WINDOW_NORMAL)

    def write(self, out: OutputFrame, stats: LiveStats) -> None:
        canvas = out.image if VIEWS[self.view] == "output" else side_by_side(out)
        if canvas.shape[0] < self.min_height:
            factor = self.min_height / canvas.shape[0]
            canvas = cv2.resize(canvas, (round(canvas.shape[1] * factor), self.min_height), interpolation=cv2.INTER_LINEAR)
        else:
            canvas = canvas.copy()
        now = time.perf_counter()
        if now - self._lines_at >= HUD_REFRESH_S:
            self._lines, self._lines_at = hud_lines(stats.as_dict()), now
        draw_hud(canvas, self._lines, out)
        cv2.imshow(self.title, cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
        self._handle(cv2.waitKey(1) & 0xFF)

    def _handle(self, key: int) -> None:
        if key in (ord("q"), 27):
            self.on_quit()
        elif key == ord("c"):
            self.on_recalibrate()
        elif key == ord("v"):
            self.view = (self.view + 1) % len(VIEWS)

    def close(self) -> None:
        try:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)
        except cv2.error:
            pass
