"""Temporal smoothing of keypoints, so the rendered labels (and the generated video) do not shake.

Offline, the paper smooths test-time keypoints with a centred 7-frame median (`median_smooth`): it
removes jitter and single-frame glitches while keeping sharp motion edges. A live stream cannot
look into the future, so it uses the One Euro filter (Casiez et al., CHI 2012): a low-pass filter
whose cutoff rises with speed, which smooths a still joint hard and follows a fast one with
little lag.

Neither invents points: a joint that was not seen in a frame stays invalid, and a frame without a
person stays missing.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from shared.pose.keypoints import PoseFrame, PoseSequence


def median_smooth(seq: PoseSequence, window: int = 7) -> PoseSequence:
    """Centred median over `window` frames of each joint coordinate, using only the frames where
    that joint was seen (near the ends of the video the window is simply shorter)."""
    if window < 1 or window % 2 == 0:
        raise ValueError(f"median window must be a positive odd number of frames, got {window}")
    if len(seq) == 0 or window == 1:
        return seq.replace()
    half = window // 2
    points = np.where(seq.valid[..., None], seq.keypoints, np.nan)
    padded = np.pad(points, ((half, half), (0, 0), (0, 0)), constant_values=np.nan)
    windows = sliding_window_view(padded, window, axis=0)  # (T, K, 2, window)
    with warnings.catch_warnings():
        # Joints never seen around a frame give all-NaN windows; they are masked out below.
        warnings.simplefilter("ignore", RuntimeWarning)
        smoothed = np.nanmedian(windows, axis=-1)
    smoothed[~seq.valid] = np.nan
    return seq.replace(keypoints=smoothed.astype(np.float32))


def _smoothing_factor(dt: float, cutoff: np.ndarray | float) -> np.ndarray | float:
    """Weight of the new sample in an exponential low-pass with this cutoff (Hz) at this step (s)."""
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


def _one_euro_step(
    x: np.ndarray, x_prev: np.ndarray, dx_prev: np.ndarray, dt: float, min_cutoff: float, beta: float, d_cutoff: float
) -> tuple[np.ndarray, np.ndarray]:
    """One update of the One Euro filter: returns the new (estimate, smoothed speed)."""
    a_d = _smoothing_factor(dt, d_cutoff)
    dx = a_d * (x - x_prev) / dt + (1.0 - a_d) * dx_prev
    cutoff = min_cutoff + beta * np.abs(dx)
    a = _smoothing_factor(dt, cutoff)
    return a * x + (1.0 - a) * x_prev, dx


class OneEuroFilter:
    """One Euro filter for a scalar or a fixed-shape array (each element filtered independently).

    min_cutoff (Hz) sets the smoothing at rest, beta how fast the cutoff rises with speed (units of
    the signal per second), d_cutoff (Hz) the low-pass on the speed estimate. A sample whose
    timestamp (seconds) does not advance carries no timing information: the last estimate is
    returned and the state is left as it was.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0) -> None:
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError("One Euro filter needs min_cutoff > 0, d_cutoff > 0 and beta >= 0")
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff
        self.reset()

    def reset(self) -> None:
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def __call__(self, x: np.ndarray | float, timestamp: float) -> np.ndarray | float:
        value = np.asarray(x, np.float64)
        if self._x is None or self._t is None:
            self._x, self._dx, self._t = value.copy(), np.zeros_like(value), timestamp
        elif timestamp > self._t:
            self._x, self._dx = _one_euro_step(
                value, self._x, self._dx, timestamp - self._t, self.min_cutoff, self.beta, self.d_cutoff
            )
            self._t = timestamp
        return float(self._x) if self._x.ndim == 0 else self._x.copy()


class OneEuroPoseFilter:
    """One Euro filter on every joint coordinate of a live pose stream.

    Defaults are for pixels at label resolution (about 1024x512): a still joint jitters by a few
    pixels, which the speed low-pass (d_cutoff 1 Hz) turns into some tens of px/s, so with
    beta 0.05 the cutoff stays near 2-3 Hz and the jitter is damped several times over; a dancing
    limb moves at hundreds of px/s, which lifts the cutoff to 10-30 Hz and the lag to about a frame.
    A joint that reappears after being missing restarts from its new position, instead of being
    dragged from where it was last seen.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0) -> None:
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError("One Euro filter needs min_cutoff > 0, d_cutoff > 0 and beta >= 0")
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff
        self.reset()

    def reset(self) -> None:
        self._x: np.ndarray | None = None  # (K, 2) estimates
        self._dx: np.ndarray | None = None  # (K, 2) smoothed speeds, px/s
        self._alive: np.ndarray | None = None  # (K,) joint was seen in the previous frame
        self._t: float | None = None  # timestamp of the last frame that advanced time

    def __call__(self, frame: PoseFrame, timestamp: float) -> PoseFrame:
        k = frame.valid.shape[0]
        if self._x is None or self._x.shape[0] != k:
            self._x, self._dx, self._alive = np.zeros((k, 2)), np.zeros((k, 2)), np.zeros(k, bool)
        assert self._dx is not None and self._alive is not None
        seen = frame.valid
        obs = frame.keypoints.astype(np.float64)
        dt = 0.0 if self._t is None else timestamp - self._t
        keep = seen & self._alive
        if dt > 0 and keep.any():  # a frame whose time does not advance leaves these joints as they were
            self._x[keep], self._dx[keep] = _one_euro_step(
                obs[keep], self._x[keep], self._dx[keep], dt, self.min_cutoff, self.beta, self.d_cutoff
            )
        fresh = seen & ~self._alive
        self._x[fresh], self._dx[fresh] = obs[fresh], 0.0
        self._alive = seen.copy()
        if self._t is None or dt > 0:
            self._t = timestamp
        out = np.where(seen[:, None], self._x, np.nan).astype(np.float32)
        return frame.moved_to(out)
