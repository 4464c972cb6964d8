"""Run by torchrun from test_distributed.py: a few data-parallel steps, then each rank's weights."""

import sys
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import save_file

from trainer.dataset import Dataset
from trainer.fit import FitConfig, Trainer


def main(dataset: str, out: str) -> None:
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    fit = FitConfig(steps=3, use_vgg=False, face=False, checkpoint_every=100, sample_every=100)
    trainer = Trainer(Dataset.open(dataset), Path(out) / "run", fit, torch.device("cpu"), progress_bar=False)
    trainer.run()
    batch = trainer.sampler.indices(0, 8)
    state = {k: v.contiguous() for k, v in trainer.stage.generator.state_dict().items()}
    state["first_batch"] = torch.as_tensor(batch)
    save_file(state, str(Path(out) / f"rank{rank}.safetensors"))
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
