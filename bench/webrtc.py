"""WebRTC delivery on this machine: frames per second to 1 and to 4 viewers, latency capture -> receiver.

    .venv/bin/python bench/webrtc.py [--engines RUN_OR_ENGINES] [--video PATH] [--viewers 1,4] [--seconds 10]

Runs the real server (aiohttp + aiortc, one shared pipeline, MediaRelay) on the loopback address
with its own source (default: the Pose2Sim test clip at 360 px wide, 30 fps, looped and paced like
a camera) and N Python aiortc viewers in this process, VP8.

Latency is measured per frame from the moment the pipeline read the source frame to the moment a
viewer's decoder handed it over. Each frame's pts is its capture time on the 90 kHz clock; the
receiver sees it relative to its first frame, so the benchmark finds that first frame by matching
the received pts sequence against the pts of every frame the pipeline published (exact integers,
with irregular gaps: one alignment fits). Defaults: a `tiny` run (256x256) trained for a few
steps into a temporary folder.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import click
import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.conftest's clip fetcher

from live.cli import default_generator_threads  # noqa: E402
from live.pipeline import PipelineConfig  # noqa: E402
from live.server.app import BackgroundServer, create_app  # noqa: E402
from live.server.client import Peer, connect  # noqa: E402
from live.capture import LoopingVideoSource  # noqa: E402
from live.server.session import SessionManager, SessionSettings, ViewerHub  # noqa: E402
from live.server.tracks import clock_pts  # noqa: E402
from live.slots import HandoffClosed, LatestFrame  # noqa: E402
from shared.io.video import VideoWriter, probe_video, read_frames  # noqa: E402


def _bench_engine(engines: Path | None, backend: str, threads: int, folder: Path):  # noqa: ANN202 - Engine
    """bench/live.py's engine choice (loaded by path: a module named `live` would shadow the package)."""
    spec = importlib.util.spec_from_file_location("bench_live", Path(__file__).with_name("live.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.bench_engine(engines, backend, threads, folder)


def _camera_like(video: Path, out: Path, width: int = 360, fps: float = 30.0) -> Path:
    """The clip at a webcam-like size and rate."""
    frames = list(read_frames(video))
    step = max(1, round(probe_video(video).fps / fps))
    height = round(frames[0].shape[0] * width / frames[0].shape[1] / 2) * 2
    with VideoWriter(out, fps, (width, height)) as writer:
        for frame in frames[::step]:
            writer.write(cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA))
    return out


@dataclass(frozen=True)
class Sent:
    captured: float  # perf_counter when the pipeline read the source frame
    published: float  # perf_counter when its output reached the hand-off the viewers' track reads


class SentLog(threading.Thread):
    """Every output the pipeline publishes (read in a thread that wakes on each one, so none is missed)."""

    def __init__(self, handoff: LatestFrame) -> None:
        super().__init__(daemon=True)
        self.handoff = handoff
        self.sent: list[Sent] = []
        self._halt = threading.Event()

    def run(self) -> None:
        seen = 0
        while not self._halt.is_set():
            try:
                got = self.handoff.next(seen, timeout=0.2)
            except HandoffClosed:
                return
            if got is not None:
                if got.version > seen + 1 and seen:
                    print(f"  (sent log missed {got.version - seen - 1} outputs)", flush=True)
                seen = got.version
                self.sent.append(Sent(got.item.frame.captured, time.perf_counter()))

    def stop(self) -> None:
        self._halt.set()


def _find(sent: dict[int, Sent], pts: int) -> Sent | None:
    """The sent frame with this pts, give or take one tick (aiortc's timebase conversion truncates
    a float, which can take one tick off)."""
    for candidate in (pts, pts + 1, pts - 1):
        if candidate in sent:
            return sent[candidate]
    return None


def align(received: list[tuple[int, float]], sent: dict[int, Sent]) -> list[Sent | None]:
    """The sent frame behind each received one (pts relative to the first received, arrival
    time), or None where unknown. The receiver's first frame is the sent pts that makes the most
    received pts land on sent ones."""
    if not received:
        return []
    first_arrival = received[0][1]
    best, best_hits = None, 0
    for base, frame in sent.items():
        if frame.captured > first_arrival:
            continue
        hits = sum(_find(sent, p + base) is not None for p, _ in received[:50])
        if hits > best_hits:
            best, best_hits = base, hits
    if best is None:
        return [None] * len(received)
    return [_find(sent, p + best) for p, _ in received]


def latencies(received: list[tuple[int, float]], sent: dict[int, Sent], start: float, end: float) -> tuple[list[float], list[float], int]:
    """For the frames that arrived in [start, end): capture -> arrival (s); the same without
    aiortc's hold (its jitter buffer completes a frame only when the next frame's first packet
    arrives, so each frame waits for the next one to be published: a browser does not); and how
    many frames were matched."""
    matches = align(received, sent)
    raw, unheld, matched = [], [], 0
    for i, ((_, arrival), frame) in enumerate(zip(received, matches)):
        if frame is None or not start <= arrival < end:
            continue
        matched += 1
        raw.append(arrival - frame.captured)
        following = matches[i + 1] if i + 1 < len(matches) else None
        if following is not None:
            unheld.append(arrival - frame.captured - (following.published - frame.published))
    return raw, unheld, matched


@dataclass
class Row:
    viewers: int
    pipeline_fps: float
    delivered_fps: list[float]
    latency_ms: list[float]  # capture -> arrival at an aiortc receiver, every matched frame of every viewer
    unheld_ms: list[float]  # the same, less aiortc's one-frame hold
    pipeline_latency_ms: float
    matched: float  # fraction of received frames whose capture time was found


async def measure(url: str, hub: ViewerHub, viewers: int, seconds: float, warmup: float) -> Row:
    peers: list[Peer] = []
    received: list[list[tuple[int, float]]] = [[] for _ in range(viewers)]
    for _ in range(viewers):
        peers.append(await connect(url, "viewer"))
    track = hub.track
    assert track is not None
    log = SentLog(track.handoff)
    log.start()

    async def consume(peer: Peer, into: list[tuple[int, float]]) -> None:
        while True:
            frame = await peer.track.recv()
            into.append((frame.pts, time.perf_counter()))

    tasks = [asyncio.ensure_future(consume(p, r)) for p, r in zip(peers, received)]
    await asyncio.sleep(warmup)
    before = hub.stats()["frames_out"]
    start = time.perf_counter()
    await asyncio.sleep(seconds)
    end = time.perf_counter()
    stats = hub.stats()
    await asyncio.sleep(0.5)  # the frame after the window, which releases the window's last one
    for task in tasks:
        task.cancel()
    for peer in peers:
        await peer.close()
    log.stop()
    log.join()

    sent = {clock_pts(s.captured, track.origin): s for s in log.sent}
    delivered, raw, unheld, matched, total = [], [], [], 0, 0
    for frames in received:
        in_window = sum(start <= t < end for _, t in frames)
        delivered.append(in_window / (end - start))
        lat, lat_unheld, hits = latencies(frames, sent, start, end)
        raw += [1000 * v for v in lat]
        unheld += [1000 * v for v in lat_unheld]
        matched += hits
        total += in_window
    return Row(viewers, (stats["frames_out"] - before) / (end - start), delivered, raw, unheld,
               stats["latency_ms"]["p50"], matched / max(total, 1))


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


@click.command()
@click.option("--engines", type=click.Path(exists=True, path_type=Path), help="A run or engines folder  [default: train a tiny run].")
@click.option("--video", type=click.Path(exists=True, path_type=Path), help="The server's source  [default: the Pose2Sim clip, 360 px wide, 30 fps].")
@click.option("--backend", default="auto", show_default=True)
@click.option("--viewers", default="1,4", show_default=True, help="Comma-separated viewer counts to measure.")
@click.option("--seconds", default=10.0, show_default=True, type=click.FloatRange(1), help="Measurement window per count.")
@click.option("--warmup", default=3.0, show_default=True, type=click.FloatRange(0), help="Seconds before measuring (calibration, encoders).")
@click.option("--threads", type=click.IntRange(1), help="Generator CPU threads  [default: as dance-live: CPUs - 1].")
def main(engines: Path | None, video: Path | None, backend: str, viewers: str, seconds: float, warmup: float,
         threads: int | None) -> None:
    threads = threads or default_generator_threads()
    torch.set_num_threads(threads)
    counts = [int(v) for v in viewers.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        if video is None:
            from tests.conftest import fetch_pose2sim_clip

            video = _camera_like(fetch_pose2sim_clip("cam01"), Path(tmp) / "camera.mp4")
        engine = _bench_engine(engines, backend, threads, Path(tmp))
        info = probe_video(video)
        width, height = engine.info.image_size
        print(f"source {video.name} {info.width}x{info.height} @ {info.fps:g} fps (looped, paced); engine {width}x{height} "
              f"{engine.backend} {engine.info.precision}; generator threads {threads}; VP8 over loopback", flush=True)
        settings = SessionSettings(max_peers=max(counts), pipeline=PipelineConfig())
        manager = SessionManager(engine, settings, lambda: LoopingVideoSource(video), log=lambda _: None)
        rows = []
        with BackgroundServer(create_app(manager)) as url:
            for n in counts:
                print(f"measuring {n} viewer(s) for {seconds:g} s...", flush=True)
                rows.append(asyncio.run(measure(url, manager.hub, n, seconds, warmup)))

    print(f"\n{'viewers':>7} {'pipeline fps':>12} {'fps/viewer min':>14} {'mean':>6} {'e2e p50 ms':>10} {'p95':>5} "
          f"{'unheld p50 ms':>13} {'p95':>5} {'pipeline p50 ms':>15} {'matched':>7}")
    for r in rows:
        print(f"{r.viewers:>7} {r.pipeline_fps:>12.1f} {min(r.delivered_fps):>14.1f} {statistics.mean(r.delivered_fps):>6.1f} "
              f"{_pct(r.latency_ms, 50):>10.0f} {_pct(r.latency_ms, 95):>5.0f} {_pct(r.unheld_ms, 50):>13.0f} "
              f"{_pct(r.unheld_ms, 95):>5.0f} {r.pipeline_latency_ms:>15.0f} {100 * r.matched:>6.0f}%")
    print("\ne2e: capture (the pipeline reads the source frame) -> an aiortc viewer's decoder hands the frame over."
          "\nunheld: the same less aiortc's receive hold (its jitter buffer releases a frame only when the next"
          "\n  frame starts arriving, one output interval later; a browser decodes a frame once it is complete)."
          "\npipeline: capture -> output published (pose, label, generator); unheld - pipeline = encode + send + decode.")
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"({os.cpu_count()} CPUs, load average {load} at the end; torch {torch.__version__})")


if __name__ == "__main__":
    main()
