"""`dance-train`: turn a target video into a dataset (and, with the trainer, a model)."""

from __future__ import annotations

from pathlib import Path

import click

from shared.cliutil import DanceGroup, parse_size
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
    from shared.synthetic import BODIES, write_dance_video

    write_dance_video(output, BODIES[body], num_frames, size, fps, seed)
    click.echo(f"wrote {num_frames} frames of the {body} dancer to {output}")


if __name__ == "__main__":
    main()
