"""One `dance-export --fp16` of the `tiny_run` fixture, shared by the export tests (it takes seconds).

It runs the design card's exact command in a folder whose `runs/` holds two copies of the tiny run,
the older-trained one copied last, so the command's choice of "the latest run" is tested too.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from shared.runtime.manifest import EngineManifest


@dataclass
class Exported:
    folder: Path  # the engines folder
    manifest: EngineManifest
    run: Path  # the run it was exported from (a copy of tiny_run)
    other_run: Path  # trained earlier: must be left alone
    result: Result  # the command's exit code and output


def copy_run(run: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    shutil.copytree(run / "checkpoints", dest / "checkpoints")
    for name in ("config.json", "exemplars.npz"):  # the bank, for exemplar runs
        if (run / name).exists():
            shutil.copy2(run / name, dest / name)
    return dest


@pytest.fixture(scope="session")
def exported(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Exported:
    from export.cli import main

    home = tmp_path_factory.mktemp("export")
    newer = copy_run(tiny_run, home / "runs" / "newer")
    older = copy_run(tiny_run, home / "runs" / "older")  # copied last: its folder is the newest ...
    for checkpoint in (older / "checkpoints").iterdir():  # ... but it was trained earlier
        os.utime(checkpoint, (1_000_000_000, 1_000_000_000))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(home)
        result = CliRunner().invoke(main, ["--fp16"])
    assert result.exit_code == 0, result.output
    folder = newer / "engines"
    return Exported(folder, EngineManifest.load(folder), newer, older, result)
