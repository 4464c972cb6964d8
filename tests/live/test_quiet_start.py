"""A quiet start: `dance-live` on a terminal shows our lines, and none of MediaPipe's native ones."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.shared.io.test_quiet import native_log_lines

DANCE_LIVE = Path(sys.executable).parent / "dance-live"


def _run(*args: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(DANCE_LIVE), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert native_log_lines(done.stderr) == [], done.stderr[-2000:]
    return done


def test_calibrate_and_run_print_no_native_log_lines(tiny_run: Path, real_clip: Path, tmp_path: Path) -> None:
    calibrated = _run("calibrate", tiny_run, "--source", real_clip, "--seconds", "0.2", "-o", "me.json", cwd=tmp_path)
    assert "wrote me.json" in calibrated.stdout
    ran = _run(tiny_run, "--source", real_clip, "--max-frames", "5", "-o", "out.mp4", cwd=tmp_path)
    assert "5 frames out" in ran.stderr and "wrote out.mp4" in ran.stderr  # the run's own report
