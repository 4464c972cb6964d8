"""Calibration of the source's normalization stats, on the synthetic dancer's exact poses."""

from __future__ import annotations

import numpy as np

from shared.normalize.calibrator import Calibrator, LiveNormalizer
from shared.normalize.stats import PoseNormalizer, compute_stats
from shared.pose.keypoints import PoseFrame
from shared.synthetic.body import SOURCE_BODY, TARGET_BODY
from shared.synthetic.dancer import dance_poses

SIZE = (256, 256)
FPS = 30.0


def test_calibrator_learns_from_the_first_seconds() -> None:
    poses = dance_poses(SOURCE_BODY, 40, SIZE, FPS)
    calibrator = Calibrator(SIZE, seconds=1.0)
    results = [calibrator.add(poses[t], t / FPS) for t in range(40)]
    done = next(t for t, r in enumerate(results) if r is not None)
    assert done == 30  # the first frame at or past 1 s ends it
    assert results[done] == compute_stats(poses.replace(keypoints=poses.keypoints[:30], confidence=poses.confidence[:30],
                                                        valid=poses.valid[:30]))


def test_calibration_waits_until_the_whole_body_was_seen() -> None:
    poses = dance_poses(SOURCE_BODY, 60, SIZE, FPS)
    calibrator = Calibrator(SIZE, seconds=0.5)
    nobody = PoseFrame.missing(poses.schema)
    for t in range(30):  # one second of an empty room: nothing to measure
        assert calibrator.add(nobody, t / FPS) is None
    assert calibrator.progress == 1.0
    stats = None
    for t in range(30, 60):
        stats = calibrator.add(poses[t], t / FPS)
        if stats is not None:
            break
    assert stats is not None and stats.num_frames >= 2


def test_live_normalizer_normalizes_from_the_first_frame_or_by_fixed_stats() -> None:
    source = dance_poses(SOURCE_BODY, 30, SIZE, FPS)
    target_stats = compute_stats(dance_poses(TARGET_BODY, 30, SIZE, FPS))
    live = LiveNormalizer(target_stats, target_pose=target_stats.standing_pose(source.schema))
    for t in range(15):
        out = live(source[t], t / FPS)
        assert not live.calibrating and live.adaptive and live.source is None
        assert not np.allclose(out.keypoints[source[t].valid], source[t].keypoints[source[t].valid])
    assert live.describe() == "adaptive from the first frame, full body"
    fixed = LiveNormalizer(target_stats, compute_stats(source))
    expected = PoseNormalizer(compute_stats(source), target_stats)(source[15])
    np.testing.assert_allclose(fixed(source[15], 15 / FPS).keypoints, expected.keypoints)
    assert not fixed.adaptive and fixed.describe() == "fixed from the calibration file, full body"
    fixed.recalibrate()
    assert fixed.adaptive and fixed.source is None


def test_without_the_targets_standing_pose_it_waits_for_head_and_feet() -> None:
    from shared.pose.schema import LOWER_BODY

    source = dance_poses(SOURCE_BODY, 10, SIZE, FPS)
    valid = source.valid.copy()
    valid[:5, list(LOWER_BODY)] = False
    live = LiveNormalizer(compute_stats(dance_poses(TARGET_BODY, 30, SIZE, FPS)))  # a run from before the standing pose
    legless = source.replace(valid=valid)[0]
    out = live(legless, 0.0)
    assert live.calibrating and live.mode is None
    np.testing.assert_array_equal(out.keypoints, legless.keypoints)  # passed un-normalized
    live(source[5], 5 / FPS)
    assert not live.calibrating and live.mode == "full body"


def test_a_source_without_legs_switches_to_upper_body_mode_unless_full_body_is_forced() -> None:
    from shared.pose.schema import LOWER_BODY
    from shared.normalize.upper_body import standing_pose

    target = dance_poses(TARGET_BODY, 30, SIZE, FPS)
    source = dance_poses(SOURCE_BODY, 30, SIZE, FPS)
    valid = source.valid.copy()
    valid[:, list(LOWER_BODY)] = False  # a desk webcam
    desk = source.replace(valid=valid)
    standing = standing_pose(target)

    live = LiveNormalizer(compute_stats(target), target_pose=standing)
    outs = [live(desk[t], t / FPS) for t in range(30)]
    assert live.mode == "upper body"
    legs = np.stack([f.keypoints[list(LOWER_BODY)] for f in outs])  # from the first frame
    np.testing.assert_array_equal(legs, np.broadcast_to(standing.keypoints[list(LOWER_BODY)], legs.shape))

    forced = LiveNormalizer(compute_stats(target), target_pose=standing, full_body=True)
    for t in range(30):
        out = forced(desk[t], t / FPS)
    assert forced.mode == "full body"  # the floor guessed from the hips and the target's legs
    assert not np.array_equal(out.keypoints[out.valid], desk[29].keypoints[desk[29].valid])

    whole = LiveNormalizer(compute_stats(target), target_pose=standing)
    for t in range(30):
        whole(source[t], t / FPS)
    assert whole.mode == "full body"


def test_a_desk_view_with_a_few_guessed_ankles_is_still_upper_body() -> None:
    """MediaPipe "sees" out-of-view ankles now and then; below the frame they are not sightings,
    and legs in under MAX_LEG_SHARE of the frames do not make a full-body source."""
    from shared.pose.schema import ANKLES, LOWER_BODY
    from shared.normalize.upper_body import standing_pose

    target = dance_poses(TARGET_BODY, 30, SIZE, FPS)
    source = dance_poses(SOURCE_BODY, 30, SIZE, FPS)
    valid, keypoints = source.valid.copy(), source.keypoints.copy()
    valid[:, list(LOWER_BODY)] = False
    valid[10:20, list(ANKLES)] = True  # a third of the frames: ankles guessed below the picture
    keypoints[10:20, list(ANKLES), 1] = SIZE[1] + 40.0
    valid[25:27, list(ANKLES)] = True  # and two frames guessed just inside it
    keypoints[25:27, list(ANKLES), 1] = SIZE[1] - 5.0
    desk = source.replace(valid=valid, keypoints=keypoints)
    live = LiveNormalizer(compute_stats(target), target_pose=standing_pose(target))
    for t in range(30):
        live(desk[t], t / FPS)
    assert live.mode == "upper body"


def test_fixed_stats_whose_floor_jumps_give_way_to_adapting() -> None:
    target_stats = compute_stats(dance_poses(TARGET_BODY, 30, SIZE, FPS))
    source = dance_poses(SOURCE_BODY, 90, SIZE, FPS)
    live = LiveNormalizer(target_stats, compute_stats(source), target_pose=target_stats.standing_pose(source.schema))
    band = live._fixed.floor_band  # noqa: SLF001 - the band the feet are held in
    raised = source.replace(keypoints=source.keypoints - np.array([0.0, 150.0], np.float32))  # the floor estimate jumps
    for t in range(15):  # half a second off the floor: held in the band, still fixed
        out = live(raised[t], t / FPS)
        assert out.keypoints[out.valid][:, 1].max() >= band[0] - 1e-3
    assert not live.adaptive
    for t in range(15, 45):
        live(raised[t], t / FPS)
    assert live.adaptive  # a second on end: the source's floor moved, so it adapts from then on
    out = live(raised[45], 45 / FPS)
    assert abs(np.nanmax(out.keypoints[[27, 28], 1]) - target_stats.ankle_med) < 0.1 * target_stats.height_far
