"""Data-parallel training on CPU (gloo): two processes draw different batches yet end identical."""

import os
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file


def test_two_processes_end_with_identical_weights(synthetic_dataset: Path, tmp_path: Path) -> None:
    worker = Path(__file__).with_name("ddp_worker.py")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).parents[2]))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(worker), str(synthetic_dataset), str(tmp_path)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    rank0, rank1 = load_file(str(tmp_path / "rank0.safetensors")), load_file(str(tmp_path / "rank1.safetensors"))
    assert not torch.equal(rank0.pop("first_batch"), rank1.pop("first_batch")), "ranks must see different data"
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
