"""`dance-live` end to end through click: the happy path and every bad input's one-line error."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner, Result

from live import cli
from live.background import Background
from live.calibration import Calibration
from shared.errors import DanceError
from shared.io.video import probe_video, read_frames


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(cli.main, [str(a) for a in args])


def _one_line_error(result: Result, code: int = 1) -> str:
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), "no traceback"
    lines = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(lines) == 1, result.output
    return lines[0]



def test_calibrate_then_run_with_the_latest_run_and_a_background(in_project: Path, real_clip: Path) -> None:
    done = _invoke("calibrate", "--source", real_clip, "--seconds", "0.1", "-o", "me.json")
    assert done.exit_code == 0, done.output
    assert "wrote me.json" in done.output and Calibration.load("me.json").stats.image_size == (256, 256)
    cv2.imwrite("wall.png", np.full((64, 64, 3), 255, np.uint8))
    ran = _invoke("--source", real_clip, "--max-frames", "5", "-o", "out.mp4", "--calibration", "me.json",
                  "--background", "wall.png")
    assert ran.exit_code == 0, ran.output
    assert probe_video("out.mp4").size == (256, 256) and len(list(read_frames("out.mp4"))) == 5
    assert "5 frames out" in ran.output and "latency" in ran.output  # stats printed at exit
    white = next(iter(read_frames("out.mp4")))
    assert white[:16].mean() > 200, "the plate was swapped for the white background"


def test_the_design_card_command_fails_cleanly_without_a_camera(in_project: Path) -> None:
    assert "camera 0" in _one_line_error(_invoke("--camera", "0"))
    assert "camera 5" in _one_line_error(_invoke("--camera", "5", "-o", "x.mp4"))


def test_bad_sources_engines_and_calibrations(in_project: Path, real_clip: Path, tmp_path: Path) -> None:
    Path("notes.txt").write_text("not a video")
    assert "not a readable video" in _one_line_error(_invoke("--source", "notes.txt", "-o", "x.mp4"))
    Path("empty").mkdir()
    assert "neither a training run" in _one_line_error(_invoke("empty", "--source", real_clip, "-o", "x.mp4"))
    assert "no such run" in _one_line_error(_invoke("nowhere", "--source", real_clip, "-o", "x.mp4"))
    assert "not a calibration file" in _one_line_error(_invoke("--source", real_clip, "-o", "x.mp4", "--calibration", "notes.txt"))
    Calibration(dataclasses.replace(_stats(), image_size=(256, 256)), (640, 480)).save("webcam.json")
    assert "measured on 640x480" in _one_line_error(_invoke("--source", real_clip, "-o", "x.mp4", "--calibration", "webcam.json"))
    assert "picture or a video" in _one_line_error(_invoke("--source", real_clip, "-o", "x.mp4", "--background", "notes.txt"))
    assert "not a readable video" in _one_line_error(_invoke("calibrate", "--source", "notes.txt"))
    assert not Path("x.mp4").exists()


def _stats():  # noqa: ANN202
    from shared.normalize.stats import compute_stats
    from shared.synthetic.body import SOURCE_BODY
    from shared.synthetic.dancer import dance_poses

    return compute_stats(dance_poses(SOURCE_BODY, 10, (256, 256)))


def test_no_runs_no_display_and_usage_errors(tmp_path: Path, real_clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert "no trained run under runs/" in _one_line_error(_invoke("--source", real_clip, "-o", "x.mp4"))
    assert "needs a display" in _one_line_error(_invoke("--source", real_clip, "--window"))
    assert "nothing to show" in _one_line_error(_invoke("--source", real_clip))
    assert "either --camera" in _one_line_error(_invoke("--camera", "0", "--source", real_clip), code=2)


def test_a_model_for_another_skeleton_is_refused(in_project: Path, real_clip: Path, tiny_engine, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    class OtherSkeleton:
        backend = "torch"
        info = dataclasses.replace(tiny_engine.info, schema_tag="openpose25@1")

    monkeypatch.setattr(cli, "_load_engine", lambda *args: OtherSkeleton())
    assert "skeleton schema 'openpose25@1'" in _one_line_error(_invoke("--source", real_clip, "-o", "x.mp4"))


def test_resolve_engines_picks_the_latest_run(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    (runs / "old" / "checkpoints").mkdir(parents=True)
    (runs / "new" / "checkpoints").mkdir(parents=True)
    (runs / "copied" / "engines").mkdir(parents=True)  # engines only, no checkpoints
    (runs / "copied" / "engines" / "manifest.json").write_text("{}")
    (runs / "notes").mkdir()  # not a run
    os.utime(runs / "old", (1, 1))
    os.utime(runs / "copied" / "engines" / "manifest.json", (2, 2))
    assert cli.resolve_engines(None, runs) == runs / "new"  # the runtime picks its fresh engines, if any
    assert cli.resolve_engines(runs / "old", runs) == runs / "old"
    shutil.rmtree(runs / "new")
    os.utime(runs / "copied" / "engines" / "manifest.json")
    assert cli.resolve_engines(None, runs) == runs / "copied" / "engines"
    with pytest.raises(DanceError, match="no trained run"):
        cli.resolve_engines(None, tmp_path / "elsewhere")


def test_background_pictures_stay_and_videos_loop(tmp_path: Path, synthetic_video: Path) -> None:
    cv2.imwrite(str(tmp_path / "red.png"), np.full((8, 8, 3), (0, 0, 255), np.uint8))
    picture = Background(tmp_path / "red.png")
    first = picture.next()
    assert first is not None and tuple(first[0, 0]) == (255, 0, 0) and picture.next() is None  # RGB, sent once
    video = Background(synthetic_video)
    frames = [video.next() for _ in range(probe_video(synthetic_video).frame_count + 2)]
    assert video.is_video and all(f is not None for f in frames)
    np.testing.assert_array_equal(frames[0], frames[-2])  # back to the start
