"""`dance-export --int8`: quantized CPU graphs, checked on real labels, preferred by live on a CPU."""

import json
from pathlib import Path

import onnx
import pytest
import torch
from click.testing import CliRunner

from export.cli import main
import export.engines
from export.int8 import INT8_MEAN_TOLERANCE, quantize_int8
from shared.manifest import EngineManifest
from shared.runtime import available_backends, load_generator

from tests.export.conftest import copy_run


@pytest.fixture(scope="module")
def int8_engines(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = copy_run(tiny_run, tmp_path_factory.mktemp("int8") / "run")
    result = CliRunner().invoke(main, [str(run), "--int8"])
    assert result.exit_code == 0, result.output
    assert "int8: calibrating on real labels from dataset" in result.output
    return run / "engines"


def test_int8_graphs_are_quantized_and_stay_close_to_torch(int8_engines: Path) -> None:
    manifest = EngineManifest.load(int8_engines)
    assert {(g.role, g.precision) for g in manifest.graphs} == {(r, p) for r in ("body", "face") for p in ("fp32", "int8")}
    assert manifest.precision == "fp32", "int8 graphs come in addition to the fp32 ones"
    for role in ("body", "face"):
        entry = manifest.graph(role, "int8")
        ops = {node.op_type for node in onnx.load(str(int8_engines / entry.file)).graph.node}
        assert "QLinearConv" in ops and "Conv" not in ops, ops
        assert [s.name for s in entry.inputs] == [s.name for s in manifest.graph(role, "fp32").inputs]
        assert set(entry.parity) == {"random", "first frame", "feedback", "sequence mean", "sequence max"}
        assert entry.parity["sequence mean"] <= INT8_MEAN_TOLERANCE
        assert 0 < entry.parity["first frame"] < 1, "quantized: close to torch, yet not exact"
    assert EngineManifest.from_json(json.loads(json.dumps(manifest.to_json()))) == manifest


def test_a_cpu_prefers_int8_and_every_precision_can_be_forced(int8_engines: Path) -> None:
    assert available_backends(int8_engines)[-2:] == ["onnxruntime-fp32", "onnxruntime-int8"]
    auto, fp32 = load_generator(int8_engines), load_generator(int8_engines, "onnxruntime-fp32")
    assert (auto.backend, auto.info.precision, fp32.info.precision) == ("onnxruntime", "int8", "fp32")
    label = torch.zeros(1, 3, 256, 256)
    label[:, 1, 60:200, 120:136] = 1.0  # a torso-like stroke
    prev = torch.zeros(1, 3, 256, 256)
    for _ in range(4):  # fed back, as live does
        prev_int8 = auto.body(label, prev)
        prev_fp32 = fp32.body(label, prev)
        assert float((prev_int8 - prev_fp32).abs().mean()) <= INT8_MEAN_TOLERANCE
        prev = prev_fp32


def test_an_int8_graph_too_far_from_torch_fails_the_export(tiny_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = copy_run(tiny_run, tmp_path / "run")
    monkeypatch.setattr(export.engines, "INT8_MEAN_TOLERANCE", 0.0)  # no quantized graph is that exact
    result = CliRunner().invoke(main, [str(run), "--int8"])
    assert result.exit_code == 1 and "the int8 graph is too far from torch" in result.output
    assert "Traceback" not in result.output
    assert not (run / "engines").exists(), "a failed export leaves nothing behind"
    with pytest.raises(ValueError, match="at least one calibration input"):
        quantize_int8(run / "missing.onnx", tmp_path / "x.onnx", [])
