"""The synthetic dancer: a procedurally drawn person dancing, with exact ground truth.

Tests and the demo use it so nothing has to be downloaded. Every frame comes with the true 33
MediaPipe Pose landmarks in pixels, the exact person mask, and a static textured background
(`render_background`), so pose extraction, normalisation, background estimation and segmentation
can all be checked against known answers. The same arguments always give the same pixels.

The body is a 2D articulated model seen from the front: the legs are solved by two-bone inverse
kinematics so the planted feet stay on the floor while the knees bend, the arms by forward
kinematics from smooth sums of sines. The person's left side is on the image's right, as for a
real person facing the camera.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, overload

import cv2
import numpy as np

from shared.errors import DanceError
from shared.pose.keypoints import PoseSequence
from shared.pose.schema import BODY_SCHEMA, POSE_LANDMARK_NAMES
from shared.io.video import write_video

Color = tuple[int, int, int]

HORIZON = 0.5  # where the wall meets the floor, as a fraction of the frame height
DEPTH_SWING = 0.04  # relative size change as the dancer drifts towards and away from the camera
_SHIFT = 4  # cv2 fractional bits: joints are drawn at sub-pixel positions
_ONE = 1 << _SHIFT


@dataclass(frozen=True)
class BodyStyle:
    """Proportions and looks of one synthetic person.

    Lengths are fractions of the body height (rescaled by `standing_units`, so they need not sum
    to exactly 1); colours are RGB.
    """

    name: str
    height: float  # standing height (soles to top of head) as a fraction of the frame height
    center_x: float  # horizontal position of the pelvis as a fraction of the frame width
    floor_y: float  # y of the soles as a fraction of the frame height
    head_radius: float = 0.062  # half the head's width; the head is 1.2x taller than wide
    neck_length: float = 0.03
    torso_length: float = 0.29  # shoulder line to hip joints
    shoulder_width: float = 0.23
    hip_width: float = 0.14  # distance between the hip joints
    upper_arm: float = 0.17
    forearm: float = 0.15
    hand_length: float = 0.075
    thigh: float = 0.245
    shin: float = 0.235
    ankle_height: float = 0.055  # ankle above the sole
    foot_length: float = 0.12
    arm_width: float = 0.05  # upper arm thickness
    leg_width: float = 0.075  # thigh thickness at the hip
    skin: Color = (228, 178, 145)
    hair: Color = (60, 38, 24)
    shirt: Color = (200, 40, 45)
    shirt_stripe: Color = (245, 240, 230)
    trousers: Color = (40, 55, 105)
    shoes: Color = (25, 25, 28)

    @property
    def standing_units(self) -> float:
        """Soles to top of head, standing straight, in the units of the fields above."""
        legs = self.ankle_height + self.shin + self.thigh
        return legs + self.torso_length + self.neck_length + 2.4 * self.head_radius


TARGET_BODY = BodyStyle(name="target", height=0.78, center_x=0.5, floor_y=0.92)

SOURCE_BODY = BodyStyle(
    name="source",
    height=0.6,
    center_x=0.47,
    floor_y=0.8,
    head_radius=0.068,
    torso_length=0.31,
    shoulder_width=0.26,
    hip_width=0.17,
    upper_arm=0.16,
    forearm=0.14,
    thigh=0.22,
    shin=0.21,
    arm_width=0.06,
    leg_width=0.09,
    skin=(150, 98, 66),
    hair=(22, 18, 16),
    shirt=(30, 140, 90),
    shirt_stripe=(240, 200, 40),
    trousers=(38, 38, 46),
    shoes=(235, 235, 225),
)

BODIES: dict[str, BodyStyle] = {"target": TARGET_BODY, "source": SOURCE_BODY}

_J = {name: i for i, name in enumerate(POSE_LANDMARK_NAMES)}

# Face landmarks in head half-widths from the head centre, +x = the person's left, +y = down.
# The ear landmark sits inside the head outline (where MediaPipe puts it); the drawn ear sticks out.
_FACE_OFFSETS: dict[str, tuple[float, float]] = {
    "nose": (0.0, 0.22),
    "left_eye_inner": (0.18, -0.12), "left_eye": (0.36, -0.12), "left_eye_outer": (0.54, -0.12),
    "right_eye_inner": (-0.18, -0.12), "right_eye": (-0.36, -0.12), "right_eye_outer": (-0.54, -0.12),
    "left_ear": (0.7, 0.0), "right_ear": (-0.7, 0.0),
    "mouth_left": (0.26, 0.55), "mouth_right": (-0.26, 0.55),
}  # fmt: skip


# --------------------------------------------------------------------------------------------
# Motion
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Dance:
    """Smooth, periodic-looking joint trajectories; the seed only shifts the phases."""

    phases: np.ndarray  # (20,) radians, one per motion term

    @classmethod
    def from_seed(cls, seed: int) -> _Dance:
        return cls(np.random.default_rng(seed).uniform(0.0, 2.0 * np.pi, 20))

    def wave(self, t: float, terms: tuple[tuple[float, float, int], ...]) -> float:
        """Sum of amplitude * sin(2 pi freq t + phase[k]) over (amplitude, freq, k)."""
        return float(sum(a * np.sin(2.0 * np.pi * f * t + self.phases[k]) for a, f, k in terms))


def _rot(v: np.ndarray, angle: float) -> np.ndarray:
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
    return hip + _rot(d / dist, -side * alpha) * thigh, ankle


@dataclass(frozen=True)
class _Skeleton:
    """All 33 landmarks plus the few extra points the drawing needs, in pixels."""

    points: np.ndarray  # (33, 2)
    head_center: np.ndarray
    head_axes: tuple[float, float]  # half width, half height in pixels
    head_tilt: float  # radians
    scale: float  # pixels per body-height unit


def _pose_at(body: BodyStyle, dance: _Dance, t: float, size: tuple[int, int]) -> _Skeleton:
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
    across = _rot(np.array([1.0, 0.0]), pelvis_tilt) * (0.5 * body.hip_width * u)
    hip_y = floor - u * (body.ankle_height + leg * (0.985 - 0.07 * bend))
    for name, side in (("left", 1.0), ("right", -1.0)):
        hip_dx = pelvis_x + side * across[0] - ankles[name][0]
        max_drop = np.sqrt(max((0.995 * leg * u) ** 2 - hip_dx**2, 0.0))
        hip_y = max(hip_y, ankles[name][1] - side * across[1] - max_drop)
    pelvis = np.array([pelvis_x, hip_y])

    for name, side in (("left", 1.0), ("right", -1.0)):
        hip = pelvis + side * across
        knee, ankle = _knee(hip, ankles[name], body.thigh * u, body.shin * u, side)
        pts[_J[f"{name}_hip"]], pts[_J[f"{name}_knee"]], pts[_J[f"{name}_ankle"]] = hip, knee, ankle
        # Feet turn out; toes are nearer the camera, so they sit lower in the image than the heel.
        pts[_J[f"{name}_heel"]] = ankle + u * np.array([-side * 0.02, 0.03])
        pts[_J[f"{name}_foot_index"]] = ankle + u * np.array([side * 0.45 * body.foot_length, 0.04])

    # Torso and head.
    up = _rot(np.array([0.0, -1.0]), lean)
    right = _rot(np.array([1.0, 0.0]), lean)
    neck = pelvis + up * (body.torso_length * u)
    for name, side in (("left", 1.0), ("right", -1.0)):
        pts[_J[f"{name}_shoulder"]] = neck + side * right * (0.5 * body.shoulder_width * u)
    tilt = lean + dance.wave(t, ((0.12, 0.5, 10),))
    head_axes = (body.head_radius * u, 1.2 * body.head_radius * u)
    head_center = neck + up * (body.neck_length * u) + _rot(np.array([0.0, -head_axes[1]]), tilt)
    for name, (fx, fy) in _FACE_OFFSETS.items():
        pts[_J[name]] = head_center + _rot(np.array([fx, fy]) * head_axes[0], tilt)

    # Arms: the upper arm swings out and up, the forearm bends further up (a wave).
    arm_terms = {"left": (11, 12, 13), "right": (14, 15, 16)}
    for name, side in (("left", 1.0), ("right", -1.0)):
        k1, k2, k3 = arm_terms[name]
        raise_ = 0.95 + dance.wave(t, ((0.65, 0.4, k1), (0.18, 1.3, k2)))
        elbow_bend = 0.7 + dance.wave(t, ((0.65, 0.55 + 0.1 * side, k3),))
        shoulder = pts[_J[f"{name}_shoulder"]]
        upper_dir = np.array([side * np.sin(raise_ + lean * side), np.cos(raise_ + lean * side)])
        elbow = shoulder + upper_dir * (body.upper_arm * u)
        fore_angle = raise_ + elbow_bend
        fore_dir = np.array([side * np.sin(fore_angle + lean * side), np.cos(fore_angle + lean * side)])
        wrist = elbow + fore_dir * (body.forearm * u)
        # Palm towards the camera: the thumb is on the outer side of the hand.
        outward = np.array([fore_dir[1] * side, -fore_dir[0] * side])
        hand = body.hand_length * u
        pts[_J[f"{name}_elbow"]], pts[_J[f"{name}_wrist"]] = elbow, wrist
        pts[_J[f"{name}_index"]] = wrist + hand * (0.7 * fore_dir + 0.2 * outward)
        pts[_J[f"{name}_pinky"]] = wrist + hand * (0.62 * fore_dir - 0.28 * outward)
        pts[_J[f"{name}_thumb"]] = wrist + hand * (0.4 * fore_dir + 0.42 * outward)

    return _Skeleton(pts, head_center, head_axes, tilt, u)


# --------------------------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------------------------


def _fix(p: np.ndarray) -> tuple[int, int]:
    return int(round(p[0] * _ONE)), int(round(p[1] * _ONE))


class _Painter:
    """Draws each silhouette shape into the frame and the person mask alike, so the mask is exact.

    Shapes use hard edges (no anti-aliasing): every pixel is either person or untouched background.
    """

    def __init__(self, frame: np.ndarray) -> None:
        self.frame = frame
        self.mask = np.zeros(frame.shape[:2], np.uint8)

    def _both(self, draw, color: Color, silhouette: bool) -> None:  # noqa: ANN001 - a cv2 call
        draw(self.frame, color)
        if silhouette:
            draw(self.mask, 255)

    def capsule(
        self, a: np.ndarray, b: np.ndarray, ra: float, rb: float, color: Color, silhouette: bool = True
    ) -> None:
        """A limb: two discs joined by their tangent quad (a tapered, round-ended segment)."""
        d = b - a
        length = float(np.hypot(*d))
        n = np.array([-d[1], d[0]]) / length if length > 1e-6 else np.array([1.0, 0.0])
        quad = np.array([_fix(a + n * ra), _fix(b + n * rb), _fix(b - n * rb), _fix(a - n * ra)], np.int32)

        def draw(img: np.ndarray, c: Color | int) -> None:
            cv2.fillConvexPoly(img, quad, c, cv2.LINE_8, _SHIFT)
            cv2.circle(img, _fix(a), int(round(ra * _ONE)), c, -1, cv2.LINE_8, _SHIFT)
            cv2.circle(img, _fix(b), int(round(rb * _ONE)), c, -1, cv2.LINE_8, _SHIFT)

        self._both(draw, color, silhouette)

    def polygon(self, points: list[np.ndarray], color: Color, silhouette: bool = True) -> None:
        poly = np.array([_fix(p) for p in points], np.int32)
        self._both(lambda img, c: cv2.fillPoly(img, [poly], c, cv2.LINE_8, _SHIFT), color, silhouette)

    def ellipse(self, center: np.ndarray, axes: tuple[float, float], angle: float, color: Color,
                silhouette: bool = True, arc: tuple[float, float] = (0.0, 360.0)) -> None:  # fmt: skip
        ax = (int(round(axes[0] * _ONE)), int(round(axes[1] * _ONE)))
        deg = float(np.degrees(angle))
        self._both(
            lambda img, c: cv2.ellipse(img, _fix(center), ax, deg, arc[0], arc[1], c, -1, cv2.LINE_8, _SHIFT),
            color,
            silhouette,
        )

    def line(self, a: np.ndarray, b: np.ndarray, thickness: float, color: Color) -> None:
        """Interior detail (face, belt); `render_dance` clips the frame to the mask, so details
        can never widen the silhouette."""
        cv2.line(self.frame, _fix(a), _fix(b), color, max(1, int(round(thickness))), cv2.LINE_8, _SHIFT)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.hypot(*v)), 1e-6)


def _shade(color: Color, factor: float) -> Color:
    return tuple(int(np.clip(c * factor, 0, 255)) for c in color)  # type: ignore[return-value]


def _draw_person(painter: _Painter, body: BodyStyle, sk: _Skeleton) -> None:
    p, u = sk.points, sk.scale
    P = {name: p[i] for name, i in _J.items()}
    arm_r, leg_r = 0.5 * body.arm_width * u, 0.5 * body.leg_width * u

    # Legs (trousers) and shoes.
    for side in ("left", "right"):
        painter.capsule(P[f"{side}_hip"], P[f"{side}_knee"], leg_r, 0.8 * leg_r, body.trousers)
        painter.capsule(P[f"{side}_knee"], P[f"{side}_ankle"], 0.8 * leg_r, 0.6 * leg_r, body.trousers)
        shoe_r = 0.5 * leg_r
        top = P[f"{side}_ankle"] + np.array([0.0, 0.02 * u])  # the ankle bone shows above the shoe
        painter.capsule(top, P[f"{side}_heel"], 0.55 * leg_r, shoe_r, body.shoes)
        painter.capsule(P[f"{side}_heel"], P[f"{side}_foot_index"], shoe_r, 0.8 * shoe_r, body.shoes)
        painter.capsule(top, P[f"{side}_foot_index"], 0.55 * leg_r, 0.8 * shoe_r, body.shoes)

    # Hips / seat of the trousers, then the shirt down to a little above the hip joints.
    ls, rs, lh, rh = P["left_shoulder"], P["right_shoulder"], P["left_hip"], P["right_hip"]
    hip_out, sh_out = _unit(lh - rh), _unit(ls - rs)
    neck_mid = 0.5 * (ls + rs)
    up = _unit(neck_mid - 0.5 * (lh + rh))
    painter.polygon([rh - hip_out * leg_r, lh + hip_out * leg_r,
                     lh + hip_out * leg_r + (ls - lh) * 0.14, rh - hip_out * leg_r + (rs - rh) * 0.14],
                    body.trousers)  # fmt: skip
    # The seat hangs a little below the hip joints, where MediaPipe expects the crotch.
    seat = -up * 0.015 * u
    painter.capsule(rh + seat, lh + seat, 0.9 * leg_r, 0.9 * leg_r, body.trousers)
    waist_l = lh + hip_out * 0.9 * leg_r + (ls - lh) * 0.1
    waist_r = rh - hip_out * 0.9 * leg_r + (rs - rh) * 0.1
    torso = [rs - sh_out * 0.6 * arm_r, ls + sh_out * 0.6 * arm_r, waist_l, waist_r]
    painter.polygon(torso, body.shirt)
    painter.capsule(rs, ls, 0.9 * arm_r, 0.9 * arm_r, body.shirt)  # rounded shoulders
    _stripes(painter, torso, up, 0.045 * u, body.shirt_stripe)
    belt_a, belt_b = waist_r - up * 0.012 * u, waist_l - up * 0.012 * u
    painter.line(belt_a, belt_b, 0.02 * u, _shade(body.trousers, 0.5))

    # Neck and head.
    painter.capsule(neck_mid - up * 0.01 * u, sk.head_center, 0.035 * u, 0.035 * u, body.skin)
    _draw_head(painter, body, sk)

    # Arms: short sleeves, bare forearms, hands.
    for side in ("left", "right"):
        sh, el, wr = P[f"{side}_shoulder"], P[f"{side}_elbow"], P[f"{side}_wrist"]
        painter.capsule(sh, el, arm_r, 0.8 * arm_r, body.skin)
        painter.capsule(sh, sh + (el - sh) * 0.45, 1.1 * arm_r, 1.0 * arm_r, body.shirt)
        painter.capsule(el, wr, 0.8 * arm_r, 0.6 * arm_r, body.skin)
        hand = [wr, P[f"{side}_thumb"], P[f"{side}_index"], P[f"{side}_pinky"]]
        palm = np.mean(hand, axis=0)
        painter.capsule(wr, palm, 0.6 * arm_r, 0.8 * arm_r, body.skin)
        for tip in hand[1:]:
            painter.capsule(palm, tip + (tip - wr) * 0.35, 0.35 * arm_r, 0.25 * arm_r, body.skin)


def _stripes(painter: _Painter, torso: list[np.ndarray], up: np.ndarray, period: float, color: Color) -> None:
    """Horizontal shirt stripes that move with the torso (drawn inside it only)."""
    poly = np.array(torso)
    x0, y0 = np.floor(poly.min(axis=0)).astype(int)
    x1, y1 = np.ceil(poly.max(axis=0)).astype(int) + 1
    h, w = painter.frame.shape[:2]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x0 >= x1 or y0 >= y1 or period < 1.0:
        return
    inside = np.zeros((y1 - y0, x1 - x0), np.uint8)
    local = np.array([_fix(q - (x0, y0)) for q in torso], np.int32)
    cv2.fillPoly(inside, [local], 1, cv2.LINE_8, _SHIFT)
    yy, xx = np.mgrid[y0:y1, x0:x1]
    along = (xx - torso[0][0]) * up[0] + (yy - torso[0][1]) * up[1]  # distance up from the shoulders
    band = (np.floor(along / period) % 3 == 1) & (inside > 0)
    painter.frame[y0:y1, x0:x1][band] = color


def _draw_head(painter: _Painter, body: BodyStyle, sk: _Skeleton) -> None:
    p, c, (aw, ah), tilt = sk.points, sk.head_center, sk.head_axes, sk.head_tilt
    up = _rot(np.array([0.0, -1.0]), tilt)
    across = _rot(np.array([1.0, 0.0]), tilt)
    # Ears, face, then hair over the top of the skull.
    for side in (1.0, -1.0):  # the ear landmark sits inside the head outline, the ear sticks out
        painter.ellipse(c + across * side * 0.97 * aw, (0.16 * aw, 0.26 * aw), tilt, _shade(body.skin, 0.92))
    painter.ellipse(c, (aw, ah), tilt, body.skin)
    painter.ellipse(c + up * 0.4 * ah, (1.06 * aw, 0.68 * ah), tilt, body.hair, arc=(180.0, 360.0))
    # Eyes (white, iris), brows, nose, mouth.
    for side in ("left", "right"):
        eye = p[_J[f"{side}_eye"]]
        painter.ellipse(eye, (0.2 * aw, 0.11 * aw), tilt, (250, 250, 250), silhouette=False)
        painter.ellipse(eye, (0.09 * aw, 0.09 * aw), tilt, (40, 30, 25), silhouette=False)
        painter.line(p[_J[f"{side}_eye_inner"]] + up * 0.2 * aw, p[_J[f"{side}_eye_outer"]] + up * 0.24 * aw,
                     0.08 * aw, _shade(body.hair, 0.9))  # fmt: skip
    nose = p[_J["nose"]]
    painter.line(nose - up * 0.3 * aw, nose, 0.08 * aw, _shade(body.skin, 0.75))
    painter.ellipse(nose, (0.12 * aw, 0.07 * aw), tilt, _shade(body.skin, 0.8), silhouette=False)
    mouth_l, mouth_r = p[_J["mouth_left"]], p[_J["mouth_right"]]
    painter.ellipse(0.5 * (mouth_l + mouth_r), (0.26 * aw, 0.08 * aw), tilt, (170, 50, 60), silhouette=False)


# --------------------------------------------------------------------------------------------
# Background
# --------------------------------------------------------------------------------------------


def _smooth_noise(rng: np.random.Generator, cells: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """Low-frequency noise in [-1, 1] that scales with the frame (same look at any size)."""
    grid = rng.uniform(-1.0, 1.0, (cells[1], cells[0])).astype(np.float32)
    return cv2.resize(grid, size, interpolation=cv2.INTER_CUBIC)


def render_background(size: tuple[int, int], seed: int = 0) -> np.ndarray:
    """The static set the dancer performs in: a patterned wall and a plank floor, (H, W, 3) RGB.

    It is textured on purpose, so a background-plate estimate (a per-pixel median over frames)
    can be checked against it pixel by pixel; its colours stay away from skin tones.
    """
    width, height = size
    rng = np.random.default_rng(10_000 + seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    xs, ys = xx / height, yy / height  # pattern coordinates scale with the frame height
    horizon = HORIZON * height

    # Wall: pastel base, soft vertical stripes, a faint diamond lattice, blotchy paint.
    wall_base = np.array(rng.choice([(170, 190, 205), (190, 200, 180), (200, 190, 215)]), np.float32)
    stripes = np.where(np.floor(xs / 0.06) % 2 == 0, 10.0, -10.0)
    diamonds = 8.0 * np.cos(2 * np.pi * (xs + ys) / 0.045) * np.cos(2 * np.pi * (xs - ys) / 0.045)
    wall = wall_base + (stripes + diamonds + 10.0 * _smooth_noise(rng, (9, 7), size))[..., None]
    # Two framed pictures of coloured blocks, and a skirting board.
    half = 0.5 * width / height
    for slot in range(2):  # one picture in each half of the wall
        px = rng.uniform(slot * half + 0.03, max(slot * half + 0.04, (slot + 1) * half - 0.27))
        py = rng.uniform(0.06, 0.2)
        inside = (xs > px) & (xs < px + 0.22) & (ys > py) & (ys < py + 0.16)
        frame_edge = (xs > px - 0.015) & (xs < px + 0.235) & (ys > py - 0.015) & (ys < py + 0.175) & ~inside
        blocks = (np.floor((xs - px) / 0.055) + 2 * np.floor((ys - py) / 0.08)) % 3
        palette = np.array([(40, 70, 160), (230, 210, 60), (60, 150, 170)], np.float32)
        wall[inside] = palette[blocks[inside].astype(int)]
        wall[frame_edge] = (70, 60, 55)
    skirting = (yy > horizon - 0.03 * height) & (yy <= horizon)
    wall[skirting] = (235, 235, 230)

    # Floor: planks converging on a vanishing point above the horizon, with grain and seams.
    depth = np.maximum(yy - horizon + 0.35 * height, 1.0) / height
    lateral = (xx - 0.5 * width) / height / depth
    plank = np.floor(lateral / 0.12)
    plank_shade = 18.0 * np.sin(plank * 2.39 + seed)  # deterministic per-plank tone
    seam = np.abs(lateral / 0.12 - np.round(lateral / 0.12)) * depth < 0.012
    grain = 6.0 * np.sin(2 * np.pi * 5.0 * lateral / 0.12 + 1.7 * plank)  # lines along each plank
    floor_texture = plank_shade + grain + 8.0 * _smooth_noise(rng, (11, 5), size)
    floor = np.array((128, 120, 112), np.float32) + floor_texture[..., None]  # grey-washed wood
    floor[seam] = (80, 74, 70)

    image = np.where((yy > horizon)[..., None], floor, wall)
    return np.clip(image, 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def _check_args(num_frames: int, size: tuple[int, int], fps: float) -> tuple[int, int]:
    width, height = int(size[0]), int(size[1])
    if width < 32 or height < 32:
        raise DanceError(f"synthetic dancer size {width}x{height} is too small: use at least 32x32 pixels")
    if num_frames < 0:
        raise DanceError(f"cannot render {num_frames} frames of the synthetic dancer: ask for 0 or more")
    if not fps > 0:
        raise DanceError(f"synthetic dancer fps must be positive, got {fps}")
    return width, height


def _skeletons(body: BodyStyle, num_frames: int, size: tuple[int, int], fps: float, seed: int) -> list[_Skeleton]:
    dance = _Dance.from_seed(seed)
    return [_pose_at(body, dance, i / fps, size) for i in range(num_frames)]


def _ground_truth(skeletons: list[_Skeleton], size: tuple[int, int], fps: float) -> PoseSequence:
    """Every landmark is known exactly; those that left the frame are marked invalid."""
    k = len(POSE_LANDMARK_NAMES)
    points = np.zeros((len(skeletons), k, 2), np.float32)
    for i, skeleton in enumerate(skeletons):
        points[i] = skeleton.points
    x, y = points[..., 0], points[..., 1]
    inside = (x >= 0) & (x < size[0]) & (y >= 0) & (y < size[1])
    return PoseSequence(points, inside.astype(np.float32), inside, size, fps, BODY_SCHEMA.tag)


def dance_poses(
    body: BodyStyle, num_frames: int, size: tuple[int, int] = (256, 256), fps: float = 30.0, seed: int = 0
) -> PoseSequence:
    """The ground truth of `render_dance` with the same arguments, without drawing any pixels."""
    size = _check_args(num_frames, size, fps)
    return _ground_truth(_skeletons(body, num_frames, size, fps, seed), size, fps)


@overload
def render_dance(body: BodyStyle, num_frames: int, size: tuple[int, int] = ..., fps: float = ..., seed: int = ...,
                 with_masks: Literal[False] = ...) -> tuple[np.ndarray, PoseSequence]: ...  # fmt: skip
@overload
def render_dance(body: BodyStyle, num_frames: int, size: tuple[int, int] = ..., fps: float = ..., seed: int = ...,
                 *, with_masks: Literal[True]) -> tuple[np.ndarray, PoseSequence, np.ndarray]: ...  # fmt: skip


def render_dance(
    body: BodyStyle,
    num_frames: int,
    size: tuple[int, int] = (256, 256),
    fps: float = 30.0,
    seed: int = 0,
    with_masks: bool = False,
) -> tuple[np.ndarray, PoseSequence] | tuple[np.ndarray, PoseSequence, np.ndarray]:
    """Render `num_frames` of the dance: frames (T, H, W, 3) uint8 RGB and their exact poses.

    Every landmark inside the frame is valid with confidence 1; landmarks outside it are invalid.
    With `with_masks=True` a third array (T, H, W) bool holds the exact person mask; outside it,
    each frame equals `render_background(size, seed)` pixel for pixel.
    """
    width, height = _check_args(num_frames, size, fps)
    background = render_background((width, height), seed)
    skeletons = _skeletons(body, num_frames, (width, height), fps, seed)
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    masks = np.empty((num_frames, height, width), bool)
    for i, skeleton in enumerate(skeletons):
        painter = _Painter(background.copy())
        _draw_person(painter, body, skeleton)
        masks[i] = painter.mask > 0
        # Clip to the silhouette so face and clothing details can never leak onto the background.
        np.copyto(frames[i], np.where(masks[i][..., None], painter.frame, background))
    poses = _ground_truth(skeletons, (width, height), fps)
    if with_masks:
        return frames, poses, masks
    return frames, poses


def write_dance_video(
    path: str | Path,
    body: BodyStyle,
    num_frames: int,
    size: tuple[int, int] = (256, 256),
    fps: float = 30.0,
    seed: int = 0,
) -> PoseSequence:
    """Write the dance as an H.264 mp4 and return its ground-truth poses.

    The video is lossy, so its pixels differ slightly from `render_dance`'s; the poses do not.
    """
    frames, poses = render_dance(body, num_frames, size, fps, seed)
    write_video(path, frames, fps)
    return poses
