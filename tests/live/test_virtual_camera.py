"""The virtual camera sink through its own interface: letterbox, pacing, latest wins, the held frame,
closing; the install hint when there is no device; frames read back from a real v4l2loopback device."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from live.capture import Frame
from live.pipeline import OutputFrame
from live.stats import LiveStats
from live.virtual_camera import VirtualCameraConfig, VirtualCameraSink, camera_fps, install_hint, open_pyvirtualcam
from shared.errors import DanceError
from tests.live.test_cli import _invoke, _one_line_error

pyvirtualcam = pytest.importorskip("pyvirtualcam")


def _out(shade: int, size: tuple[int, int] = (256, 256)) -> OutputFrame:
    width, height = size
    image = np.full((height, width, 3), shade, np.uint8)
    return OutputFrame(image, Frame(image, 0, 0.0, 0.0), image, held=False, present=True, calibrating=False)


class FakeCamera:
    """Records what is sent and when; each `sleep_until_next_frame` waits for the test's `tick()`,
    so the test decides exactly what happens between two sends."""

    device = "fake0"

    def __init__(self) -> None:
        self.sent: list[tuple[float, np.ndarray]] = []
        self.closed = False
        self._ticks = threading.Semaphore(0)
        self._free = threading.Event()  # set: no more waiting for ticks (the test is closing the sink)
        self._cond = threading.Condition()

    def send(self, frame: np.ndarray) -> None:
        with self._cond:
            self.sent.append((time.perf_counter(), frame.copy()))
            self._cond.notify_all()

    def sleep_until_next_frame(self) -> None:
        while not self._free.is_set() and not self._ticks.acquire(timeout=0.05):
            pass

    def tick(self) -> None:
        self._ticks.release()

    def free(self) -> None:
        """Stop waiting for ticks, as a real camera waits at most one frame interval."""
        self._free.set()

    def wait_sent(self, count: int, timeout: float = 5.0) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.sent) >= count, timeout), f"only {len(self.sent)} sent"

    def shades(self) -> list[int]:
        return [int(frame[360, 640, 0]) for _, frame in self.sent]

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake() -> FakeCamera:
    return FakeCamera()


def _sink(fake: FakeCamera, **config: object) -> VirtualCameraSink:
    return VirtualCameraSink(VirtualCameraConfig(**config), open_camera=lambda _config: fake)


def test_frames_are_letterboxed_to_the_camera_size_aspect_kept_and_centred(fake: FakeCamera) -> None:
    sink = _sink(fake)
    fake.wait_sent(1)
    sink.write(_out(200, (256, 256)), LiveStats())  # square output into 16:9: bars left and right
    fake.tick()
    fake.wait_sent(2)
    fake.free()
    sink.close()
    black, frame = fake.sent[0][1], fake.sent[1][1]
    assert black.shape == frame.shape == (720, 1280, 3) and not black.any()  # black until the first output
    columns = np.flatnonzero(frame[360, :, 0] > 100)
    left, right = columns[0], 1279 - columns[-1]  # the bars' widths
    assert abs(left - 280) <= 3 and abs(right - 280) <= 3  # 720 px wide (aspect kept), centred
    assert (frame[:, : left - 2] == 0).all() and (frame[:, 1280 - right + 2 :] == 0).all()
    assert (frame[:, left + 2 : 1280 - right - 2] == 200).all()
    assert (frame[:, 640] == 200).all()  # full height: no bars above and below

    tall = _sink(FakeCamera(), size=(640, 480))
    tall.camera.wait_sent(1)
    tall.write(_out(200, (512, 256)), LiveStats())  # 2:1 into 4:3: bars above and below
    tall.camera.tick()
    tall.camera.wait_sent(2)
    tall.camera.free()
    tall.close()
    frame = tall.camera.sent[1][1]
    rows = np.flatnonzero(frame[:, 320, 0] > 100)
    assert frame.shape == (480, 640, 3) and abs(rows[0] - 80) <= 3 and abs(rows[-1] - 399) <= 3
    assert (frame[: rows[0] - 2] == 0).all() and (frame[rows[-1] + 3 :] == 0).all()


def test_latest_wins_and_the_last_frame_is_held(fake: FakeCamera) -> None:
    sink = _sink(fake)
    stats = LiveStats()
    fake.wait_sent(1)  # black; the sender now waits for the next tick
    for shade in (10, 20, 30):  # three outputs between two sends
        sink.write(_out(shade), stats)
    fake.tick()
    fake.wait_sent(2)
    for _ in range(3):  # nothing new: the newest is repeated, once per tick
        fake.tick()
    fake.wait_sent(5)
    sink.write(_out(40), stats)
    fake.tick()
    fake.wait_sent(6)
    shades = fake.shades()
    fake.free()
    sink.close()
    assert shades == [0, 30, 30, 30, 30, 40]  # 10 and 20 were never sent, nothing queued


def test_write_returns_at_once_while_the_camera_waits(fake: FakeCamera) -> None:
    sink = _sink(fake)
    fake.wait_sent(1)  # the sender is blocked in sleep_until_next_frame until a tick
    start = time.perf_counter()
    for shade in range(100):
        sink.write(_out(shade), LiveStats())
    assert time.perf_counter() - start < 0.5
    assert len(fake.sent) == 1
    fake.free()
    sink.close()


def test_close_stops_the_sender_and_closes_the_camera(fake: FakeCamera) -> None:
    sink = _sink(fake)
    fake.wait_sent(1)
    fake.free()
    sink.close()
    assert not sink._thread.is_alive() and fake.closed
    sent = len(fake.sent)
    time.sleep(0.3)
    assert len(fake.sent) == sent  # nothing is sent after close


def test_a_failing_camera_stops_the_run_with_a_clear_error(fake: FakeCamera) -> None:
    def broken(frame: np.ndarray) -> None:
        raise OSError("device unplugged")

    fake.send = broken  # type: ignore[method-assign]
    sink = _sink(fake)
    sink._thread.join(timeout=5)
    with pytest.raises(DanceError, match="virtual camera fake0 stopped: device unplugged"):
        sink.write(_out(1), LiveStats())
    sink.close()  # reported once
    assert fake.closed


class RecordingBackend:
    """A pyvirtualcam backend that keeps what it receives, so the real `pyvirtualcam.Camera` (and its
    pacing) runs without a device."""

    received: list[tuple[float, int]] = []

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kw: object) -> None:
        self.name = device or "recording"

    def send(self, frame: np.ndarray) -> None:
        RecordingBackend.received.append((time.perf_counter(), int(frame.reshape(720, 1280, 3)[360, 640, 0])))

    def device(self) -> str:
        return self.name

    def native_fourcc(self) -> None:
        return None

    def close(self) -> None:
        pass


@pytest.fixture
def recording_backend():  # noqa: ANN201
    """Registered for one test only: pyvirtualcam tries every registered backend when none is named."""
    pyvirtualcam.register_backend("dancenow-recording", RecordingBackend)
    RecordingBackend.received = []
    yield
    pyvirtualcam.camera.BACKENDS.pop("dancenow-recording", None)


@pytest.mark.usefixtures("recording_backend")
def test_frames_go_out_at_the_camera_fps_new_or_repeated() -> None:
    config = VirtualCameraConfig(fps=20.0)
    sink = VirtualCameraSink(config, open_camera=lambda c: open_pyvirtualcam(c, backend="dancenow-recording"))
    assert sink.device == "recording"
    sink.write(_out(90), LiveStats())  # one output, then none: it is held
    time.sleep(1.0)
    sink.close()
    times = [t for t, _ in RecordingBackend.received]
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert 10 <= rate <= 24, f"{rate:.1f} fps sent for 20"  # generous: the machine is shared
    assert [shade for _, shade in RecordingBackend.received][-5:] == [90] * 5


def test_no_device_says_what_to_install() -> None:
    linux = install_hint(platform="linux")
    if "v4l2loopback" in pyvirtualcam.camera.BACKENDS and _loopback_device() is None:  # this machine
        with pytest.raises(DanceError) as raised:
            VirtualCameraSink(VirtualCameraConfig(), open_camera=lambda c: open_pyvirtualcam(c, backend="v4l2loopback"))
        assert str(raised.value) == linux
        with pytest.raises(DanceError, match=r"^no virtual camera device /dev/video77 \(Device /dev/video77 does not exist.\)"):
            open_pyvirtualcam(VirtualCameraConfig(device="/dev/video77"), backend="v4l2loopback")
    assert "\n" not in linux and "v4l2loopback-dkms" in linux
    assert "modprobe v4l2loopback devices=1 exclusive_caps=1" in linux
    assert "OBS Studio" in install_hint(platform="win32") and "Virtual Camera" in install_hint(platform="darwin")


def test_without_pyvirtualcam_it_says_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyvirtualcam", None)  # import fails as if not installed
    with pytest.raises(DanceError, match=r"^--virtual-camera needs the pyvirtualcam package: pip install pyvirtualcam$"):
        VirtualCameraSink(VirtualCameraConfig())


def test_the_camera_runs_at_the_source_fps_up_to_30() -> None:
    assert [camera_fps(fps) for fps in (25.0, 30.0, 60.0, 240.0, 0.0, None)] == [25.0, 30.0, 30.0, 30.0, 30.0, 30.0]


def _loopback_device() -> str | None:
    """The first /dev/videoN that is a v4l2loopback device (the kernel lists those as virtual)."""
    for entry in sorted(Path("/sys/class/video4linux").glob("video*")):
        if "/virtual/" in str(entry.resolve()) and Path("/dev", entry.name).exists():
            return str(Path("/dev", entry.name))
    return None


def test_frames_read_back_from_a_v4l2loopback_device() -> None:
    device = _loopback_device()
    if device is None:
        pytest.skip("no v4l2loopback device here (sudo modprobe v4l2loopback devices=1 exclusive_caps=1)")
    sink = VirtualCameraSink(VirtualCameraConfig(size=(640, 360), fps=30.0, device=device))
    try:
        image = np.zeros((256, 256, 3), np.uint8)
        image[:, :, 0] = 220  # red in RGB
        out = OutputFrame(image, Frame(image, 0, 0.0, 0.0), image, held=False, present=True, calibrating=False)
        sink.write(out, LiveStats())
        time.sleep(0.5)
        capture = cv2.VideoCapture(device, cv2.CAP_V4L2)
        try:
            assert capture.isOpened(), f"cannot open {device} for reading"
            frames = [frame for ok, frame in (capture.read() for _ in range(5)) if ok]
        finally:
            capture.release()
    finally:
        sink.close()
    assert frames, f"no frame read back from {device}"
    frame = frames[-1]  # BGR
    assert frame.shape[:2] == (360, 640)
    centre, bar = frame[180, 320].astype(int), frame[180, 20].astype(int)
    assert centre[2] > 150 and centre[0] < 80 and centre[1] < 80, centre  # red came through the device
    assert bar.max() < 40, bar  # black letterbox bars


# --- dance-live --virtual-camera ---------------------------------------------------------------


class PacedFake(FakeCamera):
    """A fake camera that ticks by itself, like a real one at 100 fps."""

    def sleep_until_next_frame(self) -> None:
        time.sleep(0.01)


@pytest.fixture
def clip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder without a display, holding a 5-frame video (no person: enough for the options)."""
    from shared.io.video import VideoWriter

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DISPLAY", raising=False)
    writer = VideoWriter(tmp_path / "clip.mp4", 30.0, (64, 48))
    for shade in range(5):
        writer.write(np.full((48, 64, 3), 40 * shade, np.uint8))
    writer.close()
    return tmp_path / "clip.mp4"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the v4l2loopback hint is Linux's")
def test_dance_live_without_a_device_says_what_to_install_in_one_line(clip: Path) -> None:
    if _loopback_device() is not None:
        pytest.skip("this machine has a v4l2loopback device")
    line = _one_line_error(_invoke("--source", clip, "--virtual-camera"))  # before any engine is looked for
    assert line == f"Error: {install_hint()}"
    assert "sudo modprobe v4l2loopback devices=1 exclusive_caps=1" in line and "apt install v4l2loopback-dkms" in line
    named = _one_line_error(_invoke("--source", clip, "--virtual-camera", "/dev/video77", "-o", "x.mp4"))
    assert "no virtual camera device /dev/video77 (Device /dev/video77 does not exist.)" in named
    assert not Path("x.mp4").exists()
    assert "no virtual camera device" in _one_line_error(_invoke("--serve", "--source", clip, "--virtual-camera"))


def test_virtual_camera_options_are_checked(clip: Path) -> None:
    assert "'big' is not WIDTHxHEIGHT" in _one_line_error(_invoke("--source", clip, "--virtual-camera", "--virtual-size", "big"), code=2)
    assert "even" in _one_line_error(_invoke("--source", clip, "--virtual-camera", "--virtual-size", "641x480"), code=2)
    assert "server's own source" in _one_line_error(_invoke("--serve", "--virtual-camera"), code=2)
    assert "or --virtual-camera" in _one_line_error(_invoke("--source", clip))  # named where nothing is shown


def _fake_engine(size: tuple[int, int] = (64, 64)) -> SimpleNamespace:
    return SimpleNamespace(backend="fake", info=SimpleNamespace(image_size=size, composite=False, precision="fp32"))


class FakePipeline:
    """Stands in for LivePipeline in the CLI: three outputs to every sink, then closes them as it does."""

    def __init__(self, engine, source, config, stats, plate, log) -> None:  # noqa: ANN001
        self.size = engine.info.image_size
        self.stats = SimpleNamespace(summary=lambda: "3 frames out")

    def recalibrate(self) -> None: ...

    def stop(self) -> None: ...

    def run(self, sinks: list) -> None:
        for shade in (50, 100, 150):
            out = _out(shade, self.size)
            out.frame = Frame(out.image, shade, shade / 30, 0.0)
            for sink in sinks:
                sink.write(out, LiveStats())
            time.sleep(0.05)
        for sink in sinks:
            sink.close()


def test_the_virtual_camera_composes_with_the_window_and_the_mp4(clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from live import cli, sinks
    from live import pipeline as pipeline_module
    from live import virtual_camera
    from shared.io.video import read_frames

    camera = PacedFake()
    opened: list[VirtualCameraConfig] = []
    monkeypatch.setattr(virtual_camera, "open_pyvirtualcam", lambda config: opened.append(config) or camera)
    monkeypatch.setattr(cli, "_load_engine", lambda *args: _fake_engine())
    monkeypatch.setattr(pipeline_module, "LivePipeline", FakePipeline)
    shown: list[np.ndarray] = []
    monkeypatch.setattr(sinks, "display_problem", lambda: None)
    monkeypatch.setattr(cv2, "namedWindow", lambda *a: None)
    monkeypatch.setattr(cv2, "destroyWindow", lambda *a: None)
    monkeypatch.setattr(cv2, "imshow", lambda title, image: shown.append(image))
    monkeypatch.setattr(cv2, "waitKey", lambda delay: -1)

    ran = _invoke("--source", clip, "--window", "-o", "out.mp4", "--virtual-camera", "--virtual-size", "320x240")
    assert ran.exit_code == 0, ran.output
    assert opened == [VirtualCameraConfig((320, 240), 30.0, None)]  # the source's fps, the first device
    assert "virtual camera fake0 at 320x240" in ran.output
    assert len(shown) == 3 and len(list(read_frames("out.mp4"))) >= 3
    assert camera.closed and {frame.shape for _, frame in camera.sent} == {(240, 320, 3)}
    assert 150 in {int(frame[120, 160, 0]) for _, frame in camera.sent}  # the last output reached the camera


def test_serve_feeds_the_virtual_camera_from_the_viewer_pipeline(clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from live import cli, virtual_camera
    from live.server import app as app_module

    camera = PacedFake()
    monkeypatch.setattr(virtual_camera, "open_pyvirtualcam", lambda config: camera)
    monkeypatch.setattr(cli, "_load_engine", lambda *args: _fake_engine())
    served: list = []

    def serve_forever(app, config, log) -> None:  # noqa: ANN001 - instead of serving: what would be served
        manager = app[app_module.MANAGER]
        served.append((manager.settings.sinks, manager.hub.always_on, camera.closed))

    monkeypatch.setattr(app_module, "serve_forever", serve_forever)
    ran = _invoke("--serve", "--source", clip, "--virtual-camera", "/dev/video10")
    assert ran.exit_code == 0, ran.output
    [(camera_sinks, always_on, closed_while_serving)] = served
    assert [type(sink) for sink in camera_sinks] == [VirtualCameraSink] and always_on and not closed_while_serving
    assert camera.closed  # when the server stops
    assert "virtual camera fake0 shows it too" in ran.output


def test_an_always_on_viewer_pipeline_starts_with_the_server_and_outlives_its_viewers() -> None:
    from live.server.session import SessionSettings, ViewerHub
    from live.sinks import BorrowedSink
    from live.slots import LatestFrame

    class Runner:
        def __init__(self) -> None:
            self.handoff: LatestFrame[OutputFrame] = LatestFrame()
            self.pipeline = None
            self.done = False
            self.stopped = False

        def stop(self) -> None:
            self.stopped = True

    async def scenario(sinks: tuple) -> tuple[int, bool]:
        hub = ViewerHub(None, lambda: None, SessionSettings(sinks=sinks), log=lambda _: None, on_end=lambda: None)
        runners: list[Runner] = []
        hub._start = lambda loop: runners.append(Runner()) or runners[-1]  # type: ignore[method-assign]
        await hub.start()
        started_alone = len(runners)
        hub.unsubscribe(await hub.subscribe())  # a viewer comes and goes
        return started_alone, runners[-1].stopped

    camera = _sink(PacedFake())
    assert asyncio.run(scenario((camera,))) == (1, False)  # running before any viewer, still after the last
    assert asyncio.run(scenario(())) == (0, True)  # without: with the first viewer, stopped by the last
    borrowed = BorrowedSink(camera)
    borrowed.write(_out(7), LiveStats())
    borrowed.close()  # a pipeline's end leaves the camera to its owner
    assert not camera.frames.closed
    camera.close()
