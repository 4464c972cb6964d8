"""Entry of `dance-train fit`: pick the device, prepare the data, set up data parallelism, train."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from shared.errors import DanceError
from shared.model.config import get_preset
from shared.runtime.run_folder import RunFolder
from trainer.dataset import MANIFEST_NAME, Dataset
from trainer.fit import FitConfig, Trainer
from trainer.prepare import PrepareConfig, prepare_dataset


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DanceError(f"--device {name}: this machine has no CUDA GPU (use --device cpu)")
    return torch.device(name)


def resolve_dataset(source: Path, run_dir: Path, fit: FitConfig, progress: bool = True) -> Path:
    """A dataset folder as given, or the video prepared at the preset's size inside the run folder."""
    if source.is_dir() and (source / MANIFEST_NAME).exists():
        return source
    size = get_preset(fit.preset).image_size
    folder, _ = prepare_dataset(source, RunFolder(run_dir).dataset, PrepareConfig(size=size), progress=progress)
    return folder


def _relaunch_under_torchrun(gpus: int) -> None:
    """`--gpus N`: run this same command as N processes under torchrun."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={gpus}",
           "-m", "trainer.cli", *sys.argv[1:]]
    raise SystemExit(subprocess.call(cmd))


def run_fit(source: Path, run_dir: Path, fit: FitConfig, device: str = "auto", gpus: int = 1, progress: bool = True) -> None:
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if gpus > 1 and not distributed:
        _relaunch_under_torchrun(gpus)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    chosen = pick_device(device, local_rank)
    if distributed and not dist.is_initialized():
        dist.init_process_group("nccl" if chosen.type == "cuda" else "gloo")
    try:
        rank = dist.get_rank() if distributed else 0
        if rank == 0:
            dataset_dir = resolve_dataset(source, run_dir, fit, progress)
        if distributed:
            dist.barrier()
            dataset_dir = resolve_dataset(source, run_dir, fit, progress=False)
        trainer = Trainer(Dataset.open(dataset_dir), run_dir, fit, chosen, progress_bar=progress)
        trainer.run()
    finally:
        if distributed and dist.is_initialized():
            dist.destroy_process_group()
