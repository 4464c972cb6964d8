import cv2
import numpy as np
import pytest

from shared.pose.keypoints import PoseFrame
from shared.label.render import FACE_COLOR, StrokeSizes, contact_sheet, overlay, render_label
from shared.pose.schema import BODY_SCHEMA, HOLISTIC_SCHEMA, SkeletonSchema

# A standing person in unit coordinates (x right, y down), scaled to each image size.
STANDING = {
    "nose": (0.50, 0.12), "left_eye": (0.52, 0.10), "right_eye": (0.48, 0.10),
    "left_ear": (0.55, 0.11), "right_ear": (0.45, 0.11),
    "left_shoulder": (0.62, 0.28), "right_shoulder": (0.38, 0.28),
    "left_elbow": (0.70, 0.42), "right_elbow": (0.30, 0.42),
    "left_wrist": (0.74, 0.56), "right_wrist": (0.26, 0.56),
    "left_hip": (0.57, 0.58), "right_hip": (0.43, 0.58),
    "left_knee": (0.58, 0.74), "right_knee": (0.42, 0.74),
    "left_ankle": (0.59, 0.90), "right_ankle": (0.41, 0.90),
}  # fmt: skip


def make_pose(
    points: dict[str, tuple[float, float]], size=(256, 256), schema: SkeletonSchema = BODY_SCHEMA
) -> PoseFrame:
    """A pose from unit positions of the named joints, scaled to size; every other joint is missing."""
    k = schema.num_joints
    keypoints = np.full((k, 2), np.nan, np.float32)
    valid = np.zeros(k, bool)
    for name, (x, y) in points.items():
        i = schema.index(name)
        keypoints[i] = (x * size[0], y * size[1])
        valid[i] = True
    return PoseFrame(keypoints, valid.astype(np.float32), valid, schema.tag)


def limb_color(start: str, end: str, schema: SkeletonSchema = BODY_SCHEMA) -> tuple[int, int, int]:
    s, e = (schema.index(start),), (schema.index(end),)
    return next(limb.color for limb in schema.limbs if limb.start == s and limb.end == e)


def pixel_at(image: np.ndarray, pose: PoseFrame, a: str, b: str) -> tuple[int, ...]:
    """The pixel at the midpoint of the bone from joint a to joint b."""
    schema = pose.schema
    mid = (pose.keypoints[schema.index(a)] + pose.keypoints[schema.index(b)]) / 2
    return tuple(int(v) for v in image[int(round(mid[1])), int(round(mid[0]))])


def test_limb_has_its_colour_at_the_bone_midpoint():
    pose = make_pose({"left_shoulder": (0.3, 0.3), "left_elbow": (0.7, 0.6)})
    image = render_label(pose, (256, 256))
    assert image.shape == (256, 256, 3) and image.dtype == np.uint8
    assert pixel_at(image, pose, "left_shoulder", "left_elbow") == limb_color("left_shoulder", "left_elbow")


def test_left_and_right_arms_get_different_colours():
    pose = make_pose(STANDING)
    image = render_label(pose, (256, 256))
    left = pixel_at(image, pose, "left_shoulder", "left_elbow")
    right = pixel_at(image, pose, "right_shoulder", "right_elbow")
    assert left == limb_color("left_shoulder", "left_elbow")
    assert right == limb_color("right_shoulder", "right_elbow")
    assert left != right


def test_missing_joint_removes_its_limbs_only():
    points = {n: p for n, p in STANDING.items() if n != "left_elbow"}
    pose = make_pose(points)
    image = render_label(pose, (256, 256))
    full = make_pose(STANDING)
    assert pixel_at(image, full, "left_shoulder", "left_elbow") == (0, 0, 0)
    assert pixel_at(image, full, "left_elbow", "left_wrist") == (0, 0, 0)
    assert pixel_at(image, pose, "right_shoulder", "right_elbow") == limb_color("right_shoulder", "right_elbow")


def test_nan_marked_valid_is_skipped_not_drawn():
    arm = {"left_shoulder": (0.3, 0.3), "left_elbow": (0.7, 0.6)}
    pose = make_pose(arm)
    pose.keypoints[BODY_SCHEMA.index("left_elbow")] = np.nan
    image = render_label(pose, (256, 256))
    assert image.any()  # the shoulder's dot
    assert pixel_at(image, make_pose(arm), "left_shoulder", "left_elbow") == (0, 0, 0)
    assert not image[140:].any()  # no elbow dot (the elbow would be at y = 154)


def test_rendering_is_deterministic():
    pose = make_pose(STANDING, size=(512, 256))
    first = render_label(pose, (512, 256))
    again = render_label(make_pose(STANDING, size=(512, 256)), (512, 256))
    assert first.tobytes() == again.tobytes()
    assert first.any()


def _thickness(size: int) -> int:
    """Pixels of the vertical left-thigh limb crossed by the horizontal line through its middle."""
    pose = make_pose({"left_hip": (0.5, 0.2), "left_knee": (0.5, 0.8)}, size=(size, size))
    image = render_label(pose, (size, size))
    row = image[size // 2]
    return int((row == np.array(limb_color("left_hip", "left_knee"), np.uint8)).all(axis=1).sum())


def test_widths_grow_with_image_size_and_stay_legible_when_small():
    small, large = _thickness(256), _thickness(2160)
    assert small >= 4  # half-width floor of 2 px
    assert large > 2 * small
    assert StrokeSizes.for_size((2160, 2160)).joint_radius > StrokeSizes.for_size((256, 256)).joint_radius


def test_joint_dot_is_wider_than_the_limb():
    pose = make_pose({"left_hip": (0.5, 0.2), "left_knee": (0.5, 0.8)}, size=(1080, 1080))
    image = render_label(pose, (1080, 1080))
    knee_row = image[int(0.8 * 1080)]
    dot = int(knee_row.any(axis=1).sum())
    assert dot > _thickness(1080)


def test_face_points_are_small_dark_dots():
    pose = make_pose({"left_eye": (0.5, 0.5)})
    image = render_label(pose, (256, 256))
    assert tuple(image[128, 128]) == FACE_COLOR
    assert image[:, :100].sum() == 0 and image[:, 160:].sum() == 0


def test_holistic_schema_draws_hand_bones():
    hand = {"left_hand_wrist": (0.3, 0.5), "left_hand_index_mcp": (0.7, 0.5)}
    pose = make_pose(hand, schema=HOLISTIC_SCHEMA)
    image = render_label(pose, (256, 256))
    assert image[128, 128].any()  # the bone's midpoint, far from both dots
    pose.valid[HOLISTIC_SCHEMA.index("left_hand_index_mcp")] = False
    assert not render_label(pose, (256, 256))[128, 128].any()


def test_empty_pose_gives_the_background():
    background = (10, 20, 30)
    image = render_label(PoseFrame.missing(HOLISTIC_SCHEMA), (64, 48), background)
    assert image.shape == (48, 64, 3)
    assert (image == np.array(background, np.uint8)).all()


@pytest.mark.parametrize("far", [1e9, -1e9, 3000.0])
def test_points_outside_the_image_do_not_crash(far):
    pose = make_pose({"left_hip": (0.5, 0.5), "left_knee": (0.5, 0.5)})
    pose.keypoints[BODY_SCHEMA.index("left_knee")] = (far, far)
    pose.keypoints[BODY_SCHEMA.index("nose")] = (far, -far)
    pose.valid[BODY_SCHEMA.index("nose")] = True
    image = render_label(pose, (256, 256))
    on_bone = 128 + int(np.sign(far)) * 20  # along the diagonal towards the far knee, off the hip's dot
    assert tuple(image[on_bone, on_bone]) == limb_color("left_hip", "left_knee")


def test_overlay_puts_label_pixels_on_top():
    frame = np.full((32, 32, 3), 100, np.uint8)
    label = np.zeros_like(frame)
    label[10:12, 5:20] = (255, 0, 0)
    out = overlay(frame, label)
    assert (out[10:12, 5:20] == (255, 0, 0)).all()
    assert (out[:10] == 100).all() and (out[12:] == 100).all()
    half = overlay(frame, label, alpha=0.5)
    assert tuple(half[10, 5]) == (178, 50, 50)


def test_contact_sheet_lays_out_rows_and_columns():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (100, 200, 3), dtype=np.uint8)
    label = rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)
    grey = rng.integers(0, 255, (80, 80), dtype=np.uint8)
    rows = [[frame, label, grey], [frame, label, grey]]
    gap, cell = 4, 40
    sheet = contact_sheet(rows, cell_height=cell, gap=gap)
    widths = [80, 40, 40]  # each image scaled to 40 px high, aspect kept
    assert sheet.shape == (2 * cell + 3 * gap, sum(widths) + 4 * gap, 3)
    # the label cell of the second row holds the label enlarged 2x by repeating pixels
    y, x = gap + cell + gap, gap + widths[0] + gap
    assert np.array_equal(sheet[y : y + cell, x : x + cell], label.repeat(2, axis=0).repeat(2, axis=1))
    # the grey image became three equal channels
    x = gap + widths[0] + gap + widths[1] + gap
    cell_grey = sheet[gap : gap + cell, x : x + cell]
    assert (cell_grey[..., 0] == cell_grey[..., 1]).all() and (cell_grey[..., 1] == cell_grey[..., 2]).all()

    titled = contact_sheet(rows, titles=["frame", "label", "overlay"], cell_height=cell, gap=gap)
    assert titled.shape[1] == sheet.shape[1] and titled.shape[0] > sheet.shape[0]
    header = titled.shape[0] - sheet.shape[0]
    assert (titled[:header] != titled[0, 0]).any()  # the titles drew something


def _reference_label(pose: PoseFrame, size: tuple[int, int], background=(0, 0, 0)) -> np.ndarray:
    """render_label written the plain way, one limb and one point at a time with boolean masks; the
    fast path batches and caches this, and must give the same bytes."""
    from shared.label.render import (
        _ONE,
        _SHIFT,
        HAND_PALETTE,
        LIMB_ALPHA,
        hand_point_colors,
        joint_colors,
    )

    w, h = size
    schema, sizes = pose.schema, StrokeSizes.for_size(size)
    margin = 4 * max(w, h)
    points = np.asarray(pose.keypoints, np.float64)
    ok = pose.valid & np.isfinite(points).all(axis=1)
    points = np.where(ok[:, None], points, 0.0)
    points = np.stack([np.clip(points[:, 0], -margin, w + margin), np.clip(points[:, 1], -margin, h + margin)], 1)
    canvas = np.empty((h, w, 3), np.uint8)
    canvas[:] = background
    painted = np.zeros((h, w), bool)
    angles = np.linspace(0.0, 2.0 * np.pi, 36, endpoint=False)
    for limb in schema.limbs:
        if not ok[list(limb.start + limb.end)].all():
            continue
        a, b = points[list(limb.start)].mean(axis=0), points[list(limb.end)].mean(axis=0)
        length = float(np.hypot(*(b - a)))
        u = (b - a) / length if length > 1e-6 else np.array([1.0, 0.0])
        half_length, half_width = max(length / 2.0, sizes.limb_half_width), sizes.limb_half_width
        along = np.outer(np.cos(angles) * half_length, u)
        polygon = (a + b) / 2 + along + np.outer(np.sin(angles) * half_width, (-u[1], u[0]))
        x0, y0 = np.maximum(np.floor(polygon.min(axis=0)).astype(int), 0)
        x1, y1 = np.minimum(np.ceil(polygon.max(axis=0)).astype(int) + 1, (w, h))
        if x0 >= x1 or y0 >= y1:
            continue
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillConvexPoly(mask, np.round((polygon - (x0, y0)) * _ONE).astype(np.int32), 1, cv2.LINE_8, _SHIFT)
        inside, roi, done = mask.astype(bool), canvas[y0:y1, x0:x1], painted[y0:y1, x0:x1]
        over = inside & done
        col = np.asarray(limb.color, np.float32)
        roi[over] = np.round(LIMB_ALPHA * col + (1.0 - LIMB_ALPHA) * roi[over]).astype(np.uint8)
        roi[inside & ~done] = limb.color
        done |= inside

    def fixed(j: int) -> tuple[int, int]:
        return int(round(points[j, 0] * _ONE)), int(round(points[j, 1] * _ONE))

    for i, (a, b) in enumerate(schema.hand_bones):
        if ok[a] and ok[b]:
            color = HAND_PALETTE[i % len(HAND_PALETTE)]
            cv2.line(canvas, fixed(a), fixed(b), color, sizes.hand_bone_width, cv2.LINE_8, _SHIFT)
    dots = [(j, joint_colors(schema).get(j, (255, 255, 255)), sizes.joint_radius) for j in schema.body_joints]
    dots += [(j, hand_point_colors(schema).get(j, (200, 200, 200)), sizes.hand_radius)
             for j in schema.hand_points if j not in schema.body_joints]
    dots += [(j, FACE_COLOR, sizes.face_radius) for j in schema.face_points]
    for j, color, radius in dots:
        if ok[j]:
            cv2.circle(canvas, fixed(j), int(round(radius * _ONE)), color, -1, cv2.LINE_8, _SHIFT)
    return canvas


@pytest.mark.parametrize("schema", [BODY_SCHEMA, HOLISTIC_SCHEMA], ids=lambda s: s.name)
def test_fast_rendering_matches_the_plain_reference(schema):
    rng = np.random.default_rng(7)
    for size in [(256, 256), (512, 256), (61, 47)]:
        w, h = size
        for _ in range(4):
            k = schema.num_joints
            points = rng.uniform(-0.5, 1.5, (k, 2)) * size  # some joints off the image
            points[rng.integers(0, k, 8)] = points[rng.integers(0, k, 8)]  # coincident limb ends
            points[: k // 3] = rng.integers(0, 4, (k // 3, 2)) * (w / 3, h / 3)  # many shared pixels
            valid = rng.random(k) < 0.8
            keypoints = np.where(valid[:, None], points, np.nan).astype(np.float32)
            keypoints[rng.integers(0, k)] = (1e9, -1e9)
            pose = PoseFrame(keypoints, valid.astype(np.float32), valid, schema.tag)
            background = tuple(int(c) for c in rng.integers(0, 256, 3))
            for bg in [(0, 0, 0), background]:
                assert np.array_equal(render_label(pose, size, bg), _reference_label(pose, size, bg))
