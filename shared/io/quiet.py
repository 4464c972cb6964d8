"""Silencing native libraries that write straight to file descriptor 2.

MediaPipe (absl logging, TensorFlow Lite) and OpenCV's camera probing print INFO/WARNING lines
from C++ that Python's logging cannot reach, and MediaPipe 0.10.21 offers no switch for them (its
absl logger reads no environment variable: GLOG_minloglevel and TF_CPP_MIN_LOG_LEVEL change
nothing); they would bury the one line a user should read. So the few calls that log are run
with fd 2 pointed at /dev/null.

fd 2 belongs to the whole process, so the silence does too: several threads may silence at once
(the server's pipelines start MediaPipe side by side), and fd 2 comes back only when the last of
them is done. Without that count, one thread could save the other's /dev/null as "the real
stderr" and restore it for good.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator


class _Silence:
    """fd 2 pointed at /dev/null while at least one caller holds the silence."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._saved: int | None = None  # the real fd 2, while silenced

    def enter(self) -> bool:
        """Silence fd 2 (or join the silence in force); False when there is no fd 2 to silence."""
        with self._lock:
            if self._holders == 0:
                try:
                    sys.stderr.flush()
                    saved = os.dup(2)
                except (OSError, ValueError):  # no real fd 2 (e.g. captured output): nothing to silence
                    return False
                with open(os.devnull, "w") as null:
                    os.dup2(null.fileno(), 2)
                self._saved = saved
            self._holders += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self._holders -= 1
            if self._holders == 0 and self._saved is not None:
                os.dup2(self._saved, 2)
                os.close(self._saved)
                self._saved = None


_SILENCE = _Silence()  # one per process, like fd 2 itself


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Point fd 2 at /dev/null for the duration (Python-level errors still raise normally)."""
    if not _SILENCE.enter():
        yield
        return
    try:
        yield
    finally:
        _SILENCE.leave()
