"""Live cost of exemplar conditioning: retrieval + per-part warp + tensor, per frame, at 256x256.

    .venv/bin/python bench/exemplar.py [--frames 200]

Banks: the real Pose2Sim cam01 target (its 90 training frames, prepared as `dance-train prepare`
does) and the synthetic target dancer with a full bank of 256 exemplars (farthest-point sampled
from 600 frames). Queries: the synthetic *source* dancer's poses, normalized onto each target as
live does, so exemplars are near but never equal. Target (issue 14): at most 3 ms a frame.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import click
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.conftest's clip fetcher

from shared.label.exemplar.bank import ExemplarBank, build_bank  # noqa: E402
from shared.label.exemplar.conditioner import ExemplarConditioner  # noqa: E402
from shared.normalize.stats import NormalizationStats, PoseNormalizer, compute_stats  # noqa: E402
from shared.label.render import render_label  # noqa: E402
from shared.synthetic.body import SOURCE_BODY, TARGET_BODY  # noqa: E402
from shared.synthetic.dancer import dance_poses, render_dance  # noqa: E402
from tests.conftest import fetch_pose2sim_clip  # noqa: E402
from trainer.data import split_frames  # noqa: E402
from trainer.dataset import Dataset  # noqa: E402
from trainer.prepare import prepare_dataset  # noqa: E402

SIZE = (256, 256)


def _real_bank(folder: Path) -> tuple[ExemplarBank, NormalizationStats]:
    dataset = Dataset.open(prepare_dataset(fetch_pose2sim_clip("cam01"), folder, progress=False)[0])
    frames = np.arange(0, split_frames(len(dataset), dataset.manifest.fps).train.stop)
    bank = build_bank(dataset.frames[frames], dataset.masks[frames], dataset.poses.keypoints[frames], dataset.poses.valid[frames],
                      frames, dataset.poses.schema_tag)  # fmt: skip
    return bank, dataset.norm_stats


def _synthetic_bank() -> tuple[ExemplarBank, NormalizationStats]:
    frames, poses, masks = render_dance(TARGET_BODY, 600, SIZE, with_masks=True)
    bank = build_bank(frames, (masks * 255).astype(np.uint8), poses.keypoints, poses.valid, np.arange(600), poses.schema_tag)
    return bank, compute_stats(poses)


def time_conditioning(bank: ExemplarBank, target: NormalizationStats, frames: int) -> list[float]:
    """Seconds per frame of ExemplarConditioner (retrieval, warp, 7-channel tensor), label drawing excluded."""
    source = dance_poses(SOURCE_BODY, frames, SIZE)
    normalizer = PoseNormalizer(compute_stats(source), target)
    conditioner = ExemplarConditioner(bank)
    times = []
    for t in range(frames):
        pose = normalizer(source[t])
        label = render_label(pose, SIZE)
        start = time.perf_counter()
        conditioner(pose, label)
        times.append(time.perf_counter() - start)
    return times[5:]  # warm-up


@click.command()
@click.option("--frames", default=200, show_default=True, type=click.IntRange(10))
def main(frames: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        banks = {"Pose2Sim cam01 (real)": _real_bank(Path(tmp) / "cam01"), "synthetic target": _synthetic_bank()}
        print(f"\n{'bank':<24} {'retrieval':<11} {'exemplars':>9} {'median ms':>10} {'p95 ms':>8}")
        for name, (bank, stats) in banks.items():
            for per_part in (False, True):  # one frame for all parts (runs before issue 27), each part its own
                bank.per_part = per_part
                times = sorted(time_conditioning(bank, stats, frames))
                p95 = times[int(0.95 * (len(times) - 1))]
                mode = "per part" if per_part else "whole frame"
                print(f"{name:<24} {mode:<11} {len(bank):>9} {1000 * statistics.median(times):>10.2f} {1000 * p95:>8.2f}")
    print("retrieval + per-part warp + tensor per frame at 256x256, one thread; target <= 3 ms")


if __name__ == "__main__":
    main()
