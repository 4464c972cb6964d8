"""Pose-position augmentation: the person moves and turns with its label, the stage stays the plate."""

from __future__ import annotations

import cv2
import numpy as np

from trainer.augment import AugmentConfig, augment_pair, move_face_box, random_similarity

SIZE = 64


def _scene() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two frames of a red square 'person' on a grey plate, its label a green square in the same place."""
    plate = np.full((SIZE, SIZE, 3), 90, np.uint8)
    plate[::4] = 120  # stripes, so a moved background would show
    frames = np.repeat(plate[None], 2, axis=0)
    frames[:, 20:40, 24:36] = (200, 30, 30)
    masks = np.zeros((2, SIZE, SIZE), np.uint8)
    masks[:, 20:40, 24:36] = 255
    labels = np.zeros((2, SIZE, SIZE, 3), np.uint8)
    labels[:, 20:40, 24:36] = (0, 255, 0)
    boxes = np.array([[24, 18, 12], [24, 18, 12]], np.int64)
    return labels, frames, masks, boxes, plate


def test_the_person_and_its_label_move_together_over_the_plate() -> None:
    labels, frames, masks, boxes, plate = _scene()
    config = AugmentConfig(probability=1.0, mask_blur=1)
    rng = np.random.default_rng(3)
    new_labels, new_frames, new_masks, new_boxes = augment_pair(labels, frames, masks, boxes, plate, rng, config)
    assert not np.array_equal(new_labels, labels)
    for label, frame, mask in zip(new_labels, new_frames, new_masks):
        person = cv2.erode((label[..., 1] == 255).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0  # inside its edge
        assert person.sum() > 60
        assert np.abs(frame[person].astype(int) - (200, 30, 30)).max() <= 2  # the person is where its label is
        away = cv2.dilate((label[..., 1] > 0).astype(np.uint8), np.ones((5, 5), np.uint8)) == 0  # past its edge
        assert np.array_equal(frame[away], plate[away])  # the rest is exactly the plate
        assert (mask[person] >= 250).all() and (mask[away] == 0).all()  # and the mask moved with the person
    assert new_boxes.shape == boxes.shape and (new_boxes[:, 2] == 12).all()


def test_pairs_are_left_alone_at_probability_zero_and_moves_are_bounded() -> None:
    labels, frames, masks, boxes, plate = _scene()
    same = augment_pair(labels, frames, masks, boxes, plate, np.random.default_rng(0), AugmentConfig(probability=0.0))
    assert all(a is b for a, b in zip(same, (labels, frames, masks, boxes)))
    config = AugmentConfig()
    for seed in range(50):
        matrix = random_similarity(np.random.default_rng(seed), (SIZE, SIZE), config)
        (a, b), (c, d) = matrix[:, :2]
        assert a == d and b == -c  # a similarity: no shear, no flip
        assert 1 - config.max_scale <= np.hypot(a, c) <= 1 + config.max_scale
        assert abs(np.degrees(np.arctan2(c, a))) <= config.max_rotation
        moved = move_face_box(np.array([50, 0, 12]), matrix, (SIZE, SIZE))
        assert 0 <= moved[0] <= SIZE - 12 and 0 <= moved[1] <= SIZE - 12  # the box stays inside the image
    assert (move_face_box(np.array([-1, -1, -1]), matrix, (SIZE, SIZE)) == -1).all()  # no face stays no face


def test_the_person_turns_about_its_own_centre() -> None:
    """A turn alone (no scale, no shift) keeps the person where it stands, so a lean is learnt in place."""
    labels, frames, masks, boxes, plate = _scene()
    # the square moved to stand 16 px right of the image centre: a turn about the centre would swing it away
    labels, frames, masks = np.roll(labels, 16, axis=2), np.roll(frames, 16, axis=2), np.roll(masks, 16, axis=2)
    config = AugmentConfig(probability=1.0, max_scale=0.0, max_shift=0.0, mask_blur=1)
    for seed in range(5):
        new_labels, _, _, _ = augment_pair(labels, frames, masks, boxes, plate, np.random.default_rng(seed), config)
        assert not np.array_equal(new_labels, labels)  # turned
        ys, xs = np.nonzero(new_labels[1][..., 1] == 255)
        assert abs(xs.mean() - 45.5) < 1.0 and abs(ys.mean() - 29.5) < 1.0  # the square's centre stays
