"""The training sampler's exemplar choice: near exemplars for some pairs, far ones for the rest."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shared.exemplar import build_bank
from trainer.data import EXEMPLAR_NEAR_SHARE, PairSampler, split_frames
from trainer.dataset import Dataset


def test_some_pairs_get_a_near_exemplar_and_none_gets_its_own_frame(synthetic_dataset: Path) -> None:
    dataset = Dataset.open(synthetic_dataset)
    split = split_frames(len(dataset))
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
