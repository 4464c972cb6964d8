"""Damaged inputs of every kind given to the commands that read them (see file_faults.py;
bench/faults.py runs 100 of them through the installed console scripts)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from tests.faults.file_faults import KINDS, Inputs, file_rows, recipes


@pytest.fixture
def files_torch_threads() -> Iterator[None]:
    """dance-live sets torch's thread count process-wide; give the next test back its own."""
    saved = torch.get_num_threads()
    yield
    torch.set_num_threads(saved)


def test_every_kind_of_damaged_input_is_one_line_error_naming_it(files_inputs: Inputs, tmp_path: Path,
                                                                 files_torch_threads: None) -> None:  # fmt: skip
    rows = file_rows(files_inputs, tmp_path, count=len(recipes()), seed=0)  # all of them: ~15 s in this process
    assert [row.tried.split(":")[0] for row in rows] == list(KINDS), "every kind of input is tried"
    for row in rows:
        assert row.all_passed, row.summary()


def test_recipes_cover_every_command_that_reads_each_kind() -> None:
    labels = {(r.kind, r.label.split(", ")[-1]) for r in recipes()}
    commands = {kind: {command for k, command in labels if k == kind} for kind in KINDS}
    assert commands["videos"] == {"prepare", "fit", "eval --source", "dance-live --source", "dance-live calibrate"}
    assert commands["checkpoints"] == commands["latest.json"] == {"dance-export", "eval", "dance-live", "fit (resume)"}
    assert commands["manifests"] == commands["ONNX graphs"] == {"dance-live", "dance-live calibrate"}
    assert len(recipes()) >= 100
