import torch

from shared.model.compositing import alpha_of, composite
from shared.model.config import GeneratorConfig
from shared.model.networks import build_generator


def test_untrained_compositing_generator_returns_the_plate() -> None:
    generator = build_generator(GeneratorConfig(ngf=8, n_downsample=2, n_blocks=1, composite=True))
    label, prev = torch.rand(1, 3, 32, 32), torch.zeros(1, 3, 32, 32)
    plate = torch.rand(1, 3, 32, 32) * 2 - 1
    out = generator(label, prev)
    assert out.shape == (1, 4, 32, 32)
    assert float(alpha_of(out).mean()) < 0.05 and float(alpha_of(out).max()) < 0.1
    assert float((composite(out, plate) - plate).abs().max()) < 0.1


def test_composite_blends_by_alpha_and_passes_rgb_outputs_through() -> None:
    rgb = torch.full((1, 3, 2, 2), 0.5)
    alpha_raw = torch.tensor([[[[1.0, -1.0], [0.0, -1.0]]]])  # alpha 1, 0, 0.5, 0
    plate = torch.full((1, 3, 2, 2), -1.0)
    frame = composite(torch.cat([rgb, alpha_raw], 1), plate)
    assert torch.allclose(frame[0, 0], torch.tensor([[0.5, -1.0], [-0.25, -1.0]]))
    assert composite(rgb, None) is rgb


def test_swapping_the_plate_changes_only_low_alpha_pixels() -> None:
    rgb = torch.rand(1, 3, 8, 8) * 2 - 1
    alpha_raw = torch.full((1, 1, 8, 8), -1.0)
    alpha_raw[..., 2:6, 2:6] = 1.0  # the "person": alpha 1
    out = torch.cat([rgb, alpha_raw], 1)
    a, b = composite(out, torch.zeros(1, 3, 8, 8)), composite(out, torch.ones(1, 3, 8, 8))
    changed = (a - b).abs().amax(1)[0] > 0
    assert changed[2:6, 2:6].sum() == 0 and changed.sum() == 64 - 16
