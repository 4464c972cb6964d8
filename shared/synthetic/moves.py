"""The synthetic dancer's exact poses moved in code: nearer or farther, a jump, a step back.

Live normalization (shared/normalize/adaptive.py) is tested and benchmarked (bench/normalize.py) on
these, so both drive it with one copy of each move.
"""

from __future__ import annotations

import numpy as np

from shared.pose.keypoints import PoseSequence


def moved(seq: PoseSequence, scale: np.ndarray, shift_y: np.ndarray, pivot: tuple[float, float] = (128.0, 40.0)) -> PoseSequence:
    """Each frame t scaled by scale[t] about `pivot`, then shifted down by shift_y[t] pixels."""
    pivot_arr = np.asarray(pivot, np.float32)
    keypoints = (seq.keypoints - pivot_arr) * scale[:, None, None].astype(np.float32) + pivot_arr
    keypoints[..., 1] += shift_y[:, None].astype(np.float32)
    return seq.replace(keypoints=keypoints)


def jumping(seq: PoseSequence, start: int, air_frames: int, height: float = 40.0) -> PoseSequence:
    """`seq` in the air from frame `start` for `air_frames` frames, `height` px up at the top."""
    lift = np.zeros(len(seq))
    air = np.arange(start, start + air_frames)
    lift[air] = -height * np.sin(np.pi * (air - start + 1) / (air_frames + 1))
    return moved(seq, np.ones(len(seq)), lift)


def stepping_back(seq: PoseSequence, start: int, step_frames: int, up: float = 25.0, shrink: float = 0.15) -> PoseSequence:
    """`seq` stepping back from frame `start` over `step_frames` frames: its feet end `up` px higher
    and its body `shrink` smaller (scaled about a point near the feet), and it stays there."""
    done = np.clip((np.arange(len(seq)) - start) / step_frames, 0, 1)
    return moved(seq, 1 - shrink * done, -up * done, pivot=(128.0, 200.0))
