"""How the dancer moves: smooth joint trajectories turned into the 33 landmarks of each frame.

The body is a 2D articulated model seen from the front: the legs are solved by two-bone inverse
kinematics so the planted feet stay on the floor while the knees bend, the arms by forward
kinematics from smooth sums of sines. The person's left side is on the image's right, as for a
real person facing the camera.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shared.pose.schema import POSE_LANDMARK_NAMES
from shared.synthetic.background import HORIZON
from shared.synthetic.body import BodyStyle

DEPTH_SWING = 0.04  # relative size change as the dancer drifts towards and away from the camera

LANDMARK = {name: i for i, name in enumerate(POSE_LANDMARK_NAMES)}  # name -> index in the 33 points


# Face landmarks in head half-widths from the head centre, +x = the person's left, +y = down.
# The ear landmark sits inside the head outline (where MediaPipe puts it); the drawn ear sticks out.
_FACE_OFFSETS: dict[str, tuple[float, float]] = {
    "nose": (0.0, 0.22),
    "left_eye_inner": (0.18, -0.12), "left_eye": (0.36, -0.12), "left_eye_outer": (0.54, -0.12),
    "right_eye_inner": (-0.18, -0.12), "right_eye": (-0.36, -0.12), "right_eye_outer": (-0.54, -0.12),
    "left_ear": (0.7, 0.0), "right_ear": (-0.7, 0.0),
    "mouth_left": (0.26, 0.55), "mouth_right": (-0.26, 0.55),
}  # fmt: skip


@dataclass(frozen=True)
class Dance:
    """Smooth, periodic-looking joint trajectories; the seed only shifts the phases."""

    phases: np.ndarray  # (20,) radians, one per motion term

    @classmethod
    def from_seed(cls, seed: int) -> Dance:
        return cls(np.random.default_rng(seed).uniform(0.0, 2.0 * np.pi, 20))

    def wave(self, t: float, terms: tuple[tuple[float, float, int], ...]) -> float:
        """Sum of amplitude * sin(2 pi freq t + phase[k]) over (amplitude, freq, k)."""
        return float(sum(a * np.sin(2.0 * np.pi * f * t + self.phases[k]) for a, f, k in terms))


def rotate(v: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def _knee(hip: np.ndarray, ankle: np.ndarray, thigh: float, shin: float, side: float) -> tuple[np.ndarray, np.ndarray]:
    """Two-bone IK: the knee bends outwards (a plie); an unreachable ankle is pulled in."""
    d = ankle - hip
    dist = float(np.hypot(*d))
    reach = 0.999 * (thigh + shin)
    if dist > reach:
        ankle = hip + d * (reach / dist)
        dist = reach
    cos_a = (thigh**2 + dist**2 - shin**2) / (2.0 * thigh * dist)
    alpha = float(np.arccos(np.clip(cos_a, -1.0, 1.0)))
    # Rotating the downward hip->ankle direction by -side*alpha swings the knee to the outside.
    return hip + rotate(d / dist, -side * alpha) * thigh, ankle


@dataclass(frozen=True)
class Skeleton:
    """All 33 landmarks plus the few extra points the drawing needs, in pixels."""

    points: np.ndarray  # (33, 2)
    head_center: np.ndarray
    head_axes: tuple[float, float]  # half width, half height in pixels
    head_tilt: float  # radians
    scale: float  # pixels per body-height unit


def pose_at(body: BodyStyle, dance: Dance, t: float, size: tuple[int, int]) -> Skeleton:
    width, height = size
    depth = 1.0 + DEPTH_SWING * dance.wave(t, ((1.0, 0.11, 0),))
    u = body.height * height / body.standing_units * depth  # pixels per unit
    floor = (body.floor_y + (depth - 1.0) * (body.floor_y - HORIZON)) * height
    drift = dance.wave(t, ((0.05, 0.23, 1), (0.025, 0.61, 2)))  # side-to-side travel, units

    pts = np.zeros((33, 2))
    # Feet: stance width breathes, each foot lifts in turn for a step.
    half_stance = 0.5 * body.hip_width + 0.03 + dance.wave(t, ((0.03, 0.31, 3),))
    ankles = {}
    for name, side, k in (("left", 1.0, 4), ("right", -1.0, 5)):
        lift = max(0.0, np.sin(2 * np.pi * 0.9 * t + dance.phases[k] + (0 if side > 0 else np.pi))) ** 3
        step = 0.02 * np.sin(2 * np.pi * 0.45 * t + dance.phases[k])
        x = body.center_x * width + u * (drift + side * half_stance + step)
        y = floor - u * (body.ankle_height + 0.05 * lift)
        ankles[name] = np.array([x, y])

    # Pelvis: sways over the feet and drops as the knees bend, never further than the legs reach.
    sway = dance.wave(t, ((0.035, 0.9, 6), (0.01, 1.7, 7)))
    bend = 0.5 + 0.5 * np.sin(2 * np.pi * 0.9 * t + dance.phases[8])
    pelvis_tilt = 0.6 * sway
    lean = dance.wave(t, ((0.07, 0.45, 9),)) - 1.2 * sway
    pelvis_x = body.center_x * width + u * (drift + sway)
    leg = body.thigh + body.shin
    across = rotate(np.array([1.0, 0.0]), pelvis_tilt) * (0.5 * body.hip_width * u)
    hip_y = floor - u * (body.ankle_height + leg * (0.985 - 0.07 * bend))
    for name, side in (("left", 1.0), ("right", -1.0)):
        hip_dx = pelvis_x + side * across[0] - ankles[name][0]
        max_drop = np.sqrt(max((0.995 * leg * u) ** 2 - hip_dx**2, 0.0))
        hip_y = max(hip_y, ankles[name][1] - side * across[1] - max_drop)
    pelvis = np.array([pelvis_x, hip_y])

    for name, side in (("left", 1.0), ("right", -1.0)):
        hip = pelvis + side * across
        knee, ankle = _knee(hip, ankles[name], body.thigh * u, body.shin * u, side)
        pts[LANDMARK[f"{name}_hip"]], pts[LANDMARK[f"{name}_knee"]], pts[LANDMARK[f"{name}_ankle"]] = hip, knee, ankle
        # Feet turn out; toes are nearer the camera, so they sit lower in the image than the heel.
        pts[LANDMARK[f"{name}_heel"]] = ankle + u * np.array([-side * 0.02, 0.03])
        pts[LANDMARK[f"{name}_foot_index"]] = ankle + u * np.array([side * 0.45 * body.foot_length, 0.04])

    # Torso and head.
    up = rotate(np.array([0.0, -1.0]), lean)
    right = rotate(np.array([1.0, 0.0]), lean)
    neck = pelvis + up * (body.torso_length * u)
    for name, side in (("left", 1.0), ("right", -1.0)):
        pts[LANDMARK[f"{name}_shoulder"]] = neck + side * right * (0.5 * body.shoulder_width * u)
    tilt = lean + dance.wave(t, ((0.12, 0.5, 10),))
    head_axes = (body.head_radius * u, 1.2 * body.head_radius * u)
    head_center = neck + up * (body.neck_length * u) + rotate(np.array([0.0, -head_axes[1]]), tilt)
    for name, (fx, fy) in _FACE_OFFSETS.items():
        pts[LANDMARK[name]] = head_center + rotate(np.array([fx, fy]) * head_axes[0], tilt)

    # Arms: the upper arm swings out and up, the forearm bends further up (a wave).
    arm_terms = {"left": (11, 12, 13), "right": (14, 15, 16)}
    for name, side in (("left", 1.0), ("right", -1.0)):
        k1, k2, k3 = arm_terms[name]
        raise_ = 0.95 + dance.wave(t, ((0.65, 0.4, k1), (0.18, 1.3, k2)))
        elbow_bend = 0.7 + dance.wave(t, ((0.65, 0.55 + 0.1 * side, k3),))
        shoulder = pts[LANDMARK[f"{name}_shoulder"]]
        upper_dir = np.array([side * np.sin(raise_ + lean * side), np.cos(raise_ + lean * side)])
        elbow = shoulder + upper_dir * (body.upper_arm * u)
        fore_angle = raise_ + elbow_bend
        fore_dir = np.array([side * np.sin(fore_angle + lean * side), np.cos(fore_angle + lean * side)])
        wrist = elbow + fore_dir * (body.forearm * u)
        # Palm towards the camera: the thumb is on the outer side of the hand.
        outward = np.array([fore_dir[1] * side, -fore_dir[0] * side])
        hand = body.hand_length * u
        pts[LANDMARK[f"{name}_elbow"]], pts[LANDMARK[f"{name}_wrist"]] = elbow, wrist
        pts[LANDMARK[f"{name}_index"]] = wrist + hand * (0.7 * fore_dir + 0.2 * outward)
        pts[LANDMARK[f"{name}_pinky"]] = wrist + hand * (0.62 * fore_dir - 0.28 * outward)
        pts[LANDMARK[f"{name}_thumb"]] = wrist + hand * (0.4 * fore_dir + 0.42 * outward)

    return Skeleton(pts, head_center, head_axes, tilt, u)

