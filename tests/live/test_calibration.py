"""Live calibration and the calibration file, on the synthetic dancer's exact poses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from live.calibration import Calibration, Calibrator, LiveNormalizer
from shared.errors import DanceError
from shared.normalize import PoseNormalizer, compute_stats
from shared.pose import PoseFrame
from shared.synthetic import SOURCE_BODY, TARGET_BODY, dance_poses

SIZE = (256, 256)
FPS = 30.0


def test_calibrator_learns_from_the_first_seconds() -> None:
    poses = dance_poses(SOURCE_BODY, 40, SIZE, FPS)
    calibrator = Calibrator(SIZE, seconds=1.0)
    results = [calibrator.add(poses[t], t / FPS) for t in range(40)]
    done = next(t for t, r in enumerate(results) if r is not None)
    assert done == 30  # the first frame at or past 1 s ends it
    assert results[done] == compute_stats(poses.replace(keypoints=poses.keypoints[:30], confidence=poses.confidence[:30],
                                                        valid=poses.valid[:30]))


def test_calibration_waits_until_the_whole_body_was_seen() -> None:
    poses = dance_poses(SOURCE_BODY, 60, SIZE, FPS)
    calibrator = Calibrator(SIZE, seconds=0.5)
    nobody = PoseFrame.missing(poses.schema)
    for t in range(30):  # one second of an empty room: nothing to measure
        assert calibrator.add(nobody, t / FPS) is None
    assert calibrator.progress == 1.0
    stats = None
    for t in range(30, 60):
        stats = calibrator.add(poses[t], t / FPS)
        if stats is not None:
            break
    assert stats is not None and stats.num_frames >= 2


def test_live_normalizer_passes_poses_through_until_calibrated_then_normalizes() -> None:
    source = dance_poses(SOURCE_BODY, 30, SIZE, FPS)
    target_stats = compute_stats(dance_poses(TARGET_BODY, 30, SIZE, FPS))
    live = LiveNormalizer(target_stats, seconds=0.5)
    for t in range(15):
        assert live.calibrating
        np.testing.assert_array_equal(live(source[t], t / FPS).keypoints, source[t].keypoints)
    out = live(source[15], 15 / FPS)
    assert not live.calibrating and live.source is not None
    expected = PoseNormalizer(live.source, target_stats)(source[15])
    np.testing.assert_allclose(out.keypoints, expected.keypoints)
    assert not np.allclose(out.keypoints[source[15].valid], source[15].keypoints[source[15].valid])
    live.recalibrate()
    assert live.calibrating and live.progress == 0.0


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
