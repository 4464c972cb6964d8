"""The calibration file, on the synthetic dancer's exact poses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from live.calibration import Calibration
from shared.errors import DanceError
from shared.normalize.stats import compute_stats
from shared.synthetic.body import SOURCE_BODY
from shared.synthetic.dancer import dance_poses

SIZE = (256, 256)
FPS = 30.0


def test_calibration_file_round_trip_and_checks(tmp_path: Path) -> None:
    stats = compute_stats(dance_poses(SOURCE_BODY, 30, SIZE, FPS))
    path = tmp_path / "me.json"
    Calibration(stats, (1080, 1920), "me.mp4", 2.0).save(path)
    loaded = Calibration.load(path)
    assert loaded.stats == stats and loaded.source_size == (1080, 1920) and loaded.seconds == 2.0
    loaded.check(SIZE, (1080, 1920))
    loaded.check(SIZE, None)  # a source whose size is known only at the first frame
    with pytest.raises(DanceError, match="made for 256x256 labels but the model.s are 512x256"):
        loaded.check((512, 256), (1080, 1920))
    with pytest.raises(DanceError, match="measured on 1080x1920 footage"):
        loaded.check(SIZE, (640, 480))


@pytest.mark.parametrize("content", ["not json", json.dumps({"hello": 1}), json.dumps({"format": "dancenow-calibration", "stats": {}})])
def test_bad_calibration_files_are_clear_errors(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(DanceError, match="bad.json"):
        Calibration.load(path)
    with pytest.raises(DanceError, match="cannot read"):
        Calibration.load(tmp_path / "missing.json")
