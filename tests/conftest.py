"""Shared fixtures: real footage of a person (fetched once into a cache) and the synthetic dancer."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

POSE2SIM = "pose2sim==0.10.49"
CLIP_IN_WHEEL = "Pose2Sim/Demo_{demo}/videos/{name}.mp4"


def test_cache_dir() -> Path:
    root = Path(os.environ.get("DANCENOW_TEST_CACHE", Path.home() / ".cache" / "dancenow-tests"))
    root.mkdir(parents=True, exist_ok=True)
    return root


test_cache_dir.__test__ = False  # a helper, not a test


def fetch_pose2sim_clip(name: str = "cam01", demo: str = "SinglePerson") -> Path:
    """A real person filmed full-body (60 fps, 100 frames), from the Pose2Sim wheel on PyPI.

    Third-party media is never committed: the wheel is downloaded once into the test cache.
    `demo="MultiPerson"` gives the demo where a second person crosses the view.
    """
    cache = test_cache_dir()
    prefix = "pose2sim" if demo == "SinglePerson" else f"pose2sim-{demo.lower()}"
    clip = cache / f"{prefix}-{name}.mp4"
    if clip.exists():
        return clip
    wheels = sorted(cache.glob("pose2sim-0.10.49-*.whl"))
    if not wheels:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", POSE2SIM, "-d", str(cache)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        wheels = sorted(cache.glob("pose2sim-0.10.49-*.whl"))
        if done.returncode != 0 or not wheels:
            pytest.fail(f"could not download {POSE2SIM} for real test footage: {done.stderr.strip()[-500:]}")
    with zipfile.ZipFile(wheels[0]) as wheel:
        partial = clip.with_suffix(".partial")
        partial.write_bytes(wheel.read(CLIP_IN_WHEEL.format(demo=demo, name=name)))
        partial.replace(clip)
    return clip


@pytest.fixture(scope="session")
def real_clip() -> Path:
    return fetch_pose2sim_clip("cam01")


def fetch_multi_person_clip(name: str = "cam01") -> Path:
    """Real footage where a second person crosses the view (Pose2Sim's Demo_MultiPerson)."""
    return fetch_pose2sim_clip(name, demo="MultiPerson")


def mirrored_reversed_clip(name: str = "cam01", max_frames: int | None = None) -> Path:
    """A Pose2Sim view mirrored left-right and played backwards (as `ffmpeg -vf hflip,reverse`):
    the target's own body doing motion it never made, the new-motion source closest to the target."""
    from shared.io.video import probe_video, read_frames, write_video

    source = fetch_pose2sim_clip(name)
    clip = test_cache_dir() / f"pose2sim-{name}-mirrored-reversed{max_frames or ''}.mp4"
    if not clip.exists():
        frames = [frame[:, ::-1].copy() for frame in read_frames(source, max_frames)][::-1]
        partial = clip.with_name(clip.stem + ".partial.mp4")
        write_video(partial, frames, probe_video(source).fps)
        partial.replace(clip)
    return clip


@pytest.fixture(scope="session")
def synthetic_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built-in target dancer: 48 frames at 256x256 (the tiny preset's size)."""
    from shared.synthetic.body import TARGET_BODY
    from shared.synthetic.dancer import write_dance_video

    path = tmp_path_factory.mktemp("synthetic") / "target.mp4"
    write_dance_video(path, TARGET_BODY, num_frames=48, size=(256, 256), fps=30)
    return path


@pytest.fixture(scope="session")
def synthetic_dataset(synthetic_video: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from trainer.prepare import PrepareConfig, prepare_dataset

    folder, _ = prepare_dataset(synthetic_video, tmp_path_factory.mktemp("datasets") / "target", PrepareConfig(), progress=False)
    return folder


@pytest.fixture(scope="session")
def tiny_run(synthetic_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A briefly trained `tiny` run (body + face, compositing) on the synthetic dancer."""
    from trainer.fit import FitConfig
    from trainer.train import run_fit

    run = tmp_path_factory.mktemp("runs") / "target"
    run_fit(synthetic_dataset, run, FitConfig(steps=6, use_vgg=False, checkpoint_every=100), device="cpu", progress=False)
    return run


@pytest.fixture(scope="session")
def real_dataset(real_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real Pose2Sim clip prepared at the tiny preset's size."""
    from trainer.prepare import PrepareConfig, prepare_dataset

    folder, _ = prepare_dataset(real_clip, tmp_path_factory.mktemp("datasets") / "cam01", PrepareConfig(), progress=False)
    return folder
