"""Fixtures for the fault suite (each helper's fixtures carry its area's prefix: trainer_, files_, ...)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.file_faults import Inputs, train_and_export


# -- files faults (tests/faults/test_files.py) -----------------------------------------------------


@pytest.fixture(scope="session")
def files_inputs(synthetic_video: Path, synthetic_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Inputs:
    """Good inputs the damaged copies are made from: the synthetic dancer, its dataset, a 2-step
    run trained on it (one torch thread, as fast as two on a shared 2-core machine) and its export."""
    import torch

    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train_and_export(synthetic_video, synthetic_dataset, tmp_path_factory.mktemp("files-inputs"))
    finally:
        torch.set_num_threads(saved)


# -- live and server faults (tests/faults/test_live.py, tests/faults/test_server.py) --------------


@pytest.fixture(scope="session")
def live_small_clip(real_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real clip (a person dancing) at 272x484, 30 fps: the camera's footage and the server's source."""
    from tests.faults.live_faults import make_small_clip

    return make_small_clip(real_clip, tmp_path_factory.mktemp("live-faults") / "small.mp4")


@pytest.fixture(scope="session")
def live_engine(tiny_run: Path):  # noqa: ANN201 - Engine
    """The tiny run's engine, with its own plate."""
    from shared.runtime.loading import load_engine

    engine = load_engine(tiny_run)
    engine.set_plate(None)
    return engine
