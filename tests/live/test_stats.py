from __future__ import annotations

import numpy as np

from live.stats import LiveStats


def test_stage_percentiles_latency_fps_and_drops() -> None:
    stats = LiveStats()
    body = [0.010 * (i + 1) for i in range(20)]  # 10 .. 200 ms
    for seconds in body:
        stats.stage("body", seconds)
    for i in range(11):  # 11 frames, 0.1 s apart, each 40 ms after capture
        stats.frame_out(captured=i * 0.1, now=i * 0.1 + 0.04)
    stats.count("frames_generated", 11)
    stats.set_dropped("capture", 3)
    stats.set_dropped("capture", 5)  # running totals replace, not add
    stats.set_dropped("pose", 1)
    d = stats.as_dict()
    assert d["stages_ms"]["body"]["p50"] == np.percentile(body, 50) * 1000
    assert d["stages_ms"]["body"]["p95"] == np.percentile(body, 95) * 1000
    assert abs(d["latency_ms"]["p50"] - 40) < 1e-6 and abs(d["latency_ms"]["p95"] - 40) < 1e-6
    assert abs(d["fps"] - 10) < 1e-6 and abs(d["recent_fps"] - 10) < 1e-6
    assert d["frames_out"] == 11 and d["frames_generated"] == 11
    assert d["dropped"] == {"capture": 5, "pose": 1} and d["dropped_total"] == 6
    text = stats.summary()
    assert "11 frames out" in text and "10.0 fps" in text and "body" in text


def test_empty_stats_are_well_formed() -> None:
    d = LiveStats().as_dict()
    assert d["frames_out"] == 0 and d["fps"] == 0.0 and d["stages_ms"] == {}
    assert np.isnan(d["latency_ms"]["p50"])
