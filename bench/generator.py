"""Body generator speed per backend: ms/frame, fps, and achieved GFLOP/s against this machine's peak.

    .venv/bin/python bench/generator.py [--presets tiny,small] [--frames 20]

For each preset (tiny and small; paper only on a GPU), an untrained generator of that preset's size
with compositing (what `dance-train fit` trains by default) is run by:
  - torch eager, the paper's way (the baseline): pix2pixHD's test script, which the paper's model
    builds on, calls the generator once per frame in fp32 with autograd recording (its
    `torch.no_grad()` is only taken on torch 0.4), here fed its own previous output;
  - torch eager under `torch.no_grad()`, the best plain torch does, for comparison;
  - onnxruntime fp32 and fp16 on the graphs `dance-export` writes, with the runtime's session options
    (one thread per core, like torch), and on a CPU int8 (`dance-export --int8`; calibrated here on
    the synthetic dancer);
  - TensorRT fp16, where an NVIDIA GPU and the tensorrt package are present.
Backends run in blocks of frames, repeated in rounds, so load from other processes on a shared
machine slows them alike. FLOPs are 2 x the multiply-accumulates of every convolution (counted with forward hooks),
compared with the fp32 matmul peak (torch.mm of 2048x2048, median) measured in the same run.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import onnxruntime as ort
import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from export.fp16 import convert_to_fp16  # noqa: E402
from export.int8 import quantize_int8  # noqa: E402
from export.onnx_export import BodyGraph, body_inputs, export_body  # noqa: E402
from export.rewrites import for_int8  # noqa: E402
from shared.io.tensors import label_to_tensor  # noqa: E402
from shared.runtime.manifest import BODY_OUTPUT, GraphEntry, TensorSpec  # noqa: E402
from shared.model.config import get_preset  # noqa: E402
from shared.model.networks import build_generator  # noqa: E402
from shared.label.render import render_label  # noqa: E402
from shared.runtime.onnx_graph import OrtGraph  # noqa: E402
from shared.runtime.feedback import rollout  # noqa: E402
from shared.runtime.tensorrt_plans import TensorRTGraph, build_tensorrt_plan, tensorrt_problem  # noqa: E402
from shared.synthetic.body import TARGET_BODY  # noqa: E402
from shared.synthetic.dancer import dance_poses  # noqa: E402

Step = Callable[[Tensor], Tensor]  # prev -> frame
BASELINE = "torch eager fp32 (paper)"


def matmul_peak_gflops(device: torch.device, n: int = 2048, repeats: int = 10) -> float:
    """Median fp32 GFLOP/s of an n x n matmul: the practical peak these cores (or this GPU) reach."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # the fp32 peak, not TF32's
    times = []
    for i in range(repeats + 2):
        _sync(device)
        start = time.perf_counter()
        torch.mm(a, b)
        _sync(device)
        if i >= 2:
            times.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(times) / 1e9


def conv_macs(module: nn.Module, *inputs: Tensor) -> int:
    """Multiply-accumulates of every Conv2d / ConvTranspose2d in one forward pass."""
    total = 0

    def count(layer: nn.Module, args: tuple[Tensor, ...], out: Tensor) -> None:
        nonlocal total
        kernel = layer.weight.shape[2] * layer.weight.shape[3]
        if isinstance(layer, nn.ConvTranspose2d):  # every input pixel scatters into out_channels x kernel
            total += args[0].numel() * (layer.out_channels // layer.groups) * kernel
        else:  # every output pixel gathers in_channels x kernel
            total += out.numel() * (layer.in_channels // layer.groups) * kernel

    hooks = [m.register_forward_hook(count) for m in module.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    with torch.no_grad():
        module(*inputs)
    for hook in hooks:
        hook.remove()
    return total


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _entry(path: Path, precision: str, example: dict[str, Tensor]) -> GraphEntry:
    inputs = tuple(TensorSpec(name, tuple(t.shape)) for name, t in example.items())
    output = TensorSpec(BODY_OUTPUT, tuple(example["label"].shape))
    return GraphEntry("body", precision, path.name, inputs, (output,), {})


def backends(preset: str, folder: Path, device: torch.device) -> tuple[dict[str, Step], int, tuple[int, int]]:
    """The steps to time for one preset, its conv MACs per frame, and its image size."""
    config = get_preset(preset)
    width, height = config.image_size
    torch.manual_seed(0)
    generator = build_generator(dataclasses.replace(config.generator, composite=True)).eval()
    label = torch.rand(1, 3, height, width)
    plate = torch.rand(1, 3, height, width) * 2 - 1
    macs = conv_macs(generator, label, torch.zeros_like(label))

    fp32 = folder / f"{preset}.onnx"
    fp16 = folder / f"{preset}.fp16.onnx"
    export_body(generator, True, (width, height), fp32, opset=17)
    convert_to_fp16(fp32, fp16)
    example = dict(zip(body_inputs(True), (label, label, plate)))

    eager = BodyGraph(generator, composites=True).to(device).eval()
    label_d, plate_d = label.to(device), plate.to(device)

    def paper_eager(prev: Tensor) -> Tensor:
        # pix2pixHD's test.py calls `model.inference`, which wraps the generator in torch.no_grad()
        # only on torch 0.4 and runs it with autograd recording on any later torch; `.detach()` is
        # the `.data` those scripts take before feeding a frame back (no history across frames).
        return eager(label_d, prev, plate_d).detach()

    def no_grad_eager(prev: Tensor) -> Tensor:
        with torch.no_grad():
            return eager(label_d, prev, plate_d)

    steps: dict[str, Step] = {BASELINE: paper_eager, "torch eager fp32, no_grad": no_grad_eager}
    graphs = [("onnxruntime fp32", fp32, "fp32"), ("onnxruntime fp16", fp16, "fp16")]
    if device.type == "cpu":
        int8, source = folder / f"{preset}.int8.onnx", folder / f"{preset}.for-int8.onnx"
        export_body(generator, True, (width, height), source, opset=17, rewrite=for_int8)  # as dance-export --int8
        quantize_int8(source, int8, _calibration(eager, (width, height), plate))
        graphs.append(("onnxruntime int8", int8, "int8"))
    for name, path, precision in graphs:
        graph = OrtGraph(path, _entry(path, precision, example), device)
        steps[name] = lambda prev, graph=graph: graph(label=label_d, prev=prev, plate=plate_d)
    if device.type == "cuda" and tensorrt_problem() is None:
        plan = folder / f"{preset}.fp16.plan"
        build_tensorrt_plan(fp32, plan, fp16=True)
        graph = TensorRTGraph(plan, _entry(fp32, "fp16", example), device)
        steps["tensorrt fp16"] = lambda prev, graph=graph: graph(label=label_d, prev=prev, plate=plate_d)
    return steps, macs, (width, height)


@torch.no_grad()
def _calibration(body: nn.Module, size: tuple[int, int], plate: Tensor, frames: int = 8) -> list[dict]:
    """int8 calibration feeds: the synthetic dancer's labels, each with the previous frame fed back."""
    labels = [label_to_tensor(render_label(pose, size)) for pose in dance_poses(TARGET_BODY, num_frames=frames, size=size)]
    steps = rollout(lambda label, prev: body(label, prev, plate), labels)
    return [{"label": label.numpy(), "prev": prev.numpy(), "plate": plate.numpy()} for label, (prev, _) in zip(labels, steps)]


def time_steps(steps: dict[str, Step], shape: tuple[int, ...], device: torch.device, frames: int, rounds: int = 3) -> dict[str, float]:
    """Median seconds per frame of each step, fed its own previous frame.

    Each backend runs a block of frames at a time (after a pause that lets the previous backend's
    idle threads go to sleep: torch's OpenMP threads spin for a while after each op and would slow
    whatever runs next), and the blocks repeat in `rounds` so a load change on a shared machine
    hits every backend alike.
    """
    times: dict[str, list[float]] = {name: [] for name in steps}
    per_block = max(1, frames // rounds)
    for _ in range(rounds):
        for name, step in steps.items():
            time.sleep(0.5)
            prev = torch.zeros(shape, device=device)
            for i in range(2 + per_block):  # 2 warm-up frames
                _sync(device)
                start = time.perf_counter()
                prev = step(prev)
                _sync(device)
                if i >= 2:
                    times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", default=None, help="comma-separated (default: tiny,small; plus paper on a GPU)")
    parser.add_argument("--frames", type=int, default=None, help="timed frames per backend (default: 30 tiny, 12 others)")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    torch.set_num_threads(threads)
    presets = args.presets.split(",") if args.presets else ["tiny", "small"] + (["paper"] if device.type == "cuda" else [])
    load_start = os.getloadavg()[0]  # before this script adds its own load
    peak_before = matmul_peak_gflops(device)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{platform.processor() or platform.machine()}, {threads} threads"
    print(f"device: {where}; torch {torch.__version__}, onnxruntime {ort.__version__}; load average {load_start:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        results = []
        for preset in presets:
            steps, macs, (width, height) = backends(preset, Path(tmp), device)
            frames = args.frames or (30 if preset == "tiny" else 12)
            results.append((preset, width, height, macs, time_steps(steps, (1, 3, height, width), device, frames)))
    peak_after = matmul_peak_gflops(device)
    peak = max(peak_before, peak_after)  # the higher one: a load spike must not flatter the percentages
    print(f"fp32 matmul peak (2048x2048 mm, median): {peak_before:.0f} GFLOP/s before, {peak_after:.0f} after; using {peak:.0f}")
    if tensorrt_problem():
        print(f"TensorRT: not measured ({tensorrt_problem()})")
    print()
    print("| preset | size | backend | ms/frame (median) | fps | GFLOP/s | % of matmul peak | vs eager (paper) | vs eager no_grad |")
    print("|---|---|---|---|---|---|---|---|---|")
    for preset, width, height, macs, medians in results:
        baseline, no_grad = medians[BASELINE], medians["torch eager fp32, no_grad"]
        for name, seconds in medians.items():
            gflops = 2 * macs / seconds / 1e9
            share = "n/a" if "int8" in name else f"{100 * gflops / peak:.0f}%"  # int8 work against an fp32 peak means nothing
            print(
                f"| {preset} | {width}x{height} | {name} | {seconds * 1e3:.1f} | {1 / seconds:.1f} | {gflops:.0f} | "
                f"{share} | {baseline / seconds:.2f}x | {no_grad / seconds:.2f}x |"
            )
    for preset, width, height, macs, medians in results:
        if preset == "tiny" and device.type == "cpu":
            speedup = medians[BASELINE] / medians["onnxruntime fp32"]
            share = 2 * macs / medians["onnxruntime fp32"] / 1e9 / peak
            verdict = lambda ok: "met" if ok else "NOT met"  # noqa: E731
            print(
                f"\ntargets for tiny on this CPU: onnxruntime fp32 {speedup:.2f}x the eager baseline (>= 1.3x: "
                f"{verdict(speedup >= 1.3)}; {medians['torch eager fp32, no_grad'] / medians['onnxruntime fp32']:.2f}x eager "
                f"under no_grad), {100 * share:.0f}% of the matmul peak (>= 70%: {verdict(share >= 0.7)})"
            )
    print("conv work per frame counted with forward hooks (2 x MACs)")
    if load_start > 0.5 and device.type == "cpu":
        print("warning: other processes were using these cores; torch eager suffers most from that (its OpenMP "
              "threads wait for descheduled ones), so rerun on an idle machine before comparing backends")


if __name__ == "__main__":
    main()
