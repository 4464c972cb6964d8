"""Live faults: a camera that stops, returns garbage, or changes resolution mid-stream.

A `ScriptedCamera` is a live source (it paces itself like a camera) that plays a script of
segments: good frames of a real dancer, garbage (wrong dtype or shape, empty arrays, things that
are not arrays, black or noise), frames at another resolution, failed reads, reads that raise,
reads that hang. The live pipeline runs it into an mp4 (`VideoFileSink`, following the camera's
clock as `dance-live -o` does for a camera) and a recorder, and each fault episode is one try:

- garbage: every output made from it holds the last frame, and the dancer is back right after;
- a resolution change: the dancer is found again at the new size;
- a pause (failed reads, raising reads, a hang): the stream resumes with the dancer afterwards;
- a camera that stops for good: the run ends by itself (the source finished, or CameraStalled, the
  one-line error `dance-live` prints), in time.

In every run no other exception escapes, and the mp4 is finalized: it decodes to the end with as
many frames as were written, and it holds the last frame over every gap (its length follows the
camera's clock).

`full_rows()` runs all of it with the full counts (for bench/faults.py); the tests run small counts.
"""

from __future__ import annotations

import bisect
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from tests.faults.report import FaultRow

FPS = 30.0
BLACK, NOISE = "zeros", "noise"


class Hang:
    """A read that hangs (a dead camera driver) for `seconds`, or until the camera is closed."""

    def __init__(self, seconds: float = float("inf")) -> None:
        self.seconds = seconds


class FailedRead:
    """A read that returns None (the camera gave nothing this time)."""


@dataclass
class Segment:
    """Part of a camera's script: `seconds` of reads, each answered by `item(i)`."""

    label: str  # "good", "garbage:<kind>", "size:WxH", "pause:<kind>", "stop:<kind>"
    seconds: float
    item: Callable[[int], object]  # the camera's i-th read -> an array, garbage, FailedRead, an exception or a Hang


class ScriptedCamera:
    """A live source playing `segments` at `fps`; afterwards it ends (`finished`) when `end` is
    set, else it fails the way the last segment did, for good. `starts[i]` is when segment i
    began (perf_counter), to tell which segment an output came from."""

    live = True
    size = None

    def __init__(self, segments: Sequence[Segment], fps: float = FPS, end: bool = True, name: str = "camera 9") -> None:
        self.segments = list(segments)
        self.fps = fps
        self.end = end
        self.name = name
        self.starts: list[float] = []
        self.finished = False
        self.reopened = 0
        self._closed = threading.Event()
        self._segment = 0
        self._reads = 0
        self._segment_start: float | None = None
        self._next = 0.0

    def _advance(self, now: float) -> Segment | None:
        """The segment this read belongs to: each lasts `seconds` of wall time from its first read
        (which it always gets); the last one lasts for ever unless the camera ends."""
        while self._segment < len(self.segments):
            segment = self.segments[self._segment]
            if self._segment_start is None:
                self._segment_start = now
                self.starts.append(now)
                return segment
            forever = self._segment == len(self.segments) - 1 and not self.end
            if forever or now - self._segment_start < segment.seconds:
                return segment
            self._segment += 1
            self._segment_start = None
        return None

    def read(self) -> object:
        if self._closed.is_set():
            return None
        delay = self._next - time.perf_counter()
        if delay > 0 and self._closed.wait(delay):
            return None
        now = time.perf_counter()
        self._next = max(self._next + 1 / self.fps, now)
        segment = self._advance(now)
        if segment is None:
            self.finished = True
            return None
        item = segment.item(self._reads)
        self._reads += 1
        if isinstance(item, Hang):  # then the read returns whatever the camera films by then
            self._closed.wait(None if item.seconds == float("inf") else item.seconds)
            self._next = time.perf_counter()
            return self.read()
        if isinstance(item, BaseException):
            raise item
        return None if isinstance(item, FailedRead) else item

    def reopen(self) -> bool:
        self.reopened += 1
        return not self.finished

    def close(self) -> None:
        self._closed.set()

    def segment_of(self, captured: float) -> int:
        """Which segment a frame read at `captured` (perf_counter) came from."""
        return max(0, bisect.bisect_right(self.starts, captured) - 1)


@dataclass
class Output:
    captured: float
    present: bool
    held: bool
    shape: tuple[int, ...]


@dataclass
class Recorder:
    """A sink that remembers what every output was."""

    outputs: list[Output] = field(default_factory=list)

    def write(self, out, stats) -> None:  # noqa: ANN001 - OutputFrame, LiveStats
        self.outputs.append(Output(out.frame.captured, out.present, out.held, out.image.shape))

    def close(self) -> None:
        pass


@dataclass
class RunResult:
    camera: ScriptedCamera
    outputs: list[Output]
    error: BaseException | None
    mp4_problem: str | None
    seconds: float
    logs: list[str]

    def by_segment(self) -> dict[int, list[Output]]:
        found: dict[int, list[Output]] = {}
        for out in self.outputs:
            found.setdefault(self.camera.segment_of(out.captured), []).append(out)
        return found


def mp4_problem(path: Path, written: int, min_frames: int) -> str | None:
    """Why the mp4 is not finalized and whole, or None: it must exist under its final name (no
    partial file left), decode to the end with every frame written, and hold at least `min_frames`
    (the held frame fills the gaps, so the file is as long as the camera ran)."""
    from shared.io.video import read_frames

    if not path.exists():
        return f"{path.name} was not written"
    leftovers = [p.name for p in path.parent.glob(f".{path.stem}.partial*")]
    if leftovers:
        return f"partial file left: {leftovers}"
    try:
        decoded = sum(1 for _ in read_frames(path))
    except Exception as err:  # noqa: BLE001 - any decoding failure is the finding
        return f"{path.name} does not decode: {err}"
    if decoded != written or written == 0:
        return f"{path.name} decodes to {decoded} frames, {written} were written"
    if written < min_frames:
        return f"{path.name} has {written} frames, the camera's clock says at least {min_frames}"
    return None


def run_camera(engine, camera: ScriptedCamera, output: Path, config=None, timeout: float = 120.0) -> RunResult:  # noqa: ANN001
    """Run the live pipeline on `camera` into `output` (and a recorder); never raises."""
    from live.pipeline import LivePipeline, PipelineConfig
    from live.sinks import VideoFileSink

    config = config or PipelineConfig(retry_interval=0.1, stall_warning=0.5, stall_timeout=2.0)
    logs: list[str] = []
    output.unlink(missing_ok=True)  # a file from an earlier run proves nothing
    pipeline = LivePipeline(engine, camera, config, log=logs.append)
    recorder = Recorder()
    sink = VideoFileSink(output, camera.fps, tuple(engine.info.image_size), follow_clock=True)
    error: BaseException | None = None
    start = time.perf_counter()
    watchdog = threading.Timer(timeout, pipeline.stop)  # a hung run is a finding, not a hung test
    watchdog.start()
    try:
        pipeline.run([sink, recorder])
    except Exception as err:  # noqa: BLE001 - the caller decides which errors are expected
        error = err
    finally:
        watchdog.cancel()
        camera.close()
    seconds = time.perf_counter() - start
    outputs = recorder.outputs
    span = (outputs[-1].captured - outputs[0].captured) if outputs else 0.0
    problem = mp4_problem(output, sink.writer.frames_written, int(span * camera.fps))
    if seconds >= timeout:
        problem = f"the run did not end by itself within {timeout:g} s"
    return RunResult(camera, outputs, error, problem, seconds, logs)


# --- the faults ----------------------------------------------------------------------------------


def garbage_kinds(frame: np.ndarray, seed: int) -> dict[str, Callable[[int], object]]:
    """Everything a broken camera driver could hand over instead of an HxWx3 uint8 frame."""
    rng = np.random.default_rng(seed)
    height, width = frame.shape[:2]
    return {
        "None": lambda i: FailedRead() if i % 2 else None,
        "float32": lambda i: frame.astype(np.float32) / 255.0,
        "uint16": lambda i: frame.astype(np.uint16) * 257,
        "bool": lambda i: frame > 127,
        "grey HxW": lambda i: frame[..., 0].copy(),
        "RGBA": lambda i: np.dstack([frame, np.full((height, width, 1), 255, np.uint8)]),
        "one channel": lambda i: frame[..., :1].copy(),
        "flat": lambda i: frame.reshape(-1).copy(),
        "4-D": lambda i: frame[None].copy(),
        "empty 0x0x3": lambda i: np.zeros((0, 0, 3), np.uint8),
        "empty 0xWx3": lambda i: np.zeros((0, width, 3), np.uint8),
        "scalar": lambda i: np.array(7, np.uint8),
        "bytes": lambda i: frame.tobytes()[:1000],
        "list": lambda i: frame[:2, :2].tolist(),
        "string": lambda i: "frame",
        BLACK: lambda i: np.zeros_like(frame),
        NOISE: lambda i: rng.integers(0, 256, frame.shape, dtype=np.uint8),
        "1x1": lambda i: np.zeros((1, 1, 3), np.uint8),
        "1xW": lambda i: np.zeros((1, width, 3), np.uint8),
        "strided": lambda i: frame[::3, ::3],
    }


def _good(frames: Sequence[np.ndarray], size: tuple[int, int] | None = None) -> Callable[[int], np.ndarray]:
    """The dancer, played forwards then backwards (a camera never jumps); at `size` (width,
    height) when given, padded (never stretched) to its aspect."""
    if size is not None:
        frames = [fit_into(f, size) for f in frames]
    period = max(1, 2 * len(frames) - 2)
    return lambda i: frames[min(i % period, period - i % period)]


def fit_into(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`frame` scaled to fit `size` (width, height) and padded with grey, as a camera with another
    resolution or aspect would film the same scene."""
    width, height = size
    scale = min(width / frame.shape[1], height / frame.shape[0])
    inner = cv2.resize(frame, (max(1, round(frame.shape[1] * scale)), max(1, round(frame.shape[0] * scale))), interpolation=cv2.INTER_AREA)
    canvas = np.full((height, width, 3), 128, np.uint8)
    y, x = (height - inner.shape[0]) // 2, (width - inner.shape[1]) // 2
    canvas[y:y + inner.shape[0], x:x + inner.shape[1]] = inner
    return canvas


def _check_episodes(result: RunResult, row: FaultRow, episodes: list[int], check: Callable[[dict[int, list[Output]], int], str | None]) -> None:
    """One try per fault segment index in `episodes`: passes when the run raised nothing, the mp4
    is whole and `check(by_segment, index)` finds nothing wrong."""
    segments = result.by_segment()
    for index in episodes:
        label = result.camera.segments[index].label
        problem = (f"{type(result.error).__name__}: {result.error}" if result.error is not None else None) or result.mp4_problem
        problem = problem or check(segments, index)
        if problem is None:
            row.passed += 1
        else:
            row.fail(f"{label}: {problem}")


# Garbage that is still an image (black, noise, tiny, a third of the size): the pipeline uses it as
# it is, so the dancer may even be found in it; only the rest must give the held frame.
STILL_IMAGES = (BLACK, NOISE, "1x1", "1xW", "strided")


def _held_then_recovered(segments: dict[int, list[Output]], index: int, kind: str) -> str | None:
    during, after = segments.get(index, []), segments.get(index + 1, [])
    if not during:
        return "no output made from the garbage (the stream stopped)"
    if kind not in STILL_IMAGES and any(out.present or not out.held for out in during):
        return "an output made from garbage was not the held frame"
    if not any(out.present for out in after):
        return "the dancer did not come back after the garbage"
    return None


def garbage_frames(engine, frames: Sequence[np.ndarray], work: Path, count: int, seed: int = 0, garbage_s: float = 0.6,  # noqa: ANN001
                   good_s: float = 1.0) -> FaultRow:
    """`count` bursts of garbage frames (each kind in turn) between good ones, in one run."""
    kinds = garbage_kinds(frames[0], seed)
    names = [name for name in kinds if name != "None"]  # failed reads are a pause, not a frame (see camera_pauses)
    rng = np.random.default_rng(seed)
    order = [names[i % len(names)] for i in rng.permutation(max(count, len(names)))][:count]
    segments = [Segment("good", good_s + 0.5, _good(frames))]
    episodes = []
    for name in order:
        episodes.append(len(segments))
        segments += [Segment(f"garbage:{name}", garbage_s, kinds[name]), Segment("good", good_s, _good(frames))]
    row = FaultRow("live", "camera frames of garbage (wrong type or shape, empty, black, noise) mid-stream", count, 0)
    result = run_camera(engine, ScriptedCamera(segments), work / "garbage.mp4")
    _check_episodes(result, row, episodes, lambda by, index: _held_then_recovered(by, index, order[episodes.index(index)]))
    return row


MISSED_AFTER_CHANGE = 0.2  # outputs at a new resolution that may miss the dancer: this share, or two
# (the lock starts over at a new size and MediaPipe may need a frame or two to detect again; a 640x480
# change once missed 2 of 9 outputs on a slow minute, then found the dancer: held, then recovered)
MISSED_FRAMES_ALLOWED = 2
# New sizes and aspects. No 16:9 framing: there MediaPipe misses this dancer's first frames whatever
# the fault (then the person lock needs ~8 frames to settle), which is the pose model's doing, not a
# resolution change's.
RESOLUTIONS = ((544, 968), (136, 242), (640, 480), (272, 484), (480, 480), (202, 360), (720, 1280), (408, 726))


def resolution_changes(engine, frames: Sequence[np.ndarray], work: Path, count: int, seed: int = 0,  # noqa: ANN001
                       segment_s: float = 1.2) -> FaultRow:
    """`count` changes of the camera's resolution (and aspect) mid-stream, in one run."""
    rng = np.random.default_rng(seed)
    base = (frames[0].shape[1], frames[0].shape[0])
    sizes, last = [], base
    for _ in range(count):
        size = RESOLUTIONS[int(rng.integers(len(RESOLUTIONS)))]
        while size == last:
            size = RESOLUTIONS[int(rng.integers(len(RESOLUTIONS)))]
        sizes.append(size)
        last = size
    segments = [Segment("good", segment_s, _good(frames))]
    segments += [Segment(f"size:{w}x{h}", segment_s, _good(frames, (w, h))) for w, h in sizes]

    def found_again(by: dict[int, list[Output]], index: int) -> str | None:
        outs = by.get(index, [])
        if not outs:
            return "no output at the new resolution"
        if any(out.shape[:2] != tuple(engine.info.image_size)[::-1] for out in outs):
            return "an output at another size than the engine's"
        missed = sum(not out.present for out in outs)
        if missed > max(MISSED_FRAMES_ALLOWED, MISSED_AFTER_CHANGE * len(outs)):  # before the fix, the lock lost them for up to 2 s
            return f"the dancer was missed in {missed} of {len(outs)} outputs at the new resolution"
        return None

    row = FaultRow("live", "camera resolution changes mid-stream", count, 0)
    result = run_camera(engine, ScriptedCamera(segments), work / "resolution.mp4")
    _check_episodes(result, row, list(range(1, len(segments))), found_again)
    return row


def _pause(kind: str, seconds: float) -> Segment:
    if kind == "failed reads":
        return Segment(f"pause:{kind}", seconds, lambda i: FailedRead())
    if kind == "raising reads":
        return Segment(f"pause:{kind}", seconds, lambda i: OSError("VIDIOC_DQBUF: No such device"))
    return Segment(f"pause:{kind}", 0.0, lambda i: Hang(seconds))


PAUSES = ("failed reads", "raising reads", "a hung read")


def camera_pauses(engine, frames: Sequence[np.ndarray], work: Path, count: int, seed: int = 0, pause_s: float = 0.8,  # noqa: ANN001
                  good_s: float = 1.2) -> FaultRow:
    """`count` pauses of the camera (failed reads, reads that raise, a read that hangs), each
    shorter than the stall timeout, in one run: the stream must go on after each."""
    rng = np.random.default_rng(seed)
    segments = [Segment("good", good_s, _good(frames))]
    episodes = []
    for i in range(count):
        episodes.append(len(segments))
        kind = PAUSES[(i + int(rng.integers(len(PAUSES)))) % len(PAUSES)] if i >= len(PAUSES) else PAUSES[i]
        segments += [_pause(kind, pause_s), Segment("good", good_s, _good(frames))]

    def resumed(by: dict[int, list[Output]], index: int) -> str | None:
        after = by.get(index + 1, [])
        return None if any(out.present for out in after) else "the stream did not resume with the dancer after the pause"

    row = FaultRow("live", "camera pauses (failed, raising, hung reads) mid-stream", count, 0)
    result = run_camera(engine, ScriptedCamera(segments), work / "pauses.mp4")
    _check_episodes(result, row, episodes, resumed)
    return row


STOPS = ("end of stream", "failed reads", "raising reads", "a hung read", "garbage", "dead from the start")


def _stopping_camera(kind: str, frames: Sequence[np.ndarray], seed: int) -> ScriptedCamera:
    """A camera that films the dancer a moment, then stops for good in the way `kind` says."""
    good = Segment("good", 0.7, _good(frames))
    if kind == "end of stream":
        return ScriptedCamera([good], end=True)
    if kind == "garbage":  # garbage until the source ends: held frames all along
        return ScriptedCamera([good, Segment("garbage:float32", 1.5, garbage_kinds(frames[0], seed)["float32"])], end=True)
    if kind == "dead from the start":
        return ScriptedCamera([_pause("failed reads", float("inf"))], end=False)
    return ScriptedCamera([good, _pause(kind, float("inf"))], end=False)


def _stop_problem(kind: str, result: RunResult, output: Path) -> str | None:
    """What is wrong with how a run whose camera stopped for good ended, or None."""
    from live.pipeline import CameraStalled

    ends = kind in ("end of stream", "garbage")  # the source finished: a normal end
    if ends and result.error is not None:
        return f"{type(result.error).__name__}: {result.error}"
    if not ends and not isinstance(result.error, CameraStalled):
        return f"ended with {result.error!r}, not CameraStalled"
    if kind == "dead from the start":  # nothing filmed: no file at all (and no partial one)
        left = [p.name for p in output.parent.glob(f"*{output.stem}*")]
        return f"files left for a camera that never gave a frame: {left}" if left or result.outputs else None
    return result.mp4_problem or (None if result.outputs else "no output at all")


def camera_stops(engine, frames: Sequence[np.ndarray], work: Path, count: int, seed: int = 0,  # noqa: ANN001
                 stall_timeout: float = 1.0) -> FaultRow:
    """`count` runs whose camera stops for good (each way in turn): the run must end by itself
    (returning when the source finished, CameraStalled otherwise: the one-line error `dance-live`
    prints) soon after the stall timeout, with the mp4 finalized (none when nothing was filmed)."""
    from live.pipeline import PipelineConfig

    row = FaultRow("live", "camera stops for good (ends, fails, raises, hangs, garbage, dead from the start)", count, 0)
    config = PipelineConfig(retry_interval=0.1, stall_warning=0.5, stall_timeout=stall_timeout)
    for i in range(count):
        kind = STOPS[i % len(STOPS)]
        output = work / f"stop{i}.mp4"
        result = run_camera(engine, _stopping_camera(kind, frames, seed), output, config, timeout=60.0)
        problem = _stop_problem(kind, result, output)
        if problem is None and result.seconds > 2.5 + stall_timeout + 10.0:
            problem = f"took {result.seconds:.1f} s to end"
        if problem is None:
            row.passed += 1
        else:
            row.fail(f"{kind}: {problem}")
    return row


def camera_faults(engine, frames: Sequence[np.ndarray], work: Path, garbage: int, resolutions: int, pauses: int,  # noqa: ANN001
                  stops: int, seed: int = 0) -> list[FaultRow]:
    """Every live row, with these counts."""
    engine.set_plate(None)
    return [
        garbage_frames(engine, frames, work, garbage, seed),
        resolution_changes(engine, frames, work, resolutions, seed),
        camera_pauses(engine, frames, work, pauses, seed),
        camera_stops(engine, frames, work, stops, seed),
    ]


# --- setting up without pytest -------------------------------------------------------------------


def make_tiny_run(folder: Path) -> Path:
    """A briefly trained `tiny` run on the synthetic dancer (as tests/conftest.py's `tiny_run`)."""
    from shared.synthetic.body import TARGET_BODY
    from shared.synthetic.dancer import write_dance_video
    from trainer.fit import FitConfig
    from trainer.prepare import PrepareConfig, prepare_dataset
    from trainer.train import run_fit

    run = folder / "run"
    if (run / "checkpoints" / "latest.json").exists():
        return run
    video = folder / "target.mp4"
    write_dance_video(video, TARGET_BODY, num_frames=48, size=(256, 256), fps=30)
    dataset, _ = prepare_dataset(video, folder / "dataset", PrepareConfig(), progress=False)
    run_fit(dataset, run, FitConfig(steps=6, use_vgg=False, checkpoint_every=100), device="cpu", progress=False)
    return run


SMALL_WIDTH = 272


def make_small_clip(real_clip: Path, path: Path) -> Path:
    """The real clip (a person dancing) at 272x484, 30 fps, 50 frames (as the server tests' `small_clip`)."""
    from shared.io.video import VideoWriter, read_frames

    if path.exists():
        return path
    frames = list(read_frames(real_clip))[::2]  # 60 fps -> 30 fps
    height = round(frames[0].shape[0] * SMALL_WIDTH / frames[0].shape[1] / 2) * 2
    with VideoWriter(path, 30.0, (SMALL_WIDTH, height)) as writer:
        for frame in frames:
            writer.write(cv2.resize(frame, (SMALL_WIDTH, height), interpolation=cv2.INTER_AREA))
    return path


def full_rows(work: Path | None = None, garbage: int = 38, resolutions: int = 20, pauses: int = 15, stops: int = 18,
              seed: int = 0) -> list[FaultRow]:
    """The live rows at full counts, for bench/faults.py.

    work: folder for the tiny run, the clip and the mp4s (default: a temporary one, removed after);
    garbage: bursts of garbage frames (19 kinds, each in turn); resolutions: resolution changes;
    pauses: camera pauses shorter than the stall timeout (3 ways in turn); stops: runs whose camera
    stops for good (6 ways in turn); seed: picks the order. Trains a tiny run (about a minute on 2
    CPU cores) and fetches the real clip (tests/conftest.py) unless `work` holds them already; one
    torch thread, as live on 2 cores.
    """
    import torch

    from shared.runtime.loading import load_engine
    from shared.io.video import read_frames
    from tests.conftest import fetch_pose2sim_clip

    with tempfile.TemporaryDirectory(prefix="faults-live-") as temporary:
        folder = Path(work) if work is not None else Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        engine = load_engine(make_tiny_run(folder))
        frames = list(read_frames(make_small_clip(fetch_pose2sim_clip("cam01"), folder / "small.mp4")))
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return camera_faults(engine, frames, folder, garbage, resolutions, pauses, stops, seed)
        finally:
            torch.set_num_threads(threads)
