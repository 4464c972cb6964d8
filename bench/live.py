"""Live pipeline speed on this machine: fps, capture-to-output latency and per-stage ms.

    .venv/bin/python bench/live.py [--video PATH] [--engines RUN_OR_ENGINES] [--repeat 2] [--threads N]
                                   [--kinds one,two,leaving,desk]

Runs the real pipeline (MediaPipe finding the person, its landmark model following them under
onnxruntime, the person lock, One Euro, normalization,
labels and the exemplar warp, the generator fed back its own output, FaceGAN, an mp4 sink) on a real
video, once as fast as possible and then paced at 30 fps like a camera, once per source kind:
- one: one person, whole body (the Pose2Sim clip the tests use, 1080x1920, 60 fps);
- two: a second person crosses the view (Pose2Sim's Demo_MultiPerson, same room);
- leaving: the one-person clip with its middle third replaced by an empty corner of the room, so the
  lock loses the person, searches the whole frame, and finds them again;
- desk: the top half of the one-person clip (no legs: upper-body mode).
It also times the pose model and the generator alone, which bound what the pipeline can reach.
The engine defaults to a `tiny` run (256x256) trained for a few steps into a temporary folder and
exported with int8 graphs (speed does not depend on how well it is trained);
`--backend onnxruntime-fp32` compares.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
import statistics
import sys
import tempfile
import time
from pathlib import Path

import click
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.conftest's clip fetcher

from live.capture import IterSource  # noqa: E402
from live.cli import default_generator_threads  # noqa: E402
from live.pipeline import LivePipeline, PipelineConfig  # noqa: E402
from live.sinks import VideoFileSink  # noqa: E402
from shared.runtime.loading import load_engine  # noqa: E402
from shared.runtime.puppet import PuppetStep  # noqa: E402
from shared.pose.tracking import SourcePoseTracker  # noqa: E402
from shared.io.video import probe_video, read_frames  # noqa: E402


def _train_tiny(folder: Path) -> Path:
    """A tiny run trained for a few steps on the built-in synthetic dancer and exported (about a minute)."""
    from export.exporter import ExportOptions, export_run
    from shared.synthetic.body import TARGET_BODY
    from shared.synthetic.dancer import write_dance_video
    from trainer.fit import FitConfig
    from trainer.prepare import PrepareConfig, prepare_dataset
    from trainer.train import run_fit

    video = folder / "target.mp4"
    write_dance_video(video, TARGET_BODY, num_frames=48, size=(256, 256), fps=30)
    dataset, _ = prepare_dataset(video, folder / "dataset", PrepareConfig(), progress=False)
    run = folder / "run"
    run_fit(dataset, run, FitConfig(steps=6, use_vgg=False, checkpoint_every=100), device="cpu", progress=False)
    export_run(run, options=ExportOptions(int8=True))  # as `dance-export --int8`: live on a CPU runs the int8 graphs
    return run


def bench_engine(engines: Path | None, backend: str, threads: int, folder: Path):  # noqa: ANN201 - Engine
    """The engine to measure: `engines`, or else a tiny run trained and exported into `folder`."""
    if engines is None:
        print("training a tiny run for a few steps (about a minute)...", flush=True)
        engines = _train_tiny(folder)
    return load_engine(engines, backend, threads=threads)


def _ms(samples: list[float]) -> float:
    return 1000 * statistics.median(samples)


def isolated(engine, video: Path, frames: int) -> tuple[float, float, float]:  # noqa: ANN001
    """Median ms/frame of the pose model alone, of the label step (as live's "label" stage: into
    the label frame, the puppet step's label half: normalization, drawing, and the exemplar warp for
    exemplar models), and of the generator (body + face: the puppet step's generate half) alone."""
    decoded = list(read_frames(video, frames))
    tracker = SourcePoseTracker(engine.info.schema_tag, engine.info.image_size)
    step = PuppetStep(engine)
    pose_s, label_s, labels = [], [], []
    try:
        for i, image in enumerate(decoded):
            start = time.perf_counter()
            raw = tracker.estimate(image)
            middle = time.perf_counter()
            pose = tracker.to_label(raw, (image.shape[1], image.shape[0]), i / 30)
            labels.append(step.label(pose, i / 30))
            label_s.append(time.perf_counter() - middle)
            pose_s.append(middle - start)
    finally:
        tracker.close()
    gen_s = []
    for labelled in labels:
        start = time.perf_counter()
        step.generate(labelled)
        gen_s.append(time.perf_counter() - start)
    return _ms(pose_s[3:]), _ms(label_s[3:]), _ms(gen_s[3:])  # skip warm-up frames


Frames = Callable[[], Iterator[np.ndarray]]  # one pass over a source's frames (decoded as VideoFileSource does)


def _clip(video: Path) -> Frames:
    return lambda: read_frames(video, frame_threads=False)


def _with_nobody(video: Path) -> Frames:
    """The clip with its middle third replaced by the room's top-right corner (a wall and a cabinet,
    nobody in it) scaled to the frame: the person leaves, then comes back."""
    count = probe_video(video).frame_count

    def frames() -> Iterator[np.ndarray]:
        empty = None
        for index, frame in enumerate(read_frames(video, frame_threads=False)):
            if empty is None:
                height, width = frame.shape[:2]
                corner = frame[: height // 4, width // 2 :]
                empty = np.ascontiguousarray(np.repeat(np.repeat(corner, 4, axis=0), 2, axis=1)[:height, :width])
            yield empty if count // 3 <= index < 2 * count // 3 else frame

    return frames


def _top_half(video: Path) -> Frames:
    """A desk webcam's view: the top half of the clip (head, shoulders, arms; no legs)."""
    return lambda: (np.ascontiguousarray(frame[: frame.shape[0] // 2]) for frame in read_frames(video, frame_threads=False))


def source_kinds(video: Path, names: list[str]) -> dict[str, tuple[Frames, float]]:
    """name -> (frames, fps) for each wanted source kind (see the module docstring)."""
    from tests.conftest import fetch_multi_person_clip

    makers: dict[str, Callable[[], tuple[Frames, Path]]] = {
        "one": lambda: (_clip(video), video),
        "two": lambda: (_clip(fetch_multi_person_clip("cam01")), fetch_multi_person_clip("cam01")),
        "leaving": lambda: (_with_nobody(video), video),
        "desk": lambda: (_top_half(video), video),
    }
    unknown = sorted(set(names) - set(makers))
    if unknown:
        raise click.BadParameter(f"unknown source kind(s) {', '.join(unknown)}; choose from {', '.join(makers)}")
    kinds = {}
    for name in names:
        frames, clip = makers[name]()
        kinds[name] = (frames, probe_video(clip).fps)
    return kinds


def run_pipeline(engine, frames: Frames, fps: float, repeat: int, pace: float | None, out: Path, name: str = "frames") -> dict:  # noqa: ANN001
    """One pipeline run over `repeat` passes of `frames`; the stats, CPU per frame and the last normalization mode it reported."""
    source = IterSource(itertools.chain.from_iterable(frames() for _ in range(repeat)), fps=fps, name=name)
    said: list[str] = []
    pipeline = LivePipeline(engine, source, PipelineConfig(pace_fps=pace), log=said.append)
    cpu_start = time.process_time()  # every thread of this process: decoding, MediaPipe, the generator, the sink
    row = pipeline.run([VideoFileSink(out, pace or fps, engine.info.image_size)]).as_dict()
    row["cpu_ms_per_frame"] = 1000 * (time.process_time() - cpu_start) / max(1, row["frames_out"])
    modes = [line.removeprefix("normalization: ") for line in said if line.startswith("normalization: ")]
    row["mode"] = modes[-1] if modes else "-"
    return row


@click.command()
@click.option("--video", type=click.Path(exists=True, path_type=Path), help="A real video  [default: the Pose2Sim test clip].")
@click.option("--engines", type=click.Path(exists=True, path_type=Path), help="A run or engines folder  [default: train a tiny run].")
@click.option("--backend", default="auto", show_default=True)
@click.option("--repeat", default=2, show_default=True, type=click.IntRange(1), help="Play the video this many times per run.")
@click.option("--pace", default=30.0, show_default=True, help="Frame rate of the camera-like run.")
@click.option("--threads", type=click.IntRange(1), help="Generator CPU threads  [default: as dance-live, CPUs - 1].")
@click.option("--kinds", default="one,two,leaving,desk", show_default=True, help="Source kinds to run paced (see above).")
def main(video: Path | None, engines: Path | None, backend: str, repeat: int, pace: float, threads: int | None, kinds: str) -> None:
    threads = threads or default_generator_threads()
    torch.set_num_threads(threads)
    if video is None:
        from tests.conftest import fetch_pose2sim_clip

        video = fetch_pose2sim_clip("cam01")
    with tempfile.TemporaryDirectory() as tmp:
        engine = bench_engine(engines, backend, threads, Path(tmp))
        info = probe_video(video)
        width, height = engine.info.image_size
        print(f"video {video.name} {info.width}x{info.height} @ {info.fps:g} fps; engine {width}x{height} {engine.backend} {engine.info.precision}; "
              f"generator threads {threads}")

        pose_ms, label_ms, gen_ms = isolated(engine, video, 40)
        sources = source_kinds(video, [name.strip() for name in kinds.split(",") if name.strip()])
        rows = {"fast": run_pipeline(engine, _clip(video), info.fps, repeat, None, Path(tmp) / "fast.mp4", video.name)}
        for name, (frames, fps) in sources.items():
            rows[f"{name}, paced"] = run_pipeline(engine, frames, fps, repeat, pace, Path(tmp) / f"{name}.mp4", name)

    print(f"\nalone: pose model {pose_ms:.1f} ms/frame, label step {label_ms:.1f} ms, generator (body + face) {gen_ms:.1f} ms/frame")
    serial = pose_ms + label_ms + gen_ms
    overlapped = max(pose_ms + label_ms, gen_ms)
    print(f"limits: {1000 / overlapped:.1f} fps with pose and generator fully overlapped, {1000 / serial:.1f} fps one after the other")
    stages = sorted({name for row in rows.values() for name in row["stages_ms"]})
    print(f"\n{'run':<16} {'mode':<10} {'frames':>6} {'held':>5} {'fps':>6} {'lat p50':>8} {'lat p95':>8} {'dropped':>8} {'CPU ms':>7}  "
          + "  ".join(f"{s:>7}" for s in stages))
    for name, row in rows.items():
        cells = "  ".join(f"{row['stages_ms'].get(s, {}).get('p50', float('nan')):7.1f}" for s in stages)
        print(f"{name:<16} {row['mode']:<10} {row['frames_out']:>6} {row['frames_held']:>5} {row['fps']:>6.1f} {row['latency_ms']['p50']:>8.1f} "
              f"{row['latency_ms']['p95']:>8.1f} {row['dropped_total']:>8} {row['cpu_ms_per_frame']:>7.0f}  {cells}")
    fast = rows["fast"]["fps"]
    print(f"\nas fast as possible: {fast:.1f} fps = {100 * fast * overlapped / 1000:.0f}% of the overlapped limit "
          f"(stage columns: median ms; latency in ms from capture to the frame written)")
    for name, row in rows.items():
        if name.endswith("paced"):
            verdict = "meets" if row["fps"] >= 20 and row["latency_ms"]["p95"] <= 100 else "misses"
            print(f"{name} at {pace:g} fps: {row['fps']:.1f} fps, p95 latency {row['latency_ms']['p95']:.0f} ms: "
                  f"{verdict} the target (>= 20 fps, p95 <= 100 ms)")
    target = next((row for name, row in rows.items() if name.endswith("paced")), rows["fast"])
    print(f"latency floor (pose, label and generator alone, one after the other): {serial:.0f} ms; paced, the median frame "
          f"took {target['latency_ms']['p50'] - serial:.0f} ms more (waits: capture->pose {target['stages_ms']['wait']['p50']:.1f}, "
          f"label->generator {target['stages_ms']['queue']['p50']:.1f}; the rest is the two threads sharing the cores)")
    cpus = os.cpu_count() or 1
    print(f"CPU: {target['cpu_ms_per_frame']:.0f} core-ms of work per output frame paced (decoding, pose, label, generator, "
          f"sink, all threads): {cpus} CPUs fully used would allow {1000 * cpus / target['cpu_ms_per_frame']:.1f} fps")
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"({os.cpu_count()} CPUs, load average {load} at the end; numpy {np.__version__}, torch {torch.__version__})")


if __name__ == "__main__":
    main()
