"""The run folder's names and its two "latest run" rules (dance-export's and dance-live's)."""

import os
from pathlib import Path

import pytest

from shared.errors import DanceError
from shared.runtime.run_folder import RunFolder, latest_playable, latest_trained_run


def _checkpoint(run: Path, mtime: int) -> None:
    """A step file that CheckpointStore.latest() finds, written at `mtime`."""
    path = RunFolder(run).checkpoints / "step-00000001.safetensors"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"x" * 16)
    os.utime(path, (mtime, mtime))


def test_a_run_folder_names_its_files(tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "target")
    assert run.checkpoints == tmp_path / "target" / "checkpoints" and run.engines == tmp_path / "target" / "engines"
    assert (run.config.name, run.exemplars.name, run.plate.name, run.dataset.name) == ("config.json", "exemplars.npz", "plate.png", "dataset")
    assert not run.is_trained() and not run.path.exists(), "nothing is created until asked"
    _checkpoint(run.path, 1)
    assert run.is_trained() and run.store().latest() is not None


def test_export_takes_the_run_with_the_newest_checkpoint_not_the_newest_folder(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _checkpoint(runs / "older", 100)
    _checkpoint(runs / "newer", 200)
    (runs / "notes").mkdir()  # no checkpoints: not a run
    os.utime(runs / "older", (300, 300))  # exporting wrote into it later: folder time does not count
    assert latest_trained_run(runs) == RunFolder(runs / "newer")
    with pytest.raises(DanceError, match="no RUN given and no"):
        latest_trained_run(tmp_path / "elsewhere")
    with pytest.raises(DanceError, match="no trained run under"):
        latest_trained_run(runs / "notes")


def test_live_takes_the_run_written_last_by_its_markers(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _checkpoint(runs / "trained", 100)
    pointer = RunFolder(runs / "trained").checkpoints / "latest.json"
    pointer.write_text("{}")
    os.utime(pointer, (100, 100))
    manifest = RunFolder(runs / "copied").engines / "manifest.json"  # engines only, no checkpoints
    manifest.parent.mkdir(parents=True)
    manifest.write_text("{}")
    os.utime(manifest, (200, 200))
    (runs / "notes").mkdir()  # not a run
    assert latest_playable(runs) == runs / "copied" / "engines", "a folder of engines only gives those"
    os.utime(pointer, (300, 300))
    assert latest_playable(runs) == runs / "trained", "a run is given as is (the runtime picks engines or checkpoint)"
    with pytest.raises(DanceError, match="no trained run"):
        latest_playable(tmp_path / "elsewhere")
