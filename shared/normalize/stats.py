"""Global pose normalization (Chan et al. 2019, Sec. 3.3): make the source dancer's poses fit the
target video's floor and body size before they are drawn as labels.

Each video is summarised by `NormalizationStats`, taken from the y of the lower ankle (`a`, the
floor contact; image y grows downwards) and the head-to-ankle height (`h`) of every frame:
`ankle_max` is the closest floor line (largest `a`), `ankle_med` the median, `ankle_far` the
farthest floor line the dancer really stands on (the smallest `a` with
0 < med - a < 0.5 (max - med), so jumps and a stray detection do not count), and
`height_close` / `height_far` the tallest figure seen near those two lines.

A source frame at floor line `a` is then placed at the same relative depth
p = (a - s_far) / (s_max - s_far) between the target's lines, and scaled by the target/source
height ratio interpolated between far and close:

    b     = t_far + p (t_max - t_far) - a
    scale = scale_far + p (scale_close - scale_far)
    x'    = scale (x - cx) + cx,        y' = scale (y - a) + a + b

with cx the image's centre column, so the scaled feet land on the target's floor line. A source
filmed at a single depth (s_max == s_far) has no range to interpolate: it gets p = 0 for the scale
and b = t_far - s_far, i.e. its floor line moves onto the target's far line and its own vertical
motion (jumps) is kept.

Floor sanity: the normalized lower ankle never leaves the target's floor band [t_far, t_max] by
more than the band's own width (at least `MIN_FLOOR_SLACK` of the target's height, so a jump
still shows); a frame that would is shifted back to the band's edge and flagged `clamped`, so a
caller can tell that the source's floor estimate no longer fits (LiveNormalizer recalibrates).

Source and target must be in the same pixel frame (same image size, e.g. both already mapped to
the label resolution with `PoseSequence.transformed`): the offsets are in pixels and the scale is
taken about the image's centre column. `PoseNormalizer` refuses stats from different sizes.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from shared.errors import DanceError
from shared.normalize.facing import front_share
from shared.normalize.limbs import limb_lengths
from shared.pose.keypoints import PoseFrame, PoseSequence
from shared.pose.schema import ANKLES, BODY_SCHEMA, Joint, SkeletonSchema

# The body part of both schemas is MediaPipe Pose, so `Joint` indexes either.
HEAD_FALLBACK = (Joint.LEFT_EYE, Joint.RIGHT_EYE, Joint.LEFT_EAR, Joint.RIGHT_EAR)  # the head's height when the nose is not seen

MIN_STATS_FRAMES = 2  # frames with ankles and a head needed to describe a video
FAR_WINDOW = 0.5  # far line: 0 < med - a < FAR_WINDOW * (max - med)
HEIGHT_WINDOW = 0.05  # heights are taken within this fraction of (max - far) of a floor line
_EPS = 1e-6  # pixels: a depth range below this is treated as zero
MIN_FLOOR_SLACK = 0.35  # of the target's far height: the least the feet may leave its floor band by (a jump)


@dataclass
class NormalizationStats:
    """One video's floor lines and body heights, in the pixels of an `image_size` frame."""

    ankle_max: float  # closest floor line: largest lower-ankle y
    ankle_med: float  # median lower-ankle y
    ankle_far: float  # farthest floor line the dancer stands on
    height_close: float  # tallest head-to-ankle height near ankle_max
    height_far: float  # tallest head-to-ankle height near ankle_far
    image_size: tuple[int, int]  # (width, height)
    num_frames: int  # frames that had ankles and a head, i.e. that the stats come from
    # the median pose's 33 body joints ([x, y], or None where not seen): the target's own standing
    # legs for upper-body mode (shared/normalize/upper_body.py); None in stats made before it was kept
    standing: list[list[float] | None] | None = None
    # the share of the clearly facing frames that face the camera (shared/normalize/facing.py): a
    # target filmed only one way gets sources facing the other way turned round; None in older stats
    front_share: float | None = None
    # the upper arm, forearm, thigh and shin in torso sizes (shared/normalize/limbs.py): where an
    # elbow or knee is unseen, its limb's ends and these place it; None in older stats
    limbs: list[float] | None = None

    def to_json(self) -> dict:
        data = asdict(self)
        data["image_size"] = list(self.image_size)
        for optional in ("standing", "front_share", "limbs"):
            if data[optional] is None:
                del data[optional]
        return data

    def standing_pose(self, schema: SkeletonSchema) -> PoseFrame | None:
        """The standing pose as a frame of `schema` (joints beyond the body invalid), or None."""
        if self.standing is None:
            return None
        pose = PoseFrame.missing(schema)
        for joint, point in enumerate(self.standing[: schema.num_joints]):
            if point is not None:
                pose.keypoints[joint] = point
                pose.valid[joint] = True
                pose.confidence[joint] = 1.0
        return pose

    @classmethod
    def from_json(cls, data: dict | str) -> NormalizationStats:
        """Parse a dict or a JSON string; anything malformed is a DanceError naming the problem."""
        try:
            if isinstance(data, str):
                data = json.loads(data)
            if not isinstance(data, dict):
                raise ValueError("expected a JSON object")
            floats = {
                name: float(data[name])
                for name in ("ankle_max", "ankle_med", "ankle_far", "height_close", "height_far")
            }
            width, height = (int(v) for v in data["image_size"])
            num_frames = int(data["num_frames"])
            standing = data.get("standing")
            if standing is not None:
                standing = [None if p is None else [float(p[0]), float(p[1])] for p in standing]
            front = data.get("front_share")
            front = None if front is None else float(front)
            limbs = data.get("limbs")
            limbs = None if limbs is None else [float(length) for length in limbs]
        except (KeyError, TypeError, ValueError) as err:
            raise DanceError(f"not valid normalization stats ({type(err).__name__}: {err}); recompute them from the video's poses") from None
        if not all(math.isfinite(v) for v in floats.values()) or floats["height_close"] <= 0 or floats["height_far"] <= 0:
            raise DanceError("normalization stats hold non-finite values or non-positive heights; recompute them from the video's poses")
        if width <= 0 or height <= 0:
            raise DanceError(f"normalization stats have a bad image size {width}x{height}; recompute them from the video's poses")
        return cls(**floats, image_size=(width, height), num_frames=num_frames, standing=standing, front_share=front, limbs=limbs)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> NormalizationStats:
        try:
            text = Path(path).read_text()
        except OSError as err:
            raise DanceError(f"{path}: cannot read normalization stats ({err.strerror or err})") from None
        except UnicodeDecodeError:
            raise DanceError(f"{path}: not normalization stats (not text); recompute them from the video's poses") from None
        try:
            return cls.from_json(text)
        except DanceError as err:
            raise DanceError(f"{path}: {err}") from None


def lower_ankle_y(keypoints: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(...,) y of the lower (larger-y) valid ankle; NaN where neither ankle was seen."""
    left = np.where(valid[..., Joint.LEFT_ANKLE], keypoints[..., Joint.LEFT_ANKLE, 1], np.nan)
    right = np.where(valid[..., Joint.RIGHT_ANKLE], keypoints[..., Joint.RIGHT_ANKLE, 1], np.nan)
    return np.fmax(left, right)  # fmax ignores a single NaN


def _mean_valid_y(keypoints: np.ndarray, valid: np.ndarray, joints: tuple[int, ...]) -> np.ndarray:
    """(T,) mean y of the valid joints among `joints`; NaN where none is valid."""
    ys = keypoints[:, joints, 1].astype(np.float64)
    ok = valid[:, joints]
    count = ok.sum(axis=1)
    total = np.where(ok, ys, 0.0).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _tallest_near(ankle: np.ndarray, height: np.ndarray, line: float, tol: float) -> float:
    """Largest height among frames whose ankle is within `tol` of `line`. When no frame is (the
    median between two clusters of depths can lie in a gap), the frames nearest the line are used."""
    dist = np.abs(ankle - line)
    near = dist <= tol
    if not near.any():
        near = dist <= dist.min()
    return float(height[near].max())


def compute_stats(seq: PoseSequence) -> NormalizationStats:
    """Summarise one video for normalization; only frames with an ankle, a head and a positive
    height count. When the video has a single depth (max == far), both height windows shrink to
    the frames on that one floor line, so height_close == height_far and the scale is constant."""
    kp = seq.keypoints.astype(np.float64)
    ankle = lower_ankle_y(kp, seq.valid)
    mean_ankle = _mean_valid_y(kp, seq.valid, ANKLES)
    head = np.where(seq.valid[:, Joint.NOSE], kp[:, Joint.NOSE, 1], _mean_valid_y(kp, seq.valid, HEAD_FALLBACK))
    height = mean_ankle - head
    usable = np.isfinite(ankle) & np.isfinite(height) & (height > 0)
    if usable.sum() < MIN_STATS_FRAMES:
        raise DanceError(
            f"only {int(usable.sum())} of {len(seq)} frames show both ankles/feet and the head; "
            "normalization needs the whole body in view in at least a few frames"
        )
    ankle, height = ankle[usable], height[usable]

    a_max = float(ankle.max())
    a_med = float(np.median(ankle))
    gap = a_med - ankle
    candidates = ankle[(gap > 0) & (gap < FAR_WINDOW * (a_max - a_med))]
    a_far = float(candidates.min()) if candidates.size else a_med

    tol = HEIGHT_WINDOW * (a_max - a_far)
    return NormalizationStats(
        ankle_max=a_max,
        ankle_med=a_med,
        ankle_far=a_far,
        height_close=_tallest_near(ankle, height, a_max, tol),
        height_far=_tallest_near(ankle, height, a_far, tol),
        image_size=seq.image_size,
        num_frames=int(usable.sum()),
        standing=_standing(seq),
        front_share=front_share(seq),
        limbs=limb_lengths(seq),
    )


def _standing(seq: PoseSequence) -> list[list[float] | None]:
    """Per body joint, the median [x, y] over the frames that see it (None when seen in fewer
    than half of the frames with a person)."""
    present = seq.present
    body = BODY_SCHEMA.num_joints  # the holistic schema's hands stay out: upper-body mode takes them from the source
    valid = seq.valid[present][:, :body]
    points = seq.keypoints[present][:, :body].astype(np.float64)
    out: list[list[float] | None] = []
    for joint in range(body):
        seen = valid[:, joint]
        if seen.mean() < 0.5:
            out.append(None)
        else:
            x, y = np.median(points[seen, joint], axis=0)
            out.append([round(float(x), 2), round(float(y), 2)])
    return out


class PoseNormalizer:
    """Maps source frames one at a time (so the live engine can use it too). A frame without a
    visible ankle has no floor line of its own; it reuses the last good frame's mapping (the
    identity before any), so a dropped detection does not make the figure jump."""

    def __init__(self, source: NormalizationStats, target: NormalizationStats) -> None:
        if tuple(source.image_size) != tuple(target.image_size):
            raise DanceError(
                f"source poses are in a {source.image_size[0]}x{source.image_size[1]} frame but the target's in "
                f"{target.image_size[0]}x{target.image_size[1]}; map both to the same size before normalizing"
            )
        self.source = source
        self.target = target
        self._cx = source.image_size[0] / 2.0
        self._scale_close = target.height_close / source.height_close
        self._scale_far = target.height_far / source.height_far
        slack = max(target.ankle_max - target.ankle_far, MIN_FLOOR_SLACK * target.height_far)
        self.floor_band = (target.ankle_far - slack, target.ankle_max + slack)  # where normalized feet may be
        self.clamped = False  # the last frame's feet had to be moved back into the band
        self.reset()

    def reset(self) -> None:
        self._scale = 1.0
        self._offset = np.zeros(2)  # (x, y) added after scaling: p' = scale * p + offset

    def _update(self, a: float) -> None:
        s, t = self.source, self.target
        depth = s.ankle_max - s.ankle_far
        if abs(depth) > _EPS:
            p = (a - s.ankle_far) / depth
            b = t.ankle_far + p * (t.ankle_max - t.ankle_far) - a
        else:
            # A source filmed at a single depth has no range to interpolate over: use the far
            # scale and move its floor line onto the target's, keeping its vertical motion.
            p = 0.0
            b = t.ankle_far - s.ankle_far
        scale = self._scale_far + p * (self._scale_close - self._scale_far)
        self._scale = scale
        self._offset = np.array([(1.0 - scale) * self._cx, (1.0 - scale) * a + b])

    def __call__(self, frame: PoseFrame) -> PoseFrame:
        a = float(lower_ankle_y(frame.keypoints, frame.valid))
        if math.isfinite(a):
            self._update(a)
        moved = frame.keypoints.astype(np.float64) * self._scale + self._offset
        moved[~frame.valid] = np.nan
        self.clamped = False
        if math.isfinite(a):
            feet = self._scale * a + self._offset[1]
            inside = min(max(feet, self.floor_band[0]), self.floor_band[1])
            if inside != feet:
                moved[:, 1] += inside - feet
                self.clamped = True
        return frame.moved_to(moved)


def normalize_sequence(seq: PoseSequence, source: NormalizationStats, target: NormalizationStats) -> PoseSequence:
    """Normalize a whole source video, frame by frame with the same rules as the live path."""
    if tuple(seq.image_size) != tuple(source.image_size):
        raise DanceError(
            f"the poses are in a {seq.image_size[0]}x{seq.image_size[1]} frame but their stats were computed in "
            f"{source.image_size[0]}x{source.image_size[1]}; recompute the stats at this size"
        )
    normalizer = PoseNormalizer(source, target)
    frames = [normalizer(seq[t]) for t in range(len(seq))]
    return PoseSequence.from_frames(frames, seq.image_size, seq.fps, seq.schema)
