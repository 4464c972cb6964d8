"""TensorRT at export and load: the guard runs everywhere; the plans themselves need a GPU.
(The plan cache's rules: tests/shared/runtime/test_tensorrt_plans.py.)"""

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from export.cli import main
from shared.errors import DanceError
from shared.runtime.loading import load_engine
from shared.runtime.tensorrt_plans import tensorrt_problem

NO_TENSORRT = tensorrt_problem()


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
    from shared.runtime.tensorrt_plans import plan_path

    out, manifest = export_run(tiny_run, tmp_path / "engines", ExportOptions(fp16=True, backend="tensorrt"))
    plan = plan_path(out, "body", "fp16")
    built = plan.stat().st_mtime_ns
    engine = load_engine(out, "tensorrt", device="cuda")
    reference = load_engine(tiny_run, "torch", device="cuda")
    label, prev = torch.rand(1, 3, 256, 256, device="cuda"), torch.zeros(1, 3, 256, 256, device="cuda")
    frame = engine.body(label, prev)
    assert frame.is_cuda and float((frame - reference.body(label, prev)).abs().max()) <= 2e-2
    assert plan.stat().st_mtime_ns == built, "a matching cached plan is loaded, not rebuilt"
