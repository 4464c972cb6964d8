"""Pose-side throughput on this machine: MediaPipe, its landmark model following the person under
onnxruntime (what live runs), label rendering, smoothing, normalization.

    .venv/bin/python bench/pose.py [--video PATH]

Prints a table of median ms per frame. Without --video it uses the built-in synthetic dancer.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import click
import numpy as np

from shared.pose.mediapipe_estimator import MediaPipeEstimator
from shared.pose.framing import full_frame_window
from shared.normalize.stats import PoseNormalizer, compute_stats
from shared.pose.onnx_follower import OnnxPoseFollower
from shared.label.render import render_label
from shared.pose.smoothing import OneEuroPoseFilter, median_smooth
from shared.synthetic.body import SOURCE_BODY, TARGET_BODY
from shared.synthetic.dancer import dance_poses, write_dance_video
from shared.io.video import probe_video, read_frames


def _median_ms(samples: list[float]) -> float:
    return 1000 * statistics.median(samples)


@click.command()
@click.option("--video", type=click.Path(exists=True, path_type=Path), help="A real video (default: synthetic dancer).")
@click.option("--frames", default=100, show_default=True)
@click.option("--size", default=256, show_default=True, help="Label size (square).")
def main(video: Path | None, frames: int, size: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        if video is None:
            video = Path(tmp) / "synthetic.mp4"
            write_dance_video(video, TARGET_BODY, frames, (512, 512))
        info = probe_video(video)
        decoded = list(read_frames(video, frames))
    rows: list[tuple[str, float]] = []

    pose_times, follow_times, lost = [], [], 0
    follower = OnnxPoseFollower()
    with MediaPipeEstimator() as estimator:
        for rgb in decoded:
            start = time.perf_counter()
            pose = estimator(rgb)
            pose_times.append(time.perf_counter() - start)
            if not follower.following:  # started (again) from MediaPipe's pose, as live does
                follower.start(rgb, pose, estimator.body_points)
                continue
            start = time.perf_counter()
            lost += not follower.follow(rgb).present
            follow_times.append(time.perf_counter() - start)
    rows.append((f"MediaPipe pose (tracking) at {info.width}x{info.height}", _median_ms(pose_times)))
    if follow_times:
        rows.append((f"its landmark model following, onnxruntime ({lost} lost)", _median_ms(follow_times)))

    out = (size, size)
    labelled = full_frame_window(info.size, out).map_poses(dance_poses(TARGET_BODY, frames, out), out)
    render_times = []
    for t in range(len(labelled)):
        start = time.perf_counter()
        render_label(labelled[t], out)
        render_times.append(time.perf_counter() - start)
    rows.append((f"render_label at {size}x{size}", _median_ms(render_times)))

    start = time.perf_counter()
    median_smooth(labelled, 7)
    rows.append(("median_smooth (7 frames), per frame", 1000 * (time.perf_counter() - start) / len(labelled)))

    source = dance_poses(SOURCE_BODY, frames, out)
    normalizer = PoseNormalizer(compute_stats(source), compute_stats(labelled))
    one_euro = OneEuroPoseFilter()
    live_times = []
    for t in range(len(source)):
        start = time.perf_counter()
        normalizer(one_euro(source[t], t / 30))
        live_times.append(time.perf_counter() - start)
    rows.append(("One-Euro + normalization, per frame", _median_ms(live_times)))

    width = max(len(name) for name, _ in rows)
    print(f"{'stage':<{width}}  median ms/frame")
    for name, ms in rows:
        print(f"{name:<{width}}  {ms:8.2f}")
    print(f"({len(decoded)} frames, {np.__name__} {np.__version__})")


if __name__ == "__main__":
    main()
