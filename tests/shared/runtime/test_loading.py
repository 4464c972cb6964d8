"""load_engine's choice of source; the backends themselves are tested beside their modules
(test_torch_engine.py here, tests/export/test_backends.py for the exported graphs)."""

from pathlib import Path

import pytest

from shared.errors import DanceError
from shared.runtime.loading import load_engine


def test_bad_sources_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DanceError, match="no such run"):
        load_engine(tmp_path / "missing")
    with pytest.raises(DanceError, match="neither a training run"):
        load_engine(tmp_path)
