"""`dance-demo`: the whole product on a fresh machine, no camera, no GPU, nothing downloaded.

1. the built-in synthetic *target* dancer is written as a video;
2. `dance-train fit` trains the `tiny` preset on it for a bounded time;
3. `dance-export --int8` writes the ONNX engines (checked against torch), int8 ones for this CPU too;
4. the live pipeline puppeteers the target with a *different* source dancer (other proportions and
   floor position, so the global pose normalization is visible), or with `--source VIDEO`;
5. it writes output.mp4, compare.mp4 (source | stick figure | output) and contact_sheet.png; the
   videos carry the source's soundtrack when it has one (the synthetic dancer has none).

Training and export run as their own commands (the same ones a user types), so live never imports
the trainer or the exporter.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import cv2
import numpy as np
import torch

from live.capture import VideoFileSource
from live.cli import default_generator_threads
from live.pipeline import LivePipeline, OutputFrame, PipelineConfig
from live.sinks import VideoFileSink, side_by_side
from live.stats import LiveStats
from shared.cliutil import DanceGroup
from shared.errors import DanceError
from shared.label.render import contact_sheet
from shared.runtime.loading import load_engine
from shared.synthetic.body import SOURCE_BODY, TARGET_BODY
from shared.synthetic.dancer import write_dance_video
from shared.io.audio import SourceAudio
from shared.io.video import VideoWriter, probe_video

SHEET_ROWS = 6


class CompareSink:
    """Writes source | stick figure | output frames to an mp4 (with the source's soundtrack, if it
    has one) and keeps a few for the contact sheet."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int], expected_frames: int,
                 soundtrack: Path | None = None) -> None:
        width, height = size
        self.writer = VideoWriter(path, fps, (3 * width, height))
        self.soundtrack = soundtrack
        self._start: float | None = None  # media time of the first frame written: the soundtrack starts there
        self.keep = set(np.linspace(expected_frames // 5, expected_frames - 1, SHEET_ROWS).round().astype(int).tolist())
        self.kept: list[list[np.ndarray]] = []

    def write(self, out: OutputFrame, stats: LiveStats) -> None:
        row = side_by_side(out)
        if self._start is None:
            self._start = out.frame.media_time
        self.writer.write(row)
        if out.frame.index in self.keep:
            width = out.image.shape[1]
            self.kept.append([row[:, :width], row[:, width : 2 * width], row[:, 2 * width :]])

    def close(self) -> None:
        audio = None if self.soundtrack is None or self._start is None else SourceAudio(self.soundtrack, self._start)
        self.writer.close(audio)


def _run(command: list[str]) -> None:
    """Run one of the project's own commands; its output streams to the terminal."""
    click.echo(f"$ {' '.join(command)}")
    if subprocess.call(command) != 0:
        raise DanceError(f"`{' '.join(command)}` failed (see above)")


def _script(name: str) -> str:
    """The console script installed beside this Python (the venv's, not whatever is on PATH)."""
    candidate = Path(sys.executable).with_name(name)
    return str(candidate) if candidate.exists() else name


@click.group(cls=DanceGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--minutes", default=5.0, show_default=True, type=click.FloatRange(0.05), help="Training budget.")
@click.option("--source", type=click.Path(path_type=Path), help="A real video to use as the source person.")
@click.option("-o", "--output", default=Path("demo"), show_default=True, type=click.Path(path_type=Path), help="Folder for everything.")
@click.option("--frames", default=300, show_default=True, type=click.IntRange(30), help="Frames of the synthetic target video.")
@click.option("--source-frames", default=150, show_default=True, type=click.IntRange(10), help="Frames of the synthetic source video.")
def main(minutes: float, source: Path | None, output: Path, frames: int, source_frames: int) -> None:
    """Train, export and run the tiny model on the built-in synthetic dancer, end to end."""
    output.mkdir(parents=True, exist_ok=True)
    target = output / "target.mp4"
    if not target.exists():
        write_dance_video(target, TARGET_BODY, frames, (512, 512), 30.0, seed=0)
        click.echo(f"wrote the synthetic target dancer to {target}")
    if source is None:
        source = output / "source.mp4"
        if not source.exists():
            write_dance_video(source, SOURCE_BODY, source_frames, (512, 512), 30.0, seed=1)
            click.echo(f"wrote the synthetic source dancer (other body, other floor line) to {source}")

    run = output / "run"
    _run([_script("dance-train"), "fit", str(target), "-o", str(run), "--minutes", str(minutes), "--no-vgg"])
    _run([_script("dance-export"), str(run), "--int8"])

    threads = default_generator_threads()
    torch.set_num_threads(threads)
    engine = load_engine(run, threads=threads)
    video = VideoFileSource(source)
    size = engine.info.image_size
    compare = CompareSink(output / "compare.mp4", video.fps, size, probe_video(source).frame_count, soundtrack=source)
    sinks = [VideoFileSink(output / "output.mp4", video.fps, size, soundtrack=source), compare]  # the source's audio, if any
    pipeline = LivePipeline(engine, video, PipelineConfig(), log=click.echo)
    stats = pipeline.run(sinks)

    sheet = contact_sheet(compare.kept, titles=["source", "stick figure", "target (generated)"], cell_height=256)
    cv2.imwrite(str(output / "contact_sheet.png"), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    summary = stats.as_dict()
    click.echo(f"\nlive ran at {summary['fps']:.1f} fps ({engine.backend} {engine.info.precision}) on {summary['frames_out']} frames")
    for name in ("output.mp4", "compare.mp4", "contact_sheet.png"):
        click.echo(f"  {output / name}")


if __name__ == "__main__":
    main()
