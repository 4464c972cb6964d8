"""Held-out quality and pose transfer against CPU training time on the real Pose2Sim clip.

    .venv/bin/python bench/quality.py [--minutes 1,3,10] [--variants exemplar,composite,paper] [--video PATH]

For each budget it trains the `tiny` preset (body stage only, no VGG weights here) on Pose2Sim cam01
once per VARIANTS entry: compositing with warped exemplars (the default), compositing without them
(--no-exemplar), and the paper's plain generator (--no-composite --no-exemplar). It prints
held-out L1 (frames generated with feedback from zeros) as a ratio to the mean training image and to
the nearest-pose training frame (the quarter second before the held-out frames is left out of both),
then the paper's transfer metric (trainer/transfer.py: found %, pose
distance in torso heights, its shuffled floor and their ratio) on the held-out frames and with two
sources puppeteering the run as live does: another real view (cam02) and the synthetic source dancer.
Targets on 2 cores, compositing + default losses: L1 <= 0.7x the mean image at 3 minutes, <= 0.6 at 10.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.synthetic.body import SOURCE_BODY  # noqa: E402
from shared.synthetic.dancer import write_dance_video  # noqa: E402
from tests.conftest import fetch_pose2sim_clip  # noqa: E402  (the same cached real footage as the tests)
from trainer.evaluate import evaluate_run  # noqa: E402
from trainer.fit import FitConfig  # noqa: E402
from trainer.prepare import prepare_dataset  # noqa: E402
from trainer.train import run_fit  # noqa: E402
from trainer.transfer import PoseScore, evaluate_held_out_pose, evaluate_transfer  # noqa: E402

# key -> (name in the table, FitConfig keyword overrides): a new variant is one line
VARIANTS = {
    "exemplar": ("composite + exemplar", dict(composite=True, exemplar=True)),
    "composite": ("composite", dict(composite=True, exemplar=False)),
    "paper": ("plain (paper G)", dict(composite=False, exemplar=False)),
}


SYNTHETIC_SOURCE = dict(num_frames=120, size=(512, 512), fps=30.0)  # the synthetic source dancer's clip
POSE_GROUPS = ("held-out", "cam02", "synthetic")  # the transfer columns, in order
POSE_CELLS = (("found%", 6), ("dist", 6), ("shuf", 6), ("ratio", 5), ("mirr%", 5))


def _number(value: float | None, width: int, fmt: str) -> str:
    return f"{value:{width}{fmt}}" if value is not None else "-".rjust(width)


def _pose_cells(score: PoseScore) -> str:
    found = None if score.found_rate is None else 100 * score.found_rate
    mirrored = None if score.mirrored_rate is None else 100 * score.mirrored_rate
    return " ".join([_number(found, 6, ".1f"), _number(score.pose_distance, 6, ".3f"),
                     _number(score.shuffled_distance, 6, ".3f"), _number(score.ratio, 5, ".2f"), _number(mirrored, 5, ".0f")])


def _print_table(rows: list[tuple[float, str, float, float, float, dict[str, PoseScore]]]) -> None:
    group_width = sum(width for _, width in POSE_CELLS) + len(POSE_CELLS) - 1
    lead = f"{'':>7}  {'':<20} {'held-out L1':^27}"
    print("\n" + lead + "".join(f" | {group:^{group_width}}" for group in POSE_GROUPS))
    cells = " ".join(f"{title:>{width}}" for title, width in POSE_CELLS)
    print(f"{'minutes':>7}  {'variant':<20} {'L1':>7} {'/mean img':>9} {'/nearest':>9}" + f" | {cells}" * len(POSE_GROUPS))
    for budget, name, l1, to_mean, to_nearest, poses in rows:
        line = f"{budget:7g}  {name:<20} {l1:7.4f} {to_mean:9.2f} {to_nearest:9.2f}"
        print(line + "".join(f" | {_pose_cells(poses[group])}" for group in POSE_GROUPS))
    print("tiny preset, 256x256, body stage only, no VGG; held-out = last 10% of frames, the 0.25 s before them left out of\n"
          "training and of the baselines. Transfer (trainer/transfer.py):\n"
          "found% = output frames where MediaPipe finds a person; dist = body-joint distance to the driving pose in torso\n"
          "heights after a similarity alignment; shuf = the same with frames mismatched; ratio = dist / shuf (1 = ignores its input);\n"
          "mirr% = frames the detector read with left and right swapped (scored with the swap, the floor too)")


@click.command()
@click.option("--minutes", default="1,3,10", show_default=True, help="Comma-separated training budgets.")
@click.option("--video", type=click.Path(exists=True, path_type=Path), help="Target video (default: Pose2Sim cam01).")
@click.option("--variants", default=",".join(VARIANTS), show_default=True, help="Comma-separated variants to train.")
@click.option("--keep", type=click.Path(path_type=Path), help="Keep the runs (and their transfer contact sheets) in this folder.")
def main(minutes: str, video: Path | None, variants: str, keep: Path | None) -> None:
    budgets = [float(m) for m in minutes.split(",")]
    chosen = [key.strip() for key in variants.split(",") if key.strip()]
    unknown = sorted(set(chosen) - set(VARIANTS))
    if unknown:
        raise click.BadParameter(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}", param_hint="--variants")
    video = video or fetch_pose2sim_clip("cam01")
    cam02 = fetch_pose2sim_clip("cam02")
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        tmp = keep or Path(scratch)
        tmp.mkdir(parents=True, exist_ok=True)
        synthetic = Path(tmp) / "synthetic_source.mp4"
        write_dance_video(synthetic, SOURCE_BODY, **SYNTHETIC_SOURCE)
        dataset, _ = prepare_dataset(video, Path(tmp) / "dataset", progress=False)
        for budget in budgets:
            for name, options in (VARIANTS[key] for key in chosen):
                run = Path(tmp) / f"{name}-{budget}".replace(" ", "_").replace(",", "").replace("(", "").replace(")", "")
                fit = FitConfig(minutes=budget, use_vgg=False, face=False, **options)
                run_fit(dataset, run, fit, progress=False)
                result = evaluate_run(run)
                l1 = result["rows"]["temporal"].l1
                base = result["baselines"]
                transfer = evaluate_transfer(run, [cam02, synthetic], progress=False)
                poses = {"held-out": evaluate_held_out_pose(run, progress=False)["generated"],
                         "cam02": transfer[cam02.name], "synthetic": transfer[synthetic.name]}
                rows.append((budget, name, l1, l1 / base["mean_image"], l1 / base["nearest_pose"], poses))
                dists = ", ".join(f"{group} {_number(score.pose_distance, 1, '.3f')}" for group, score in poses.items())
                print(f"{budget:g} min, {name}: L1 {l1:.4f}; pose dist {dists}", flush=True)
    _print_table(rows)


if __name__ == "__main__":
    main()
