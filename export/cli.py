"""`dance-export [RUN] [-o ENGINES] [--fp16] [--int8] [--backend onnx|tensorrt|auto] [--opset N]`."""

from __future__ import annotations

from pathlib import Path

import click

from shared.errors import DanceError
from shared.runtime.run_folder import latest_trained_run

from export.exporter import DEFAULT_OPSET, EXPORT_BACKENDS, ExportOptions, export_run


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("run", required=False, type=click.Path(path_type=Path, file_okay=False))
@click.option("-o", "--output", "engines", type=click.Path(path_type=Path, dir_okay=True, file_okay=False),
              help="Engines folder to write (default: RUN/engines).")  # fmt: skip
@click.option("--fp16", is_flag=True, help="Also write fp16 ONNX graphs (fp32 inputs/outputs); TensorRT plans become fp16 on NVIDIA GPUs.")
@click.option("--int8", is_flag=True,
              help="Also write int8 graphs for CPUs (quantized convolutions, calibrated and checked on the run's labels): "
                   "faster live on a CPU, slightly less exact; dance-live prefers them on a CPU.")  # fmt: skip
@click.option("--backend", type=click.Choice(EXPORT_BACKENDS), default="auto", show_default=True,
              help="onnx: ONNX graphs only; tensorrt: also TensorRT plans (needs CUDA); auto: plans when TensorRT is present.")  # fmt: skip
@click.option("--opset", type=int, default=DEFAULT_OPSET, show_default=True, help="ONNX opset to export at.")
def main(run: Path | None, engines: Path | None, fp16: bool, int8: bool, backend: str, opset: int) -> None:
    """Export a trained run's generators for dance-live: ONNX graphs checked against torch, a
    manifest.json, and TensorRT plans on NVIDIA GPUs. Without RUN, the latest run under runs/."""
    try:
        options = ExportOptions(fp16=fp16, int8=int8, backend=backend, opset=opset)
        run = run if run is not None else latest_trained_run(Path("runs")).path
        out, manifest = export_run(run, engines, options, log=click.echo)
    except DanceError as err:
        raise click.ClickException(str(err)) from None
    except KeyboardInterrupt:
        click.echo("interrupted (nothing was written)", err=True)
        raise SystemExit(130) from None
    click.echo(f"done: {out} ({', '.join(sorted(manifest.files))})")
