import numpy as np

from shared.synthetic.body import TARGET_BODY
from shared.synthetic.background import render_background
from shared.synthetic.dancer import render_dance
from trainer.plate import STATIC_RESIDUAL_LIMIT, clear_background, estimate_plate, person_masks


def test_plate_of_the_synthetic_dancer_is_its_background() -> None:
    frames, _, masks = render_dance(TARGET_BODY, 60, (256, 256), with_masks=True)
    background = render_background((256, 256))
    estimate = estimate_plate(frames, masks.astype(np.uint8) * 255)
    error = np.abs(estimate.plate.astype(int) - background).max(axis=-1)
    seen = ~masks.all(axis=0)  # pixels the dancer leaves free at least once
    assert np.percentile(error[seen], 99) <= 2
    assert error[seen].mean() < 1.0  # medians of an even count round halfway values
    assert estimate.static and estimate.residual < 0.01
    # Without masks the median still gets most of the background but not where the dancer stands.
    plain = estimate_plate(frames, None)
    assert np.abs(plain.plate.astype(int) - background).mean() > np.abs(estimate.plate.astype(int) - background).mean()


def test_a_moving_camera_is_detected() -> None:
    frames, _, masks = render_dance(TARGET_BODY, 40, (256, 256), with_masks=True)
    panned = np.stack([np.roll(f, 4 * i, axis=1) for i, f in enumerate(frames)])
    panned_masks = np.stack([np.roll(m, 4 * i, axis=1) for i, m in enumerate(masks)]).astype(np.uint8) * 255
    estimate = estimate_plate(panned, panned_masks)
    assert estimate.residual > STATIC_RESIDUAL_LIMIT and not estimate.static


def _standing_square_sequence(count: int = 40, side: int = 128):
    """Textured background + noise, a red square that never leaves one spot, a blue one walking across."""
    rng = np.random.default_rng(0)
    background = render_background((side, side))
    frames = np.clip(background[None] + rng.normal(0, 3, (count, side, side, 3)), 0, 255).round().astype(np.uint8)
    masks = np.zeros((count, side, side), np.uint8)
    standing = (slice(74, 90), slice(40, 56))  # 16 x 16 px, on the planks
    for t in range(count):
        frames[t][standing] = (220, 40, 40)
        masks[t][standing] = 255
        x = 8 + (side - 32) * t // (count - 1)  # the walker covers each pixel in a few frames only
        frames[t, 100:116, x : x + 16] = (40, 40, 220)
        masks[t, 100:116, x : x + 16] = 255
    return frames, masks, background, standing


def test_where_the_person_always_stands_the_plate_is_filled_from_the_surroundings() -> None:
    frames, masks, background, standing = _standing_square_sequence()
    estimate = estimate_plate(frames, masks)
    plain = estimate_plate(frames, None)  # shows the square
    truth = background[standing].astype(float)
    filled_error = np.abs(estimate.plate[standing] - truth).mean()
    plain_error = np.abs(plain.plate[standing] - truth).mean()
    assert plain_error > 80
    assert filled_error < 25 and filled_error < 0.2 * plain_error
    # Its colour is that of the floor around it, nothing of the square's red is left.
    ring = np.zeros(masks.shape[1:], bool)
    ring[68:96, 34:62] = True  # 6 px around the square, past the mask's margin
    ring[72:92, 38:58] = False
    assert np.abs(estimate.plate[standing].reshape(-1, 3).mean(0) - background[ring].mean(0)).max() < 15
    # `filled` is the square's share of the image, grown by the mask's margin (16 -> 18 px at 128 px).
    square = np.zeros((1, *masks.shape[1:]), np.uint8)
    square[0][standing] = 255
    grown = person_masks(square)[0]
    assert 16 * 16 / 128**2 < estimate.filled == grown.mean() <= 18 * 18 / 128**2
    assert plain.filled == 0.0
    assert estimate.static


def test_pixels_seen_clean_often_keep_their_exact_median() -> None:
    frames, masks, _, _ = _standing_square_sequence()
    estimate = estimate_plate(frames, masks)
    person = person_masks(masks)
    values = np.where(person[..., None], np.nan, frames.astype(np.float32))
    clean = (~person).sum(axis=0)
    often = clean >= 0.5 * len(frames)
    with np.errstate(all="ignore"):
        median = np.nanmedian(values[:, often], axis=0).round()
    assert np.array_equal(estimate.plate[often], median.astype(np.uint8))
    assert (person.any(axis=0) & often).sum() > 500  # the walker's path is among them
    assert np.array_equal(estimate.filled, (clean < 0.1 * len(frames)).mean())


def test_a_pixel_covered_in_most_but_not_nearly_all_frames_keeps_its_median() -> None:
    frames, masks, background, standing = _standing_square_sequence(count=40)
    rng = np.random.default_rng(1)
    floor = np.clip(background[standing][None] + rng.normal(0, 3, (8, 16, 16, 3)), 0, 255).round()
    frames[(slice(0, 8), *standing)] = floor.astype(np.uint8)  # the square steps aside in 8 of 40 frames:
    masks[(slice(0, 8), *standing)] = 0  # 20% clean views, enough for a median
    estimate = estimate_plate(frames, masks)
    assert estimate.filled == 0.0
    assert np.array_equal(estimate.plate[standing], np.median(floor, axis=0).round().astype(np.uint8))


def test_background_the_mask_took_in_is_cleared_and_the_person_kept() -> None:
    frames, masks, background, standing = _standing_square_sequence()
    lamp = (slice(20, 36), slice(90, 110))  # background the segmentation took in every 4th frame
    taken = np.arange(len(frames)) % 4 == 0
    masks[taken, lamp[0], lamp[1]] = 255
    estimate = estimate_plate(frames, masks)
    frames[:, 76:80, 42:46] = estimate.plate[76:80, 42:46]  # where the plate is a guess: kept
    frames[10, 108, 40] = estimate.plate[108, 40]  # one pixel of the walker that matches the wall: kept
    before = masks.copy()
    clear_background(frames, masks, estimate)
    assert (masks[:, lamp[0], lamp[1]] == 0).all()
    assert (masks[:, standing[0], standing[1]] == 255).all() and masks[10, 108, 40] == 255
    cleared = masks != before
    lamp_pixels = np.zeros_like(cleared)
    lamp_pixels[taken, lamp[0], lamp[1]] = True
    assert np.array_equal(cleared, lamp_pixels)  # the lampshade, in the frames that took it in, and nothing else
