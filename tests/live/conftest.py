"""Fixtures for the live tests: the tiny engine, a spy around it, frames of the real clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from shared.runtime.loading import load_engine
from tests.spy_engine import SpyEngine
from shared.io.video import read_frames


@pytest.fixture(scope="session")
def tiny_engine(tiny_run: Path):  # noqa: ANN201 - Engine
    return load_engine(tiny_run)


@pytest.fixture
def spy(tiny_engine) -> SpyEngine:  # noqa: ANN001
    tiny_engine.set_plate(None)
    return SpyEngine(tiny_engine)


@pytest.fixture(scope="session")
def clip_frames(real_clip: Path) -> list[np.ndarray]:
    """The first 30 frames of the real clip (a person dancing, 1080x1920)."""
    return list(read_frames(real_clip, 30))


@pytest.fixture(autouse=True)
def one_torch_thread():  # noqa: ANN201
    """Live runs the generator beside the pose thread on one core (as `dance-live` does on 2 CPUs);
    restore torch's setting afterwards, since the CLI tests change it process-wide."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


@pytest.fixture
def in_project(tmp_path: Path, tiny_run: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder whose runs/ holds the tiny run, as after `dance-train fit`."""
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "target").symlink_to(tiny_run, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    return tmp_path
