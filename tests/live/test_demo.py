"""`dance-demo` end to end with a very short budget: every output file is there and readable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2

from shared.io.video import probe_video, read_frames
from tests.shared.io.test_quiet import native_log_lines


def test_demo_writes_every_output(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    script = Path(sys.executable).with_name("dance-demo")
    cmd = [str(script), "--minutes", "0.05", "--frames", "40", "--source-frames", "30", "-o", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "fps" in done.stdout and "contact_sheet.png" in done.stdout
    assert native_log_lines(done.stderr) == [], "a quiet start: no MediaPipe / TFLite lines from any of its commands"

    output = probe_video(out / "output.mp4")
    assert output.size == (256, 256)
    assert len(list(read_frames(out / "output.mp4"))) == 30
    compare = probe_video(out / "compare.mp4")
    assert compare.size == (3 * 256, 256)
    sheet = cv2.imread(str(out / "contact_sheet.png"))
    assert sheet is not None and sheet.shape[0] > 256 and sheet.shape[1] > 3 * 200
    assert (out / "run" / "engines" / "manifest.json").exists() and (out / "run" / "engines" / "body.int8.onnx").exists()
    assert "(onnxruntime int8)" in done.stdout, "live on a CPU runs the int8 graphs the demo exported"
