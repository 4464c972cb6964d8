"""The virtual camera sink through its own interface: letterbox, pacing, latest wins, the held frame,
closing; the install hint when there is no device; frames read back from a real v4l2loopback device."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from live.capture import Frame
from live.pipeline import OutputFrame
from live.stats import LiveStats
from live.virtual_camera import VirtualCameraConfig, VirtualCameraSink, install_hint, open_pyvirtualcam
from shared.errors import DanceError

pyvirtualcam = pytest.importorskip("pyvirtualcam")


def _out(shade: int, size: tuple[int, int] = (256, 256)) -> OutputFrame:
    width, height = size
    image = np.full((height, width, 3), shade, np.uint8)
    return OutputFrame(image, Frame(image, 0, 0.0, 0.0), image, held=False, present=True, calibrating=None)


class FakeCamera:
    """Records what is sent and when; each `sleep_until_next_frame` waits for the test's `tick()`,
    so the test decides exactly what happens between two sends."""

    device = "fake0"

    def __init__(self) -> None:
        self.sent: list[tuple[float, np.ndarray]] = []
        self.closed = False
        self._ticks = threading.Semaphore(0)
        self._cond = threading.Condition()

    def send(self, frame: np.ndarray) -> None:
        with self._cond:
            self.sent.append((time.perf_counter(), frame.copy()))
            self._cond.notify_all()

    def sleep_until_next_frame(self) -> None:
        self._ticks.acquire(timeout=0.2)  # a closing sink is never stuck here for long

    def tick(self) -> None:
        self._ticks.release()

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
    sink.close()
    assert fake.shades() == [0, 30, 30, 30, 30, 40]  # 10 and 20 were never sent, nothing queued


def test_write_returns_at_once_while_the_camera_waits(fake: FakeCamera) -> None:
    sink = _sink(fake)
    fake.wait_sent(1)  # the sender is blocked in sleep_until_next_frame until a tick
    start = time.perf_counter()
    for shade in range(100):
        sink.write(_out(shade), LiveStats())
    assert time.perf_counter() - start < 0.5
    assert len(fake.sent) == 1
    sink.close()


def test_close_stops_the_sender_and_closes_the_camera(fake: FakeCamera) -> None:
    sink = _sink(fake)
    fake.wait_sent(1)
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
    assert 12 <= rate <= 24, f"{rate:.1f} fps sent for 20"  # generous: the machine is shared
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
        out = OutputFrame(image, Frame(image, 0, 0.0, 0.0), image, held=False, present=True, calibrating=None)
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
