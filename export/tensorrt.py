"""TensorRT plans at export time, so live does not wait minutes for the first build.

The plan cache itself lives in shared.runtime.tensorrt_plans (live rebuilds a plan whose GPU,
TensorRT version or graph does not match); this only builds the plans for the engines folder being written, checks
them against torch and records the parity in each plan's stamp. Without an NVIDIA GPU and the
tensorrt package it does nothing but say why (`tensorrt_problem`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from shared.errors import DanceError
from shared.io.files import write_text_atomic
from shared.runtime.manifest import EngineManifest
from shared.runtime.tensorrt_plans import TensorRTGraph, ensure_tensorrt_plan, stamp_path, tensorrt_problem

from export.parity import FP16_TOLERANCE, FP32_TOLERANCE, ParityCase


def require_tensorrt() -> None:
    """For `--backend tensorrt`: a clear error before any work when TensorRT cannot run here."""
    problem = tensorrt_problem()
    if problem:
        raise DanceError(f"{problem}; use --backend onnx (or auto) on this machine")


@torch.no_grad()
def build_plans(folder: Path, manifest: EngineManifest, modules: dict[str, nn.Module], cases: list[ParityCase],
                log: Callable[[str], None]) -> dict[str, dict[str, float]]:  # fmt: skip
    """Build (or reuse) this GPU's plans for every graph and check each against torch."""
    device = torch.device("cuda")
    precision = manifest.precision
    tolerance = FP16_TOLERANCE if precision == "fp16" else FP32_TOLERANCE
    results = {}
    for role, module in modules.items():
        entry = manifest.graph(role, "fp32")
        log(f"{role}: building the TensorRT {precision} plan for {torch.cuda.get_device_name(device)} (this takes a while)")
        plan = ensure_tensorrt_plan(folder, manifest, role, precision, device)
        graph = TensorRTGraph(plan, entry, device)
        reference = module.to(device)
        errors = {}
        for case in cases:
            feeds = {k: v.to(device) for k, v in (case.body if role == "body" else case.face).items()}
            errors[case.name] = float((graph(**feeds) - reference(**feeds)).abs().max())
        module.to("cpu")
        worst = max(errors.values())
        if worst > tolerance:
            raise DanceError(f"{role}: the TensorRT {precision} plan differs from torch by {worst:.3g} (> {tolerance:g})")
        stamp = stamp_path(plan)
        write_text_atomic(stamp, json.dumps({**json.loads(stamp.read_text()), "parity": errors}, indent=2) + "\n")
        log(f"{role}: TensorRT {precision} parity " + ", ".join(f"{k} {v:.2g}" for k, v in errors.items()))
        results[role] = errors
    return results

