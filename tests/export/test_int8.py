"""`dance-export --int8`: quantized CPU graphs, checked on real labels, preferred by live on a CPU."""

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from click.testing import CliRunner

from export.cli import main
import export.exporter
from export.int8 import INT8_MEAN_TOLERANCE, quantize_int8
from export.int8_graph import quantize_before_moves, shuffle_before_dequantize
from shared.runtime.manifest import EngineManifest
from shared.runtime.loading import available_backends, load_engine

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
        nodes = onnx.load(str(int8_engines / entry.file)).graph.node
        ops = {node.op_type for node in nodes}
        assert "QLinearConv" in ops and not ops & {"Conv", "ConvTranspose"}, ops
        producers = {out: node.op_type for node in nodes for out in node.output}
        shuffles = [producers[node.input[0]] for node in nodes if node.op_type == "DepthToSpace"]
        assert shuffles and set(shuffles) == {"QLinearConv"}, "every pixel shuffle moves uint8, straight from its conv"
        assert [s.name for s in entry.inputs] == [s.name for s in manifest.graph(role, "fp32").inputs]
        assert set(entry.parity) == {"random", "first frame", "feedback", "sequence mean", "sequence max"}
        assert entry.parity["sequence mean"] <= INT8_MEAN_TOLERANCE
        assert 0 < entry.parity["first frame"] < 1, "quantized: close to torch, yet not exact"
    assert EngineManifest.from_json(json.loads(json.dumps(manifest.to_json()))) == manifest


def test_a_cpu_prefers_int8_and_every_precision_can_be_forced(int8_engines: Path) -> None:
    assert available_backends(int8_engines)[-2:] == ["onnxruntime-fp32", "onnxruntime-int8"]
    auto, fp32 = load_engine(int8_engines), load_engine(int8_engines, "onnxruntime-fp32")
    assert (auto.backend, auto.info.precision, fp32.info.precision) == ("onnxruntime", "int8", "fp32")
    label = torch.zeros(1, auto.info.label_nc, 256, 256)
    label[:, 1, 60:200, 120:136] = 1.0  # a torso-like stroke
    prev = torch.zeros(1, 3, 256, 256)
    for _ in range(4):  # fed back, as live does
        prev_int8 = auto.body(label, prev)
        prev_fp32 = fp32.body(label, prev)
        assert float((prev_int8 - prev_fp32).abs().mean()) <= INT8_MEAN_TOLERANCE
        prev = prev_fp32


def test_an_int8_graph_too_far_from_torch_fails_the_export(tiny_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = copy_run(tiny_run, tmp_path / "run")
    monkeypatch.setattr(export.exporter, "INT8_MEAN_TOLERANCE", 0.0)  # no quantized graph is that exact
    result = CliRunner().invoke(main, [str(run), "--int8"])
    assert result.exit_code == 1 and "the int8 graph is too far from torch" in result.output
    assert "Traceback" not in result.output
    assert not (run / "engines").exists(), "a failed export leaves nothing behind"
    with pytest.raises(ValueError, match="at least one calibration input"):
        quantize_int8(run / "missing.onnx", tmp_path / "x.onnx", [])


def _dequantize_then_shuffle(readers: int) -> onnx.ModelProto:
    """q (uint8) -> DequantizeLinear -> DepthToSpace -> y, the dequantized tensor also read `readers - 1` more times."""
    nodes = [
        helper.make_node("DequantizeLinear", ["q", "scale", "zero"], ["x"]),
        helper.make_node("DepthToSpace", ["x"], ["y"], blocksize=2, mode="CRD"),
        helper.make_node("Neg", ["y"], ["out"]),
    ]
    outputs = [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 2, 6, 10])]
    if readers > 1:
        nodes.append(helper.make_node("Abs", ["x"], ["other"]))
        outputs.append(helper.make_tensor_value_info("other", TensorProto.FLOAT, [1, 8, 3, 5]))
    initializers = [numpy_helper.from_array(np.array(0.05, np.float32), "scale"), numpy_helper.from_array(np.array(128, np.uint8), "zero")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("q", TensorProto.UINT8, [1, 8, 3, 5])], outputs, initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _run(model: onnx.ModelProto, q: np.ndarray) -> list[np.ndarray]:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"q": q})


def test_shuffles_move_onto_the_uint8_tensor_and_compute_the_same() -> None:
    q = np.random.default_rng(0).integers(0, 256, (1, 8, 3, 5), dtype=np.uint8)
    model = _dequantize_then_shuffle(readers=1)
    expected = _run(model, q)
    assert shuffle_before_dequantize(model) == 1
    onnx.checker.check_model(model)
    assert [node.op_type for node in model.graph.node] == ["DepthToSpace", "DequantizeLinear", "Neg"]
    assert model.graph.node[0].input[0] == "q"
    np.testing.assert_array_equal(_run(model, q)[0], expected[0])


def test_a_dequantized_tensor_read_elsewhere_keeps_its_shuffle_in_fp32() -> None:
    model = _dequantize_then_shuffle(readers=2)
    assert shuffle_before_dequantize(model) == 0
    assert [node.op_type for node in model.graph.node][:2] == ["DequantizeLinear", "DepthToSpace"]


def _movement_then_quantize(also_read: bool = False, pad_value: float | None = None) -> onnx.ModelProto:
    """a, b (fp32) -> Concat -> reflection Pad -> constant Pad -> SpaceToDepth -> QuantizeLinear ->
    DequantizeLinear -> out; with `also_read`, the Concat's result is read by an Abs too."""
    constant_pad = ["padded", "pads_one"] + (["value"] if pad_value is not None else [])
    nodes = [
        helper.make_node("Concat", ["a", "b"], ["joined"], axis=1),
        helper.make_node("Pad", ["joined", "pads_two"], ["padded"], mode="reflect"),
        helper.make_node("Pad", constant_pad, ["padded_more"], mode="constant"),
        helper.make_node("SpaceToDepth", ["padded_more"], ["moved"], blocksize=2),
        helper.make_node("QuantizeLinear", ["moved", "scale", "zero"], ["q"]),
        helper.make_node("DequantizeLinear", ["q", "scale", "zero"], ["out"]),
    ]
    outputs = [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 16, 6, 6])]
    if also_read:
        nodes.append(helper.make_node("Abs", ["joined"], ["other"]))
        outputs.append(helper.make_tensor_value_info("other", TensorProto.FLOAT, [1, 4, 6, 8]))
    initializers = [
        numpy_helper.from_array(np.array(0.02, np.float32), "scale"), numpy_helper.from_array(np.array(100, np.uint8), "zero"),
        numpy_helper.from_array(np.array([0, 0, 2, 2, 0, 0, 2, 2], np.int64), "pads_two"),
        numpy_helper.from_array(np.array([0, 0, 1, 0, 0, 0, 1, 0], np.int64), "pads_one"),
    ]  # fmt: skip
    if pad_value is not None:
        initializers.append(numpy_helper.from_array(np.array(pad_value, np.float32), "value"))
    inputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 2, 6, 8]) for name in ("a", "b")]
    return helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, initializers), opset_imports=[helper.make_opsetid("", 17)])


def _run_movement(model: onnx.ModelProto) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    feeds = {name: rng.uniform(-2, 2, (1, 2, 6, 8)).astype(np.float32) for name in ("a", "b")}
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)


@pytest.mark.parametrize("pad_value", [None, 0.0])
def test_quantizing_before_data_movement_computes_the_same_on_uint8(pad_value: float | None) -> None:
    model = _movement_then_quantize(pad_value=pad_value)
    expected = _run_movement(model)
    assert quantize_before_moves(model) == 1
    onnx.checker.check_model(model)
    ops = [node.op_type for node in model.graph.node]
    assert ops == ["QuantizeLinear", "QuantizeLinear", "Concat", "Pad", "Pad", "SpaceToDepth", "DequantizeLinear"]
    assert [node.input[0] for node in model.graph.node[:2]] == ["a", "b"]
    assert model.graph.node[4].input[2] == "zero", "the constant pad pads with the zero point"
    np.testing.assert_array_equal(_run_movement(model)[0], expected[0])


def test_movement_read_elsewhere_or_padding_with_another_constant_stays_fp32() -> None:
    model = _movement_then_quantize(also_read=True)
    expected = _run_movement(model)
    assert quantize_before_moves(model) == 1  # the pads and the shuffle move; the Concat, also read by Abs, stays
    concat = next(node for node in model.graph.node if node.op_type == "Concat")
    assert list(concat.input) == ["a", "b"]
    assert [node.op_type for node in model.graph.node][1] == "QuantizeLinear"
    for got, want in zip(_run_movement(model), expected):
        np.testing.assert_array_equal(got, want)
    assert quantize_before_moves(_movement_then_quantize(pad_value=0.5)) == 1  # only the SpaceToDepth moves
