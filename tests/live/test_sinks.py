"""The window sink's keys, views and HUD, with OpenCV's GUI calls replaced (the machine is headless)."""

from __future__ import annotations

import socket
import sys

import cv2
import numpy as np
import pytest

from live import sinks
from live.capture import Frame
from live.pipeline import OutputFrame
from live.sinks import WindowSink, side_by_side
from live.stats import LiveStats
from shared.errors import DanceError


def _out(calibrating: bool = False, present: bool = True, mode: str | None = None) -> OutputFrame:
    camera = np.zeros((480, 640, 3), np.uint8)
    camera[:, :320] = 255  # left half white
    image = np.full((256, 256, 3), 90, np.uint8)
    label = np.zeros((256, 256, 3), np.uint8)
    return OutputFrame(image, Frame(camera, 0, 0.0, 0.0), label, held=False, present=present, calibrating=calibrating,
                       mode=mode)


@pytest.fixture
def gui(monkeypatch: pytest.MonkeyPatch) -> dict:
    shown: dict = {"frames": [], "keys": []}
    monkeypatch.setattr(sinks, "display_problem", lambda: None)
    monkeypatch.setattr(cv2, "namedWindow", lambda *a: None)
    monkeypatch.setattr(cv2, "destroyWindow", lambda *a: shown.setdefault("destroyed", True))
    monkeypatch.setattr(cv2, "imshow", lambda title, image: shown["frames"].append(image))
    monkeypatch.setattr(cv2, "waitKey", lambda delay: shown["keys"].pop(0) if shown["keys"] else -1)
    return shown


def test_keys_recalibrate_switch_the_view_and_quit(gui: dict) -> None:
    calls: list[str] = []
    window = WindowSink(lambda: calls.append("recalibrate"), lambda: calls.append("quit"))
    stats = LiveStats()
    gui["keys"] = [ord("c"), ord("v"), -1, ord("v"), ord("q"), 27]
    for _ in range(6):
        window.write(_out(), stats)
    assert calls == ["recalibrate", "quit", "quit"]
    sizes = [frame.shape for frame in gui["frames"]]
    assert sizes[0] == (512, 512, 3)  # the output, enlarged for a readable HUD
    assert sizes[2] == (512, 1536, 3)  # source | stick figure | output
    assert sizes[4] == (512, 512, 3)  # back to the output
    window.close()
    assert gui.get("destroyed")


def test_side_by_side_shows_the_source_as_the_model_frames_it() -> None:
    view = side_by_side(_out())
    assert view.shape == (256, 768, 3)
    source = view[:, :256]
    assert source[128, 40].min() > 200 and source[128, 215].max() < 50  # letterboxed, left half still white
    assert (source[:32] == 0).all()  # black letterbox bars above a landscape frame


def test_hud_marks_calibration_and_an_empty_room(gui: dict) -> None:
    window = WindowSink(lambda: None, lambda: None)
    stats = LiveStats()
    window.write(_out(), stats)
    window.write(_out(calibrating=True), stats)
    window.write(_out(present=False), stats)
    plain, calibrating, empty = (frame[300:470] for frame in gui["frames"])
    assert not np.array_equal(plain, calibrating) and not np.array_equal(plain, empty)
    assert not np.array_equal(calibrating, empty)


def test_hud_says_the_normalization_mode(gui: dict) -> None:
    window = WindowSink(lambda: None, lambda: None)
    stats = LiveStats()
    for mode in ("full body", "upper body", "upper body"):
        window.write(_out(mode=mode), stats)
    full, upper, again = (frame[380:500] for frame in gui["frames"])
    assert not np.array_equal(full, upper)  # the two modes are written differently
    assert np.array_equal(upper, again)


def test_no_display_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(DanceError, match=r"needs a display.*DISPLAY is not set"):
        WindowSink(lambda: None, lambda: None)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 display probing is Linux-only")
def test_display_probing_finds_only_x_servers_that_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPLAY", ":4711")
    assert "no X server answers at DISPLAY=:4711" in sinks.display_problem()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:  # a stand-in X server, abstract socket
        server.bind("\0/tmp/.X11-unix/X4711")
        server.listen(1)
        assert sinks.display_problem() is None
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:  # over TCP, like ssh -X's localhost:10
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]  # an ephemeral port, far above X's 6000
        monkeypatch.setenv("DISPLAY", f"127.0.0.1:{port - 6000}.0")
        assert sinks.display_problem() is None
    monkeypatch.setenv("DISPLAY", "garbage")
    assert sinks.display_problem() is not None


def test_a_file_following_the_clock_repeats_frames_over_drops(tmp_path) -> None:  # noqa: ANN001
    from live.sinks import VideoFileSink
    from shared.io.video import read_frames

    sink = VideoFileSink(tmp_path / "clock.mp4", 10.0, (256, 256), follow_clock=True)
    stats = LiveStats()
    for shade, media_time in ((0, 5.0), (100, 5.1), (200, 5.4)):  # the frames between 5.1 and 5.4 s were dropped
        out = _out()
        out.image[:] = shade
        out.frame = Frame(out.frame.image, 0, media_time, 0.0)
        sink.write(out, stats)
    sink.close()
    shades = [int(round(frame.mean() / 50)) * 50 for frame in read_frames(tmp_path / "clock.mp4")]
    assert shades == [0, 100, 100, 100, 200]  # 0.4 s at 10 fps after the first frame


@pytest.mark.parametrize("follow_clock", [True, False])
def test_a_file_carries_the_soundtrack_from_its_first_frame_over_drops(tmp_path, follow_clock: bool) -> None:  # noqa: ANN001
    """The source's tone starts at 1.0 s; the first frame written is the source's at 0.5 s, and
    (following the clock) frames are dropped and held after it: the tone stays at 0.5 s into the
    output, the audio as long as the video."""
    import av

    from live.sinks import VideoFileSink
    from shared.io.audio import SourceAudio, read_audio
    from tests.tone_video import tone_onset, write_tone_video

    source = write_tone_video(tmp_path / "source.mp4", np.zeros((60, 64, 64, 3), np.uint8), 30.0, tone_at=1.0)
    sink = VideoFileSink(tmp_path / "out.mp4", 30.0, (256, 256), follow_clock=follow_clock, soundtrack=source)
    times = [0.5, 0.6, 0.9, 1.0, 1.2, 1.5] if follow_clock else [0.5 + i / 30 for i in range(30)]
    for media_time in times:
        out = _out()
        out.frame = Frame(out.frame.image, round(media_time * 30), media_time, 0.0)
        sink.write(out, LiveStats())
    sink.close()
    with av.open(str(tmp_path / "out.mp4")) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        video_s, audio_s = float(video.duration * video.time_base), float(audio.duration * audio.time_base)
    assert video_s == pytest.approx(1.0 + 1 / 30 if follow_clock else 1.0, abs=0.01)
    assert audio_s == pytest.approx(video_s, abs=0.1)
    pcm = read_audio(SourceAudio(tmp_path / "out.mp4"), video_s)
    assert tone_onset(pcm, 48000) == pytest.approx(0.5, abs=1 / 30)


def test_a_file_without_a_soundtrack_source_is_video_only(tmp_path) -> None:  # noqa: ANN001
    import av

    from live.sinks import VideoFileSink
    from shared.io.video import write_video

    silent = tmp_path / "silent.mp4"
    write_video(silent, np.zeros((3, 64, 64, 3), np.uint8), 30.0)
    for name, soundtrack in (("none.mp4", None), ("silent-source.mp4", silent)):
        sink = VideoFileSink(tmp_path / name, 30.0, (256, 256), soundtrack=soundtrack)
        sink.write(_out(), LiveStats())
        sink.close()
        with av.open(str(tmp_path / name)) as container:
            assert len(container.streams.video) == 1 and not container.streams.audio
