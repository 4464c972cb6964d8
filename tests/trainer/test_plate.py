import numpy as np

from shared.synthetic import TARGET_BODY, render_background, render_dance
from trainer.plate import STATIC_RESIDUAL_LIMIT, estimate_plate


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
