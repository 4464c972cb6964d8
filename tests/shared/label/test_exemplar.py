"""Exemplar warping: part maps, per-part warps, retrieval, the bank file and the conditioning."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from shared.errors import DanceError
from shared.label.exemplar.parts import DRAWING_ORDER, NO_PART, PARTS, painting_order, part_map, part_transform, part_transforms
from shared.label.exemplar.bank import SEAM_PX, ExemplarBank, build_bank
from shared.label.exemplar.retrieval import part_descriptors, part_distances
from shared.label.exemplar.conditioner import (
    ExemplarConditioner,
    LabelOnly,
    conditioner_for,
    stack_conditioning,
)
from shared.pose.keypoints import PoseFrame, torso_size
from shared.label.render import render_label
from shared.pose.schema import POSE_LANDMARK_NAMES
from shared.synthetic.body import TARGET_BODY
from shared.synthetic.dancer import render_dance

SIZE = (256, 256)
PART = {part.name: index for index, part in enumerate(PARTS)}
J = {name: i for i, name in enumerate(POSE_LANDMARK_NAMES)}


@pytest.fixture(scope="module")
def dance() -> tuple[np.ndarray, object, np.ndarray]:
    frames, poses, masks = render_dance(TARGET_BODY, num_frames=24, size=SIZE, with_masks=True)
    return frames, poses, (masks * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def bank(dance: tuple) -> ExemplarBank:
    frames, poses, masks = dance
    return build_bank(frames, masks, poses.keypoints, poses.valid, np.arange(len(frames)), poses.schema_tag)


def _midpoint(pose: PoseFrame, a: str, b: str) -> tuple[int, int]:
    x, y = (pose.keypoints[J[a]] + pose.keypoints[J[b]]) / 2
    return int(round(y)), int(round(x))


def test_part_map_labels_torso_limbs_and_leaves_the_background_out(dance: tuple) -> None:
    frames, poses, masks = dance
    pose = poses[0]
    parts = part_map(masks[0], pose.keypoints, pose.valid)
    assert (parts[masks[0] < 128] == NO_PART).all()
    chest = _midpoint(pose, "left_shoulder", "right_hip")
    assert parts[chest] == PART["torso"]
    shin = _midpoint(pose, "left_knee", "left_ankle")
    assert parts[shin] == PART["left_knee_ankle"]
    seen = set(np.unique(parts)) - {NO_PART}
    assert len(seen) >= 8, f"most parts should own pixels, got {sorted(seen)}"


def test_the_neck_is_its_own_part_and_the_tops_of_the_shoulders_the_torso_s(dance: tuple) -> None:
    """The neck, between the shoulders' middle and the nose, is a part of its own, and the tops of
    the shoulders stay with the torso, so a turned or leaning head carries no wedge of shoulder skin
    beside the body (they were the head's before, and the neck the torso's)."""
    frames, poses, masks = dance
    for t in (0, 5, 11):
        pose = poses[t]
        parts = part_map(masks[t], pose.keypoints, pose.valid)
        nose, left, right = (pose.keypoints[J[name]] for name in ("nose", "left_shoulder", "right_shoulder"))
        at = lambda point: parts[int(round(point[1])), int(round(point[0]))]  # noqa: E731
        assert at(nose + 0.6 * ((left + right) / 2 - nose)) == PART["neck"], "the neck"
        assert at(left + 0.2 * (nose - left)) == PART["torso"], "the left shoulder's top"
        assert at(right + 0.2 * (nose - right)) == PART["torso"], "the right shoulder's top"


def test_warping_an_exemplar_onto_its_own_pose_gives_it_back(dance: tuple, bank: ExemplarBank) -> None:
    frames, poses, masks = dance
    k = 5
    t = int(bank.frame_ids[k])
    rgb, alpha = bank.warp(k, poses[t])
    solid = (alpha > 250) & (masks[t] > 250)
    assert solid.sum() > 0.8 * (masks[t] > 250).sum(), "the warped mask covers the person"
    error = np.abs(rgb[solid].astype(int) - frames[t][solid].astype(int)).mean()
    assert error < 4, f"identity warp changed the texture by {error:.1f} levels"
    assert (alpha[masks[t] == 0] < 128).mean() > 0.99, "nothing is drawn off the person"


def test_a_bank_written_before_the_neck_was_a_part_still_draws_its_neck_with_the_head(dance: tuple, bank: ExemplarBank) -> None:
    """Older banks have no neck pixels (their head owned the neck): they load and warp as before,
    the neck drawn with the head, nothing left out."""
    frames, poses, masks = dance
    older_parts = np.where(bank.parts == PART["neck"], PART["head"], bank.parts)
    older = ExemplarBank(bank.images, bank.alphas, older_parts, bank.keypoints, bank.valid, bank.frame_ids, bank.schema_tag)
    assert (bank.parts == PART["neck"]).any() and not (older.parts == PART["neck"]).any()
    k = 5
    t = int(older.frame_ids[k])
    _, alpha = older.warp(k, poses[t])
    neck = bank.parts[k] == PART["neck"]
    assert (alpha[neck] > 128).mean() > 0.95, "the neck, drawn with the head"


def test_a_limb_is_moved_onto_the_new_pose(dance: tuple, bank: ExemplarBank) -> None:
    """Paint each part of exemplar 0 a flat colour, raise its left forearm to a new place: the
    forearm's colour lands on the new forearm, not where it was."""
    k = 0
    colours = np.random.default_rng(0).integers(30, 255, (256, 3)).astype(np.uint8)
    painted = ExemplarBank(colours[bank.parts[:1]], bank.alphas[:1], bank.parts[:1], bank.keypoints[:1], bank.valid[:1],
                           bank.frame_ids[:1], bank.schema_tag)  # fmt: skip
    src = PoseFrame(bank.keypoints[k].copy(), np.ones(len(bank.valid[k]), np.float32), bank.valid[k].copy(), bank.schema_tag)
    moved = PoseFrame(src.keypoints.copy(), src.confidence, src.valid, src.schema_tag)
    elbow = moved.keypoints[J["left_elbow"]]
    for name in ("left_wrist", "left_index", "left_pinky", "left_thumb"):  # the forearm and hand turned 90 degrees about the elbow
        v = moved.keypoints[J[name]] - elbow
        moved.keypoints[J[name]] = elbow + np.array([-v[1], v[0]])
    rgb, alpha = painted.warp(0, moved)
    forearm = colours[PART["left_elbow_wrist"]]
    y, x = _midpoint(moved, "left_elbow", "left_wrist")
    assert alpha[y, x] > 200 and np.abs(rgb[y, x].astype(int) - forearm).max() < 10


def test_retrieval_finds_the_same_pose_excludes_neighbours_and_live_keeps_its_pick(dance: tuple, bank: ExemplarBank) -> None:
    frames, poses, masks = dance
    k = 7
    t = int(bank.frame_ids[k])
    rng = np.random.default_rng(0)
    picks = {bank.choose(poses[t], t, exclude_radius=3, rng=rng) for _ in range(20)}
    assert all(abs(int(bank.frame_ids[p]) - t) > 3 for p in picks) and 1 <= len(picks) <= 3
    conditioner = ExemplarConditioner(bank, switch_ratio=0.85)
    assert conditioner.pick(poses[t]) == k
    following = int(np.flatnonzero(bank.frame_ids == t + 1)[0])
    between = PoseFrame(0.48 * poses[t].keypoints + 0.52 * poses[t + 1].keypoints, poses[t].confidence, poses[t].valid, poses[t].schema_tag)
    distances = bank.distances(between)
    assert np.argmin(distances) == following and distances[following] > 0.85 * distances[k], "the test's premise"
    assert conditioner.pick(between) == k, "a slightly closer exemplar does not take over"
    assert conditioner.pick(poses[t + 1]) == following, "a much closer one does"


def test_conditioning_has_seven_channels_and_zeros_without_a_person(dance: tuple, bank: ExemplarBank) -> None:
    frames, poses, masks = dance
    label = render_label(poses[3], SIZE)
    tensor = conditioner_for(bank)(poses[3], label)
    assert tuple(tensor.shape) == (1, 7, SIZE[1], SIZE[0]) and 0.0 <= float(tensor.min()) and float(tensor.max()) <= 1.0
    assert float(tensor[0, 6].mean()) > 0.01, "the warped mask is there"
    nobody = PoseFrame.missing(poses[3].schema)
    empty = conditioner_for(bank)(nobody, np.zeros_like(label))
    assert float(empty.abs().sum()) == 0.0
    assert isinstance(conditioner_for(None), LabelOnly) and tuple(conditioner_for(None)(poses[3], label).shape) == (1, 3, 256, 256)


def test_bank_file_round_trip_and_clear_errors(bank: ExemplarBank, tmp_path: Path) -> None:
    path = tmp_path / "exemplars.npz"
    bank.save(path)
    again = ExemplarBank.load(path)
    assert np.array_equal(again.images, bank.images) and np.array_equal(again.parts, bank.parts)
    assert np.array_equal(again.frame_ids, bank.frame_ids) and again.schema_tag == bank.schema_tag
    assert [p.name for p in tmp_path.iterdir()] == ["exemplars.npz"], "no temporary file left behind"
    with pytest.raises(DanceError, match="missing"):
        ExemplarBank.load(tmp_path / "absent.npz")
    (tmp_path / "bad.npz").write_bytes(path.read_bytes()[:1000])
    with pytest.raises(DanceError, match="not a readable exemplar bank"):
        ExemplarBank.load(tmp_path / "bad.npz")
    half = bank.resized((128, 128))
    assert half.images.shape[1:3] == (128, 128) and np.allclose(half.keypoints, bank.keypoints / 2)


def test_bank_keeps_poses_far_apart_and_refuses_frames_without_a_torso(dance: tuple) -> None:
    frames, poses, masks = dance
    small = build_bank(frames, masks, poses.keypoints, poses.valid, np.arange(len(frames)), poses.schema_tag, max_size=4)
    assert len(small) == 4 and len(set(small.frame_ids.tolist())) == 4
    no_hips = poses.valid.copy()
    no_hips[:, [J["left_hip"], J["right_hip"]]] = False
    with pytest.raises(DanceError, match="whole torso"):
        build_bank(frames, masks, poses.keypoints, no_hips, np.arange(len(frames)), poses.schema_tag)


def _varied_poses(poses: object, schema_tag: str) -> list[PoseFrame]:
    """Dance poses turned, scaled and shifted, some with joints unseen (a hand; a hip: the torso
    falls back to a similarity; the head but one point: it falls back to the shoulders)."""
    rng = np.random.default_rng(3)
    varied = []
    head_but_one = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "mouth_left")
    for t, unseen in [(1, ()), (4, ("left_wrist",)), (9, ("right_hip",)), (14, head_but_one), (19, ("left_knee", "right_elbow")), (22, ())]:
        angle, scale = rng.uniform(-0.3, 0.3), rng.uniform(0.8, 1.15)
        rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        keypoints = ((poses[t].keypoints - 128) @ rotation.T + 128 + rng.uniform(-20, 20, 2)).astype(np.float32)
        valid = poses[t].valid.copy()
        valid[[J[name] for name in unseen]] = False
        keypoints[~valid] = np.nan
        varied.append(PoseFrame(keypoints, poses[t].confidence, valid, schema_tag))
    return varied


def _plain_warp(bank: ExemplarBank, index: int, pose: PoseFrame) -> tuple[np.ndarray, np.ndarray]:
    """The warp written plainly, as it was before it was made fast: one part after another, each
    cut, grown and blended over full-frame float canvases, each map from `part_transform`."""
    width, height = bank.image_size
    rgb, alpha = np.zeros((height, width, 3), np.float32), np.zeros((height, width), np.float32)
    src, src_valid = bank.keypoints[index], bank.valid[index]
    dst, dst_valid = np.nan_to_num(pose.keypoints.astype(np.float32)), pose.valid
    scale = (torso_size(dst, dst_valid) or bank.median_torso) / (bank.torso_sizes[index] or bank.median_torso)
    for p in painting_order(pose.depth):
        x0, y0, x1, y1 = bank.boxes[index, p]
        matrix = part_transform(p, src, src_valid, dst, dst_valid, scale)
        if x1 <= x0 or matrix is None:
            continue
        corners = np.array([[x0, y0, 1], [x1, y0, 1], [x0, y1, 1], [x1, y1, 1]], np.float64) @ matrix.T
        dx0, dy0 = np.maximum(np.floor(corners.min(axis=0)).astype(int), 0)
        dx1, dy1 = np.minimum(np.ceil(corners.max(axis=0)).astype(int) + 1, (width, height))
        if dx1 <= dx0 or dy1 <= dy0:
            continue
        member = cv2.dilate((bank.parts[index, y0:y1, x0:x1] == p).astype(np.uint8), np.ones((2 * SEAM_PX + 1,) * 2, np.uint8))
        crop = np.dstack([bank.images[index, y0:y1, x0:x1], bank.alphas[index, y0:y1, x0:x1] * member])
        local = matrix.copy()
        local[:, 2] = matrix[:, :2] @ (x0, y0) + matrix[:, 2] - (dx0, dy0)
        moved = cv2.warpAffine(crop, local, (int(dx1 - dx0), int(dy1 - dy0)), flags=cv2.INTER_LINEAR)
        under = rgb[dy0:dy1, dx0:dx1]
        under += (moved[..., :3] - under) * (moved[..., 3:] * np.float32(1 / 255))
        np.maximum(alpha[dy0:dy1, dx0:dx1], moved[..., 3], out=alpha[dy0:dy1, dx0:dx1])
    return rgb.round().astype(np.uint8), alpha.round().astype(np.uint8)


def test_fast_warp_and_live_conditioning_match_the_plain_computation(dance: tuple, bank: ExemplarBank) -> None:
    """The warp (cut parts kept from bank load, batched maps, channel-first canvas) gives what the
    plain per-part warp gives, and live conditioning is that warp stacked with the label as
    training stacks it (`stack_conditioning`), in [0, 1]: the same uint8 levels, to float rounding."""
    frames, poses, masks = dance
    conditioner = ExemplarConditioner(bank)
    for pose in _varied_poses(poses, poses.schema_tag):
        label = render_label(pose, SIZE)
        tensor = conditioner(pose, label)
        index = conditioner.current
        assert index is not None
        rgb, alpha = bank.warp(index, pose)
        plain_rgb, plain_alpha = _plain_warp(bank, index, pose)
        assert rgb.shape == plain_rgb.shape and rgb.flags.c_contiguous and alpha.sum() > 0
        assert np.abs(rgb.astype(int) - plain_rgb).max() <= 1 and np.abs(alpha.astype(int) - plain_alpha).max() <= 1
        expected = stack_conditioning(label, rgb, alpha).transpose(2, 0, 1)
        assert tensor.dtype == torch.float32 and tuple(tensor.shape) == (1, 7, *SIZE[::-1])
        assert np.abs(tensor[0].numpy() * 255 - expected).max() < 1e-3


def test_all_part_maps_at_once_equal_each_part_map(dance: tuple, bank: ExemplarBank) -> None:
    """`part_transforms` (limbs in one batch) gives `part_transform`'s maps bit for bit, and no map
    where it gives none (an unseen joint, a zero-length bone)."""
    frames, poses, masks = dance
    src, src_valid = bank.keypoints[2], bank.valid[2]
    for pose in _varied_poses(poses, poses.schema_tag):
        dst = np.nan_to_num(pose.keypoints)
        dst[J["left_ankle"]] = dst[J["left_knee"]]  # a zero-length shin
        matrices, mapped = part_transforms(src, src_valid, dst, pose.valid, 1.1)
        for p in range(len(PARTS)):
            single = part_transform(p, src, src_valid, dst, pose.valid, 1.1)
            assert (single is None) == (not mapped[p]), PARTS[p].name
            assert single is None or np.array_equal(single, matrices[p]), PARTS[p].name


@pytest.fixture(scope="module")
def part_bank(dance: tuple) -> ExemplarBank:
    frames, poses, masks = dance
    return build_bank(frames, masks, poses.keypoints, poses.valid, np.arange(len(frames)), poses.schema_tag, per_part=True)


def test_a_per_part_bank_picks_each_parts_own_nearest_frame(dance: tuple, part_bank: ExemplarBank) -> None:
    """A pose made of two frames (frame a's body, frame b's left forearm): every part but that
    forearm comes from a, the forearm from b; all parts from one frame warp as that frame does."""
    frames, poses, masks = dance
    a, b = 3, 15
    mixed = PoseFrame(poses[a].keypoints.copy(), poses[a].confidence, poses[a].valid, poses[a].schema_tag)
    elbow, wrist = J["left_elbow"], J["left_wrist"]
    mixed.keypoints[wrist] = mixed.keypoints[elbow] + (poses[b].keypoints[wrist] - poses[b].keypoints[elbow])
    assert part_bank.part_distances(mixed).shape == (len(part_bank), len(PARTS))
    picks = part_bank.choose(mixed, frame=-100, exclude_radius=0, rng=None)
    forearm = PART["left_elbow_wrist"]
    assert picks[forearm] != a and np.linalg.norm(
        part_bank.part_points[picks[forearm], forearm] - part_bank.part_points[b, forearm]) < 0.05
    assert all(picks[p] == a for p in range(len(PARTS)) if p != forearm)
    uniform = part_bank.warp(np.full(len(PARTS), 9), mixed)
    assert all((x == y).all() for x, y in zip(uniform, part_bank.warp(9, mixed)))
    picks_far = part_bank.choose(poses[a], frame=a, exclude_radius=3, rng=np.random.default_rng(0), top=len(part_bank))
    assert (np.abs(picks_far - a) > 3).all(), "no part from within the exclusion"


def _with_forearm(pose: PoseFrame, degrees: float, length: float) -> PoseFrame:
    """`pose` with its left forearm turned to `degrees` from +x, `length` torso heights long."""
    keypoints = pose.keypoints.copy()
    angle, reach = np.radians(degrees), length * torso_size(keypoints, pose.valid)
    keypoints[J["left_wrist"]] = keypoints[J["left_elbow"]] + reach * np.array([np.cos(angle), np.sin(angle)])
    return PoseFrame(keypoints, pose.confidence, pose.valid, pose.schema_tag)


def test_a_limb_comes_from_a_frame_where_it_has_its_length_not_one_where_it_is_foreshortened(dance: tuple) -> None:
    """Stretching a foreshortened forearm smears it; turning a whole one keeps it: a forearm of the
    right length 50 degrees off beats one in the right direction at a third of the length, while
    between two of the right length the nearer direction still wins."""
    base = dance[1][3]

    def described(pose: PoseFrame) -> tuple[np.ndarray, np.ndarray]:
        return part_descriptors(np.nan_to_num(pose.keypoints), pose.valid, torso_size(pose.keypoints, pose.valid))

    candidates = [described(_with_forearm(base, d, length)) for d, length in ((0, 0.3), (50, 0.9), (20, 0.9))]
    bank_points, bank_valid = np.stack([c[0] for c in candidates]), np.stack([c[1] for c in candidates])
    forearm = part_distances(bank_points, bank_valid, *described(_with_forearm(base, 0, 0.9)))[:, PART["left_elbow_wrist"]]
    assert forearm[1] < forearm[0], "the whole forearm, turned, is nearer than the foreshortened one"
    assert np.argmin(forearm) == 2, "of two whole forearms, the one pointing nearer the pose's"


def test_a_per_part_bank_keeps_its_mode_through_save_load_and_resize(part_bank: ExemplarBank, tmp_path: Path) -> None:
    part_bank.save(tmp_path / "bank.npz")
    assert ExemplarBank.load(tmp_path / "bank.npz").per_part
    assert part_bank.resized((128, 128)).per_part


def test_live_keeps_each_parts_pick_until_another_is_clearly_closer(dance: tuple, part_bank: ExemplarBank) -> None:
    frames, poses, masks = dance
    conditioner = ExemplarConditioner(part_bank, switch_ratio=0.85)
    first = conditioner.pick(poses[7]).copy()
    assert (first == 7).all()
    between = PoseFrame(0.48 * poses[7].keypoints + 0.52 * poses[8].keypoints, poses[7].confidence, poses[7].valid, poses[7].schema_tag)
    distances = part_bank.part_distances(between)
    parts = np.arange(len(PARTS))
    clearly_closer = distances.min(axis=0) < 0.85 * distances[7, parts]
    assert 0 < clearly_closer.sum() < len(PARTS), "the test's premise: some parts have a clearly closer exemplar, some not"
    picks = conditioner.pick(between)
    assert (picks[~clearly_closer] == 7).all(), "a slightly closer exemplar does not take over a part"
    assert (picks[clearly_closer] == distances.argmin(axis=0)[clearly_closer]).all(), "a much closer one does"
    label = render_label(poses[8], SIZE)
    assert conditioner(poses[8], label).shape == (1, 7, SIZE[1], SIZE[0])


def _face_shrunk(pose: PoseFrame, shrink: float) -> PoseFrame:
    """The pose with its face points drawn `shrink` times their size about the nose."""
    keypoints = pose.keypoints.copy()
    face = [J[name] for name in POSE_LANDMARK_NAMES[: J["mouth_right"] + 1]]
    nose = keypoints[J["nose"]].copy()
    keypoints[face] = nose + (keypoints[face] - nose) * shrink
    return PoseFrame(keypoints, pose.confidence, pose.valid, pose.schema_tag)


def test_a_face_collapsed_to_a_point_keeps_the_heads_size(dance: tuple, bank: ExemplarBank) -> None:
    """Seen from behind or looking down, the face points crowd together in 2D; the head is still
    drawn at the body's scale (within HEAD_SCALE_RANGE), not shrunk to a dot."""
    frames, poses, masks = dance
    t = int(bank.frame_ids[0])
    head_pixels = (bank.parts[0] == PART["head"]).sum()
    collapsed = _face_shrunk(poses[t], 0.1)
    matrix = part_transform(PART["head"], bank.keypoints[0], bank.valid[0], collapsed.keypoints, collapsed.valid, 1.0)
    assert np.sqrt(abs(np.linalg.det(matrix[:, :2]))) == pytest.approx(0.75)
    canvas = np.zeros((4, *SIZE[::-1]), np.float32)
    sources = np.full(len(PARTS), -1)
    sources[PART["head"]] = 0
    bank.warp_into(sources, collapsed, canvas)
    assert (canvas[3] >= 128).sum() > 0.4 * head_pixels  # 0.75^2 of its area, less the edges


def test_parts_are_drawn_farthest_first_by_depth_and_in_their_own_order_without() -> None:
    assert sorted(DRAWING_ORDER) == list(range(len(PARTS)))
    assert list(painting_order(None)) == list(DRAWING_ORDER)
    assert list(DRAWING_ORDER).index(PART["neck"]) < list(DRAWING_ORDER).index(PART["head"])  # the head over its neck
    depth = np.zeros(len(POSE_LANDMARK_NAMES), np.float32)
    assert list(painting_order(depth)) == list(DRAWING_ORDER)  # all level: the drawing order
    depth[[J["left_shoulder"], J["left_elbow"], J["left_wrist"]]] = 0.5  # the left arm behind the body
    depth[[J["right_elbow"], J["right_wrist"]]] = -0.5  # the right forearm reaching towards the camera
    order = list(painting_order(depth))
    assert order.index(PART["left_elbow_wrist"]) < order.index(PART["torso"])
    assert order.index(PART["left_shoulder_elbow"]) < order.index(PART["torso"])
    assert order[-2:] == [PART["right_shoulder_elbow"], PART["right_elbow_wrist"]]  # the nearest last, over the face
    depth[[J["nose"], J["left_ear"], J["right_ear"]]] = np.nan  # unknown: level with the torso
    order = list(painting_order(depth))
    assert order.index(PART["head"]) > order.index(PART["torso"])
    depth[J["left_ear"]] = -0.3  # one of its joints known: that one places it
    assert list(painting_order(depth)).index(PART["head"]) > order.index(PART["right_hip_knee"])
    depth[list(map(J.get, ("left_shoulder", "right_shoulder", "left_hip", "right_hip")))] = np.nan
    assert list(painting_order(depth)) == list(DRAWING_ORDER)  # no torso depth: the drawing order


def _forearm_across_the_chest(pose: PoseFrame) -> tuple[PoseFrame, tuple[int, int]]:
    """The pose with its left forearm swung across the torso, and a torso pixel it then covers."""
    keypoints = pose.keypoints.copy()
    chest = (keypoints[J["right_shoulder"]] + keypoints[J["left_hip"]]) / 2
    elbow = keypoints[J["left_elbow"]]
    keypoints[J["left_wrist"]] = elbow + 1.3 * (chest - elbow)
    for finger in ("left_index", "left_pinky", "left_thumb"):
        keypoints[J[finger]] = keypoints[J["left_wrist"]]
    crossing = elbow + 0.9 * (chest - elbow)
    return PoseFrame(keypoints, pose.confidence, pose.valid, pose.schema_tag), (int(round(crossing[1])), int(round(crossing[0])))


def test_an_arm_behind_the_body_is_covered_by_it_and_one_in_front_covers_it(dance: tuple, bank: ExemplarBank) -> None:
    frames, poses, masks = dance
    index = 0
    crossed, (y, x) = _forearm_across_the_chest(poses[int(bank.frame_ids[index])])
    without_arm = np.full(len(PARTS), index)
    without_arm[[PART["left_shoulder_elbow"], PART["left_elbow_wrist"]]] = -1
    body_alone, _ = bank.warp(without_arm, crossed)
    depth = np.zeros(len(POSE_LANDMARK_NAMES), np.float32)
    behind, front = depth.copy(), depth.copy()
    behind[[J["left_elbow"], J["left_wrist"]]], front[[J["left_elbow"], J["left_wrist"]]] = 0.5, -0.5
    crossed.depth = behind
    arm_behind, _ = bank.warp(index, crossed)
    crossed.depth = front
    arm_in_front, _ = bank.warp(index, crossed)
    assert (arm_behind[y, x] == body_alone[y, x]).all()  # the torso hides the arm
    assert np.abs(arm_in_front[y, x].astype(int) - body_alone[y, x]).max() > 20  # the arm hides the torso
    crossed.depth = None
    assert (bank.warp(index, crossed)[0][y, x] == arm_in_front[y, x]).all()  # no depth: arms over the torso, as before
