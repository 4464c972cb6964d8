"""A training run's folder: the one place that names its files, and the two "latest run" rules.

`dance-train fit` writes a run, `dance-export` adds `engines/` to it and `dance-live` plays it; all
three go through `RunFolder`, so a file's name is spelt once:

    runs/<name>/
        checkpoints/       step-*.safetensors and latest.json (shared.model.checkpoint)
        engines/           dance-export's graphs and manifest.json (shared.runtime.manifest)
        config.json        the run's model, dataset and training range
        exemplars.npz      the exemplar bank (models conditioned on warped exemplars)
        plate.png          the background plate (compositing models)
        dataset/           the prepared dataset, when fit was given a video
        eval.json          dance-train eval's scores
        samples/           label | fake | real PNGs written while training
        tensorboard/       TensorBoard logs
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shared.errors import DanceError
from shared.model.checkpoint import CheckpointStore
from shared.runtime.manifest import MANIFEST_NAME

CHECKPOINTS_DIR = "checkpoints"
ENGINES_DIR = "engines"
CONFIG_FILE = "config.json"
EXEMPLARS_FILE = "exemplars.npz"
PLATE_FILE = "plate.png"  # also the plate's name in a prepared dataset (trainer/dataset.py)
DATASET_DIR = "dataset"
EVAL_FILE = "eval.json"
SAMPLES_DIR = "samples"
TENSORBOARD_DIR = "tensorboard"
DEFAULT_RUNS = Path("runs")


@dataclass(frozen=True)
class RunFolder:
    """Paths inside one run folder; nothing is read or created until asked."""

    path: Path

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS_DIR

    @property
    def engines(self) -> Path:
        return self.path / ENGINES_DIR

    @property
    def config(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def exemplars(self) -> Path:
        return self.path / EXEMPLARS_FILE

    @property
    def plate(self) -> Path:
        return self.path / PLATE_FILE

    @property
    def dataset(self) -> Path:
        return self.path / DATASET_DIR

    @property
    def eval(self) -> Path:
        return self.path / EVAL_FILE

    @property
    def samples(self) -> Path:
        return self.path / SAMPLES_DIR

    @property
    def tensorboard(self) -> Path:
        return self.path / TENSORBOARD_DIR

    def store(self) -> CheckpointStore:
        return CheckpointStore(self.checkpoints)

    def is_trained(self) -> bool:
        """A training run (it has a checkpoints folder), as opposed to a bare engines folder."""
        return self.checkpoints.is_dir()


def is_engines_folder(folder: Path) -> bool:
    """An exported engines folder: it holds dance-export's manifest."""
    return (folder / MANIFEST_NAME).is_file()


def latest_trained_run(runs: Path = DEFAULT_RUNS) -> RunFolder:
    """dance-export's rule: the run whose latest checkpoint is newest (training time, not folder
    time: exporting a run writes into its folder, which must not make it 'the latest')."""
    if not runs.is_dir():
        raise DanceError(f"no RUN given and no {runs}/ folder here; pass the run folder: dance-export runs/NAME")
    found = []
    for folder in runs.iterdir():
        checkpoint = RunFolder(folder).store().latest() if folder.is_dir() else None
        if checkpoint is not None:
            found.append((checkpoint.stat().st_mtime, folder.name, folder))
    if not found:
        raise DanceError(f"no trained run under {runs}/ (no checkpoints); train one with `dance-train fit`")
    return RunFolder(max(found)[2])


def _last_written(folder: Path) -> float:
    run = RunFolder(folder)
    for marker in (run.checkpoints / CheckpointStore.POINTER, run.engines / MANIFEST_NAME, folder / MANIFEST_NAME, folder):
        if marker.exists():
            return marker.stat().st_mtime
    return 0.0


def latest_playable(runs: Path = DEFAULT_RUNS) -> Path:
    """dance-live's rule: the run (or engines folder) under `runs/` written last, by its markers
    (latest checkpoint pointer, then the engines' manifest). A run folder is returned as is (the
    runtime picks its fresh engines or its checkpoint); a folder holding only engines gives those."""
    found = [
        d for d in runs.iterdir()
        if d.is_dir() and (RunFolder(d).is_trained() or is_engines_folder(RunFolder(d).engines) or is_engines_folder(d))
    ] if runs.is_dir() else []  # fmt: skip
    if not found:
        raise DanceError(
            f"no ENGINES given and no trained run under {runs}/; name the run (or its engines folder), "
            "or train one with `dance-train fit VIDEO`"
        )
    latest = RunFolder(max(found, key=_last_written))
    if not latest.is_trained() and is_engines_folder(latest.engines):
        return latest.engines
    return latest.path
