"""Draw a pose as the paper's coloured stick figure, and lay images out for a person to inspect.

The label is what the generator sees, so it must be a pure function of the pose: same pose and
size, same bytes. Everything is drawn with OpenCV into an RGB array (colours are RGB tuples, so no
BGR conversion is needed) at sub-pixel precision (`shift`), without anti-aliasing, so limb colours
stay exact and nearest-neighbour resizing keeps them.

Sizes follow the authors' 1920x1080 renders (limb half-width 4 px, joints radius 8 px, hand dots
radius 3 px, hand bones 2 px wide) scaled by min(width, height) / 1080, so portrait and landscape
frames of the same person get the same strokes; minimums keep 256x256 labels legible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from shared.pose import PoseFrame
from shared.skeleton import Color, SkeletonSchema

REFERENCE_SIDE = 1080  # the authors' label resolution (1920x1080), whose short side sets the scale
LIMB_ALPHA = 0.6  # a limb crossing an earlier limb shows both (OpenPose's 0.6 / 0.4 blend)
FACE_COLOR: Color = (64, 64, 64)  # dark, yet still visible on the default black background
HAND_FALLBACK_COLOR: Color = (200, 200, 200)
_ELLIPSE_STEPS = 36  # polygon vertices per limb ellipse
_ELLIPSE_ANGLES = np.linspace(0.0, 2.0 * np.pi, _ELLIPSE_STEPS, endpoint=False)
_ELLIPSE_COS, _ELLIPSE_SIN = np.cos(_ELLIPSE_ANGLES), np.sin(_ELLIPSE_ANGLES)  # computed once: labels are drawn live
_SHIFT = 4  # fractional bits for OpenCV's sub-pixel drawing
_ONE = 1 << _SHIFT


@dataclass(frozen=True)
class StrokeSizes:
    """Pixel sizes of each drawn element for one image size."""

    limb_half_width: float
    joint_radius: float
    face_radius: float
    hand_radius: float
    hand_bone_width: int

    @classmethod
    def for_size(cls, size: tuple[int, int]) -> StrokeSizes:
        s = min(size) / REFERENCE_SIDE
        return cls(
            limb_half_width=max(4.0 * s, 2.0),
            joint_radius=max(8.0 * s, 3.0),
            face_radius=max(4.0 * s, 1.0),
            hand_radius=max(3.0 * s, 1.0),
            hand_bone_width=max(round(2.0 * s), 1),
        )


def _hand_palette(n: int) -> list[Color]:
    """n evenly spaced saturated hues: one colour per hand bone, like the authors' hand palette."""
    hues = np.linspace(0, 180, n, endpoint=False).astype(np.uint8)  # OpenCV hue range is 0..179
    hsv = np.stack([hues, np.full(n, 220, np.uint8), np.full(n, 255, np.uint8)], axis=1)[None]
    rgb = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0]
    return [tuple(int(c) for c in px) for px in rgb]  # type: ignore[misc]


HAND_PALETTE: tuple[Color, ...] = tuple(_hand_palette(21))


def joint_colors(schema: SkeletonSchema) -> dict[int, Color]:
    """Colour of each body joint: the first limb ending at that joint alone (so the shoulders are
    not both painted the neck's colour, whose start is their mean), else the first limb using it."""
    colors: dict[int, Color] = {}
    for limb in schema.limbs:
        for end in (limb.start, limb.end):
            if len(end) == 1:
                colors.setdefault(end[0], limb.color)
    for limb in schema.limbs:
        for joint in limb.start + limb.end:
            colors.setdefault(joint, limb.color)
    return colors


def hand_point_colors(schema: SkeletonSchema) -> dict[int, Color]:
    """Colour of each hand point: the colour of the first hand bone touching it."""
    colors: dict[int, Color] = {}
    for i, (a, b) in enumerate(schema.hand_bones):
        color = HAND_PALETTE[i % len(HAND_PALETTE)]
        colors.setdefault(a, color)
        colors.setdefault(b, color)
    return colors


def _fixed(point: np.ndarray) -> tuple[int, int]:
    """A pixel position in OpenCV's fixed-point format (pixel centres at integer coordinates)."""
    return int(round(float(point[0]) * _ONE)), int(round(float(point[1]) * _ONE))


def _usable_points(pose: PoseFrame, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints clamped to a generous margin around the image (so far-off points cannot overflow
    OpenCV's int32 coordinates) and the mask of points that can be drawn."""
    w, h = size
    margin = 4 * max(w, h)
    points = np.asarray(pose.keypoints, np.float64)
    ok = np.asarray(pose.valid, bool) & np.isfinite(points).all(axis=1)
    clamped = np.where(ok[:, None], points, 0.0)
    clamped[:, 0] = np.clip(clamped[:, 0], -margin, w + margin)
    clamped[:, 1] = np.clip(clamped[:, 1], -margin, h + margin)
    return clamped, ok


def _ellipse_polygon(a: np.ndarray, b: np.ndarray, half_width: float) -> np.ndarray:
    """Vertices of the ellipse whose long axis runs from a to b (a disc when a == b)."""
    centre = (a + b) / 2.0
    along = b - a
    length = float(np.hypot(along[0], along[1]))
    u = along / length if length > 1e-6 else np.array([1.0, 0.0])
    v = np.array([-u[1], u[0]])
    half_length = max(length / 2.0, half_width)
    return centre + np.outer(_ELLIPSE_COS * half_length, u) + np.outer(_ELLIPSE_SIN * half_width, v)


def _blend_limb(canvas: np.ndarray, painted: np.ndarray, polygon: np.ndarray, color: Color) -> None:
    """Fill the polygon: full colour over the background, LIMB_ALPHA-blended over earlier limbs."""
    h, w = painted.shape
    x0 = max(int(np.floor(polygon[:, 0].min())), 0)
    y0 = max(int(np.floor(polygon[:, 1].min())), 0)
    x1 = min(int(np.ceil(polygon[:, 0].max())) + 1, w)
    y1 = min(int(np.ceil(polygon[:, 1].max())) + 1, h)
    if x0 >= x1 or y0 >= y1:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    local = np.round((polygon - (x0, y0)) * _ONE).astype(np.int32)
    cv2.fillConvexPoly(mask, local, 1, cv2.LINE_8, _SHIFT)
    inside = mask.astype(bool)
    roi, done = canvas[y0:y1, x0:x1], painted[y0:y1, x0:x1]
    col = np.asarray(color, np.float32)
    over = inside & done
    roi[over] = np.round(LIMB_ALPHA * col + (1.0 - LIMB_ALPHA) * roi[over]).astype(np.uint8)
    roi[inside & ~done] = np.asarray(color, np.uint8)
    done |= inside


def render_label(pose: PoseFrame, size: tuple[int, int], background: Color = (0, 0, 0)) -> np.ndarray:
    """The pose as an HxWx3 uint8 RGB stick figure; size is (width, height) and the pose's pixels
    are already in that frame. Invalid joints (and the limbs that need them) are left out."""
    w, h = int(size[0]), int(size[1])
    schema = pose.schema
    sizes = StrokeSizes.for_size((w, h))
    canvas = np.empty((h, w, 3), np.uint8)
    canvas[:] = np.asarray(background, np.uint8)
    points, ok = _usable_points(pose, (w, h))

    painted = np.zeros((h, w), bool)
    for limb in schema.limbs:
        ends = limb.start + limb.end
        if not ok[list(ends)].all():
            continue
        a = points[list(limb.start)].mean(axis=0)
        b = points[list(limb.end)].mean(axis=0)
        _blend_limb(canvas, painted, _ellipse_polygon(a, b, sizes.limb_half_width), limb.color)

    hand_colors = hand_point_colors(schema)
    for i, (a, b) in enumerate(schema.hand_bones):
        if ok[a] and ok[b]:
            color = HAND_PALETTE[i % len(HAND_PALETTE)]
            cv2.line(canvas, _fixed(points[a]), _fixed(points[b]), color, sizes.hand_bone_width, cv2.LINE_8, _SHIFT)

    body_colors = joint_colors(schema)
    joint_radius = int(round(sizes.joint_radius * _ONE))
    for j in schema.body_joints:
        if ok[j]:
            color = body_colors.get(j, (255, 255, 255))
            cv2.circle(canvas, _fixed(points[j]), joint_radius, color, -1, cv2.LINE_8, _SHIFT)

    body = set(schema.body_joints)
    hand_radius = int(round(sizes.hand_radius * _ONE))
    for j in schema.hand_points:
        if ok[j] and j not in body:  # a wrist already has its bigger body dot
            color = hand_colors.get(j, HAND_FALLBACK_COLOR)
            cv2.circle(canvas, _fixed(points[j]), hand_radius, color, -1, cv2.LINE_8, _SHIFT)

    face_radius = int(round(sizes.face_radius * _ONE))
    for j in schema.face_points:
        if ok[j]:
            cv2.circle(canvas, _fixed(points[j]), face_radius, FACE_COLOR, -1, cv2.LINE_8, _SHIFT)
    return canvas


def overlay(frame: np.ndarray, label: np.ndarray, background: Color = (0, 0, 0), alpha: float = 1.0) -> np.ndarray:
    """The frame with the label's drawn (non-background) pixels on top, to check that labels line up
    with the person. alpha < 1 lets the frame show through the stick figure."""
    if frame.shape != label.shape:
        raise ValueError(f"frame {frame.shape} and label {label.shape} differ in shape")
    drawn = (label != np.asarray(background, label.dtype)).any(axis=-1)
    out = frame.copy()
    if alpha >= 1.0:
        out[drawn] = label[drawn]
    else:
        mixed = alpha * label[drawn].astype(np.float32) + (1.0 - alpha) * frame[drawn].astype(np.float32)
        out[drawn] = np.round(mixed).astype(np.uint8)
    return out


SHEET_BACKGROUND: Color = (32, 32, 32)
_TITLE_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"contact_sheet expects uint8 images, got {image.dtype}")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"contact_sheet expects HxW or HxWx3 images, got shape {image.shape}")
    return image


def _fit_height(image: np.ndarray, cell_height: int) -> np.ndarray:
    h, w = image.shape[:2]
    width = max(1, round(w * cell_height / h))
    if (width, cell_height) == (w, h):
        return image
    # Shrinking averages; enlarging repeats pixels, so labels are shown as the network sees them.
    interp = cv2.INTER_AREA if cell_height < h else cv2.INTER_NEAREST
    return cv2.resize(np.ascontiguousarray(image), (width, cell_height), interpolation=interp)


def contact_sheet(
    rows: Sequence[Sequence[np.ndarray]],
    titles: Sequence[str] | None = None,
    cell_height: int = 160,
    gap: int = 4,
) -> np.ndarray:
    """A grid of uint8 RGB images (HxW grey images are accepted) for eyeballing a dataset: one row
    per sample, one column per kind (e.g. frame | label | overlay). Each image is resized to
    cell_height keeping its aspect; a column is as wide as its widest cell. Rows may be shorter than
    others (their missing cells stay blank). Optional titles label the columns in a header band."""
    if cell_height < 1:
        raise ValueError("cell_height must be at least 1")
    cells = [[_fit_height(_as_rgb_uint8(img), cell_height) for img in row] for row in rows]
    n_cols = max((len(r) for r in cells), default=0)
    if titles is not None:
        n_cols = max(n_cols, len(titles))
    col_widths = [max((r[c].shape[1] for r in cells if c < len(r)), default=cell_height) for c in range(n_cols)]

    header = 0
    font_scale, thickness = 0.5, 1
    if titles:
        (_, text_h), baseline = cv2.getTextSize("Ag", _TITLE_FONT, font_scale, thickness)
        header = text_h + baseline + 2 * gap
    width = sum(col_widths) + gap * (n_cols + 1)
    height = header + len(cells) * cell_height + gap * (len(cells) + 1)
    sheet = np.empty((height, max(width, 1), 3), np.uint8)
    sheet[:] = SHEET_BACKGROUND

    xs = np.cumsum([gap] + [cw + gap for cw in col_widths])[:n_cols]
    if titles:
        for x, title in zip(xs, titles):
            cv2.putText(sheet, str(title), (int(x), header - gap - baseline), _TITLE_FONT, font_scale,
                        (255, 255, 255), thickness, cv2.LINE_8)
    for r, row in enumerate(cells):
        y = header + gap + r * (cell_height + gap)
        for x, cell in zip(xs, row):
            sheet[y : y + cell_height, int(x) : int(x) + cell.shape[1]] = cell
    return sheet
