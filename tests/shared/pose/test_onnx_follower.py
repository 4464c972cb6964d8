"""MediaPipe's pose landmark model under onnxruntime, and the ROI tracking around it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from shared.errors import DanceError
from shared.pose.keypoints import torso_size
from shared.pose.onnx_follower import (
    INPUT_SIDE,
    ROI_SCALE,
    OnnxPoseFollower,
    Roi,
    crop_input,
    landmark_model_path,
)
from shared.pose.tflite_onnx import same_pads, tflite_to_onnx

REFERENCE = Path(__file__).parent / "data" / "pose_landmark_full_reference.npz"


def test_the_converted_model_computes_what_tflite_computes():
    # the reference: ai-edge-litert 2.3.0 (TFLite with XNNPACK) on this input, stored once
    graph = tflite_to_onnx(landmark_model_path(), {0: "landmarks", 1: "flag"})
    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    image = np.random.default_rng(0).random((1, 256, 256, 3)).astype(np.float32)
    landmarks, flag = session.run(None, {"image": image.transpose(0, 3, 1, 2).copy()})
    expected = np.load(REFERENCE)
    assert landmarks.shape == (1, 195) and flag.shape == (1, 1)
    assert np.abs(landmarks - expected["landmarks"]).max() < 0.02  # input pixels, values up to 190
    assert np.abs(flag - expected["flag"]).max() < 1e-6
    assert not any(node.op_type == "Pad" for node in graph.graph.node)  # folded into the convs


def test_same_padding_is_tensorflows():
    assert same_pads(256, 3, 2) == (0, 1)  # the odd pixel goes after
    assert same_pads(255, 3, 2) == (1, 1)
    assert same_pads(64, 5, 1) == (2, 2)
    assert same_pads(8, 3, 1, dilation=2) == (2, 2)
    assert same_pads(4, 1, 1) == (0, 0)


@pytest.mark.parametrize("content", [b"", b"not a model at all", None])
def test_a_missing_or_corrupt_model_is_a_clear_error(tmp_path: Path, content: bytes | None):
    path = tmp_path / "model.tflite"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DanceError, match="model.tflite: not a readable TensorFlow Lite model"):
        tflite_to_onnx(path, {0: "landmarks"})


def test_the_roi_is_mediapipes_alignment_rect():
    upright = Roi.from_alignment(np.array([100.0, 300.0]), np.array([100.0, 200.0]))
    assert upright.rotation == pytest.approx(0.0)
    assert upright.side == pytest.approx(2 * 100 * ROI_SCALE)
    centre = upright.to_image() @ np.array([INPUT_SIDE / 2, INPUT_SIDE / 2, 1.0])
    assert centre == pytest.approx([100.0, 300.0])
    # a body lying with its head to the right: the crop's "up" points right in the frame
    lying = Roi.from_alignment(np.array([100.0, 300.0]), np.array([180.0, 300.0]))
    assert lying.rotation == pytest.approx(np.pi / 2)
    top_centre = lying.to_image() @ np.array([INPUT_SIDE / 2, 0.0, 1.0])
    assert top_centre == pytest.approx([100.0 + lying.side / 2, 300.0])


@pytest.mark.parametrize("rotation", [0.0, 0.4, -2.0])
def test_the_crop_and_the_mapping_back_agree_to_a_fraction_of_a_pixel(rotation: float):
    # a bright blob centred on pixel (412, 233), i.e. at (412.5, 233.5) in continuous coordinates
    ys, xs = np.mgrid[0:480, 0:640]
    blob = np.exp(-((xs - 412) ** 2 + (ys - 233) ** 2) / (2 * 6.0**2))
    image = np.repeat((255 * blob).astype(np.uint8)[..., None], 3, axis=2)
    roi = Roi(np.array([380.0, 250.0]), 180.0, rotation)
    crop = crop_input(image, roi).astype(np.float64)[..., 0]
    v, u = np.mgrid[0:INPUT_SIDE, 0:INPUT_SIDE]
    weight = crop / crop.sum()
    found = np.array([(weight * (u + 0.5)).sum(), (weight * (v + 0.5)).sum(), 1.0])
    assert roi.to_image() @ found == pytest.approx([412.5, 233.5], abs=0.3)


@pytest.fixture(scope="module")
def real_frames() -> list[np.ndarray]:
    from shared.io.video import read_frames
    from tests.conftest import fetch_pose2sim_clip

    return list(read_frames(fetch_pose2sim_clip("cam01"), max_frames=40))


def test_following_agrees_with_mediapipe_on_a_real_person(real_frames: list[np.ndarray]):
    from shared.pose.mediapipe_estimator import MediaPipeEstimator

    follower = OnnxPoseFollower()
    errors, depths = [], []
    with MediaPipeEstimator() as mediapipe:
        first = mediapipe(real_frames[0])
        follower.start(real_frames[0], first, mediapipe.body_points)
        assert follower.following
        for image in real_frames[1:]:
            expected, followed = mediapipe(image), follower.follow(image)
            assert followed.present and follower.following
            both = expected.valid & followed.valid
            assert both.sum() >= 25
            distance = np.linalg.norm(expected.keypoints[both] - followed.keypoints[both], axis=1)
            errors.append(distance / torso_size(expected.keypoints, expected.valid))
            depths.append(np.stack([expected.depth[both], followed.depth[both]]))
    errors = np.concatenate(errors)
    # MediaPipe also smooths its points and refines them from a heatmap; the follower does not
    assert np.median(errors) < 0.06
    assert np.percentile(errors, 90) < 0.15
    # the depth, in MediaPipe's units (frame widths, from the hips' middle): the same to within its spread
    expected_depth, followed_depth = np.concatenate(depths, axis=1)
    assert np.isfinite(expected_depth).all() and np.isfinite(followed_depth).all()
    assert np.corrcoef(expected_depth, followed_depth)[0, 1] > 0.95
    assert np.median(np.abs(expected_depth - followed_depth)) < 0.2 * np.std(expected_depth)


def test_an_empty_view_ends_the_follow(real_frames: list[np.ndarray]):
    from shared.pose.mediapipe_estimator import MediaPipeEstimator

    follower = OnnxPoseFollower()
    with MediaPipeEstimator() as mediapipe:
        follower.start(real_frames[0], mediapipe(real_frames[0]))  # seeded from the seen points alone
    assert follower.following
    assert follower.follow(real_frames[1]).present
    gone = follower.follow(np.full_like(real_frames[2], 90))
    assert not gone.present and not follower.following
    assert not follower.follow(real_frames[3]).present  # it waits to be started again


def test_a_warmed_up_tracker_starts_empty_and_finds_the_person(real_frames: list[np.ndarray]):
    from shared.pose.schema import BODY_SCHEMA
    from shared.pose.tracking import SourcePoseTracker

    tracker = SourcePoseTracker(BODY_SCHEMA.tag, (256, 256))
    try:
        tracker.warm_up()
        assert tracker.follower is not None and not tracker.follower.following
        assert not tracker.lock.locked
        first = tracker.estimate(real_frames[0], 0.0)
        assert first.present and tracker.follower.following  # MediaPipe found them, the follower took over
        assert tracker.estimate(real_frames[1], 1 / 60).present
    finally:
        tracker.close()


def test_a_desk_view_is_followed_from_mediapipes_unseen_points_too(real_frames: list[np.ndarray]):
    # the top half of the clip (bench/live.py's desk kind): the ankles are out of the picture. The
    # follower starts from all 33 points MediaPipe places, the unseen ankles below the picture
    # included, so its region holds the whole body as the model expects
    from shared.pose.mediapipe_estimator import MediaPipeEstimator

    desk = [np.ascontiguousarray(image[: image.shape[0] // 2]) for image in real_frames[::2]]
    follower = OnnxPoseFollower()
    with MediaPipeEstimator() as mediapipe:
        first = mediapipe(desk[0])
        assert first.present and not first.valid[[27, 28]].any()  # no ankle seen
        assert mediapipe.body_points is not None and (mediapipe.body_points[[27, 28], 1] > desk[0].shape[0]).all()
        follower.start(desk[0], first, mediapipe.body_points)
    assert follower.following
    assert follower.roi.centre[1] + follower.roi.side / 2 > desk[0].shape[0]  # the region reaches below the picture
    for image in desk[1:]:
        pose = follower.follow(image)
        assert pose.present and pose.valid[[0, 11, 12]].all()  # the nose and both shoulders
        assert not pose.valid[[27, 28]].any()
