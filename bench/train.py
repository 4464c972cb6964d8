"""Training throughput per preset on this machine: steps/s and peak memory of the body stage.

    .venv/bin/python bench/train.py [--presets tiny,small] [--steps 8] [--batch-size 1]

Each preset runs in its own process (so peak memory is its own) on random frames and labels of the
preset's size: a full temporal step (two generator passes, frame and temporal discriminators, both
optimiser updates), no VGG (its weights are not shipped). The `paper` preset runs only where CUDA is
present; its batch-1 peak memory is the number to hold against a 12 GB GPU.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time

import click
import torch


def measure(preset: str, steps: int, batch_size: int) -> dict[str, float | str]:
    from shared.model.config import get_preset
    from shared.model.networks import build_generator
    from trainer.data import PairBatch
    from trainer.stages import BodyStage, LossWeights

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    config = get_preset(preset)
    config = config.global_stage() if device.type == "cpu" and config.generator.n_local else config
    width, height = config.image_size
    torch.manual_seed(0)
    stage = BodyStage(config, build_generator(config.generator), LossWeights(vgg=0.0), None, 2e-4, 0.5)
    for module in stage.modules().values():
        module.to(device)

    def random_batch() -> PairBatch:
        shape = (batch_size, 3, height, width)
        mask_shape = (batch_size, 1, height, width)
        return PairBatch(torch.rand(shape), torch.rand(shape), torch.rand(shape) * 2 - 1, torch.rand(shape) * 2 - 1,
                         torch.full((batch_size, 3), -1), torch.rand(mask_shape), torch.rand(mask_shape)).to(device)

    stage.step(random_batch(), 2e-4)  # warm-up
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(steps):
        batch = random_batch()
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        stage.step(batch, 2e-4)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    if device.type == "cuda":
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"preset": config.name, "size": f"{width}x{height}", "device": device.type,
            "median_s_per_step": statistics.median(times), "steps_per_s": 1 / statistics.median(times), "peak_mb": peak_mb}


@click.command()
@click.option("--presets", default="tiny,small", show_default=True)
@click.option("--steps", default=8, show_default=True)
@click.option("--batch-size", default=1, show_default=True)
@click.option("--child", is_flag=True, hidden=True)
def main(presets: str, steps: int, batch_size: int, child: bool) -> None:
    names = presets.split(",")
    if torch.cuda.is_available() and "paper" not in names:
        names.append("paper")
    if child:
        print(json.dumps(measure(names[0], steps, batch_size)))
        return
    rows = []
    for name in names:
        cmd = [sys.executable, __file__, "--child", "--presets", name, "--steps", str(steps), "--batch-size", str(batch_size)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{name}: failed: {done.stderr.strip().splitlines()[-1:]}")
            continue
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"{'preset':<14} {'size':>9} {'device':>6} {'s/step':>8} {'steps/s':>8} {'peak MB':>8}")
    for r in rows:
        print(f"{r['preset']:<14} {r['size']:>9} {r['device']:>6} {r['median_s_per_step']:8.3f} {r['steps_per_s']:8.2f} {r['peak_mb']:8.0f}")
    print(f"batch size {batch_size}, median of {steps} steps; CPU peak is the process's max RSS")


if __name__ == "__main__":
    main()
