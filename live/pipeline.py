"""The live pipeline: three threads joined by one-item slots.

    capture thread --[frames]--> pose thread --[posed]--> calling thread (generator + sinks)

The pose thread runs MediaPipe, the One Euro filter, normalization onto the target and renders the
label for frame t+1 while the calling thread runs the generator on frame t: the two halves of the
puppet step (shared/runtime/puppet.py), which the trainer's transfer eval runs the same way.
For a camera (or a file paced to real time) both slots are latest-wins: when the generator is
slower than the camera, stale frames are dropped and counted, never queued, so latency stays
bounded. A video file read as fast as possible keeps every frame instead (one output frame per
input frame). Sinks run on the calling thread, which is also the one an OpenCV window must live on.

Live, the pose thread also starts "just in time": once the generator has taken its label, it waits
until the generator is about one pose-time from done, then takes the newest camera frame. The label
is then ready when the generator wants it (no waiting in the slot, so no added latency), and no
pose is computed only to be dropped, which leaves both cores to the generator meanwhile.
"""

from __future__ import annotations

import gc
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from live.background import Background
from live.capture import CaptureConfig, CaptureThread, Frame, FrameSource
from live.slots import LatestSlot
from live.stats import LiveStats
from shared.errors import DanceError
from shared.normalize.calibrator import LiveNormalizer
from shared.normalize.stats import NormalizationStats
from shared.pose.person_lock import LockConfig
from shared.pose.tracking import SourcePoseTracker
from shared.runtime.engine import Engine
from shared.runtime.feedback import DEFAULT_LOST_FRAMES
from shared.runtime.puppet import Labelled, PuppetStep


class Ema:
    """Exponential moving average of a duration (seconds); 0 until the first sample."""

    def __init__(self, weight: float = 0.2) -> None:
        self.weight = weight
        self.value = 0.0
        self._empty = True

    def add(self, sample: float) -> None:
        self.value = sample if self._empty else self.value + self.weight * (sample - self.value)
        self._empty = False


class RecentMedian:
    """The median of the last `window` durations (seconds); 0 until the first sample.

    For the just-in-time pose start, which needs the typical time of a step: a frame where
    MediaPipe had to find the person again, or the first frames' warm-up, takes 2-10x the usual and
    would drag an average for a dozen frames (measured: the first pose, 270 ms, made the next 15
    labels wait 15-34 ms for the generator); a median ignores it."""

    def __init__(self, window: int = 9) -> None:
        self.samples: deque[float] = deque(maxlen=window)

    def add(self, sample: float) -> None:
        self.samples.append(sample)

    @property
    def value(self) -> float:
        return statistics.median(self.samples) if self.samples else 0.0


JIT_MARGIN = 0.1  # start the next pose this fraction of a generator step early (pose times vary)
FRESH_AGE = 0.5  # live, a newest frame older than this fraction of the frame interval waits for the next


def freeze_heap() -> None:
    """Collect garbage once, then exempt every surviving object from later collections.

    Python's full (generation 2) collections scan every object the process holds, and after
    loading torch, onnxruntime and MediaPipe that is about 250,000: one takes 100-140 ms here, with
    every thread stopped (it holds the GIL), which live would show as a frozen picture whenever
    enough objects had survived to trigger one. Frozen, they are skipped: a full collection after
    a 7 s live run took 22 ms. Nothing leaks that reference counting frees; only reference cycles
    among the frozen objects stay.
    """
    gc.collect()
    gc.freeze()


class CameraStalled(DanceError):
    """The live source stopped delivering frames and did not come back in time."""


class FreshFrames:
    """Takes frames from a latest-wins slot for the pose thread, preferring young ones.

    Which camera frame the pose thread finds waiting is luck: on average it was captured half a
    frame interval earlier (17 ms at 30 fps), and that wait is part of the output's latency. When
    the newest frame is older than `fresh_age` of an interval, the next one is due within the
    rest of that interval: waiting for it cuts the average wait to an eighth of an interval and
    the worst to a half, for a quarter of an interval of pose start delay on average. Measured on
    a 30 fps source (2 cores, tiny int8 engines): the frame's wait before its pose went from p50
    17 ms / p95 32 ms to p50 3-4 ms / p95 15-16 ms in every run.
    """

    def __init__(self, slot: LatestSlot[Frame], fresh_age: float = FRESH_AGE, clock: Callable[[], float] = time.perf_counter) -> None:
        self.slot = slot
        self.fresh_age = fresh_age
        self.clock = clock  # the clock of Frame.captured
        self.interval = Ema()  # seconds between captured frames (dropped ones included)
        self._last: Frame | None = None

    def take(self) -> Frame | None:
        """The newest frame, or the next one when the newest is stale; None when the slot closed."""
        frame = self.slot.get()
        if frame is None or not self.slot.latest_wins:
            return frame
        interval = self.interval.value
        age = self.clock() - frame.captured
        if interval > 0 and age > self.fresh_age * interval:
            newer = self.slot.get(timeout=max(0.0, interval * (1 + JIT_MARGIN) - age))
            if newer is not None:
                self.slot.dropped += 1  # the stale one is dropped at the hand-off after all
                frame = newer
        if self._last is not None and frame.index > self._last.index:
            self.interval.add((frame.captured - self._last.captured) / (frame.index - self._last.index))
        self._last = frame
        return frame


@dataclass(frozen=True)
class PipelineConfig:
    lost_frames: int = DEFAULT_LOST_FRAMES  # restart from zeros after more frames than this without a person
    pace_fps: float | None = None  # deliver a file's frames at this rate, like a camera (drops allowed)
    stall_warning: float = 1.0  # seconds without a frame from a live source before saying so
    stall_timeout: float = 5.0  # ... and before giving up
    retry_interval: float = 0.5  # seconds between attempts to reopen a failing camera
    person: str = "largest"  # which person is locked and followed: largest | left | right
    full_body: bool = False  # always normalize by the ankles (no upper-body mode for a source without legs)


@dataclass
class Posed:
    """A frame after the pose thread: everything the generator needs."""

    frame: Frame
    labelled: Labelled  # the puppet step's label half: the label, the engine's input, the face box
    calibrating: bool  # a person is seen but cannot be measured yet (drawn un-normalized)
    ready: float  # perf_counter stamp when the label was done (the generator may pick it up later)
    mode: str | None = None  # the normalization in use, e.g. "adaptive from the first frame, full body"


@dataclass
class OutputFrame:
    """What every sink receives."""

    image: np.ndarray  # HxWx3 uint8 RGB at the engine's size
    frame: Frame  # the source frame it was made from (image, index, timestamps)
    label: np.ndarray
    held: bool  # nobody seen: an earlier output repeated
    present: bool
    calibrating: bool
    mode: str | None = None  # the normalization in use (LiveNormalizer.describe), for the HUD


class Sink(Protocol):
    def write(self, out: OutputFrame, stats: LiveStats) -> None: ...

    def close(self) -> None: ...


class LivePipeline:
    """Runs one source through one engine into sinks. Construct, then `run(sinks)` (blocking);
    `stop()` and `recalibrate()` may be called from any thread, e.g. a window's key handler."""

    def __init__(
        self,
        engine: Engine,
        source: FrameSource,
        config: PipelineConfig | None = None,
        calibration: NormalizationStats | None = None,
        background: Background | None = None,
        log: Callable[[str], None] = print,
    ) -> None:
        self.engine = engine
        self.source = source
        self.config = config = config or PipelineConfig()
        self.background = background
        self.log = log
        # refuses a model for another skeleton; follows one person, whoever else walks in
        self.tracker = SourcePoseTracker(engine.info.schema_tag, engine.info.image_size, person=LockConfig(choose=config.person))
        self.tracker.warm_up()  # before the camera runs: the first frame would otherwise wait 0.3 s
        self.stats = LiveStats()
        self.step = PuppetStep(engine, calibration, config.full_body, config.lost_frames, self.stats)
        latest_wins = source.live or config.pace_fps is not None
        self.frames: LatestSlot[Frame] = LatestSlot(latest_wins)
        self.posed: LatestSlot[Posed] = LatestSlot(latest_wins)
        capture_config = CaptureConfig(config.pace_fps, config.retry_interval, config.stall_timeout)
        self.capture = CaptureThread(source, self.frames, capture_config, log)
        self.fresh = FreshFrames(self.frames)
        self._stop = threading.Event()
        self._recalibrate = threading.Event()
        self._pose_error: BaseException | None = None
        self._pose_time = RecentMedian()  # pose + label, per frame
        self._generate_time = RecentMedian()  # generator + sinks, per frame
        self._frame_size: tuple[int, int] | None = None  # (width, height) of the last frame posed

    @property
    def normalizer(self) -> LiveNormalizer:
        """The source's normalization (its `source` is the fixed stats, None while adapting)."""
        return self.step.normalizer

    def stop(self) -> None:
        self._stop.set()
        self.capture.stop()
        self.posed.close()

    def recalibrate(self) -> None:
        """Choose the person again and normalize them afresh (the window's `c` key)."""
        self._recalibrate.set()

    # --- pose thread ---------------------------------------------------------------------------

    def _pose_loop(self) -> None:
        try:
            while True:
                if self.posed.latest_wins and not self._wait_until_wanted():
                    break
                frame = self.fresh.take()
                if frame is None or not self.posed.put(self._pose(frame)):
                    break
        except BaseException as err:  # noqa: BLE001 - re-raised on the calling thread
            self._pose_error = err
        finally:
            self.posed.close()
            self.capture.stop()

    def _wait_until_wanted(self) -> bool:
        """Wait for the generator to take the last label, then until it is one pose-time from
        done; False when the pipeline is stopping."""
        if not self.posed.wait_empty():
            return False
        generate = self._generate_time.value
        lead = generate - self._pose_time.value - JIT_MARGIN * generate
        delay = (self.posed.taken_at or 0.0) + lead - time.perf_counter()
        return not (delay > 0 and self._stop.wait(delay)) and not self._stop.is_set()

    def _size_changed(self, size: tuple[int, int]) -> None:
        """The source changed resolution mid-stream (a camera renegotiating, a browser under load).

        The locked person's box is in the old frame's pixels, where the new frame would show
        them as another person (an identity switch: nobody for seconds), so tracking starts over.
        A new aspect ratio also moves the person in the label frame, so their normalization starts
        afresh."""
        old = self._frame_size
        self._frame_size = size
        if old is None or old == size:
            return
        self.tracker.reset()
        same_aspect = abs(old[0] / old[1] - size[0] / size[1]) < 0.01
        if not same_aspect:
            self.normalizer.recalibrate()
        self.log(f"{self.source.name}: resolution changed from {old[0]}x{old[1]} to {size[0]}x{size[1]}; "
                 + ("following the person again" if same_aspect else "following the person and normalizing afresh"))

    def _pose(self, frame: Frame) -> Posed:
        if self._recalibrate.is_set():
            self._recalibrate.clear()
            self.normalizer.recalibrate()
            self.tracker.rechoose()
        height, width = frame.image.shape[:2]
        self._size_changed((width, height))
        start = time.perf_counter()
        self.stats.stage("wait", start - frame.captured)  # captured -> pose started
        raw = self.tracker.estimate(frame.image, frame.media_time)
        middle = time.perf_counter()
        pose = self.tracker.to_label(raw, (width, height), frame.media_time)
        normalizer = self.normalizer
        was = normalizer.describe()
        labelled = self.step.label(pose, frame.media_time)
        mode = normalizer.describe()
        if mode != was and normalizer.mode is not None:
            self.log(f"normalization: {mode}")
        end = time.perf_counter()
        posed = Posed(frame, labelled, normalizer.calibrating, end, mode)
        self.stats.stage("pose", middle - start)
        self.stats.stage("label", end - middle)
        self._pose_time.add(end - start)
        if labelled.present:
            self.stats.count("poses_found")
        return posed

    # --- calling thread ------------------------------------------------------------------------

    def run(self, sinks: Sequence[Sink] = ()) -> LiveStats:
        """Process until the source ends, `stop()`, or a live source stalls (CameraStalled).
        Sinks are closed (files finalized) however it ends, Ctrl-C included."""
        pose_thread = threading.Thread(target=self._pose_loop, name="pose", daemon=True)
        stalled = False
        freeze_heap()
        self.capture.start()
        pose_thread.start()
        try:
            stalled = self._generate(sinks)
        finally:
            self.stop()
            pose_thread.join(timeout=10)
            self.capture.join(timeout=0.5)  # a read stuck in a camera driver is left behind (daemon)
            close_errors = self._close(sinks, pose_thread)
        for error in (self.capture.error, self._pose_error, *close_errors):
            if error is not None:
                raise error
        if stalled or self.capture.stalled:
            raise CameraStalled(f"{self.source.name} stopped delivering frames for {self.config.stall_timeout:g} s; stopped")
        return self.stats

    def _close(self, sinks: Sequence[Sink], pose_thread: threading.Thread) -> list[BaseException]:
        errors: list[BaseException] = []
        for sink in sinks:
            try:
                sink.close()
            except Exception as err:  # noqa: BLE001 - close the others, then report
                errors.append(err)
        if not pose_thread.is_alive():
            self.tracker.close()
        if not self.capture.is_alive():
            self.source.close()
        if self.background is not None:
            self.background.close()
        return errors

    def _generate(self, sinks: Sequence[Sink]) -> bool:
        """The generator loop; returns True when a live source stalled: for `stall_timeout`,
        nothing read from it and nothing posed (so a first pose slower than that, while the
        camera delivers, is no stall; frames already read are still used before giving up)."""
        config = self.config
        last_posed = time.perf_counter()
        warned = False
        while not self._stop.is_set():
            posed = self.posed.get(timeout=0.1)
            if posed is None:
                if self.posed.closed:
                    return False
                idle = time.perf_counter() - max(last_posed, self.capture.last_read)
                if self.source.live and idle >= config.stall_warning and not warned and not self.capture.recovering:
                    self.log(f"{self.source.name}: no frame for {idle:.1f} s; giving up after {config.stall_timeout:g} s")
                    warned = True
                if self.source.live and idle >= config.stall_timeout:
                    return True
                continue
            last_posed = time.perf_counter()
            warned = False
            self._emit(posed, sinks)
            self._generate_time.add(time.perf_counter() - last_posed)
        return False

    def _emit(self, posed: Posed, sinks: Sequence[Sink]) -> None:
        self.stats.stage("queue", time.perf_counter() - posed.ready)  # label done -> generator started
        if self.background is not None:
            plate = self.background.next()
            if plate is not None:
                self.step.set_plate(plate)
        labelled = posed.labelled
        generated = self.step.generate(labelled)
        self.stats.count("frames_held" if generated.held else "frames_generated")
        start = time.perf_counter()
        out = OutputFrame(
            generated.image, posed.frame, labelled.label, generated.held, labelled.present, posed.calibrating, posed.mode
        )
        for sink in sinks:
            sink.write(out, self.stats)
        self.stats.stage("output", time.perf_counter() - start)
        self.stats.frame_out(posed.frame.captured)
        self.stats.set_dropped("capture", self.frames.dropped)
        self.stats.set_dropped("pose", self.posed.dropped)
