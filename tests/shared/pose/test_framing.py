import numpy as np

from shared.pose.framing import CropWindow, full_frame_window, person_window
from shared.pose.keypoints import PoseSequence
from shared.pose.schema import BODY_SCHEMA


def _poses(points: np.ndarray, image_size: tuple[int, int]) -> PoseSequence:
    t, k = points.shape[:2]
    valid = np.ones((t, k), bool)
    return PoseSequence(points, np.ones((t, k)), valid, image_size, 30, BODY_SCHEMA.tag)


def test_person_window_holds_the_person_with_output_aspect() -> None:
    rng = np.random.default_rng(0)
    points = rng.uniform([400, 300], [600, 900], size=(10, 33, 2)).astype(np.float32)
    window = person_window(_poses(points, (1080, 1920)), (256, 256))
    assert abs(window.width - window.height) <= 1
    assert window.x0 <= 400 and window.x0 + window.width >= 600
    assert window.y0 <= 300 and window.y0 + window.height >= 900
    assert window.x0 >= 0 and window.x0 + window.width <= 1080, "fits inside the frame, so it slides in"


def test_apply_and_map_poses_agree() -> None:
    frame = np.zeros((200, 300, 3), np.uint8)
    frame[100:104, 150:154] = 255  # a bright 4x4 dot centred on (151.5, 101.5)
    window = CropWindow(x0=50, y0=-50, width=200, height=200)  # reaches past the top edge: padded
    out = window.apply(frame, (100, 100))
    assert out.shape == (100, 100, 3)
    ys, xs = np.nonzero(out[..., 0] > 100)
    points = np.full((1, 33, 2), 10.0, np.float32)
    points[0, 0] = (151.5, 101.5)
    mapped = window.map_poses(_poses(points, (300, 200)), (100, 100))
    assert mapped.image_size == (100, 100)
    assert abs(mapped.keypoints[0, 0, 0] - xs.mean()) < 0.6
    assert abs(mapped.keypoints[0, 0, 1] - ys.mean()) < 0.6
    assert out[:20].max() == 0, "the part above the frame is black padding"


def test_full_frame_window_letterboxes() -> None:
    window = full_frame_window((640, 480), (256, 256))
    assert (window.width, window.height) == (640, 640)
    assert window.y0 == -80 and window.x0 == 0
