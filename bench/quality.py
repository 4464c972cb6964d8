"""Held-out quality against CPU training time on the real Pose2Sim clip, with and without compositing.

    .venv/bin/python bench/quality.py [--minutes 1,3,10] [--video PATH]

For each budget it trains the `tiny` preset (body stage only, no VGG weights here) three ways:
compositing with the default losses, the paper's plain generator (--no-composite) with the same
losses, and compositing with the L1 loss only (no GAN). It prints held-out L1 (frames generated
with feedback from zeros) as a ratio to the mean training image and to the nearest-pose training
frame. Targets on 2 cores, compositing + default losses: <= 0.7 at 3 minutes, <= 0.6 at 10.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import fetch_pose2sim_clip  # noqa: E402  (the same cached real footage as the tests)
from trainer.evaluate import evaluate_run  # noqa: E402
from trainer.fit import FitConfig  # noqa: E402
from trainer.prepare import prepare_dataset  # noqa: E402
from trainer.train import run_fit  # noqa: E402

VARIANTS = {
    "composite": dict(composite=True),
    "plain (paper G)": dict(composite=False),
    "composite, L1 only": dict(composite=True, gan_warmup=1.0),
}


@click.command()
@click.option("--minutes", default="1,3,10", show_default=True, help="Comma-separated training budgets.")
@click.option("--video", type=click.Path(exists=True, path_type=Path), help="Target video (default: Pose2Sim cam01).")
def main(minutes: str, video: Path | None) -> None:
    budgets = [float(m) for m in minutes.split(",")]
    video = video or fetch_pose2sim_clip("cam01")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        dataset, _ = prepare_dataset(video, Path(tmp) / "dataset", progress=False)
        for budget in budgets:
            for name, options in VARIANTS.items():
                run = Path(tmp) / f"{name}-{budget}".replace(" ", "_").replace(",", "").replace("(", "").replace(")", "")
                fit = FitConfig(minutes=budget, use_vgg=False, face=False, **options)
                run_fit(dataset, run, fit, progress=False)
                result = evaluate_run(run)
                l1 = result["rows"]["temporal"].l1
                base = result["baselines"]
                rows.append((budget, name, l1, l1 / base["mean_image"], l1 / base["nearest_pose"], result["alpha_coverage"]))
                print(f"{budget:g} min, {name}: L1 {l1:.4f}", flush=True)
    print(f"\n{'minutes':>7}  {'variant':<20} {'L1':>7} {'/mean image':>11} {'/nearest pose':>13} {'alpha':>6}")
    for budget, name, l1, to_mean, to_nearest, alpha in rows:
        alpha_text = f"{alpha:6.3f}" if alpha is not None else "     -"
        print(f"{budget:7g}  {name:<20} {l1:7.4f} {to_mean:11.2f} {to_nearest:13.2f} {alpha_text}")
    print("tiny preset, 256x256, body stage only, no VGG; held-out = last 10% of frames")


if __name__ == "__main__":
    main()
