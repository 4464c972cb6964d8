"""The whole live pipeline on real footage (MediaPipe + the tiny engine), CPU."""

from __future__ import annotations

import gc
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from live.calibration import Calibration, calibrate_video
from live.capture import Frame, IterSource, VideoFileSource
from live.pipeline import CameraStalled, FreshFrames, LivePipeline, OutputFrame, PipelineConfig, RecentMedian, freeze_heap
from live.sinks import HandoffSink, VideoFileSink
from live.slots import LatestFrame, LatestSlot
from shared.errors import DanceError
from shared.io.video import probe_video, read_frames

FRAMES = 24
CALIBRATION_S = 0.2  # 12 frames of the 60 fps clip


@dataclass
class FileRun:
    output: Path
    stats: dict
    live_calibration: object
    spy: object
    published: object
    outputs: list  # every OutputFrame, in order
    said: list[str]


class ListSink:
    def __init__(self) -> None:
        self.frames: list[OutputFrame] = []

    def write(self, out: OutputFrame, stats: object) -> None:
        self.frames.append(out)

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def file_run(tiny_engine, real_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> FileRun:  # noqa: ANN001
    from tests.spy_engine import SpyEngine

    tiny_engine.set_plate(None)
    spy = SpyEngine(tiny_engine)
    output = tmp_path_factory.mktemp("live") / "out.mp4"
    source = VideoFileSource(real_clip, max_frames=FRAMES)
    said: list[str] = []
    pipeline = LivePipeline(spy, source, PipelineConfig(), log=said.append)
    handoff: LatestFrame[OutputFrame] = LatestFrame()
    collected = ListSink()
    stats = pipeline.run([VideoFileSink(output, source.fps, spy.info.image_size), HandoffSink(handoff), collected])
    return FileRun(output, stats.as_dict(), pipeline.normalizer.source, spy, handoff, collected.frames, said)


def test_a_video_gives_one_output_frame_per_input_frame_at_the_engine_size(file_run: FileRun, real_clip: Path) -> None:
    info = probe_video(file_run.output)
    frames = list(read_frames(file_run.output))
    assert len(frames) == FRAMES and info.size == (256, 256)
    assert info.fps == pytest.approx(probe_video(real_clip).fps)
    assert max(np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(frames, frames[1:])) > 0.1  # it moves
    s = file_run.stats
    assert s["frames_out"] == FRAMES and s["frames_generated"] == FRAMES and s["dropped_total"] == 0
    assert s["poses_found"] == FRAMES  # a person is in every frame
    for stage in ("pose", "label", "body", "face", "output"):
        assert s["stages_ms"][stage]["p50"] > 0
    for waiting in ("wait", "queue"):  # capture -> pose, label -> generator: the latency no stage computes
        assert 0 <= s["stages_ms"][waiting]["p50"] <= s["latency_ms"]["p95"]
    assert s["latency_ms"]["p95"] >= s["latency_ms"]["p50"] > 0


def test_the_generator_is_fed_its_own_output(file_run: FileRun) -> None:
    calls = file_run.spy.body_calls
    assert len(calls) == FRAMES and file_run.spy.prev_is_zero(0)
    for t in range(1, FRAMES):
        assert np.array_equal(calls[t][1].numpy(), calls[t - 1][2].numpy())


def test_the_server_hand_off_has_the_last_frame(file_run: FileRun) -> None:
    latest = file_run.published.latest
    assert latest.version == FRAMES and latest.item.frame.index == FRAMES - 1
    assert latest.item.image.shape == (256, 256, 3) and file_run.published.closed


def test_the_first_frame_is_drawn_normalized_at_the_targets_height(file_run: FileRun, tiny_engine) -> None:  # noqa: ANN001
    from shared.label.render import render_label
    from shared.pose.schema import get_schema

    info = tiny_engine.info
    assert file_run.live_calibration is None  # nothing fixed: it adapts
    assert file_run.said == ["normalization: adaptive from the first frame, full body"]
    assert all(out.mode == "adaptive from the first frame, full body" and out.calibrating is False for out in file_run.outputs)

    def figure_height(label: np.ndarray) -> int:
        rows = np.flatnonzero(label.max(axis=(1, 2)) > 0)
        return int(rows[-1] - rows[0])

    standing = info.norm_stats.standing_pose(get_schema(info.schema_tag))
    target = figure_height(render_label(standing, info.image_size))
    first = figure_height(file_run.outputs[0].label)
    assert first == pytest.approx(target, rel=0.15)


def test_a_calibration_file_fixes_the_stats(tiny_engine, real_clip: Path, tmp_path: Path) -> None:  # noqa: ANN001
    info = tiny_engine.info
    made = calibrate_video(real_clip, info.schema_tag, info.image_size, CALIBRATION_S)
    made.save(tmp_path / "clip.json")
    loaded = Calibration.load(tmp_path / "clip.json")
    assert loaded.stats == made.stats and loaded.source_size == (1080, 1920) and loaded.stats.image_size == info.image_size
    source = VideoFileSource(real_clip, max_frames=4)
    said: list[str] = []
    pipeline = LivePipeline(tiny_engine, source, PipelineConfig(), loaded.stats, log=said.append)
    collected = ListSink()
    pipeline.run([collected])
    assert pipeline.normalizer.source == loaded.stats and not pipeline.normalizer.adaptive
    assert said == []  # the start line says it: the mode never changes
    assert all(out.mode == "fixed from the calibration file, full body" for out in collected.frames)


def test_person_lost_holds_the_frame_then_restarts_from_zeros(spy, clip_frames: list[np.ndarray]) -> None:  # noqa: ANN001
    grey = np.full_like(clip_frames[0], 128)
    lost = 4  # more than lost_frames=2
    frames = clip_frames[:4] + [grey] * lost + clip_frames[4:7]
    pipeline = LivePipeline(spy, IterSource(frames, fps=60.0), PipelineConfig(lost_frames=2), log=lambda _: None)
    outputs: list[OutputFrame] = []

    class Collect:
        def write(self, out: OutputFrame, stats: object) -> None:
            outputs.append(out)

        def close(self) -> None:
            pass

    pipeline.run([Collect()])
    assert len(outputs) == len(frames)
    assert [o.present for o in outputs] == [True] * 4 + [False] * lost + [True] * 3
    for o in outputs[4:8]:
        assert o.held and np.array_equal(o.image, outputs[3].image)
    assert len(spy.body_calls) == 7  # nobody in view: the engine is not called
    assert spy.prev_is_zero(0) and not spy.prev_is_zero(3)
    assert spy.prev_is_zero(4), "after more than lost_frames without a person the feedback restarts from zeros"
    assert not spy.prev_is_zero(5)


def test_a_camera_that_stops_delivering_ends_cleanly_with_a_playable_file(spy, clip_frames, tmp_path: Path) -> None:  # noqa: ANN001
    release = threading.Event()

    def camera():  # noqa: ANN202 - delivers a few frames, then hangs like a dead driver
        yield from clip_frames[:3]
        release.wait(30)

    output = tmp_path / "stalled.mp4"
    logs: list[str] = []
    source = IterSource(camera(), fps=30.0, live=True, name="camera 0")
    pipeline = LivePipeline(spy, source, PipelineConfig(stall_warning=0.1, stall_timeout=0.5), log=logs.append)
    try:
        with pytest.raises(CameraStalled, match="camera 0 stopped delivering frames"):
            pipeline.run([VideoFileSink(output, 30.0, (256, 256))])
    finally:
        release.set()
    written = pipeline.stats.as_dict()["frames_out"]
    assert 1 <= written <= 3 and len(list(read_frames(output))) == written
    assert any("no frame" in line for line in logs)
    assert isinstance(CameraStalled("x"), DanceError)  # the CLI prints it as one line


def test_ctrl_c_still_finalizes_the_output_file(spy, clip_frames, tmp_path: Path) -> None:  # noqa: ANN001
    class CtrlC:
        """Raises KeyboardInterrupt at the third frame, as Ctrl-C would on the calling thread."""

        seen = 0

        def write(self, out: OutputFrame, stats: object) -> None:
            self.seen += 1
            if self.seen == 3:
                raise KeyboardInterrupt

        def close(self) -> None:
            pass

    output = tmp_path / "interrupted.mp4"
    pipeline = LivePipeline(spy, IterSource(clip_frames[:8], fps=60.0), log=lambda _: None)
    with pytest.raises(KeyboardInterrupt):
        pipeline.run([VideoFileSink(output, 60.0, (256, 256)), CtrlC()])
    assert len(list(read_frames(output))) == 3  # the file sink wrote 3 frames and was closed
    assert not pipeline.capture.is_alive()



class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _frame(index: int, interval: float = 0.2) -> Frame:
    """A camera frame captured at index x interval seconds on a fake clock (so waits are long and
    the test does not depend on how fast threads get scheduled)."""
    return Frame(np.zeros((4, 4, 3), np.uint8), index, index * interval, index * interval)


def test_fresh_frames_waits_for_the_next_frame_only_when_the_newest_is_stale() -> None:
    slot: LatestSlot[Frame] = LatestSlot(latest_wins=True)
    clock = FakeClock()
    fresh = FreshFrames(slot, clock=clock)
    slot.put(_frame(0))
    clock.now = 0.15
    assert fresh.take().index == 0, "with no frame interval known yet, the newest frame is taken as it is"
    slot.put(_frame(1))
    clock.now = 0.21
    assert fresh.take().index == 1 and fresh.interval.value == pytest.approx(0.2)

    slot.put(_frame(2))
    clock.now = 0.41  # 10 ms old: young, taken at once
    start = time.perf_counter()
    assert fresh.take().index == 2 and time.perf_counter() - start < 0.05

    slot.put(_frame(3))
    clock.now = 0.75  # 150 ms old, the next one is due in 50 ms
    timer = threading.Timer(0.005, lambda: slot.put(_frame(4)))
    timer.start()
    assert fresh.take().index == 4 and slot.dropped == 1
    timer.join()

    slot.put(_frame(5))
    clock.now = 1.15  # stale, but no next frame comes in time: it is used after all
    start = time.perf_counter()
    assert fresh.take().index == 5 and time.perf_counter() - start < 0.5


def test_fresh_frames_never_waits_on_a_lossless_slot() -> None:
    slot: LatestSlot[Frame] = LatestSlot(latest_wins=False)
    clock = FakeClock()
    fresh = FreshFrames(slot, clock=clock)
    clock.now = 100.0  # every frame is ancient
    for index in range(3):
        slot.put(_frame(index))
        assert fresh.take().index == index
    assert slot.dropped == 0


def test_freeze_heap_collects_garbage_then_exempts_the_survivors() -> None:
    class Node:
        pass

    cycle = Node()
    cycle.self = cycle  # only the cyclic collector frees this
    gone = weakref.ref(cycle)
    del cycle
    kept = [Node()]
    freeze_heap()
    assert gone() is None, "garbage made before the run is collected first"
    assert gc.get_freeze_count() > 0 and not any(obj is kept for obj in gc.get_objects()), "survivors are frozen"


def test_the_step_time_estimate_ignores_a_slow_frame():
    # the just-in-time pose start needs the usual pose time; a frame where MediaPipe had to find
    # the person (or the first frame's warm-up) must not move it
    recent = RecentMedian(window=5)
    assert recent.value == 0.0
    for sample in (0.270, 0.014, 0.015, 0.013, 0.014):
        recent.add(sample)
    assert recent.value == pytest.approx(0.014)
    for sample in (0.030,) * 3:  # the machine slowed down for good: followed within a window
        recent.add(sample)
    assert recent.value == pytest.approx(0.030)
