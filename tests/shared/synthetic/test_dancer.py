"""The synthetic dancer: deterministic frames, exact ground truth, exact masks, MediaPipe-detectable."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from shared.errors import DanceError
from shared.pose.schema import BODY_SCHEMA, POSE_LANDMARK_NAMES
from shared.synthetic.background import render_background
from shared.synthetic.body import BODIES, SOURCE_BODY, TARGET_BODY
from shared.synthetic.dancer import dance_poses, render_dance, write_dance_video

J = {name: i for i, name in enumerate(POSE_LANDMARK_NAMES)}
SIDES = ("left", "right")


def test_same_arguments_give_identical_frames_and_poses():
    frames_a, poses_a = render_dance(TARGET_BODY, 12, (128, 96), fps=24.0, seed=3)
    frames_b, poses_b = render_dance(TARGET_BODY, 12, (128, 96), fps=24.0, seed=3)
    np.testing.assert_array_equal(frames_a, frames_b)
    np.testing.assert_array_equal(poses_a.keypoints, poses_b.keypoints)

    frames_c, poses_c = render_dance(TARGET_BODY, 12, (128, 96), fps=24.0, seed=4)
    assert not np.array_equal(frames_a, frames_c)
    assert not np.allclose(poses_a.keypoints, poses_c.keypoints)


def test_output_layout_and_ground_truth_metadata():
    frames, poses, masks = render_dance(SOURCE_BODY, 5, (96, 64), fps=25.0, seed=1, with_masks=True)
    assert frames.shape == (5, 64, 96, 3) and frames.dtype == np.uint8
    assert masks.shape == (5, 64, 96) and masks.dtype == bool
    assert poses.keypoints.shape == (5, BODY_SCHEMA.num_joints, 2)
    assert poses.schema_tag == BODY_SCHEMA.tag
    assert poses.image_size == (96, 64) and poses.fps == 25.0
    assert poses.valid.all() and np.all(poses.confidence == 1.0)


def test_dance_poses_is_the_ground_truth_without_drawing():
    _, rendered = render_dance(TARGET_BODY, 8, (160, 120), seed=2)
    poses = dance_poses(TARGET_BODY, 8, (160, 120), seed=2)
    np.testing.assert_array_equal(poses.keypoints, rendered.keypoints)
    np.testing.assert_array_equal(poses.valid, rendered.valid)


def test_bodies_differ_in_height_and_floor_line():
    size = (256, 256)
    heights, floors = {}, {}
    for name, body in BODIES.items():
        kp = dance_poses(body, 90, size).keypoints
        ankles_y = kp[:, [J["left_ankle"], J["right_ankle"]], 1]
        floors[name] = float(np.median(ankles_y.max(axis=1)))  # the planted (lower) foot
        heights[name] = float(np.median(ankles_y.max(axis=1) - kp[:, J["nose"], 1]))
    assert floors["target"] - floors["source"] > 0.08 * size[1]
    assert heights["target"] > 1.15 * heights["source"]
    # The planted ankle sits just above the body's floor line.
    for name, body in BODIES.items():
        assert body.floor_y * size[1] - 0.08 * size[1] < floors[name] < body.floor_y * size[1]


@pytest.mark.parametrize("body", [TARGET_BODY, SOURCE_BODY], ids=lambda b: b.name)
def test_keypoints_inside_frame_and_anatomically_ordered(body):
    width, height = 256, 256
    poses = dance_poses(body, 150, (width, height), seed=5)
    kp = poses.keypoints
    assert poses.valid.all()
    assert np.all((kp[..., 0] >= 0) & (kp[..., 0] < width) & (kp[..., 1] >= 0) & (kp[..., 1] < height))

    y = kp[..., 1]
    head = y[:, [J["nose"], J["left_eye"], J["right_eye"], J["left_ear"], J["right_ear"]]].max(axis=1)
    for side in SIDES:
        shoulder, hip = y[:, J[f"{side}_shoulder"]], y[:, J[f"{side}_hip"]]
        knee, ankle = y[:, J[f"{side}_knee"]], y[:, J[f"{side}_ankle"]]
        assert np.all(head < shoulder) and np.all(shoulder < hip) and np.all(hip < knee) and np.all(knee < ankle)
        assert np.all(y[:, J[f"{side}_eye"]] < y[:, J[f"mouth_{side}"]])
    # The person's left is on the image's right, as for someone facing the camera.
    x = kp[..., 0]
    for part in ("shoulder", "hip", "eye"):
        assert np.all(x[:, J[f"left_{part}"]] > x[:, J[f"right_{part}"]])


def test_the_dancer_moves_smoothly():
    kp = dance_poses(TARGET_BODY, 120, (256, 256), fps=30.0).keypoints
    step = np.linalg.norm(np.diff(kp, axis=0), axis=-1)
    assert step.max() < 0.05 * 256  # no jumps between consecutive frames at 30 fps
    wrists = kp[:, [J["left_wrist"], J["right_wrist"]]]
    assert np.all(np.ptp(wrists, axis=0).max(axis=-1) > 0.1 * 256)  # the arms really wave
    knees_to_hips = kp[:, J["left_knee"], 1] - kp[:, J["left_hip"], 1]
    assert np.ptp(knees_to_hips) > 0.01 * 256  # the knees bend


@pytest.mark.parametrize("size", [(256, 256), (512, 288)])
def test_joints_land_on_the_person_and_background_is_exact(size):
    width, height = size
    frames, poses, masks = render_dance(TARGET_BODY, 10, size, seed=2, with_masks=True)
    background = render_background(size, seed=2)
    assert frames.shape == (10, height, width, 3)

    # Outside the mask every pixel is the background plate, exactly; inside, the person shows.
    np.testing.assert_array_equal(frames[~masks], np.broadcast_to(background, frames.shape)[~masks])
    person_differs = (frames != background).any(axis=-1)[masks]
    assert person_differs.mean() > 0.99
    coverage = masks.mean(axis=(1, 2))
    assert np.all((coverage > 0.02) & (coverage < 0.4))

    for t in range(len(frames)):
        for name in ("left_shoulder", "right_shoulder", "left_hip", "right_hip", "nose", "left_knee"):
            x, y = np.round(poses.keypoints[t, J[name]]).astype(int)
            assert masks[t, y, x], f"{name} is off the person in frame {t}"
            assert np.any(frames[t, y, x] != background[y, x])


def test_ground_truth_scales_with_frame_height():
    """The same dance at another size: y follows the height, the body stays the same fraction."""
    small = dance_poses(SOURCE_BODY, 20, (256, 256)).keypoints
    wide = dance_poses(SOURCE_BODY, 20, (512, 288)).keypoints
    np.testing.assert_allclose(small[..., 1] / 256, wide[..., 1] / 288, atol=1e-5)


def test_joints_outside_the_frame_are_invalid():
    off_left = dataclasses.replace(TARGET_BODY, center_x=0.0)
    poses = dance_poses(off_left, 10, (256, 256))
    outside = ~poses.valid
    assert outside.any() and poses.valid.any()
    assert np.all(np.isnan(poses.keypoints[outside]))
    assert np.all(poses.confidence[outside] == 0.0)
    inside_points = poses.keypoints[poses.valid]
    assert np.all(inside_points[:, 0] >= 0)


def test_background_is_textured_deterministic_and_seeded():
    bg = render_background((200, 150), seed=0)
    assert bg.shape == (150, 200, 3) and bg.dtype == np.uint8
    np.testing.assert_array_equal(bg, render_background((200, 150), seed=0))
    assert not np.array_equal(bg, render_background((200, 150), seed=1))
    wall, floor = bg[:60].astype(float), bg[100:].astype(float)
    assert wall.std(axis=(0, 1)).max() > 5 and floor.std(axis=(0, 1)).max() > 5
    # Textured everywhere, not just two flat regions: most 8x8 tiles are not uniform.
    tiles = bg[:144, :200].reshape(18, 8, 25, 8, 3).std(axis=(1, 3)).max(axis=-1)
    assert (tiles > 1.0).mean() > 0.8


def test_bad_arguments_are_user_errors():
    with pytest.raises(DanceError):
        render_dance(TARGET_BODY, 3, (16, 16))
    with pytest.raises(DanceError):
        render_dance(TARGET_BODY, -1)
    with pytest.raises(DanceError):
        dance_poses(TARGET_BODY, 3, fps=0.0)


def test_write_dance_video_roundtrip(tmp_path):
    path = tmp_path / "dance.mp4"
    poses = write_dance_video(path, SOURCE_BODY, 12, (128, 96), fps=24.0, seed=1)
    expected, truth = render_dance(SOURCE_BODY, 12, (128, 96), fps=24.0, seed=1)
    np.testing.assert_array_equal(poses.keypoints, truth.keypoints)

    capture = cv2.VideoCapture(str(path))
    decoded = []
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        decoded.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    capture.release()
    assert len(decoded) == 12
    assert decoded[0].shape == (96, 128, 3)
    error = np.abs(decoded[5].astype(float) - expected[5]).mean()
    swapped = np.abs(decoded[5][..., ::-1].astype(float) - expected[5]).mean()
    assert error < 12.0 and error < swapped  # RGB order survives the BGR file boundary


@pytest.mark.parametrize("body", [TARGET_BODY, SOURCE_BODY], ids=lambda b: b.name)
def test_mediapipe_detects_the_dancer(body):
    mp = pytest.importorskip("mediapipe")
    size = (256, 256)
    frames, truth = render_dance(body, 30, size, seed=0)
    errors, detected = [], 0
    joints = [J[f"{side}_{part}"] for side in SIDES for part in ("shoulder", "hip")]
    with mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1) as pose:
        for frame, gt in zip(frames, truth.keypoints):
            result = pose.process(frame)
            if result.pose_landmarks is None:
                continue
            detected += 1
            found = np.array([(p.x * size[0], p.y * size[1]) for p in result.pose_landmarks.landmark])
            errors.extend(np.linalg.norm(found[joints] - gt[joints], axis=-1))
    assert detected >= 27, f"MediaPipe found the dancer in only {detected}/30 frames"
    assert np.mean(errors) < 6.0, f"mean shoulder/hip error {np.mean(errors):.1f} px at 256x256"
