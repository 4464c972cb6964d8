"""Poses to draw the parity and int8 labels from when the run's dataset is gone: the target's own.

The target's normalization statistics travel with every checkpoint, and they keep its median
standing pose (`NormalizationStats.standing`), so an export needs neither the training data nor
the synthetic dancer (a test and demo data generator, outside the product). Statistics made before
the standing pose was kept get a plain figure of average proportions, standing on the target's
floor line at its height. Either way the arms swing about the shoulders over a sequence, so the
int8 calibration sees more than one label.
"""

from __future__ import annotations

import math

import numpy as np

from shared.normalize.stats import NormalizationStats
from shared.pose.keypoints import PoseFrame
from shared.pose.schema import Joint, SkeletonSchema, get_schema
from shared.runtime.trained import TrainedModel

SWING = 0.6  # radians: the arms' widest swing about the shoulders over a sequence
# A plain figure, for the person's left side (image right): (x from the centre line, height above
# the ankles), as fractions of the head-to-ankle height; the right side mirrors it.
FIGURE: dict[Joint, tuple[float, float]] = {
    Joint.NOSE: (0.0, 0.93), Joint.LEFT_EYE_INNER: (0.012, 0.95), Joint.LEFT_EYE: (0.022, 0.95),
    Joint.LEFT_EYE_OUTER: (0.032, 0.95), Joint.LEFT_EAR: (0.048, 0.94), Joint.MOUTH_LEFT: (0.016, 0.905),
    Joint.LEFT_SHOULDER: (0.115, 0.82), Joint.LEFT_ELBOW: (0.14, 0.64), Joint.LEFT_WRIST: (0.15, 0.48),
    Joint.LEFT_PINKY: (0.155, 0.44), Joint.LEFT_INDEX: (0.15, 0.43), Joint.LEFT_THUMB: (0.14, 0.45),
    Joint.LEFT_HIP: (0.07, 0.52), Joint.LEFT_KNEE: (0.075, 0.27), Joint.LEFT_ANKLE: (0.075, 0.0),
    Joint.LEFT_HEEL: (0.07, -0.03), Joint.LEFT_FOOT_INDEX: (0.1, -0.05),
}  # fmt: skip
ARMS = {  # shoulder -> the joints that swing about it
    side: (Joint[f"{side}_ELBOW"], Joint[f"{side}_WRIST"], Joint[f"{side}_PINKY"], Joint[f"{side}_INDEX"], Joint[f"{side}_THUMB"])
    for side in ("LEFT", "RIGHT")
}


def _figure(stats: NormalizationStats, schema: SkeletonSchema) -> PoseFrame:
    """FIGURE on the target's median floor line, as tall as the target between its far and near lines."""
    pose = PoseFrame.missing(schema)
    height = (stats.height_far + stats.height_close) / 2
    centre = stats.image_size[0] / 2
    for joint, (x, up) in FIGURE.items():
        for which, sign in ((joint, 1.0), (joint.mirrored, -1.0)):
            pose.keypoints[which] = (centre + sign * x * height, stats.ankle_med - up * height)
            pose.valid[which], pose.confidence[which] = True, 1.0
    return pose


def _swung(pose: PoseFrame, angle: float) -> PoseFrame:
    """`pose` with the left arm turned by `angle` about its shoulder and the right arm by -angle."""
    points = pose.keypoints.copy()
    for side, sign in (("LEFT", 1.0), ("RIGHT", -1.0)):
        shoulder = Joint[f"{side}_SHOULDER"]
        if not pose.valid[shoulder]:
            continue
        c, s = math.cos(sign * angle), math.sin(sign * angle)
        turn = np.array([[c, -s], [s, c]], np.float32)
        for joint in ARMS[side]:
            if pose.valid[joint]:
                points[joint] = turn @ (points[joint] - points[shoulder]) + points[shoulder]
    return pose.moved_to(points)


def stand_in_poses(model: TrainedModel, count: int) -> list[PoseFrame]:
    """`count` poses of the target at the model's size: standing, the arms swinging once to and fro."""
    schema = get_schema(model.schema_tag)
    stats = model.norm_stats
    pose = stats.standing_pose(schema) or _figure(stats, schema)
    scale = np.asarray(model.config.image_size, np.float32) / np.asarray(stats.image_size, np.float32)
    pose = pose.moved_to(pose.keypoints * scale)
    return [_swung(pose, SWING * math.sin(2 * math.pi * t / count)) for t in range(count)]
