"""Upper-body normalization: a source that shows only head, shoulders and arms (a laptop webcam).

Global normalization (shared/normalize/stats.py) scales and places the source by its ankles, which a
desk camera never sees. Here the scale comes from shoulder width and head size instead, the
source's shoulders are placed on the target's own (median) shoulders, and the hips and legs are
the target's own standing pose, so the target stands on its floor and moves its arms and head.

Everything is in the label frame's pixels, like shared/normalize/stats.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shared.errors import DanceError
from shared.pose.keypoints import PoseFrame, PoseSequence
from shared.pose.schema import ANKLES, LOWER_BODY, Joint

MAX_LEG_SHARE = 0.2  # upper-body mode when an ankle is seen in fewer of the frames with shoulders
MIN_FRAMES = 2  # frames with both shoulders and the nose needed to describe a source


@dataclass(frozen=True)
class UpperBodyStats:
    """A source's (or target's) shoulder width, head size and shoulder place, medians in px."""

    shoulder_width: float
    head_size: float  # nose to mid-shoulder
    shoulder_centre: tuple[float, float]  # (x, y) of the mid-shoulder
    num_frames: int


def _measures(keypoints: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per frame: usable (both shoulders and nose), shoulder width, head size, mid-shoulder."""
    usable = valid[:, Joint.LEFT_SHOULDER] & valid[:, Joint.RIGHT_SHOULDER] & valid[:, Joint.NOSE]
    left, right = keypoints[:, Joint.LEFT_SHOULDER].astype(np.float64), keypoints[:, Joint.RIGHT_SHOULDER].astype(np.float64)
    centre = (left + right) / 2
    width = np.linalg.norm(left - right, axis=-1)
    head = np.linalg.norm(keypoints[:, Joint.NOSE].astype(np.float64) - centre, axis=-1)
    return usable, width, head, centre


def legs_missing(seq: PoseSequence) -> bool:
    """True when the source's legs are (almost) never seen while its shoulders are: upper-body mode."""
    usable = _measures(seq.keypoints, seq.valid)[0]
    if not usable.any():
        return False
    with_legs = seq.valid[usable][:, ANKLES].any(axis=1)
    return float(with_legs.mean()) < MAX_LEG_SHARE


def upper_body_stats(seq: PoseSequence) -> UpperBodyStats:
    """Medians over the frames that show both shoulders and the nose."""
    usable, width, head, centre = _measures(seq.keypoints, seq.valid)
    usable &= (width > 0) & (head > 0)
    if usable.sum() < MIN_FRAMES:
        raise DanceError(
            f"only {int(usable.sum())} of {len(seq)} frames show both shoulders and the face; "
            "upper-body calibration needs the head and shoulders in view"
        )
    median_centre = np.median(centre[usable], axis=0)
    return UpperBodyStats(
        shoulder_width=float(np.median(width[usable])),
        head_size=float(np.median(head[usable])),
        shoulder_centre=(float(median_centre[0]), float(median_centre[1])),
        num_frames=int(usable.sum()),
    )


def standing_pose(seq: PoseSequence) -> PoseFrame:
    """The target's median pose: per joint, the median over the frames that see it (a joint seen in
    fewer than half of the frames with a person stays invalid)."""
    present = seq.present
    if not present.any():
        raise DanceError("no person in the target's poses: cannot take its standing pose")
    valid = seq.valid[present]
    points = np.where(valid[..., None], seq.keypoints[present], np.nan)
    seen = valid.mean(axis=0) >= 0.5
    with np.errstate(all="ignore"):
        median = np.nanmedian(np.where(seen[None, :, None], points, 0.0), axis=0)
    median[~seen] = np.nan
    confidence = np.where(seen, 1.0, 0.0).astype(np.float32)
    return PoseFrame(median.astype(np.float32), confidence, seen, seq.schema_tag)


class UpperBodyNormalizer:
    """Source upper body scaled by shoulder width and head size onto the target's own shoulders;
    hips and legs held at the target's standing pose."""

    def __init__(self, source: UpperBodyStats, target_pose: PoseFrame) -> None:
        self.target = upper_body_stats(PoseSequence.from_frames([target_pose] * MIN_FRAMES, (1, 1), 30.0, target_pose.schema))
        self.legs = np.asarray(LOWER_BODY)
        self.target_pose = target_pose
        self.fit(source)

    def fit(self, source: UpperBodyStats) -> None:
        """Map from these source stats on (the adaptive normalizer refits as its estimate moves)."""
        target = self.target
        # geometric mean of the two ratios: shoulders turn, heads nod; neither alone is steady
        self.scale = float(np.sqrt(target.shoulder_width / source.shoulder_width * target.head_size / source.head_size))
        self.offset = np.asarray(target.shoulder_centre) - self.scale * np.asarray(source.shoulder_centre)

    def __call__(self, frame: PoseFrame) -> PoseFrame:
        if not frame.present:
            return frame
        moved = frame.keypoints.astype(np.float64) * self.scale + self.offset
        valid = frame.valid.copy()
        confidence = frame.confidence.copy()
        moved[self.legs] = self.target_pose.keypoints[self.legs]
        valid[self.legs] = self.target_pose.valid[self.legs]
        confidence[self.legs] = self.target_pose.confidence[self.legs]
        moved[~valid] = np.nan
        return PoseFrame(moved.astype(np.float32), confidence, valid, frame.schema_tag, frame.depth)
