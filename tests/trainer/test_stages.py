"""The body stage's alpha supervision: a compositing generator's alpha is pulled to the person masks."""

from __future__ import annotations

from dataclasses import replace

import torch

from shared.model.compositing import alpha_of
from shared.model.config import get_preset
from shared.model.networks import build_generator
from trainer.data import PairBatch
from trainer.stages import BodyStage, LossWeights

SIZE = 64


def _stage(composite: bool, weights: LossWeights) -> BodyStage:
    torch.manual_seed(0)
    preset = get_preset("tiny")
    config = replace(preset, image_size=(SIZE, SIZE), generator=replace(preset.generator, composite=composite, ngf=8, n_blocks=1))
    plate = torch.zeros(1, 3, SIZE, SIZE) if composite else None
    return BodyStage(config, build_generator(config.generator), weights, None, 2e-3, 0.5, plate)


def _batch() -> PairBatch:
    """A person (a white square in label and image alike) on black, over a grey plate; its mask is the square."""
    label = torch.zeros(1, 3, SIZE, SIZE)
    label[:, :, 16:48, 24:40] = 1.0
    image = label * 2 - 1
    mask = label[:, :1]
    return PairBatch(label, label.clone(), image, image.clone(), torch.full((1, 3), -1), mask, mask.clone())


def _alpha_error(stage: BodyStage, batch: PairBatch) -> float:
    with torch.no_grad():
        drawn = torch.cat(stage.draw_pair(batch))
    return float((alpha_of(drawn) - torch.cat([batch.mask_prev, batch.mask])).abs().mean())


def test_alpha_learns_the_person_mask() -> None:
    """Alpha alone supervised (no image loss): it moves from near zero everywhere to the mask."""
    stage, batch = _stage(True, LossWeights(vgg=0.0, l1=0.0, edge=0.0, alpha=10.0)), _batch()
    before = _alpha_error(stage, batch)
    for _ in range(20):
        log = stage.step(batch, 2e-3, adversarial=False)
    assert "g_alpha" in log
    after = _alpha_error(stage, batch)
    assert after < 0.5 * before, f"alpha's distance to the mask went {before:.3f} -> {after:.3f}"
    with torch.no_grad():
        alpha = alpha_of(stage.draw_pair(batch)[1])[0, 0]
    assert alpha[16:48, 24:40].mean() > alpha[:, :16].mean() + 0.3  # opaque where the person is, not beside it


def test_no_alpha_term_without_compositing_or_at_weight_zero() -> None:
    batch = _batch()
    for stage in (_stage(False, LossWeights(vgg=0.0)), _stage(True, LossWeights(vgg=0.0, alpha=0.0))):
        log = stage.step(batch, 2e-4, adversarial=False)
        assert "g_alpha" not in log and "g_l1" in log
