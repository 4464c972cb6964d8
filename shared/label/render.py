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
from functools import lru_cache

import cv2
import numpy as np

from shared.pose.keypoints import PoseFrame
from shared.pose.schema import Color, SkeletonSchema, get_schema

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


@dataclass(frozen=True)
class _SchemaTables:
    """A schema's drawing plan as arrays and plain tuples. Built once per schema: labels are drawn once
    per camera frame, and rebuilding colour tables on every call was a visible share of the latency."""

    limb_start: np.ndarray  # (L, m) joints averaged into each limb's start, padded by repeating the first
    limb_start_count: np.ndarray  # (L,) float64: how many of those joints are real
    limb_end: np.ndarray  # (L, n) likewise for each limb's end
    limb_end_count: np.ndarray
    limb_colors: tuple[Color, ...]
    limb_blends: tuple[np.ndarray, ...]  # per limb, its colour LIMB_ALPHA-blended over each uint8 value
    hand_bones: tuple[tuple[int, int, Color], ...]
    body_dots: tuple[tuple[int, Color], ...]
    hand_dots: tuple[tuple[int, Color], ...]  # hand points that are not body joints (a wrist gets the body dot)
    face_dots: tuple[tuple[int, Color], ...]


def _padded(ends: Sequence[tuple[int, ...]]) -> tuple[np.ndarray, np.ndarray]:
    """Variable-length joint tuples as an index matrix (padding repeats a tuple's first joint, which
    leaves "all valid" unchanged) and the real length of each row."""
    width = max((len(e) for e in ends), default=1)
    index = np.array([e + (e[0],) * (width - len(e)) for e in ends], np.intp).reshape(len(ends), width)
    return index, np.array([len(e) for e in ends], np.float64)


def _blend_table(color: Color) -> np.ndarray:
    """A cv2.LUT table giving `color` blended over each uint8 value: round(LIMB_ALPHA * colour +
    (1 - LIMB_ALPHA) * value) with the colour in float32, the sum in float64, rounding half to even."""
    col = np.asarray(color, np.float32)
    under = np.arange(256, dtype=np.uint8)[:, None]
    return np.round(LIMB_ALPHA * col + (1.0 - LIMB_ALPHA) * under).astype(np.uint8).reshape(256, 1, 3)


@lru_cache(maxsize=None)
def _schema_tables(tag: str) -> _SchemaTables:
    """The drawing plan of the schema with this tag (keyed by tag: hashing the schema itself would
    hash all its names and limbs on every call)."""
    schema = get_schema(tag)
    limb_start, limb_start_count = _padded([limb.start for limb in schema.limbs])
    limb_end, limb_end_count = _padded([limb.end for limb in schema.limbs])
    body_colors, hand_colors = joint_colors(schema), hand_point_colors(schema)
    body = set(schema.body_joints)
    return _SchemaTables(
        limb_start=limb_start,
        limb_start_count=limb_start_count,
        limb_end=limb_end,
        limb_end_count=limb_end_count,
        limb_colors=tuple(limb.color for limb in schema.limbs),
        limb_blends=tuple(_blend_table(limb.color) for limb in schema.limbs),
        hand_bones=tuple((a, b, HAND_PALETTE[i % len(HAND_PALETTE)]) for i, (a, b) in enumerate(schema.hand_bones)),
        body_dots=tuple((j, body_colors.get(j, (255, 255, 255))) for j in schema.body_joints),
        hand_dots=tuple((j, hand_colors.get(j, HAND_FALLBACK_COLOR)) for j in schema.hand_points if j not in body),
        face_dots=tuple((j, FACE_COLOR) for j in schema.face_points),
    )


@lru_cache(maxsize=64)
def _stroke_sizes(width: int, height: int) -> StrokeSizes:
    """StrokeSizes.for_size, cached: a live session draws every label at the same size."""
    return StrokeSizes.for_size((width, height))


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


def _end_means(points: np.ndarray, index: np.ndarray, count: np.ndarray) -> np.ndarray:
    """(L, 2) mean of each row's real joints, summed in order and then divided, as ndarray.mean does,
    so the result is bit-identical to averaging each limb end on its own."""
    total = points[index[:, 0]]
    for k in range(1, index.shape[1]):
        total = np.where((k < count)[:, None], total + points[index[:, k]], total)
    return total / count[:, None]


def _ellipse_polygons(a: np.ndarray, b: np.ndarray, half_width: float) -> np.ndarray:
    """(L, _ELLIPSE_STEPS, 2) vertices of the ellipses whose long axes run from a[i] to b[i] (a disc
    where a[i] == b[i]), all limbs at once with the same float64 operations as one at a time."""
    centre = (a + b) / 2.0
    along = b - a
    length = np.hypot(along[:, 0], along[:, 1])
    long = length > 1e-6
    u = np.where(long[:, None], along / np.where(long, length, 1.0)[:, None], (1.0, 0.0))
    v = np.stack([-u[:, 1], u[:, 0]], axis=1)
    half_length = np.maximum(length / 2.0, half_width)
    across = (_ELLIPSE_SIN * half_width)[None, :, None] * v[:, None, :]
    return centre[:, None, :] + (_ELLIPSE_COS * half_length[:, None])[:, :, None] * u[:, None, :] + across


def _blend_limb(roi: np.ndarray, done: np.ndarray, polygon: np.ndarray, color: Color, blend: np.ndarray) -> None:
    """Fill the polygon (fixed-point, ROI coordinates) into the canvas ROI: full colour over the
    background, LIMB_ALPHA-blended over earlier limbs (`done`, uint8 0/1). Masked whole-ROI OpenCV
    calls replace boolean indexing, whose per-call overhead dominated; they draw into the ROI views in
    place, which works because the canvas is C-contiguous."""
    inside = np.zeros(done.shape, np.uint8)
    cv2.fillConvexPoly(inside, polygon, 1, cv2.LINE_8, _SHIFT)
    over = inside & done
    blended = cv2.LUT(roi, blend)  # every ROI pixel blended; only `over` is kept
    cv2.fillConvexPoly(roi, polygon, color, cv2.LINE_8, _SHIFT)  # the same pixels as `inside`
    cv2.copyTo(blended, over, roi)
    done |= inside


def _draw_limbs(
    canvas: np.ndarray, tables: _SchemaTables, points: np.ndarray, ok: np.ndarray, half_width: float
) -> None:
    """Every limb whose joints are all usable, in schema order (later limbs blend over earlier ones)."""
    drawable = ok[tables.limb_start].all(axis=1) & ok[tables.limb_end].all(axis=1)
    if not drawable.any():
        return
    a = _end_means(points, tables.limb_start, tables.limb_start_count)
    b = _end_means(points, tables.limb_end, tables.limb_end_count)
    polygons = _ellipse_polygons(a, b, half_width)
    h, w = canvas.shape[:2]
    low = np.maximum(np.floor(polygons.min(axis=1)).astype(np.int64), 0)  # each limb's ROI, clipped
    high = np.minimum(np.ceil(polygons.max(axis=1)).astype(np.int64) + 1, (w, h))
    local = np.round((polygons - low[:, None, :]) * _ONE).astype(np.int32)
    boxes = np.concatenate([low, high], axis=1).tolist()
    painted = np.zeros((h, w), np.uint8)
    for i in np.flatnonzero(drawable).tolist():
        x0, y0, x1, y1 = boxes[i]
        if x0 < x1 and y0 < y1:
            roi, done = canvas[y0:y1, x0:x1], painted[y0:y1, x0:x1]
            _blend_limb(roi, done, local[i], tables.limb_colors[i], tables.limb_blends[i])


def _draw_points(
    canvas: np.ndarray, tables: _SchemaTables, points: np.ndarray, ok: np.ndarray, sizes: StrokeSizes
) -> None:
    """Hand bones, then body joints, hand points and face points as dots, on top of the limbs."""
    # OpenCV's fixed-point positions (pixel centres at integer coordinates), rounded half to even.
    fixed = [tuple(p) for p in np.round(points * _ONE).astype(np.int64).tolist()]
    usable = ok.tolist()
    for a, b, color in tables.hand_bones:
        if usable[a] and usable[b]:
            cv2.line(canvas, fixed[a], fixed[b], color, sizes.hand_bone_width, cv2.LINE_8, _SHIFT)
    for dots, radius in (
        (tables.body_dots, sizes.joint_radius),
        (tables.hand_dots, sizes.hand_radius),
        (tables.face_dots, sizes.face_radius),
    ):
        fixed_radius = int(round(radius * _ONE))
        for j, color in dots:
            if usable[j]:
                cv2.circle(canvas, fixed[j], fixed_radius, color, -1, cv2.LINE_8, _SHIFT)


def _blank(width: int, height: int, background: Color) -> np.ndarray:
    """An HxWx3 canvas of the background colour, filled row by row: NumPy broadcasting a 3-byte
    colour over every pixel took half a millisecond at 256x256, longer than drawing the figure."""
    canvas = np.empty((height, width, 3), np.uint8)
    row = np.broadcast_to(np.asarray(background, np.uint8), (width, 3)).reshape(-1)
    canvas.reshape(height, width * 3)[:] = row
    return canvas


def render_label(pose: PoseFrame, size: tuple[int, int], background: Color = (0, 0, 0)) -> np.ndarray:
    """The pose as an HxWx3 uint8 RGB stick figure; size is (width, height) and the pose's pixels
    are already in that frame. Invalid joints (and the limbs that need them) are left out."""
    w, h = int(size[0]), int(size[1])
    tables = _schema_tables(pose.schema_tag)
    canvas = _blank(w, h, background)
    points, ok = _usable_points(pose, (w, h))
    sizes = _stroke_sizes(w, h)
    _draw_limbs(canvas, tables, points, ok, sizes.limb_half_width)
    _draw_points(canvas, tables, points, ok, sizes)
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
