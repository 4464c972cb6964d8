import math

import numpy as np
import pytest
import torch

from shared.errors import DanceError
from trainer.metrics import (
    LPIPS_SKIPPED,
    PSNR_CAP_DB,
    EvalResult,
    crop_boxes,
    crop_region,
    crop_resized,
    flicker,
    format_table,
    keypoint_box,
    l1_error,
    load_lpips,
    psnr,
    ssim,
    ssim_window_size,
)


def rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def reference_ssim(a: np.ndarray, b: np.ndarray, win: int = 11, sigma: float = 1.5) -> float:
    """Wang et al. SSIM of two (C, H, W) float64 images, written independently: a full 2-D window
    slid over the valid region with numpy, population covariances, mean over channels and pixels."""
    r = np.arange(win) - (win - 1) / 2
    g = np.exp(-(r**2) / (2 * sigma**2))
    kernel = np.outer(g, g) / np.outer(g, g).sum()

    def blur(img: np.ndarray) -> np.ndarray:
        windows = np.lib.stride_tricks.sliding_window_view(img, (win, win))
        return np.einsum("ijkl,kl->ij", windows, kernel)

    c1, c2 = 0.01**2, 0.03**2
    maps = []
    for x, y in zip(a, b):
        mx, my = blur(x), blur(y)
        vx = blur(x * x) - mx**2
        vy = blur(y * y) - my**2
        vxy = blur(x * y) - mx * my
        maps.append(((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2)))
    return float(np.mean(maps))


def test_ssim_of_image_with_itself_is_one():
    images = rand(2, 3, 24, 30)
    np.testing.assert_allclose(ssim(images, images).numpy(), [1.0, 1.0], atol=1e-6)


def test_ssim_decreases_with_noise():
    image = rand(1, 3, 32, 32, seed=1) * 0.5 + 0.25
    noise = rand(1, 3, 32, 32, seed=2) - 0.5
    scores = [ssim(image, (image + level * noise).clamp(0, 1)).item() for level in (0.02, 0.1, 0.4)]
    assert 1.0 > scores[0] > scores[1] > scores[2]


def test_ssim_matches_numpy_reference_on_random_images():
    a = rand(2, 3, 29, 37, seed=3)
    b = (a + 0.3 * (rand(2, 3, 29, 37, seed=4) - 0.5)).clamp(0, 1)
    got = ssim(a, b).numpy()
    want = [reference_ssim(a[i].double().numpy(), b[i].double().numpy()) for i in range(2)]
    assert got.shape == (2,)
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert not np.allclose(want[0], want[1])  # the two images really were scored separately


def test_ssim_constants_on_flat_images():
    # Flat images: no variance, so SSIM is the luminance term (2 m_a m_b + C1) / (m_a^2 + m_b^2 + C1).
    a, b = torch.full((1, 3, 16, 16), 0.5), torch.full((1, 3, 16, 16), 0.6)
    c1 = 0.01**2
    assert ssim(a, b).item() == pytest.approx((2 * 0.5 * 0.6 + c1) / (0.25 + 0.36 + c1), abs=1e-6)


def test_ssim_shrinks_the_window_for_small_crops():
    assert ssim_window_size(64, 64) == 11
    assert ssim_window_size(8, 20) == 7
    assert ssim_window_size(20, 10) == 9
    a = rand(1, 3, 8, 8, seed=5)
    b = (a + 0.2 * (rand(1, 3, 8, 8, seed=6) - 0.5)).clamp(0, 1)
    assert ssim(a, a).item() == pytest.approx(1.0, abs=1e-6)
    want = reference_ssim(a[0].double().numpy(), b[0].double().numpy(), win=7)
    assert ssim(a, b).item() == pytest.approx(want, abs=1e-4)


def test_ssim_rejects_mismatched_shapes():
    with pytest.raises(ValueError):
        ssim(rand(1, 3, 16, 16), rand(1, 3, 16, 15))


def test_psnr_of_a_known_mse():
    a = torch.full((2, 3, 8, 8), 0.3)
    offsets = torch.tensor([0.1, 0.01]).view(2, 1, 1, 1)
    # MSE 0.01 -> 20 dB, MSE 1e-4 -> 40 dB
    np.testing.assert_allclose(psnr(a, a + offsets).numpy(), [20.0, 40.0], atol=1e-3)


def test_psnr_of_identical_images_is_capped():
    a = rand(1, 3, 8, 8)
    assert psnr(a, a).item() == pytest.approx(PSNR_CAP_DB)
    assert math.isfinite(psnr(a, a).item())


def test_l1_error_per_image():
    a = torch.zeros(2, 3, 4, 4)
    b = torch.cat([torch.full((1, 3, 4, 4), 0.25), torch.full((1, 3, 4, 4), -0.5)])
    np.testing.assert_allclose(l1_error(a, b).numpy(), [0.25, 0.5])


def moving_sequence(frames: int = 5, seed: int = 7) -> torch.Tensor:
    """A random texture sliding one pixel right per frame, values in [0.1, 0.9]."""
    texture = rand(3, 16, 16 + frames, seed=seed) * 0.8 + 0.1
    return torch.stack([texture[:, :, t : t + 16] for t in range(frames)])


def test_flicker_is_zero_for_identical_motion():
    real = moving_sequence()
    assert flicker(real, real) == 0.0
    assert flicker(real + 0.05, real) == pytest.approx(0.0, abs=1e-7)


def test_flicker_is_positive_for_a_static_fake_of_a_moving_real():
    real = moving_sequence()
    static = real[:1].expand_as(real).clone()
    expected = (real[1:] - real[:-1]).abs().mean().item()
    assert expected > 0.01
    assert flicker(static, real) == pytest.approx(expected, rel=1e-5)


def test_flicker_ignores_a_constant_offset_per_sequence():
    real = moving_sequence(seed=8)
    fake = rand(*real.shape, seed=9)
    base = flicker(fake, real)
    assert base > 0
    assert flicker(fake * 0.9 + 0.07, real) != pytest.approx(base)  # a scale is not an offset
    assert flicker(fake * 0.5 + 0.2, real - 0.05) == pytest.approx(flicker(fake * 0.5, real), abs=1e-6)


def test_flicker_needs_two_frames():
    with pytest.raises(ValueError):
        flicker(rand(1, 3, 4, 4), rand(1, 3, 4, 4))


def test_crop_boxes_skips_frames_without_a_face():
    images = rand(3, 3, 20, 24)
    boxes = np.array([[2, 3, 8], [-1, -1, -1], [16, 12, 8]])
    crops, indices = crop_boxes(images, boxes)
    assert indices.tolist() == [0, 2]
    assert crops.shape == (2, 3, 8, 8)
    torch.testing.assert_close(crops[0], images[0, :, 3:11, 2:10])
    torch.testing.assert_close(crops[1], images[2, :, 12:20, 16:24])


def test_crop_boxes_with_no_face_at_all():
    crops, indices = crop_boxes(rand(2, 3, 8, 8), np.full((2, 3), -1))
    assert len(indices) == 0 and crops.shape[0] == 0


def test_crop_boxes_rejects_a_box_outside_the_image():
    with pytest.raises(ValueError):
        crop_boxes(rand(1, 3, 8, 8), np.array([[4, 0, 8]]))


def test_keypoint_box_adds_margin_and_clamps():
    points = np.array([[10.0, 20.0], [30.0, 60.0], [np.nan, np.nan], [500.0, 500.0]])
    valid = np.array([True, True, False, False])
    # extent 20 x 40, margin 0.1 -> 2 px left/right and 4 px top/bottom; x1/y1 exclusive
    assert keypoint_box(points, valid, (100, 100), margin=0.1) == (8, 16, 33, 65)
    # the same body near the corner of a smaller image is clamped to it
    assert keypoint_box(points - 15.0, valid, (10, 40), margin=0.1) == (0, 1, 10, 40)


def test_keypoint_box_without_a_usable_point():
    points = np.array([[5.0, 5.0], [np.nan, np.nan]])
    assert keypoint_box(points, np.array([False, True]), (64, 64)) is None
    assert keypoint_box(np.array([[-50.0, 10.0]]), np.array([True]), (64, 64)) is None


def test_crop_region_and_resize_to_a_common_size():
    images = rand(2, 3, 32, 40)
    torch.testing.assert_close(crop_region(images[0], (4, 6, 14, 26)), images[0, :, 6:26, 4:14])
    with pytest.raises(ValueError):
        crop_region(images[0], (4, 6, 41, 26))
    batch = crop_resized(images, [(4, 6, 14, 26), (0, 0, 40, 32)], size=(12, 16))
    assert batch.shape == (2, 3, 16, 12)
    same = crop_resized(images[:1], [(0, 0, 40, 32)], size=(40, 32))
    torch.testing.assert_close(same, images[:1])  # a crop already at the target size is untouched


def test_load_lpips(tmp_path):
    assert load_lpips(None) is None
    assert "LPIPS skipped" in LPIPS_SKIPPED
    with pytest.raises(DanceError, match="LPIPS needs"):
        load_lpips(tmp_path / "missing.pth")


def test_eval_result_as_dict():
    result = EvalResult(0.9, 25.0, None, None, 0.01, 0.05, 12)
    d = result.as_dict()
    assert d["body_ssim"] == 0.9 and d["num_frames"] == 12 and d["face_ssim"] is None and d["lpips"] is None


def test_format_table_lists_every_row_and_number():
    rows = {
        "frame-by-frame": EvalResult(0.89564, 24.1234, 0.81374, 21.5, 0.04321, 0.06789, 100),
        "temporal": EvalResult(0.89597, 24.25, 0.8177, 21.75, 0.03211, 0.06543, 100),
        "temporal + face": EvalResult(0.89807, 24.5, None, None, 0.03111, 0.06222, 100, lpips=0.03066),
    }
    table = format_table(rows)
    lines = table.splitlines()
    assert len(lines) == 2 + len(rows)
    for title in ("body SSIM", "body PSNR", "face SSIM", "face PSNR", "flicker", "L1", "LPIPS"):
        assert title in lines[0]
    for name, line in zip(rows, lines[2:]):
        assert line.startswith(name)
    for number in ("0.89564", "24.12", "0.81374", "21.50", "0.04321", "0.06789", "0.89807", "0.03066", "100"):
        assert number in table
    cells = {name: line[len(name) :].split() for name, line in zip(rows, lines[2:])}
    assert cells["frame-by-frame"][6] == "-"  # no LPIPS for the first model
    assert cells["temporal + face"][2:4] == ["-", "-"]  # no face metrics for the last one
