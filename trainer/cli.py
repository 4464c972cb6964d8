"""`dance-train`: turn a target video into a dataset (and, with the trainer, a model)."""

from __future__ import annotations

from pathlib import Path

import click

from shared.cliutil import DanceGroup, parse_size
from shared.model.config import PRESETS
from shared.pose.person_lock import CHOICES as PERSON_CHOICES
from shared.runtime.run_folder import DEFAULT_RUNS
from trainer.fit import FitConfig
from trainer.prepare import PrepareConfig, prepare_dataset


@click.group(cls=DanceGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Prepare training data from a video of the target person."""


@main.command()
@click.argument("video", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Dataset folder  [default: datasets/<video name>]")
@click.option("--size", default="256x256", show_default=True, callback=parse_size, help="Model image size, WIDTHxHEIGHT.")
@click.option("--holistic", is_flag=True, help="Track full 21-point hands (MediaPipe Holistic).")
@click.option("--smooth", default=7, show_default=True, type=click.IntRange(1, 31), help="Median smoothing window in frames (1 = off).")
@click.option("--force", is_flag=True, help="Rebuild even if the dataset exists.")
def prepare(video: Path, output: Path | None, size: tuple[int, int], holistic: bool, smooth: int, force: bool) -> None:
    """Extract poses from VIDEO and write a training dataset.

    Poses come from MediaPipe (offline), are smoothed, cropped around the person and rendered as
    stick-figure labels; face boxes, normalization statistics and a contact sheet are saved beside them.
    """
    output = output or Path("datasets") / video.stem
    config = PrepareConfig(size=size, holistic=holistic, smooth_window=smooth)
    folder, built = prepare_dataset(video, output, config, force=force)
    if not built:
        click.echo(f"{folder} is already prepared from {video.name} with these settings; nothing to do")
        return
    click.echo(f"dataset written to {folder} (look at {folder / 'contact_sheet.png'})")


def _latest_run_name(source: Path) -> str:
    return source.stem if source.suffix else source.name


@main.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Run folder  [default: runs/<video name>]")
@click.option("--preset", type=click.Choice(sorted(PRESETS)), default="tiny", show_default=True,
              help="Model size: tiny (CPU, 256x256), small (512x256), paper (1024x512, GPU).")
@click.option("--steps", type=click.IntRange(1), help="Total training steps over all stages.")
@click.option("--minutes", type=click.FloatRange(0.05), help="Or a wall-clock budget (default: 10 minutes).")
@click.option("--batch-size", default=1, show_default=True, type=click.IntRange(1))
@click.option("--lr", default=2e-4, show_default=True, type=float)
@click.option("--no-temporal", is_flag=True, help="Frame-by-frame pix2pixHD baseline (the paper's ablation).")
@click.option("--no-composite", is_flag=True, help="The paper's generator: redraw the whole frame, no background plate.")
@click.option("--no-face", is_flag=True, help="Skip the FaceGAN stage.")
@click.option("--vgg-weights", type=click.Path(path_type=Path), help="torchvision's vgg19-dcbb9e9d.pth for the perceptual loss.")
@click.option("--no-vgg", is_flag=True, help="Train without the VGG perceptual loss (quality suffers).")
@click.option("--l1", "lambda_l1", default=10.0, show_default=True, type=click.FloatRange(0), help="Pixel L1 weight (0 = the paper's losses).")
@click.option("--edge", "lambda_edge", default=FitConfig.lambda_edge, show_default=True, type=click.FloatRange(0),
              help="Image-gradient L1 weight of the body stage: sharper edges without VGG weights (0 = off).")
@click.option("--alpha", "lambda_alpha", default=FitConfig.lambda_alpha, show_default=True, type=click.FloatRange(0),
              help="L1 weight of the body's alpha against the person masks: an opaque person over the plate (0 = off).")
@click.option("--gan-warmup", default=0.25, show_default=True, type=click.FloatRange(0, 1),
              help="Share of each body stage trained on reconstruction only, before the GAN (0 = the paper).")
@click.option("--augment/--no-augment", default=FitConfig.augment, show_default=True,
              help="Randomly move, turn and resize the person in half the body pairs (compositing runs).")
@click.option("--exemplar/--no-exemplar", default=FitConfig.exemplar, show_default=True,
              help="Also show the generator a training frame warped part by part onto the pose (--no-exemplar: the paper's).")
@click.option("--held-out", default=FitConfig.held_out, show_default=True, type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Share of the frames, at the end of the clip, never trained on: what `dance-train eval` scores.")
@click.option("--seed", default=0, show_default=True)
@click.option("--checkpoint-every", default=100, show_default=True, type=click.IntRange(1), help="Steps between checkpoints.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--gpus", default=1, show_default=True, type=click.IntRange(1), help="Data-parallel processes (relaunches under torchrun).")
def fit(source: Path, output: Path | None, preset: str, steps: int | None, minutes: float | None, batch_size: int,
        lr: float, no_temporal: bool, no_composite: bool, no_face: bool, vgg_weights: Path | None, no_vgg: bool, lambda_l1: float,
        lambda_edge: float, lambda_alpha: float, gan_warmup: float, augment: bool, exemplar: bool, held_out: float, seed: int, checkpoint_every: int, device: str, gpus: int) -> None:
    """Train the body model and the FaceGAN on SOURCE (a video, or a prepared dataset folder).

    A video is prepared first (see `prepare`). The run resumes where it stopped when the same
    command is given again. The last 10% of frames (--held-out) are held out for `dance-train eval`, and the
    quarter second before them is not trained on (a frame that close shows the answer).
    """
    from trainer.train import run_fit

    if steps is None and minutes is None:
        minutes = 10.0
    if steps is not None and minutes is not None:
        raise click.UsageError("give --steps or --minutes, not both")
    if no_vgg:
        click.echo("WARNING: training without the VGG perceptual loss: expect blurrier results.", err=True)
    config = FitConfig(
        preset=preset, steps=steps, minutes=minutes, batch_size=batch_size, lr=lr, temporal=not no_temporal,
        composite=not no_composite, face=not no_face, use_vgg=not no_vgg, vgg_weights=str(vgg_weights) if vgg_weights else None,
        lambda_l1=lambda_l1, lambda_edge=lambda_edge, lambda_alpha=lambda_alpha, gan_warmup=gan_warmup, augment=augment, exemplar=exemplar, held_out=held_out,
        seed=seed, checkpoint_every=checkpoint_every,
    )
    run_dir = output or DEFAULT_RUNS / _latest_run_name(source)
    run_fit(source, run_dir, config, device=device, gpus=gpus)
    click.echo(f"run written to {run_dir} (evaluate it with: dance-train eval {run_dir})")


@main.command("eval")
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--source", "sources", multiple=True, type=click.Path(path_type=Path),
              help="A video of another person to puppeteer each run with, as live does (repeatable).")
@click.option("--person", default="largest", show_default=True, type=click.Choice(PERSON_CHOICES),
              help="Which person in each --source drives the run (as dance-live --person).")
@click.option("--max-frames", default=300, show_default=True, type=click.IntRange(1), help="Frames of each source to use.")
@click.option("--calibrate-whole-clip", is_flag=True,
              help="Normalize each --source by stats over its whole clip (the old eval) instead of as live does, from the first frame.")
def eval_command(runs: tuple[Path, ...], sources: tuple[Path, ...], person: str, max_frames: int, calibrate_whole_clip: bool) -> None:
    """Score RUNS on their held-out frames (generated with feedback from zeros), as the paper's table.

    Then the paper's transfer metric, judged frame by frame: MediaPipe on each generated frame on its
    own, where it differs from the plate, against the pose that drove it (found rate, pose error in
    torso heights after a similarity alignment, its shuffled floor), beside the same judge on the real
    target frames (the ceiling); on the held-out frames and on each --source. Judge on motion the
    target never made (its clip mirrored and reversed, another person), not on another camera of the
    training take. A contact sheet per source goes to RUN/transfer_<source name>.png.
    """
    from shared.io.video import probe_video
    from shared.runtime.trained import load_trained
    from trainer.evaluate import evaluate_run, write_eval
    from trainer.metrics import LPIPS_SKIPPED, format_table
    from trainer.pose_score import format_pose_table
    from trainer.transfer import evaluate_ceiling, evaluate_held_out_pose, evaluate_transfer

    for source in sources:
        probe_video(source)  # a clear error before any run is scored
    rows = {}
    pose_tables = []
    for run in runs:
        model = load_trained(run)  # once: every score below runs the same weights
        result = evaluate_run(model)
        result["held_out_pose"] = evaluate_held_out_pose(model)
        result["transfer"] = evaluate_transfer(model, sources, run, max_frames, whole_clip=calibrate_whole_clip, person=person)
        result["ceiling"] = evaluate_ceiling(model, max_frames)
        write_eval(run, result)
        prefix = f"{run.name}: " if len(runs) > 1 else ""
        for name, row in result["rows"].items():
            rows[prefix + name] = row
        pose_rows = {"held-out": result["held_out_pose"]["generated"], "held-out real frames": result["held_out_pose"]["real_frames"]}
        for name, score in result["transfer"].items():
            pose_rows[name] = score
            click.echo(f"{run}: contact sheet for {name}: {run / f'transfer_{Path(name).stem}.png'}")
        pose_tables.append((prefix, format_pose_table(pose_rows, result["ceiling"])))
        (start, stop), train_end = result["held_out"], result["train_end"]
        click.echo(f"{run}: held-out frames {start}-{stop - 1}; the model and the baselines draw on frames 0-{train_end - 1}"
                   + (f" ({start - train_end} frames between are left out: too close to the answer)" if start > train_end else ""))
        model_l1 = list(result["rows"].values())[-1].l1
        ratios = ", ".join(f"{name} {value:.4f} (model/baseline {model_l1 / value:.2f}x)" for name, value in result["baselines"].items())
        click.echo(f"{run}: baseline L1: {ratios}")
        split = ", ".join(f"{name} {part['person']:.4f} / {part['background']:.4f}" for name, part in result["l1_split"].items())
        click.echo(f"{run}: L1 on the person / on the background (shares adding up to the L1): {split}")
        click.echo(f"{run}: on the person region alone: SSIM {result['person_ssim']:.4f}, L1 {result['person_l1']:.4f}")
        if result["alpha_coverage"] is not None:
            click.echo(f"{run}: mean alpha (person coverage) {result['alpha_coverage']:.3f}")
    click.echo(format_table(rows))
    click.echo(LPIPS_SKIPPED)
    for prefix, table in pose_tables:
        click.echo()
        click.echo(prefix + table if prefix else table)
    click.echo("pose err: mean body-joint distance, output vs driving pose, in torso heights after a similarity alignment, "
               "each frame detected on its own where it differs from the plate (median: the median frame's); floor: the same "
               "with frames mismatched (a model ignoring its input); ceiling: the same judge on the real target frames; "
               "mirrored: frames read with left and right swapped (front and back confused), scored with the swap, as is the floor")


@main.command()
@click.argument("output", type=click.Path(path_type=Path))
@click.option("--body", type=click.Choice(["target", "source"]), default="target", show_default=True,
              help="Which built-in dancer (they differ in proportions and floor position).")
@click.option("--frames", "num_frames", default=300, show_default=True, type=click.IntRange(1), help="Number of frames.")
@click.option("--size", default="512x512", show_default=True, callback=parse_size, help="Video size, WIDTHxHEIGHT.")
@click.option("--fps", default=30.0, show_default=True, type=click.FloatRange(1, 240))
@click.option("--seed", default=0, show_default=True, help="Changes the dance, not the dancer.")
def synth(output: Path, body: str, num_frames: int, size: tuple[int, int], fps: float, seed: int) -> None:
    """Write the built-in synthetic dancer video to OUTPUT (an mp4): a sample target or source."""
    from shared.synthetic.body import BODIES
    from shared.synthetic.dancer import write_dance_video

    write_dance_video(output, BODIES[body], num_frames, size, fps, seed)
    click.echo(f"wrote {num_frames} frames of the {body} dancer to {output}")


if __name__ == "__main__":
    main()
