"""The train / held-out split, and the training sampler's exemplar choice: near exemplars for some pairs, far ones for the rest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from shared.errors import DanceError
from shared.label.exemplar.bank import build_bank
from trainer.augment import AugmentConfig
from trainer.data import (
    EXEMPLAR_NEAR_SHARE,
    HELD_OUT_GAP_SECONDS,
    MIN_TRAIN_FRAMES,
    PairSampler,
    Split,
    split_frames,
)
from trainer.dataset import Dataset


def test_some_pairs_get_a_near_exemplar_and_none_gets_its_own_frame(synthetic_dataset: Path) -> None:
    dataset = Dataset.open(synthetic_dataset)
    split = split_frames(len(dataset), dataset.manifest.fps)
    frames = np.arange(split.train.start - 1, split.train.stop)
    bank = build_bank(dataset.frames[frames], dataset.masks[frames], dataset.poses.keypoints[frames],
                      dataset.poses.valid[frames], frames, dataset.poses.schema_tag)  # fmt: skip
    sampler = PairSampler(dataset, split.train, seed=0, exemplars=bank)
    assert sampler.near_exclude_radius < sampler.exclude_radius
    rng = np.random.default_rng(0)
    ends = [int(t) for t in rng.choice(np.asarray(split.train), 200)]
    gaps = np.array([abs(int(bank.frame_ids[sampler.exemplar_for(t, rng)]) - t) for t in ends])
    assert (gaps > sampler.near_exclude_radius).all(), "never the frame itself or its immediate neighbours"
    near = (gaps <= sampler.exclude_radius).mean()
    assert abs(near - EXEMPLAR_NEAR_SHARE) < 0.2, f"{near:.0%} of the pairs got a near exemplar"
    without_rng = {abs(int(bank.frame_ids[sampler.exemplar_for(t, None)]) - t) for t in ends}
    assert min(without_rng) > sampler.exclude_radius, "without randomness: the nearest outside the wide exclusion"


def test_the_held_out_share_is_a_choice() -> None:
    split = split_frames(100, fps=60.0, held_out_fraction=0.3)
    assert split.held_out == range(70, 100) and split.train.stop == 70 - round(HELD_OUT_GAP_SECONDS * 60)


def test_the_split_leaves_a_gap_before_the_held_out_frames() -> None:
    """A quarter second between training and held-out frames: closer, a training frame shows the answer."""
    split = split_frames(100, fps=60.0)
    assert split.held_out == range(90, 100)
    assert split.gap == range(75, 90) and len(split.gap) == round(HELD_OUT_GAP_SECONDS * 60)
    assert split.train == range(1, 75)
    short = split_frames(12, fps=60.0)  # too short to spare the gap: it shrinks, training keeps its minimum
    assert len(short.train) == MIN_TRAIN_FRAMES - 1 and short.train.stop <= short.held_out.start
    with pytest.raises(DanceError):
        split_frames(4, fps=30.0)


def test_a_run_saved_before_the_gap_reads_back_as_trained() -> None:
    assert Split.of_run({"held_out": [90, 100]}) == Split(train=range(1, 90), held_out=range(90, 100))
    assert Split.of_run({"train": [1, 75], "held_out": [90, 100]}).gap == range(75, 90)


def test_pairs_carry_their_person_masks(synthetic_dataset: Path) -> None:
    """As the dataset holds them (0-255 -> [0, 1]) when left alone; moved with the person when augmented."""
    dataset = Dataset.open(synthetic_dataset)
    split = split_frames(len(dataset), dataset.manifest.fps)
    end = int(split.train.start + 2)
    batch = PairSampler(dataset, split.train, seed=0).fetch(np.asarray([end]))
    for mask, frame in ((batch.mask_prev, end - 1), (batch.mask, end)):
        assert mask.shape == (1, 1, *dataset.masks.shape[1:])
        assert np.allclose(mask[0, 0].numpy() * 255, dataset.masks[frame], atol=1e-3)
    augmented = PairSampler(dataset, split.train, seed=0, augment=AugmentConfig(probability=1.0, max_rotation=0.0,
                                                                               max_scale=0.0, mask_blur=1))  # fmt: skip
    moved = augmented.fetch(np.asarray([end]), np.random.default_rng(1))

    def centre(weights: torch.Tensor) -> np.ndarray:
        ys, xs = np.nonzero(weights.numpy() > 0.5)
        return np.array([xs.mean(), ys.mean()])

    label_shift = centre(moved.label[0].amax(0)) - centre(batch.label[0].amax(0))
    mask_shift = centre(moved.mask[0, 0]) - centre(batch.mask[0, 0])
    assert np.abs(label_shift).max() > 2, "the pair was moved"
    assert np.abs(mask_shift - label_shift).max() < 1.5, f"the mask moved by {mask_shift}, the label by {label_shift}"
