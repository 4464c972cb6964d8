"""Motion transfer on real people after a small CPU budget: a person is seen where the source drives it.

The tiny model is trained on one Pose2Sim camera (a real person) and driven by another camera's
view of the same motion, exactly as `dance-live` would drive it; MediaPipe must find a person in
the output where the driving pose is (not the bystander in the plate).

Measured while writing this (300 steps, 60 source frames): found 98%, pose distance 0.59 torso
heights against a shuffled floor of 0.47. The distance is not yet below the floor at this budget
(issue 14 is open on exactly that), so only the found rate is asserted here; the distance numbers
are printed and tracked in bench/quality.py.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import fetch_pose2sim_clip
from trainer.fit import FitConfig
from trainer.train import run_fit
from trainer.transfer import evaluate_transfer

STEPS = 300  # body stage only, about 2 minutes on 2 idle cores
SOURCE_FRAMES = 60


def test_a_person_is_found_in_the_output_where_the_source_drives_it(real_dataset: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run_fit(real_dataset, run, FitConfig(steps=STEPS, use_vgg=False, face=False), progress=False)
    source = fetch_pose2sim_clip("cam02")
    score = evaluate_transfer(run, [source], max_frames=SOURCE_FRAMES, progress=False)[source.name]
    print(f"after {STEPS} steps: found {score.found_rate}, distance {score.pose_distance}, shuffled {score.shuffled_distance}")
    assert score.frames >= SOURCE_FRAMES * 0.9
    assert score.found_rate is not None and score.found_rate >= 0.8
    assert score.pose_distance is not None and score.shuffled_distance is not None
