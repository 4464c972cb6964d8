import numpy as np
import pytest
import torch

from shared.label.facebox import FaceBox, face_box, face_box_size, face_boxes
from shared.pose.keypoints import PoseFrame, PoseSequence
from shared.pose.schema import BODY_SCHEMA, HOLISTIC_SCHEMA, SkeletonSchema


def make_pose(points: dict[str, tuple[float, float]], schema: SkeletonSchema = BODY_SCHEMA) -> PoseFrame:
    """A pose from pixel positions of the named joints; every other joint is missing."""
    frame = PoseFrame.missing(schema)
    for name, xy in points.items():
        i = schema.index(name)
        frame.keypoints[i] = xy
        frame.valid[i] = True
        frame.confidence[i] = 1.0
    return frame


def centre(box: FaceBox) -> tuple[float, float]:
    return box.x0 + box.size / 2, box.y0 + box.size / 2


@pytest.mark.parametrize(
    ("image_size", "expected"),
    [((256, 256), 64), ((512, 256), 64), ((1024, 512), 128), ((2048, 1024), 256)],
)
def test_size_scales_with_the_height(image_size, expected):
    assert face_box_size(image_size) == expected


@pytest.mark.parametrize("image_size", [(1920, 1080), (640, 360), (300, 100), (90, 40), (24, 20)])
def test_size_is_a_multiple_of_8_that_fits(image_size):
    size = face_box_size(image_size)
    assert size % 8 == 0
    assert 8 <= size <= min(image_size)
    if min(image_size) >= 16:
        assert size >= 16


def test_centred_on_the_nose():
    pose = make_pose({"nose": (100, 120), "left_ear": (130, 110), "right_ear": (60, 110)})
    box = face_box(pose, (256, 256))
    assert box is not None and box.size == 64
    assert centre(box) == (100, 120)


def test_falls_back_to_the_ears_midpoint_then_to_one_ear():
    both = face_box(make_pose({"left_ear": (130, 110), "right_ear": (90, 100)}), (256, 256))
    assert both is not None and centre(both) == (110, 105)
    one = face_box(make_pose({"right_ear": (90, 100), "left_shoulder": (150, 180)}), (256, 256))
    assert one is not None and centre(one) == (90, 100)


def test_none_without_head_points():
    pose = make_pose({"left_shoulder": (100, 150), "right_shoulder": (60, 150), "left_eye": (90, 100)})
    assert face_box(pose, (256, 256)) is None
    assert face_box(PoseFrame.missing(BODY_SCHEMA), (256, 256)) is None


@pytest.mark.parametrize(
    ("nose", "expected_x0", "expected_y0"),
    [
        ((5, 100), 0, 68),  # left border
        ((510, 100), 512 - 64, 68),  # right border
        ((200, 3), 168, 0),  # top border
        ((200, 254), 168, 256 - 64),  # bottom border
        ((-40, -40), 0, 0),  # outside, top-left corner
        ((900, 900), 512 - 64, 256 - 64),  # outside, bottom-right corner
    ],
)
def test_clamped_inside_the_image_without_shrinking(nose, expected_x0, expected_y0):
    box = face_box(make_pose({"nose": nose}), (512, 256))
    assert box == FaceBox(expected_x0, expected_y0, 64)


def test_explicit_size_and_a_size_that_cannot_fit():
    pose = make_pose({"nose": (100, 100)})
    assert face_box(pose, (256, 256), size=32) == FaceBox(84, 84, 32)
    with pytest.raises(ValueError):
        face_box(pose, (256, 128), size=200)


def test_holistic_poses_use_the_same_head_points():
    box = face_box(make_pose({"nose": (100, 120)}, HOLISTIC_SCHEMA), (256, 256))
    assert box is not None and centre(box) == (100, 120)


def test_face_boxes_for_a_sequence():
    frames = [make_pose({"nose": (100, 120)}), PoseFrame.missing(BODY_SCHEMA), make_pose({"left_ear": (20, 30)})]
    seq = PoseSequence.from_frames(frames, (256, 256), 30.0, BODY_SCHEMA)
    rows = face_boxes(seq)
    assert rows.shape == (3, 3) and np.issubdtype(rows.dtype, np.integer)
    assert FaceBox.from_row(rows[0]) == face_box(frames[0], (256, 256))
    assert (rows[1] == -1).all() and FaceBox.from_row(rows[1]) is None
    assert FaceBox.from_row(rows[2]) == FaceBox(0, 0, 64)
    assert face_boxes(seq, size=32)[0, 2] == 32


def test_crop_and_paste_numpy():
    image = np.arange(20 * 30 * 3, dtype=np.int32).reshape(20, 30, 3)
    box = FaceBox(x0=5, y0=2, size=8)
    crop = box.crop(image)
    assert crop.shape == (8, 8, 3)
    assert (crop == image[2:10, 5:13]).all()
    pasted = box.paste(image, np.zeros_like(crop))
    assert (pasted[2:10, 5:13] == 0).all()
    assert (image[2:10, 5:13] == crop).all() and image[2, 5, 1] != 0  # the input is untouched
    outside = np.ones_like(pasted, bool)
    outside[2:10, 5:13] = False
    assert (pasted[outside] == image[outside]).all()


def test_crop_and_paste_tensor_last_two_dims():
    image = torch.arange(2 * 3 * 20 * 30, dtype=torch.float32).reshape(2, 3, 20, 30)
    box = FaceBox(x0=5, y0=2, size=8)
    crop = box.crop(image)
    assert crop.shape == (2, 3, 8, 8)
    assert torch.equal(crop, image[:, :, 2:10, 5:13])
    pasted = box.paste(image, torch.zeros_like(crop))
    assert (pasted[..., 2:10, 5:13] == 0).all() and image[0, 0, 2, 5] != 0


def test_crop_outside_the_image_is_an_error():
    with pytest.raises(ValueError):
        FaceBox(x0=25, y0=0, size=8).crop(np.zeros((20, 30, 3)))
