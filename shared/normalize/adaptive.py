"""Normalization from the first frame that shows a person, following them as they move.

Live there is no time to learn the source's floor line and height first (every frame drawn
un-normalized is drawn at the wrong size), so each frame is measured on its own and a robust
running estimate over the last `window` seconds drives the mapping:

- height: the source's standing head-to-ankle height. Measured directly (ankles and head seen)
  and from the bones seen (torso, thighs, shins, shoulder width, head), each bone's length times
  the target's height / bone ratio in its own standing pose, so a cropped or seated person is
  measured too. The larger of the two counts: a crouch shortens the direct height and
  foreshortening a bone, neither lengthens it. The window's median is the estimate.
- floor: the lower ankle's y (or, with no ankle in view, the lowest hip or shoulder line plus the
  target's standing distance from it to the ankles, scaled). The window's FLOOR_QUANTILE (its
  median) is the estimate: a jump lifts the feet for under half the window (up to 0.6 s in the air),
  which the median ignores, and a step back is followed once it has held for half the window.

Both estimates are eased towards (exponentially, SMOOTHING_SECONDS), so the drawn person neither
jumps nor pumps, and a real change (walking nearer, a camera move) is followed within about 0.7 s.
The window, quantile and easing were chosen without the pose detector on generated frames: the
fastest return of the feet to the floor after a step back among the settings that keep a 0.6 s
jump from moving the floor (bench/normalize.py prints both). The source is then mapped by one
similarity: scaled about the image's centre column by target height / source height, its floor
moved onto the target's median floor line. The floor sanity of shared/normalize/stats.py stays:
mapped feet are held in the target's floor band.

Upper-body mode (shared/normalize/upper_body.py) works the same way from running medians of the
shoulder width, head size and shoulder centre, when ankles are seen in under MAX_LEG_SHARE of the
window's frames.

Per frame this costs a few small numpy operations on preallocated ring buffers (no big arrays).
"""

from __future__ import annotations

import math

import numpy as np

from shared.normalize.stats import MIN_FLOOR_SLACK, NormalizationStats, lower_ankle_y
from shared.normalize.upper_body import MAX_LEG_SHARE, UpperBodyNormalizer, UpperBodyStats
from shared.pose.keypoints import PoseFrame
from shared.pose.schema import Joint

WINDOW_SECONDS = 1.2  # the running estimate's sliding window
SMOOTHING_SECONDS = 0.1  # time constant of the easing towards the window's estimate
FLOOR_QUANTILE = 0.5  # of the window's floor samples (image y grows downwards: the feet's lowest line)
CAPACITY = 256  # samples held: the whole window at up to 210 fps

J = Joint
# (from, to) joints of the bones measured; -1 stands for the mid-shoulder
BONES = np.array([
    (J.LEFT_SHOULDER, J.LEFT_HIP), (J.RIGHT_SHOULDER, J.RIGHT_HIP),  # torso
    (J.LEFT_HIP, J.LEFT_KNEE), (J.RIGHT_HIP, J.RIGHT_KNEE),  # thighs
    (J.LEFT_KNEE, J.LEFT_ANKLE), (J.RIGHT_KNEE, J.RIGHT_ANKLE),  # shins
    (J.LEFT_SHOULDER, J.RIGHT_SHOULDER),  # shoulder width
    (J.NOSE, -1),  # head: nose to mid-shoulder
])
ANCHORS = ((J.LEFT_HIP, J.RIGHT_HIP), (J.LEFT_SHOULDER, J.RIGHT_SHOULDER))  # floor fallbacks, lowest first
HEAD_FALLBACK = (J.LEFT_EYE, J.RIGHT_EYE, J.LEFT_EAR, J.RIGHT_EAR)

# ring buffer columns
_T, _HEIGHT, _FLOOR, _LEGS, _WIDTH, _HEAD, _CX, _CY = range(8)


def _points(keypoints: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """The body joints plus the mid-shoulder as the last row, NaN where not seen."""
    body = np.where(valid[: J.RIGHT_FOOT_INDEX + 1, None], keypoints[: J.RIGHT_FOOT_INDEX + 1], np.nan).astype(np.float64)
    mid = (body[J.LEFT_SHOULDER] + body[J.RIGHT_SHOULDER]) / 2
    return np.vstack([body, mid])


def _bone_lengths(points: np.ndarray) -> np.ndarray:
    return np.linalg.norm(points[BONES[:, 0]] - points[BONES[:, 1]], axis=-1)


def _head_y(points: np.ndarray) -> float:
    if math.isfinite(points[J.NOSE, 1]):
        return float(points[J.NOSE, 1])
    ys = points[list(HEAD_FALLBACK), 1]
    return float(np.nanmean(ys)) if np.isfinite(ys).any() else math.nan


def _direct_height(points: np.ndarray) -> float:
    """Mean ankle y - head y, as compute_stats measures it (NaN unless both are seen)."""
    ankles = points[[J.LEFT_ANKLE, J.RIGHT_ANKLE], 1]
    if not np.isfinite(ankles).any():
        return math.nan
    height = float(np.nanmean(ankles)) - _head_y(points)
    return height if height > 0 else math.nan


def _mean_y(points: np.ndarray, joints: tuple[int, int]) -> float:
    ys = points[list(joints), 1]
    return float(np.nanmean(ys)) if np.isfinite(ys).any() else math.nan


class AdaptiveNormalizer:
    """Maps label-frame poses onto the target from the first one that shows a person.

    `target_pose` is the target's standing pose (NormalizationStats.standing): without it only
    frames showing head and ankles can be measured, and upper-body mode is off. `upper_body`
    allows upper-body mode for a source whose legs are not in view."""

    def __init__(self, target: NormalizationStats, target_pose: PoseFrame | None = None, upper_body: bool = False,
                 window: float = WINDOW_SECONDS, smoothing: float = SMOOTHING_SECONDS,
                 floor_quantile: float = FLOOR_QUANTILE) -> None:  # fmt: skip
        self.target = target
        self.target_pose = target_pose
        self.window = window
        self.smoothing = smoothing
        self.floor_quantile = floor_quantile
        self._width, self._height = target.image_size
        self._cx = self._width / 2.0
        depth = target.ankle_max - target.ankle_far
        p = (target.ankle_med - target.ankle_far) / depth if depth > 1e-6 else 0.0
        self.target_floor = target.ankle_med  # where the source's feet are put
        self.target_height = target.height_far + p * (target.height_close - target.height_far)
        slack = max(target.ankle_max - target.ankle_far, MIN_FLOOR_SLACK * target.height_far)
        self.floor_band = (target.ankle_far - slack, target.ankle_max + slack)
        self._bones = np.full(len(BONES), np.nan)
        self._below: list[float] = [math.nan] * len(ANCHORS)  # target's standing ankle line - anchor line
        self._upper: UpperBodyNormalizer | None = None
        if target_pose is not None:
            points = _points(target_pose.keypoints, target_pose.valid)
            self._bones = _bone_lengths(points)
            self._bones[~(self._bones > 0)] = np.nan
            stand_height = _direct_height(points)
            self._bones_per_height = self._bones / stand_height  # NaN throughout without a standing height
            ankle = _mean_y(points, (J.LEFT_ANKLE, J.RIGHT_ANKLE))
            self._below = [ankle - _mean_y(points, anchor) for anchor in ANCHORS]
            if upper_body:  # fitted to the source's running estimate before each use
                self._upper = UpperBodyNormalizer(UpperBodyStats(1.0, 1.0, (0.0, 0.0), 0), target_pose)
        self._ring = np.full((CAPACITY, 8), np.nan)
        self.clamped = False
        self.reset()

    def reset(self) -> None:
        """Forget the source: the next frame with a person starts a new estimate."""
        self._ring[:] = np.nan
        self._next = 0
        self._last_time = -math.inf
        self.height: float | None = None  # the eased estimates, None before the first measurement
        self.floor: float | None = None
        self.shoulders: np.ndarray | None = None  # upper body: eased (width, head, cx, cy)
        self.upper_body = False
        self.clamped = False

    @property
    def ready(self) -> bool:
        """An estimate exists: frames are being normalized."""
        return self.height is not None or self.shoulders is not None

    @property
    def scale(self) -> float | None:
        return None if self.height is None else self.target_height / self.height

    # --- measuring -----------------------------------------------------------------------------

    def _measure(self, pose: PoseFrame, media_time: float) -> np.ndarray:
        """One frame's ring row (NaN where it cannot say)."""
        x, y = pose.keypoints[:, 0], pose.keypoints[:, 1]
        seen = pose.valid & (x >= 0) & (x < self._width) & (y >= 0) & (y < self._height)  # see seen_in_frame
        points = _points(pose.keypoints, seen)
        row = np.full(8, np.nan)
        row[_T] = media_time
        direct = _direct_height(points)
        ratios = _bone_lengths(points) / self._bones_per_height if self.target_pose is not None else np.full(1, np.nan)
        by_bones = float(np.nanmedian(ratios)) if np.isfinite(ratios).any() else math.nan
        row[_HEIGHT] = np.fmax(direct, by_bones)
        ankle = float(lower_ankle_y(points, np.isfinite(points[:, 1])))
        row[_LEGS] = float(math.isfinite(ankle))
        if not math.isfinite(ankle) and math.isfinite(row[_HEIGHT]):
            per_px = row[_HEIGHT] / self.target_height  # source px per target px
            for anchor, below in zip(ANCHORS, self._below):
                line = _mean_y(points, anchor)
                if math.isfinite(line) and math.isfinite(below):
                    ankle = line + below * per_px
                    break
        row[_FLOOR] = ankle
        left, right = points[J.LEFT_SHOULDER], points[J.RIGHT_SHOULDER]
        mid = points[-1]
        row[_WIDTH] = np.linalg.norm(left - right)
        row[_HEAD] = np.linalg.norm(points[J.NOSE] - mid)
        row[_CX], row[_CY] = mid
        return row

    def _window(self, media_time: float) -> np.ndarray:
        times = self._ring[:, _T]
        return self._ring[times >= media_time - self.window]  # NaN times (empty slots) compare False

    def _alpha(self, dt: float) -> float:
        """The share of the way to the window's estimate that one frame `dt` seconds on moves."""
        return 1.0 - math.exp(-max(dt, 0.0) / self.smoothing) if self.smoothing > 0 else 1.0

    def _update(self, pose: PoseFrame, media_time: float) -> None:
        if media_time - self._last_time > self.window:
            self.reset()  # the person was gone for a whole window: start again from this frame
        dt = media_time - self._last_time
        self._last_time = media_time
        self._ring[self._next] = self._measure(pose, media_time)
        self._next = (self._next + 1) % CAPACITY
        window = self._window(media_time)
        self.upper_body = self._upper is not None and float(np.mean(window[:, _LEGS])) < MAX_LEG_SHARE
        if self.upper_body:
            shoulders = window[:, [_WIDTH, _HEAD, _CX, _CY]]
            ok = np.isfinite(shoulders).all(axis=1) & (shoulders[:, 0] > 0) & (shoulders[:, 1] > 0)
            if ok.any():
                estimate = np.median(shoulders[ok], axis=0)
                old = self.shoulders
                self.shoulders = estimate if old is None else old + self._alpha(dt) * (estimate - old)
            return
        heights, floors = window[:, _HEIGHT], window[:, _FLOOR]
        heights, floors = heights[np.isfinite(heights)], floors[np.isfinite(floors)]
        if heights.size and floors.size:
            height, floor = float(np.median(heights)), float(np.quantile(floors, self.floor_quantile))
            if self.height is None or self.floor is None:
                self.height, self.floor = height, floor  # the first frame: no easing from nothing
            else:
                alpha = self._alpha(dt)
                self.height += alpha * (height - self.height)
                self.floor += alpha * (floor - self.floor)

    # --- mapping -------------------------------------------------------------------------------

    def __call__(self, pose: PoseFrame, media_time: float) -> PoseFrame:
        """The pose normalized onto the target (un-normalized only while nothing could be measured)."""
        self.clamped = False
        if not pose.present:
            return pose
        self._update(pose, media_time)
        if self.upper_body and self.shoulders is not None:
            width, head, cx, cy = self.shoulders
            self._upper.fit(UpperBodyStats(width, head, (cx, cy), 0))
            return self._upper(pose)
        if self.height is None or self.floor is None:
            return pose
        scale = self.target_height / self.height
        offset = np.array([(1.0 - scale) * self._cx, self.target_floor - scale * self.floor])
        moved = pose.keypoints.astype(np.float64) * scale + offset
        moved[~pose.valid] = np.nan
        feet = float(lower_ankle_y(moved, pose.valid))
        if math.isfinite(feet):
            inside = min(max(feet, self.floor_band[0]), self.floor_band[1])
            if inside != feet:
                moved[:, 1] += inside - feet
                self.clamped = True
        return pose.moved_to(moved)
