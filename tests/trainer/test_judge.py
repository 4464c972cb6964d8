"""The judge: each frame detected on its own, inside the region where it differs from the plate."""

from __future__ import annotations

import numpy as np
import pytest

from shared.pose.keypoints import PoseFrame
from shared.pose.schema import BODY_SCHEMA
from shared.synthetic.background import render_background
from shared.synthetic.body import SOURCE_BODY
from shared.synthetic.dancer import render_dance
from trainer.judge import changed_region, detect_each, judge, judge_regions

SIZE = (256, 256)


@pytest.fixture(scope="module")
def dance() -> tuple[np.ndarray, list[PoseFrame], np.ndarray]:
    frames, poses, masks = render_dance(SOURCE_BODY, num_frames=12, size=SIZE, with_masks=True)
    return frames, [poses[t] for t in range(len(frames))], masks


def test_the_region_is_the_drawn_blob_grown_and_specks_are_ignored(dance: tuple) -> None:
    frames, poses, masks = dance
    plate = render_background(SIZE)
    noisy = frames[0].copy()
    rng = np.random.default_rng(0)
    specks = rng.integers(0, 256, (40, 2))
    noisy[specks[:, 1], specks[:, 0]] = 255 - noisy[specks[:, 1], specks[:, 0]]  # single-pixel noise far and wide
    x0, y0, x1, y1 = changed_region(noisy, plate)
    ys, xs = np.nonzero(masks[0])
    assert x0 <= xs.min() and y0 <= ys.min() and x1 > xs.max() and y1 > ys.max()
    assert (x1 - x0) * (y1 - y0) < 0.8 * SIZE[0] * SIZE[1], "the specks did not stretch the region over the frame"
    assert changed_region(plate.copy(), plate) is None
    speck_only = plate.copy()
    speck_only[100:104, 100:104] = 255 - speck_only[100:104, 100:104]
    assert changed_region(speck_only, plate) is None, "a speck is not a person"


def test_each_frame_is_detected_on_its_own(dance: tuple) -> None:
    """No carry-over: a frame reads the same after another frame as alone, and a frame where
    nothing was drawn has nobody (a tracker would have kept the last person)."""
    frames, poses, masks = dance
    plate = render_background(SIZE)
    images = [frames[0], frames[6], plate]
    regions = judge_regions(images, plate, poses[:3])
    assert regions[2] is None
    in_order = detect_each(images, regions, BODY_SCHEMA.tag, "test", progress=False)
    alone = detect_each([frames[6]], [regions[1]], BODY_SCHEMA.tag, "test", progress=False)
    assert in_order[1].present and np.allclose(in_order[1].keypoints[in_order[1].valid], alone[0].keypoints[alone[0].valid], atol=1e-3)
    assert not in_order[2].present


def test_real_frames_score_near_zero_and_far_below_the_floor(dance: tuple) -> None:
    frames, poses, masks = dance
    score, found = judge(list(frames), poses, render_background(SIZE), BODY_SCHEMA.tag, "test", progress=False)
    assert score.found_rate == 1.0 and len(found) == len(frames)
    assert score.pose_distance < 0.1 and score.pose_distance < 0.3 * score.shuffled_distance
    blank, _ = judge([render_background(SIZE)] * len(frames), poses, render_background(SIZE), BODY_SCHEMA.tag, "test", progress=False)
    assert blank.found_rate == 0.0 and blank.pose_distance is None
