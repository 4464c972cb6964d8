"""TensorRT: the plan cache's rules and the guard run everywhere; the plans themselves need a GPU."""

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from export.cli import main
from shared.errors import DanceError
from shared.runtime.loading import (
    cached_plan_matches,
    load_engine,
    stamp_plan,
    tensorrt_cache_key,
    tensorrt_problem,
)

NO_TENSORRT = tensorrt_problem()


def test_cache_key_changes_with_gpu_tensorrt_version_model_and_precision() -> None:
    parts = ("NVIDIA H100 sm90", "10.3.0", "ab" * 32, "fp16")
    key = tensorrt_cache_key(*parts)
    assert key == tensorrt_cache_key(*parts)
    for i, other in enumerate(("NVIDIA A10G sm86", "10.4.0", "cd" * 32, "fp32")):
        changed = list(parts)
        changed[i] = other
        assert tensorrt_cache_key(*changed) != key, f"part {i} must be in the key"


def test_a_cached_plan_is_used_only_when_its_stamp_matches(tmp_path: Path) -> None:
    plan = tmp_path / "body.fp16.plan"
    key = tensorrt_cache_key("gpu", "10.0", "ab" * 32, "fp16")
    assert not cached_plan_matches(plan, key), "no plan yet"
    plan.write_bytes(b"serialized engine")
    assert not cached_plan_matches(plan, key), "a plan without a stamp is never trusted"
    stamp_plan(plan, key, {"gpu": "gpu", "tensorrt": "10.0"})
    assert cached_plan_matches(plan, key)
    assert not cached_plan_matches(plan, tensorrt_cache_key("other gpu", "10.0", "ab" * 32, "fp16")), "another GPU rebuilds"
    plan.write_bytes(b"serialized engine, but changed")
    assert not cached_plan_matches(plan, key), "a plan whose bytes changed rebuilds"


@pytest.mark.skipif(NO_TENSORRT is None, reason="this machine can run TensorRT: the guard does not apply")
def test_without_cuda_tensorrt_is_a_clear_error_and_auto_falls_back(exported, tiny_run: Path, tmp_path: Path) -> None:
    assert "TensorRT needs an NVIDIA GPU with CUDA" in NO_TENSORRT
    result = CliRunner().invoke(main, [str(tiny_run), "-o", str(tmp_path / "engines"), "--backend", "tensorrt"])
    assert result.exit_code == 1 and "Error: TensorRT needs an NVIDIA GPU with CUDA" in result.output
    assert "--backend onnx" in result.output and not (tmp_path / "engines").exists()
    with pytest.raises(DanceError, match="TensorRT needs an NVIDIA GPU with CUDA"):
        load_engine(exported.folder, "tensorrt")
    assert load_engine(exported.folder, "auto", device="auto").backend == "onnxruntime"


@pytest.mark.skipif(not torch.cuda.is_available() or NO_TENSORRT is not None, reason=f"needs CUDA and TensorRT: {NO_TENSORRT}")
def test_tensorrt_plans_match_torch_and_are_cached(tiny_run: Path, tmp_path: Path) -> None:
    from export.exporter import ExportOptions, export_run
    from shared.runtime.loading import plan_path

    out, manifest = export_run(tiny_run, tmp_path / "engines", ExportOptions(fp16=True, backend="tensorrt"))
    plan = plan_path(out, "body", "fp16")
    built = plan.stat().st_mtime_ns
    engine = load_engine(out, "tensorrt", device="cuda")
    reference = load_engine(tiny_run, "torch", device="cuda")
    label, prev = torch.rand(1, 3, 256, 256, device="cuda"), torch.zeros(1, 3, 256, 256, device="cuda")
    frame = engine.body(label, prev)
    assert frame.is_cuda and float((frame - reference.body(label, prev)).abs().max()) <= 2e-2
    assert plan.stat().st_mtime_ns == built, "a matching cached plan is loaded, not rebuilt"
