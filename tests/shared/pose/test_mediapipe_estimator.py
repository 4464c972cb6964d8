import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from shared.pose.mediapipe_estimator import EstimatorConfig, MediaPipeEstimator, extract_poses
from shared.pose.schema import BODY_SCHEMA, HOLISTIC_SCHEMA


@pytest.fixture(scope="module")
def real_poses(real_clip: Path):
    return extract_poses(real_clip, progress=False)


def test_real_person_is_found_in_nearly_every_frame(real_poses) -> None:
    assert len(real_poses) == 100
    assert real_poses.image_size == (1080, 1920)
    assert real_poses.fps == pytest.approx(60, rel=0.01)
    assert real_poses.present.sum() >= 90


def test_real_person_is_anatomically_plausible(real_poses) -> None:
    idx = BODY_SCHEMA.index
    ys = real_poses.keypoints[..., 1]
    frames = real_poses.valid[:, [idx("nose"), idx("left_shoulder"), idx("right_shoulder"), idx("left_hip"),
                                  idx("right_hip"), idx("left_ankle"), idx("right_ankle")]].all(axis=1)
    assert frames.sum() >= 90
    shoulders = ys[frames][:, [idx("left_shoulder"), idx("right_shoulder")]].mean(axis=1)
    hips = ys[frames][:, [idx("left_hip"), idx("right_hip")]].mean(axis=1)
    ankles = ys[frames][:, [idx("left_ankle"), idx("right_ankle")]].mean(axis=1)
    # The person bends forward at times, so the nose can drop to shoulder level; the eyes stay above.
    head = ys[frames][:, [idx("left_eye"), idx("right_eye"), idx("left_ear"), idx("right_ear")]].min(axis=1)
    assert (head < shoulders).all(), "head above the shoulders (y grows downwards)"
    assert (hips < ankles).all(), "ankles below the hips"
    inside = real_poses.keypoints[real_poses.valid]
    assert (inside[:, 0] > -50).all() and (inside[:, 0] < 1130).all()


def test_invalid_points_are_nan_not_zero(real_poses) -> None:
    assert np.isnan(real_poses.keypoints[~real_poses.valid]).all()
    assert np.isfinite(real_poses.keypoints[real_poses.valid]).all()


def test_frame_without_person_is_missing() -> None:
    with MediaPipeEstimator() as estimator:
        pose = estimator(np.full((256, 256, 3), 127, np.uint8))
    assert not pose.present
    assert pose.schema_tag == BODY_SCHEMA.tag


def test_holistic_adds_hand_points(real_clip: Path) -> None:
    poses = extract_poses(real_clip, EstimatorConfig(holistic=True), max_frames=5, progress=False)
    assert poses.schema_tag == HOLISTIC_SCHEMA.tag
    assert poses.keypoints.shape == (5, HOLISTIC_SCHEMA.num_joints, 2)
    assert poses.present.all()


QUIET_SCRIPT = """
import sys, time
import numpy as np
from shared.pose.mediapipe_estimator import EstimatorConfig, MediaPipeEstimator
from shared.synthetic.body import TARGET_BODY
from shared.synthetic.dancer import render_dance

frames, _ = render_dance(TARGET_BODY, 3, (256, 256))
for config in (EstimatorConfig(), EstimatorConfig(holistic=True, segmentation=True)):
    estimator = MediaPipeEstimator(config)
    time.sleep(0.5)  # the graph's threads would log its set-up here, after the constructor returned
    estimator.estimate(np.zeros((256, 256, 3), np.uint8))  # nobody yet: the first-person line is still to come
    assert all(estimator(frame).present for frame in frames)
    estimator.close()
print("our own line", file=sys.stderr)
"""


def test_mediapipe_says_nothing_on_the_terminal() -> None:
    """MediaPipe's native lines (graph set-up on its own threads, the first person found) never
    reach stderr, whenever they come; our own stderr lines still do."""
    from tests.shared.io.test_quiet import native_log_lines

    root = Path(__file__).resolve().parents[3]
    done = subprocess.run([sys.executable, "-c", QUIET_SCRIPT], capture_output=True, text=True, cwd=root, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert native_log_lines(done.stderr) == []
    assert done.stderr.splitlines()[-1] == "our own line"
