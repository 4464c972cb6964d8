"""`dance-train fit` SIGKILLed at random moments, once during a checkpoint write, then resumed
(see trainer_faults.py; bench/faults.py runs it with the issue's 10 kills)."""

from __future__ import annotations

from pathlib import Path

from tests.faults.trainer_faults import FitJob, kill_fit, temp_files


def test_fit_killed_twice_resumes_cleanly_and_ends_bit_equal(synthetic_dataset: Path, tmp_path: Path) -> None:
    kills, resumed_equal = kill_fit(FitJob(synthetic_dataset, steps=4, checkpoint_every=2), tmp_path, kills=2, seed=0)
    assert kills.all_passed, kills.summary()
    assert "(0 during a checkpoint write)" not in kills.tried, "the second kill must land while a checkpoint is written"
    assert resumed_equal.all_passed, resumed_equal.summary()
    assert not temp_files(tmp_path / "killed"), "a killed write's temporary files were left"
