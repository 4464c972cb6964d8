"""How the dancer looks: the person drawn over its skeleton, with an exact person mask.

Every silhouette shape goes into the frame and the mask alike, with hard edges, so the mask is the
ground truth for segmentation; face and clothing details stay inside the silhouette.
"""

from __future__ import annotations

import cv2
import numpy as np

from shared.synthetic.body import BodyStyle, Color
from shared.synthetic.motion import LANDMARK, Skeleton, rotate

_SHIFT = 4  # cv2 fractional bits: joints are drawn at sub-pixel positions
_ONE = 1 << _SHIFT


def _fix(p: np.ndarray) -> tuple[int, int]:
    return int(round(p[0] * _ONE)), int(round(p[1] * _ONE))


class Painter:
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


def draw_person(painter: Painter, body: BodyStyle, sk: Skeleton) -> None:
    p, u = sk.points, sk.scale
    P = {name: p[i] for name, i in LANDMARK.items()}
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


def _stripes(painter: Painter, torso: list[np.ndarray], up: np.ndarray, period: float, color: Color) -> None:
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


def _draw_head(painter: Painter, body: BodyStyle, sk: Skeleton) -> None:
    p, c, (aw, ah), tilt = sk.points, sk.head_center, sk.head_axes, sk.head_tilt
    up = rotate(np.array([0.0, -1.0]), tilt)
    across = rotate(np.array([1.0, 0.0]), tilt)
    # Ears, face, then hair over the top of the skull.
    for side in (1.0, -1.0):  # the ear landmark sits inside the head outline, the ear sticks out
        painter.ellipse(c + across * side * 0.97 * aw, (0.16 * aw, 0.26 * aw), tilt, _shade(body.skin, 0.92))
    painter.ellipse(c, (aw, ah), tilt, body.skin)
    painter.ellipse(c + up * 0.4 * ah, (1.06 * aw, 0.68 * ah), tilt, body.hair, arc=(180.0, 360.0))
    # Eyes (white, iris), brows, nose, mouth.
    for side in ("left", "right"):
        eye = p[LANDMARK[f"{side}_eye"]]
        painter.ellipse(eye, (0.2 * aw, 0.11 * aw), tilt, (250, 250, 250), silhouette=False)
        painter.ellipse(eye, (0.09 * aw, 0.09 * aw), tilt, (40, 30, 25), silhouette=False)
        painter.line(p[LANDMARK[f"{side}_eye_inner"]] + up * 0.2 * aw, p[LANDMARK[f"{side}_eye_outer"]] + up * 0.24 * aw,
                     0.08 * aw, _shade(body.hair, 0.9))  # fmt: skip
    nose = p[LANDMARK["nose"]]
    painter.line(nose - up * 0.3 * aw, nose, 0.08 * aw, _shade(body.skin, 0.75))
    painter.ellipse(nose, (0.12 * aw, 0.07 * aw), tilt, _shade(body.skin, 0.8), silhouette=False)
    mouth_l, mouth_r = p[LANDMARK["mouth_left"]], p[LANDMARK["mouth_right"]]
    painter.ellipse(0.5 * (mouth_l + mouth_r), (0.26 * aw, 0.08 * aw), tilt, (170, 50, 60), silhouette=False)

