import json

import numpy as np
import pytest

from shared.errors import DanceError
from shared.normalize.stats import (
    NormalizationStats,
    PoseNormalizer,
    compute_stats,
    normalize_sequence,
)
from shared.pose.keypoints import PoseFrame, PoseSequence
from shared.pose.schema import BODY_SCHEMA

SIZE = (1024, 512)
K = BODY_SCHEMA.num_joints
IDX = BODY_SCHEMA.index
ANKLES = [IDX("left_ankle"), IDX("right_ankle")]

# A standing figure in body-height units: x to the right of its centre, y relative to the floor
# (negative is up), nose one unit above the floor.
_LAYOUT = {
    "nose": (0.0, -1.0),
    "left_eye_inner": (0.01, -1.01), "left_eye": (0.02, -1.01), "left_eye_outer": (0.03, -1.01),
    "right_eye_inner": (-0.01, -1.01), "right_eye": (-0.02, -1.01), "right_eye_outer": (-0.03, -1.01),
    "left_ear": (0.05, -1.0), "right_ear": (-0.05, -1.0),
    "mouth_left": (0.015, -0.97), "mouth_right": (-0.015, -0.97),
    "left_shoulder": (0.12, -0.82), "right_shoulder": (-0.12, -0.82),
    "left_elbow": (0.15, -0.63), "right_elbow": (-0.15, -0.63),
    "left_wrist": (0.16, -0.47), "right_wrist": (-0.16, -0.47),
    "left_pinky": (0.17, -0.44), "right_pinky": (-0.17, -0.44),
    "left_index": (0.16, -0.43), "right_index": (-0.16, -0.43),
    "left_thumb": (0.15, -0.44), "right_thumb": (-0.15, -0.44),
    "left_hip": (0.07, -0.5), "right_hip": (-0.07, -0.5),
    "left_knee": (0.07, -0.27), "right_knee": (-0.07, -0.27),
    "left_ankle": (0.07, 0.0), "right_ankle": (-0.07, 0.0),
    "left_heel": (0.07, 0.01), "right_heel": (-0.07, 0.01),
    "left_foot_index": (0.1, 0.015), "right_foot_index": (-0.1, 0.015),
}  # fmt: skip
TEMPLATE = np.array([_LAYOUT[name] for name in BODY_SCHEMA.joint_names])


def walking_figure(
    n: int = 90,
    horizon: float = 100.0,
    depth_px: float = 0.8,
    floor: tuple[float, float] = (300.0, 480.0),
    step_lift: float = 0.04,
    jump_frame: int | None = 20,
) -> PoseSequence:
    """A figure walking towards and away from a perspective camera: its floor line moves between
    `floor` (far, close) and its height in pixels is depth_px * (floor line - horizon), as for a
    camera looking at a flat floor. Feet take turns lifting; one frame is a jump."""
    t = np.arange(n)
    far, close = floor
    floor_y = far + (close - far) * 0.5 * (1 - np.cos(2 * np.pi * t / 60))
    height = depth_px * (floor_y - horizon)
    centre_x = SIZE[0] / 2 + 200 * np.sin(2 * np.pi * t / 45)
    offsets = np.broadcast_to(TEMPLATE, (n, K, 2)).copy()
    lift = step_lift * np.sin(2 * np.pi * t / 12)
    offsets[:, IDX("left_ankle"), 1] -= np.clip(lift, 0, None)  # one foot lifts at a time
    offsets[:, IDX("right_ankle"), 1] -= np.clip(-lift, 0, None)
    offsets[:, IDX("left_wrist"), 1] += 0.05 * np.sin(2 * np.pi * t / 15)
    base_y = floor_y.copy()
    if jump_frame is not None:
        base_y[jump_frame] -= 0.3 * height[jump_frame]
    kp = np.stack([centre_x, base_y], axis=1)[:, None, :] + offsets * height[:, None, None]
    return PoseSequence(kp, np.ones((n, K)), np.ones((n, K), bool), SIZE, 30.0, BODY_SCHEMA.tag)


def scaled_about(seq: PoseSequence, k: float, centre_y: float, shift_y: float) -> PoseSequence:
    """The same video filmed from elsewhere: scaled by k about a point on the centre column."""
    centre = np.array([SIZE[0] / 2, centre_y])
    return seq.replace(keypoints=(seq.keypoints - centre) * k + centre + np.array([0.0, shift_y]))


def sequence_from_rows(ankle_y: list[float], head_y: list[float], nose: bool = True, lift: float = 0.0) -> PoseSequence:
    """Frames holding only ankles (the left at ankle_y, the right `lift` px higher) and a head
    point (nose, or the eyes)."""
    n = len(ankle_y)
    kp = np.full((n, K, 2), np.nan)
    valid = np.zeros((n, K), bool)
    kp[:, ANKLES, 0] = [500.0, 520.0]
    kp[:, ANKLES, 1] = np.asarray(ankle_y)[:, None] - np.array([0.0, lift])
    valid[:, ANKLES] = True
    heads = [IDX("nose")] if nose else [IDX("left_eye"), IDX("right_eye")]
    kp[:, heads, 0] = 510.0
    kp[:, heads, 1] = np.asarray(head_y)[:, None]
    valid[:, heads] = True
    return PoseSequence(kp, valid.astype(float), valid, SIZE, 30.0, BODY_SCHEMA.tag)


def lower_ankle(seq: PoseSequence) -> np.ndarray:
    return np.nanmax(seq.keypoints[:, ANKLES, 1], axis=1)


def body_height(seq: PoseSequence) -> np.ndarray:
    return np.nanmean(seq.keypoints[:, ANKLES, 1], axis=1) - seq.keypoints[:, IDX("nose"), 1]


# --- stats -------------------------------------------------------------------------------------


def test_stats_follow_the_far_and_close_rules():
    # Floor lines (lower ankle) from 450 (close) up to 410, plus a jump at 300 that must not count
    # as the far line. The other ankle is 6 px higher, so the mean ankle is 3 px above the floor.
    ankle = [450, 449, 440, 430, 420, 419, 410, 300]
    height = [200, 205, 210, 190, 172, 170, 175, 150]
    head = [a - 3 - h for a, h in zip(ankle, height)]
    stats = compute_stats(sequence_from_rows(ankle, head, lift=6.0))
    assert stats.ankle_max == pytest.approx(450)
    assert stats.ankle_med == pytest.approx(np.median(ankle))
    # 0 < med - a < 0.5 (max - med) keeps 420 and 419 (410 and the jump are too far above the median).
    assert stats.ankle_far == pytest.approx(419)
    # Heights come from within 5% of (max - far) = 1.55 px of each line: 449/450 and 419/420.
    assert stats.height_close == pytest.approx(205)
    assert stats.height_far == pytest.approx(172)
    assert stats.num_frames == 8
    assert stats.image_size == SIZE


def test_far_line_falls_back_to_the_median_and_heads_fall_back_to_the_eyes():
    ankle = [400, 400, 400, 500]
    head = [250, 240, 260, 300]
    stats = compute_stats(sequence_from_rows(ankle, head, nose=False))
    assert stats.ankle_far == pytest.approx(stats.ankle_med) == pytest.approx(400)
    assert stats.height_far == pytest.approx(160)  # tallest of the frames standing on 400
    assert stats.height_close == pytest.approx(200)


def test_single_depth_video_has_equal_heights():
    stats = compute_stats(sequence_from_rows([400, 400, 400], [250, 230, 240]))
    assert stats.ankle_max == stats.ankle_far == stats.ankle_med == pytest.approx(400)
    assert stats.height_close == stats.height_far == pytest.approx(170)


def test_stats_need_frames_with_ankles_and_a_head():
    seq = walking_figure(n=10, jump_frame=None)
    valid = seq.valid.copy()
    valid[1:, ANKLES] = False  # only the first frame keeps its ankles
    with pytest.raises(DanceError, match="frames"):
        compute_stats(seq.replace(valid=valid))


def test_stats_json_round_trip(tmp_path):
    stats = compute_stats(walking_figure())
    assert NormalizationStats.from_json(stats.to_json()) == stats
    assert NormalizationStats.from_json(json.dumps(stats.to_json())) == stats
    path = tmp_path / "stats.json"
    stats.save(path)
    assert NormalizationStats.load(path) == stats


@pytest.mark.parametrize("content", ["not json", "[1, 2]", '{"ankle_max": 1}', None])
def test_loading_bad_stats_is_a_user_error(tmp_path, content):
    path = tmp_path / "stats.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(DanceError, match="stats"):
        NormalizationStats.load(path)


def test_stats_with_non_positive_height_are_rejected():
    data = compute_stats(walking_figure()).to_json()
    data["height_far"] = 0.0
    with pytest.raises(DanceError, match="height"):
        NormalizationStats.from_json(data)


# --- mapping -----------------------------------------------------------------------------------


def test_video_mapped_onto_itself_is_the_identity():
    seq = walking_figure()
    stats = compute_stats(seq)
    out = normalize_sequence(seq, stats, stats)
    np.testing.assert_allclose(out.keypoints, seq.keypoints, atol=1e-3)
    np.testing.assert_array_equal(out.valid, seq.valid)


@pytest.mark.parametrize("k,centre_y,shift_y", [(0.7, 256.0, 30.0), (1.3, 400.0, -60.0)])
def test_scaled_and_shifted_copy_maps_back_onto_the_target(k, centre_y, shift_y):
    target = walking_figure()
    source = scaled_about(target, k, centre_y, shift_y)
    source_stats, target_stats = compute_stats(source), compute_stats(target)
    assert source_stats.height_close == pytest.approx(k * target_stats.height_close, rel=1e-4)
    out = normalize_sequence(source, source_stats, target_stats)
    np.testing.assert_allclose(out.keypoints, target.keypoints, atol=1.0)


def test_depth_dependent_scale_matches_target_heights_at_both_floor_lines():
    # A different person and camera: both close and far frames must take the target's heights.
    target = walking_figure(step_lift=0.0, jump_frame=None)
    source = walking_figure(horizon=-50.0, depth_px=0.5, floor=(250.0, 420.0), step_lift=0.0, jump_frame=None)
    source_stats, target_stats = compute_stats(source), compute_stats(target)
    out = normalize_sequence(source, source_stats, target_stats)
    a = lower_ankle(source)
    close, far = np.argmax(a), np.argmin(np.abs(a - source_stats.ankle_far))
    assert lower_ankle(out)[close] == pytest.approx(target_stats.ankle_max, abs=1e-2)
    assert lower_ankle(out)[far] == pytest.approx(target_stats.ankle_far, abs=1e-2)
    assert body_height(out)[close] == pytest.approx(target_stats.height_close, rel=1e-3)
    assert body_height(out)[far] == pytest.approx(target_stats.height_far, rel=0.05)
    # The figure is scaled about the centre column, so its horizontal offset from it scales too.
    scale = body_height(out)[close] / body_height(source)[close]
    nose = IDX("nose")
    assert out.keypoints[close, nose, 0] - SIZE[0] / 2 == pytest.approx(
        scale * (source.keypoints[close, nose, 0] - SIZE[0] / 2), rel=1e-3
    )


def test_missing_frames_and_frames_without_ankles_reuse_the_last_good_mapping():
    target = walking_figure()
    source = scaled_about(target, 0.7, 256.0, 30.0)
    stats_s, stats_t = compute_stats(source), compute_stats(target)
    valid = source.valid.copy()
    valid[10:13] = False  # no person
    valid[40:44, ANKLES] = False  # person without ankles
    broken = source.replace(valid=valid)

    assert compute_stats(broken).num_frames == len(broken) - 7  # stats skip the broken frames
    out = normalize_sequence(broken, stats_s, stats_t)
    assert not out.valid[10:13].any() and np.isnan(out.keypoints[10:13]).all()
    assert not out.valid[40:44, ANKLES].any()
    # This source maps onto the target by one fixed similarity, so reusing the last good mapping
    # must still land every seen point on the target.
    np.testing.assert_allclose(out.keypoints[out.valid], target.keypoints[out.valid], atol=1.0)

    # For a source whose mapping changes from frame to frame, an ankle-less frame must get exactly
    # the mapping of the last frame that had ankles.
    other = walking_figure(horizon=-50.0, depth_px=0.5, floor=(250.0, 420.0))
    normalizer = PoseNormalizer(compute_stats(other), stats_s)
    last_good, blind = other[39], other[40]
    normalizer(last_good)
    blind_valid = blind.valid.copy()
    blind_valid[ANKLES] = False
    got = normalizer(PoseFrame(blind.keypoints, blind.confidence, blind_valid, blind.schema_tag))
    blind_with_old_ankles = blind.keypoints.copy()
    blind_with_old_ankles[ANKLES] = last_good.keypoints[ANKLES]
    normalizer.reset()
    expected = normalizer(PoseFrame(blind_with_old_ankles, blind.confidence, blind.valid, blind.schema_tag))
    seen = np.setdiff1d(np.arange(K), ANKLES)
    np.testing.assert_allclose(got.keypoints[seen], expected.keypoints[seen], atol=1e-3)
    assert np.isnan(got.keypoints[ANKLES]).all()


def test_frames_before_any_ankle_pass_through_unchanged():
    source = walking_figure(horizon=-50.0, depth_px=0.5, floor=(250.0, 420.0))
    normalizer = PoseNormalizer(compute_stats(source), compute_stats(walking_figure()))
    frame = source[5]
    no_ankles = frame.valid.copy()
    no_ankles[ANKLES] = False
    out = normalizer(PoseFrame(frame.keypoints, frame.confidence, no_ankles, frame.schema_tag))
    np.testing.assert_allclose(out.keypoints[no_ankles], frame.keypoints[no_ankles])
    assert normalizer(PoseFrame.missing(BODY_SCHEMA)).present is False


def test_source_and_target_must_share_a_pixel_frame():
    seq = walking_figure()
    stats = compute_stats(seq)
    other = compute_stats(seq.replace(image_size=(640, 360)))
    with pytest.raises(DanceError, match="same size"):
        PoseNormalizer(other, stats)
    with pytest.raises(DanceError, match="stats"):
        normalize_sequence(seq, other, other)


def test_single_depth_source_keeps_its_jumps():
    # max == far: no depth range, so the mapping is a plain shift onto the target's far line.
    seq = sequence_from_rows([400, 400, 400, 350], [230, 230, 230, 180])
    stats = compute_stats(seq)
    np.testing.assert_allclose(normalize_sequence(seq, stats, stats).keypoints, seq.keypoints, atol=1e-3)
    lower = compute_stats(seq.replace(keypoints=seq.keypoints + np.array([0.0, 20.0])))
    out = normalize_sequence(seq, stats, lower)
    np.testing.assert_allclose(out.keypoints, seq.keypoints + np.array([0.0, 20.0]), atol=1e-3)


def test_the_feet_never_leave_the_target_floor_band_by_more_than_its_range():
    source_stats = compute_stats(sequence_from_rows([400, 390, 380, 395], [230, 225, 220, 228]))
    target_stats = compute_stats(sequence_from_rows([300, 290, 280, 295], [100, 95, 90, 98]))
    normalizer = PoseNormalizer(source_stats, target_stats)
    low, high = normalizer.floor_band
    width = max(target_stats.ankle_max - target_stats.ankle_far, 0.35 * target_stats.height_far)
    assert low == pytest.approx(target_stats.ankle_far - width) and high == pytest.approx(target_stats.ankle_max + width)
    # a floor estimate gone wild (the source's feet far above anything it calibrated on)
    wild = sequence_from_rows([400, 120, 700], [230, -50, 530])
    feet = []
    for t in range(len(wild)):
        out = normalizer(wild[t])
        feet.append(float(lower_ankle(PoseSequence.from_frames([out], SIZE, 30.0, BODY_SCHEMA))[0]))
        assert normalizer.clamped == (t != 0)
    assert all(low - 1e-3 <= y <= high + 1e-3 for y in feet)
