"""The pose distance that judges transfer: the body joints the detector found on a frame, aligned onto
the pose that drove it by a least-squares similarity (Umeyama: scale, rotation, shift), mean distance
over the joints seen in both, in the driving pose's torso heights (so the number means the same for
any video size and framing). A fixed shuffled pairing of the frames gives the floor that a model
ignoring its input reaches.

The detector often cannot tell a person's front from their back (the Pose2Sim footage blurs every
face), and then reads left and right swapped: each distance is the smaller of the direct one and
the one with left and right exchanged, for the model's score and its shuffled floor alike, and the
share of frames read mirrored is reported beside them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from shared.label.geometry import umeyama
from shared.pose.keypoints import PoseFrame, torso_size
from shared.pose.schema import MAIN_JOINTS
from trainer.metrics import format_cell, text_table

BODY_JOINTS = np.array(MAIN_JOINTS)  # what poses are compared by
MIN_JOINTS = 4  # fewer body joints seen in both poses: the frame counts as not found
# A detection whose centre lies farther than this (in driving torso heights) from the driving pose's
# is somebody else, e.g. a bystander standing in the background plate: it counts as not found.
# Real held-out frames of the Pose2Sim target sit at 0.0-0.1; its plate's bystander at 2.4-2.5.
MAX_CENTRE_OFFSET = 1.0

# --- the distance ---------------------------------------------------------------------------------


def torso_height(pose: PoseFrame) -> float | None:
    """Mid-shoulder to mid-hip distance, or None when a shoulder or hip was not seen."""
    return torso_size(pose.keypoints, pose.valid)


def common_joints(detected: PoseFrame, driving: PoseFrame) -> np.ndarray:
    """Indices of the body joints valid in both poses."""
    return BODY_JOINTS[detected.valid[BODY_JOINTS] & driving.valid[BODY_JOINTS]]


def facing_distance(detected: PoseFrame, driving: PoseFrame) -> tuple[float | None, bool]:
    """The pose distance with either reading of left and right, and whether the swapped one won."""
    direct, swapped = pose_distance(detected, driving), pose_distance(detected.sides_swapped(), driving)
    if direct is None or swapped is None:
        return direct, False
    return (swapped, True) if swapped < direct else (direct, False)


def pose_distance(detected: PoseFrame, driving: PoseFrame) -> float | None:
    """Mean L2 over the common body joints after aligning `detected` onto `driving`, in driving
    torso heights; None when fewer than MIN_JOINTS are common or the driving torso is not seen."""
    joints = common_joints(detected, driving)
    torso = torso_height(driving)
    if len(joints) < MIN_JOINTS or torso is None:
        return None
    src = detected.keypoints[joints].astype(np.float64)
    dst = driving.keypoints[joints].astype(np.float64)
    fit = umeyama(src, dst)
    if fit is None:
        return None
    return float(np.linalg.norm(fit.apply(src) - dst, axis=1).mean() / torso)


def centre_offset(detected: PoseFrame, driving: PoseFrame) -> float | None:
    """How far the found body's centre is from the driving one, before alignment, in driving torso
    heights: large when the detector found someone else (e.g. a bystander in the background plate)."""
    joints = common_joints(detected, driving)
    torso = torso_height(driving)
    if len(joints) < MIN_JOINTS or torso is None:
        return None
    shift = detected.keypoints[joints].astype(np.float64).mean(axis=0) - driving.keypoints[joints].astype(np.float64).mean(axis=0)
    return float(np.linalg.norm(shift) / torso)


def shuffled_partners(n: int) -> np.ndarray:
    """A fixed derangement: item k is paired with (k + n // 2) mod n; empty when n < 2 (none exists)."""
    if n < 2:
        return np.zeros(0, int)
    return (np.arange(n) + n // 2) % n


@dataclass
class PoseScore:
    """Found rate, pose distance and its shuffled floor over one clip."""

    found_rate: float | None  # output frames with a person, among frames whose driving pose has one
    pose_distance: float | None  # mean over frames with a distance, in driving torso heights
    shuffled_distance: float | None
    frames: int  # frames whose driving pose has a person
    per_frame: list[dict] = field(default_factory=list)
    mirrored_rate: float | None = None  # scored frames the detector read with left and right swapped

    @property
    def median_distance(self) -> float | None:
        """The median frame's pose distance: beside the mean (the measure), it shows whether a few
        misread frames carry the mean."""
        distances = [f["distance"] for f in self.per_frame if f["distance"] is not None]
        return float(np.median(distances)) if distances else None

    @property
    def ratio(self) -> float | None:
        if self.pose_distance is None or not self.shuffled_distance:
            return None
        return self.pose_distance / self.shuffled_distance

    def as_dict(self) -> dict:
        return {
            "found_rate": self.found_rate, "pose_distance": self.pose_distance, "shuffled_distance": self.shuffled_distance,
            "ratio": self.ratio, "median_distance": self.median_distance, "frames": self.frames,
            "mirrored_rate": self.mirrored_rate, "per_frame": self.per_frame,
        }


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def score_poses(detected: Sequence[PoseFrame], driving: Sequence[PoseFrame], frame_ids: Sequence[int] | None = None) -> PoseScore:
    """Score detected poses against the poses that drove them, frame by frame."""
    if len(detected) != len(driving):
        raise ValueError(f"{len(detected)} detected poses for {len(driving)} driving poses")
    frame_ids = list(range(len(driving))) if frame_ids is None else list(frame_ids)
    per_frame, scored, distances, swaps = [], [], [], []
    eligible = found = 0
    for t, (seen, drove) in enumerate(zip(detected, driving)):
        distance, swapped = None, False
        offset = centre_offset(seen, drove) if drove.present else None
        is_found = offset is not None and offset <= MAX_CENTRE_OFFSET
        if drove.present:
            eligible += 1
            found += is_found
            if is_found:
                distance, swapped = facing_distance(seen, drove)
        if distance is not None:
            scored.append(t)
            distances.append(distance)
            swaps.append(swapped)
        per_frame.append({"frame": int(frame_ids[t]), "source_found": drove.present, "found": bool(is_found),
                          "distance": distance, "offset": offset, "mirrored": swapped})
    partners = shuffled_partners(len(scored))
    shuffled = [facing_distance(detected[scored[k]], driving[scored[j]])[0] for k, j in enumerate(partners)]
    return PoseScore(
        found_rate=found / eligible if eligible else None,
        pose_distance=_mean(distances),
        shuffled_distance=_mean([d for d in shuffled if d is not None]),
        frames=eligible,
        per_frame=per_frame,
        mirrored_rate=_mean([float(s) for s in swaps]),
    )


def _share(part: float | None, whole: float | None) -> float | None:
    return None if part is None or not whole else part / whole


def format_pose_table(rows: dict[str, PoseScore], ceiling: PoseScore | None = None) -> str:
    """Found %, pose error and its shuffled floor per row, beside the `ceiling` (the same judge on
    real target frames, its own first row): found as a share of the ceiling's, the mean error and the
    median frame's, the mean over the floor and over the ceiling's error; "-" where a number is missing."""
    header = ["pose (each frame on its own)", "found %", "of real", "pose err", "median", "floor", "err/floor", "err/real",
              "mirrored %", "frames"]
    percent = lambda share: format_cell(None if share is None else 100 * share, ".1f")  # noqa: E731
    real_found = ceiling.found_rate if ceiling else None
    real_error = ceiling.pose_distance if ceiling else None
    named = ({"real target frames (ceiling)": ceiling} if ceiling else {}) | rows
    body = [
        [name, percent(s.found_rate), percent(_share(s.found_rate, real_found)), format_cell(s.pose_distance, ".3f"),
         format_cell(s.median_distance, ".3f"),
         format_cell(s.shuffled_distance, ".3f"), format_cell(s.ratio, ".2f"), format_cell(_share(s.pose_distance, real_error), ".1f"),
         percent(s.mirrored_rate), str(s.frames)]
        for name, s in named.items()
    ]
    return text_table(header, body)
