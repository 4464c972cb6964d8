"""Live performance numbers: per-stage time, capture-to-output latency, fps, dropped frames.

Stages record from different threads, so every update takes a lock. Percentiles are taken over
the most recent samples (a window, so the HUD follows the present), totals over the whole run.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable

import numpy as np

WINDOW = 600  # samples per series kept for percentiles (10-20 s of video)
FPS_WINDOW_S = 2.0  # the HUD's fps is measured over the last this many seconds


def _percentiles(samples: Iterable[float]) -> dict[str, float]:
    values = np.fromiter(samples, np.float64)
    if values.size == 0:
        return {"p50": float("nan"), "p95": float("nan")}
    p50, p95 = np.percentile(values, [50, 95])
    return {"p50": float(p50), "p95": float(p95)}


class LiveStats:
    """Thread-safe counters for one pipeline run. Times are given in seconds, reported in ms."""

    def __init__(self, window: int = WINDOW) -> None:
        self._lock = threading.Lock()
        self._window = window
        self._stages: dict[str, deque[float]] = {}
        self._latency: deque[float] = deque(maxlen=window)
        self._done_at: deque[float] = deque(maxlen=window)
        self._counters: dict[str, int] = {"frames_out": 0, "frames_generated": 0, "frames_held": 0, "poses_found": 0}
        self._dropped: dict[str, int] = {}
        self._started: float | None = None
        self._last: float | None = None

    def stage(self, name: str, seconds: float) -> None:
        with self._lock:
            self._stages.setdefault(name, deque(maxlen=self._window)).append(seconds)

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counters[name] = self._counters.get(name, 0) + n

    def set_dropped(self, where: str, total: int) -> None:
        """Frames dropped so far at one hand-off (the slots keep the running totals)."""
        with self._lock:
            self._dropped[where] = total

    def frame_out(self, captured: float, now: float | None = None) -> None:
        """One output frame delivered; `captured` is its source frame's perf_counter stamp."""
        now = time.perf_counter() if now is None else now
        with self._lock:
            if self._started is None:
                self._started = now
            self._last = now
            self._latency.append(now - captured)
            self._done_at.append(now)
            self._counters["frames_out"] += 1

    def fps(self) -> float:
        """Output frames per second over the last FPS_WINDOW_S seconds."""
        with self._lock:
            if len(self._done_at) < 2:
                return 0.0
            recent = [t for t in self._done_at if t >= self._done_at[-1] - FPS_WINDOW_S]
            span = recent[-1] - recent[0]
            return (len(recent) - 1) / span if span > 0 else 0.0

    def as_dict(self) -> dict:
        """Everything as plain numbers (JSON-ready, for the server's /stats)."""
        with self._lock:
            elapsed = (self._last - self._started) if self._started is not None and self._last is not None else 0.0
            stages = {name: {k: 1000 * v for k, v in _percentiles(s).items()} for name, s in self._stages.items()}
            latency = {k: 1000 * v for k, v in _percentiles(self._latency).items()}
            counters = dict(self._counters)
            dropped = dict(self._dropped)
        out_frames = counters["frames_out"]
        return {
            **counters,
            "elapsed_s": elapsed,
            "fps": (out_frames - 1) / elapsed if out_frames > 1 and elapsed > 0 else 0.0,
            "recent_fps": self.fps(),
            "latency_ms": latency,
            "stages_ms": stages,
            "dropped": dropped,
            "dropped_total": sum(dropped.values()),
        }

    def summary(self) -> str:
        """A few lines for the terminal at exit."""
        d = self.as_dict()
        lines = [
            f"{d['frames_out']} frames out ({d['frames_generated']} generated, {d['frames_held']} held) in "
            f"{d['elapsed_s']:.1f} s: {d['fps']:.1f} fps; dropped {d['dropped_total']}"
            + (f" ({', '.join(f'{k} {v}' for k, v in d['dropped'].items())})" if d["dropped"] else ""),
            f"latency capture->output: p50 {d['latency_ms']['p50']:.1f} ms, p95 {d['latency_ms']['p95']:.1f} ms",
        ]
        stages = ", ".join(f"{name} {v['p50']:.1f}/{v['p95']:.1f}" for name, v in d["stages_ms"].items())
        if stages:
            lines.append(f"stage ms p50/p95: {stages}")
        return "\n".join(lines)
