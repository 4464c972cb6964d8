"""Silencing fd 2 for native libraries: what is silenced, and that fd 2 always comes back."""

from __future__ import annotations

import os
import re
import threading

import pytest

from shared.io.quiet import native_stderr_silenced

# Lines native libraries write straight to fd 2: absl / glog ("W0000 00:00:17.. 123 file.cc:114] ..."),
# absl's note before InitializeLog, TensorFlow Lite's minimal logger ("INFO: Created TensorFlow Lite
# XNNPACK delegate"), OpenCV ("[ WARN:0@0.01] global cap_v4l.cpp ...").
NATIVE_LOG = re.compile(r"^([IWEF]\d{4} [\d:.]+\s+\d+ [\w.\-]+:\d+\]|INFO: |.*absl::InitializeLog|\[ ?(WARN|INFO|ERROR)[:\]])")


def native_log_lines(stderr: str) -> list[str]:
    """The lines of `stderr` that a native library wrote (none should reach a user's terminal)."""
    return [line for line in stderr.replace("\r", "\n").splitlines() if NATIVE_LOG.match(line.strip())]


def test_the_pattern_knows_the_native_lines_and_not_ours() -> None:
    native = [
        "W0000 00:00:1796595166.392315   15093 inference_feedback_manager.cc:114] Feedback manager requires a model",
        "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "[ WARN:0@0.012] global cap_v4l.cpp:999 open VIDEOIO(V4L2:/dev/video0): can't open camera by index",
        "I0000 00:00:1700000000.000000    1234 gl_context.cc:357] GL version: 3.2",
    ]
    ours = [
        "WARNING: training without the VGG perceptual loss: expect blurrier results.",
        "poses:  50%|#####     | 30/60 [00:01<00:01, 30.00frame/s]",
        "Error: camera 0 does not exist (/dev/video0 not found)",
    ]
    assert native_log_lines("\n".join(native + ours)) == native


def test_writes_to_fd_2_vanish_inside_and_show_outside(capfd: pytest.CaptureFixture[str]) -> None:
    with native_stderr_silenced():
        os.write(2, b"native chatter\n")
    os.write(2, b"a real warning\n")
    assert capfd.readouterr().err == "a real warning\n"


def _fd2() -> tuple[int, int]:
    stat = os.fstat(2)
    return stat.st_dev, stat.st_ino


@pytest.mark.parametrize("last_out", ["first in", "second in"])
def test_overlapping_silences_on_two_threads_give_fd_2_back(last_out: str) -> None:
    """The server starts MediaPipe in several pipelines at once: whichever silence ends last, fd 2
    must be the real one afterwards (not the /dev/null another thread saved)."""
    real = _fd2()
    first_in, second_in, first_may_leave, second_may_leave = (threading.Event() for _ in range(4))

    def hold(entered: threading.Event, may_leave: threading.Event) -> None:
        with native_stderr_silenced():
            entered.set()
            assert may_leave.wait(5)

    first = threading.Thread(target=hold, args=(first_in, first_may_leave))
    first.start()
    assert first_in.wait(5)
    second = threading.Thread(target=hold, args=(second_in, second_may_leave))
    second.start()
    assert second_in.wait(5)
    assert _fd2() != real, "silenced while either holds it"
    order = [(first_may_leave, first), (second_may_leave, second)]
    if last_out == "first in":
        order.reverse()
    (leave, thread), (last_leave, last_thread) = order
    leave.set()
    thread.join(5)
    assert _fd2() != real, "still silenced: the other thread holds it"
    last_leave.set()
    last_thread.join(5)
    assert _fd2() == real
