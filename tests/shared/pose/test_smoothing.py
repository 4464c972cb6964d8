import numpy as np
import pytest

from shared.pose.keypoints import PoseFrame, PoseSequence
from shared.pose.schema import BODY_SCHEMA
from shared.pose.smoothing import OneEuroFilter, OneEuroPoseFilter, median_smooth

K = BODY_SCHEMA.num_joints
FPS = 30.0
JITTER = 3.0  # px, a typical detector wobble at label resolution


def track(values: np.ndarray) -> PoseSequence:
    """Every joint follows the same (T,) x track; y is a fixed offset of it."""
    values = np.asarray(values, np.float64)
    kp = np.stack([values, values + 50.0], axis=-1)[:, None, :].repeat(K, axis=1)
    kp = kp + np.arange(K)[None, :, None]  # joints differ, so a mix-up between them would show
    n = len(values)
    return PoseSequence(kp, np.ones((n, K)), np.ones((n, K), bool), (1024, 512), FPS, BODY_SCHEMA.tag)


def noisy_still(n: int = 150, seed: int = 0) -> PoseSequence:
    rng = np.random.default_rng(seed)
    seq = track(np.full(n, 300.0))
    return seq.replace(keypoints=seq.keypoints + rng.normal(0, JITTER, seq.keypoints.shape))


def step(n: int = 60, at: int = 30, low: float = 100.0, high: float = 300.0) -> PoseSequence:
    return track(np.where(np.arange(n) < at, low, high))


def run_pose_filter(seq: PoseSequence, pose_filter: OneEuroPoseFilter) -> PoseSequence:
    frames = [pose_filter(seq[t], t / seq.fps) for t in range(len(seq))]
    return PoseSequence.from_frames(frames, seq.image_size, seq.fps, seq.schema)


# --- median ------------------------------------------------------------------------------------


def test_median_reduces_jitter():
    seq = noisy_still()
    out = median_smooth(seq)
    inner = slice(3, -3)
    assert out.keypoints[inner].var(axis=0).mean() < 0.4 * seq.keypoints[inner].var(axis=0).mean()


@pytest.mark.parametrize("window", [5, 7])
def test_median_follows_a_step_within_half_a_window(window):
    seq = step(at=30)
    out = median_smooth(seq, window)
    settled = 30 + window // 2 + 1
    np.testing.assert_allclose(out.keypoints[settled:], seq.keypoints[settled:])
    np.testing.assert_allclose(out.keypoints[: 30 - window // 2 - 1], seq.keypoints[: 30 - window // 2 - 1])


def test_median_removes_a_single_outlier_frame():
    seq = noisy_still(n=60)
    kp = seq.keypoints.copy()
    kp[30] += 200.0
    out = median_smooth(seq.replace(keypoints=kp))
    assert np.abs(out.keypoints[30] - np.array([300.0, 350.0]) - np.arange(K)[:, None]).max() < 3 * JITTER


def test_median_keeps_missing_points_missing_and_ignores_them():
    seq = step(n=40, at=20)
    valid = seq.valid.copy()
    valid[5, 3] = False  # one joint unseen
    valid[10:13] = False  # no person for three frames
    valid[25:28, 7] = False
    valid[29:32, 7] = False  # joint 7 seen alone at frame 28, between gaps
    out = median_smooth(seq.replace(valid=valid))
    np.testing.assert_array_equal(out.valid, valid)
    assert np.isnan(out.keypoints[~valid]).all()
    assert np.isfinite(out.keypoints[valid]).all()
    assert not out.present[10:13].any()
    # Joint 7 is seen at frame 28 only, within that frame's window (25..31): with no valid
    # neighbours the point is kept as seen, not pulled towards the gaps.
    np.testing.assert_allclose(out.keypoints[28, 7], seq.keypoints[28, 7])
    # Next to the missing frames the median uses the valid neighbours only.
    np.testing.assert_allclose(out.keypoints[9], seq.keypoints[9])


def test_median_leaves_its_input_alone_and_rejects_even_windows():
    seq = noisy_still(n=20)
    before = seq.keypoints.copy()
    median_smooth(seq)
    np.testing.assert_array_equal(seq.keypoints, before)
    with pytest.raises(ValueError):
        median_smooth(seq, 4)


# --- One Euro ----------------------------------------------------------------------------------


def test_one_euro_scalar_smooths_jitter_and_follows_a_step():
    rng = np.random.default_rng(1)
    noise = 300.0 + rng.normal(0, JITTER, 200)
    f = OneEuroFilter(min_cutoff=1.0, beta=0.05)
    out = np.array([f(v, t / FPS) for t, v in enumerate(noise)])
    assert out[30:].var() < 0.4 * noise[30:].var()

    def frames_to_settle(beta: float) -> int:
        f = OneEuroFilter(min_cutoff=1.0, beta=beta)
        values = np.where(np.arange(60) < 30, 100.0, 300.0)
        out = np.array([f(v, t / FPS) for t, v in enumerate(values)])
        return int(np.argmax(np.abs(out[30:] - 300.0) < 20.0))  # within 10% of the 200 px step

    assert frames_to_settle(0.05) <= 4
    assert frames_to_settle(0.0) > 8  # without the speed term it is a slow 1 Hz low-pass


def test_one_euro_filters_arrays_elementwise_and_ignores_stale_timestamps():
    f = OneEuroFilter()
    first = f(np.array([1.0, 2.0]), 0.0)
    np.testing.assert_array_equal(first, [1.0, 2.0])
    moved = f(np.array([5.0, 2.0]), 1 / FPS)
    assert 1.0 < moved[0] < 5.0 and moved[1] == pytest.approx(2.0)
    np.testing.assert_array_equal(f(np.array([100.0, 100.0]), 1 / FPS), moved)


def test_pose_filter_reduces_jitter():
    seq = noisy_still()
    out = run_pose_filter(seq, OneEuroPoseFilter())
    tail = slice(30, None)
    assert out.keypoints[tail].var(axis=0).mean() < 0.4 * seq.keypoints[tail].var(axis=0).mean()


def test_pose_filter_follows_a_step_with_bounded_lag():
    seq = step(at=30)
    out = run_pose_filter(seq, OneEuroPoseFilter())
    error = np.abs(out.keypoints - seq.keypoints).max(axis=(1, 2))
    assert error[:30].max() < 1e-3
    assert (error[34:] < 0.1 * 200.0).all()


def test_pose_filter_matches_the_array_filter():
    seq = noisy_still(n=30)
    pose_out = run_pose_filter(seq, OneEuroPoseFilter(beta=0.05))
    f = OneEuroFilter(beta=0.05)
    array_out = np.stack([f(seq.keypoints[t], t / FPS) for t in range(len(seq))])
    np.testing.assert_allclose(pose_out.keypoints, array_out, rtol=1e-5)


def test_pose_filter_keeps_missing_points_missing_and_restarts_reappearing_joints():
    seq = step(n=20, at=10)
    valid = seq.valid.copy()
    valid[5:10, 2] = False  # joint 2 vanishes, then reappears after the step
    valid[14] = False  # a frame without a person
    out = run_pose_filter(seq.replace(valid=valid), OneEuroPoseFilter())
    np.testing.assert_array_equal(out.valid, valid)
    assert np.isnan(out.keypoints[~valid]).all()
    assert not out.present[14]
    # On reappearance joint 2 starts where it is seen, not dragged from its old place...
    np.testing.assert_allclose(out.keypoints[10, 2], seq.keypoints[10, 2])
    # ...while a joint seen all along still lags behind the step.
    assert np.abs(out.keypoints[10, 3] - seq.keypoints[10, 3]).max() > 1.0
    # After the empty frame everything restarts from what is seen.
    np.testing.assert_allclose(out.keypoints[15], seq.keypoints[15])


def test_pose_filter_reset_forgets_the_past():
    pose_filter = OneEuroPoseFilter()
    low, high = step(n=2, at=1)[0], step(n=2, at=1)[1]
    pose_filter(low, 0.0)
    pose_filter.reset()
    out = pose_filter(high, 1 / FPS)
    np.testing.assert_allclose(out.keypoints, high.keypoints)
    assert pose_filter(PoseFrame.missing(BODY_SCHEMA), 2 / FPS).present is False
