"""A TensorFlow Lite conv net as an ONNX graph, for onnxruntime.

Why: MediaPipe runs its pose landmark model through its own graph on one core, 21-24 ms a frame
here, where onnxruntime runs the same weights in 11 ms (its blocked conv layouts suit the model's
depthwise convs better than XNNPACK did in our measurements). The live pose stage sits in series
with the generator, so that time is latency. See shared/pose/onnx_follower.py for the tracking around it.

Only the operators MediaPipe's pose landmark model uses are translated (convolutions, depthwise
convolutions, additions, pads, max pools, the sigmoid and reshapes; fp16 weights dequantized once),
and only the subgraph the wanted outputs need is kept, so the heatmap and segmentation decoders
are never computed. TensorFlow's SAME padding, and the explicit zero pads before strided convs,
become the ONNX convs' own (possibly asymmetric) pads, so no Pad op runs. Anything else raises.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import tflite
from onnx import TensorProto, helper, numpy_helper

from shared.errors import DanceError

OPERATORS = {code: name for name, code in vars(tflite.BuiltinOperator).items() if not name.startswith("_")}
FUSED_ACTIVATIONS = {0: None, 1: "Relu", 3: "Relu6"}
TENSOR_TYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 9: np.int8}
WINDOWED = ("CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D")  # ops a preceding zero pad folds into
OPSET = 17


@dataclass
class _Op:
    kind: str
    inputs: list[int]
    output: int
    raw: tflite.Operator


@dataclass
class _Builder:
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: list[onnx.TensorProto] = field(default_factory=list)

    def constant(self, array: np.ndarray, name: str) -> str:
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attributes: object) -> None:
        self.nodes.append(helper.make_node(op, inputs, [output], **attributes))


def _name(tensor: int) -> str:
    return f"t{tensor}"


def same_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's SAME padding along one axis: (before, after), the odd pixel after."""
    extent = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + extent - size, 0)
    return total // 2, total - total // 2


class _Reader:
    """The first subgraph of a .tflite flatbuffer: its ops in order and its constant tensors."""

    def __init__(self, path: Path) -> None:
        try:
            self._read(path.read_bytes())
        except (OSError, IndexError, ValueError, KeyError, AttributeError, struct.error) as err:  # missing or corrupt
            raise DanceError(f"{path}: not a readable TensorFlow Lite model ({err.__class__.__name__})") from None

    def _read(self, data: bytes) -> None:
        self.model = tflite.Model.GetRootAsModel(data, 0)
        self.graph = self.model.Subgraphs(0)
        self.constants: dict[int, np.ndarray] = {}
        self.ops: list[_Op] = []
        for i in range(self.graph.OperatorsLength()):
            raw = self.graph.Operators(i)
            code = self.model.OperatorCodes(raw.OpcodeIndex())
            kind = OPERATORS.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "UNKNOWN")
            inputs = [raw.Inputs(j) for j in range(raw.InputsLength())]
            if kind == "DEQUANTIZE":  # fp16 weights: dequantized here, once
                self.constants[raw.Outputs(0)] = self._buffer(inputs[0]).astype(np.float32)
                continue
            for tensor in inputs:
                if tensor >= 0 and tensor not in self.constants:
                    data = self._buffer(tensor)
                    if data is not None:
                        self.constants[tensor] = data
            self.ops.append(_Op(kind, inputs, raw.Outputs(0), raw))

    def _buffer(self, tensor: int) -> np.ndarray | None:
        info = self.graph.Tensors(tensor)
        data = self.model.Buffers(info.Buffer())
        if data.DataLength() == 0:
            return None
        dtype = TENSOR_TYPES[info.Type()]
        return np.frombuffer(data.DataAsNumpy().tobytes(), dtype).reshape(info.ShapeAsNumpy())

    def shape(self, tensor: int) -> list[int]:
        return self.graph.Tensors(tensor).ShapeAsNumpy().tolist()

    def outputs(self) -> list[int]:
        return [self.graph.Outputs(j) for j in range(self.graph.OutputsLength())]

    def needed(self, wanted: list[int]) -> list[_Op]:
        """The ops the wanted output tensors depend on, in order."""
        need, kept = set(wanted), []
        for op in reversed(self.ops):
            if op.output in need:
                kept.append(op)
                need.update(t for t in op.inputs if t >= 0 and t not in self.constants)
        return kept[::-1]


def _options(op: _Op, kind: type) -> object:
    table = op.raw.BuiltinOptions()
    options = kind()
    options.Init(table.Bytes, table.Pos)
    return options


def _window_pads(options: object, in_shape: list[int], kernel: int, stride: int, dilation: int, extra: list[int]) -> list[int]:
    """ONNX pads (top, left, bottom, right) for SAME padding (tflite Padding 0) plus a folded zero pad."""
    pads = [0, 0, 0, 0]
    if options.Padding() == 0:
        (top, bottom), (left, right) = (same_pads(in_shape[i], kernel, stride, dilation) for i in (1, 2))
        pads = [top, left, bottom, right]
    return [a + b for a, b in zip(pads, extra)]


def _fused(path: Path, code: int) -> str | None:
    if code not in FUSED_ACTIVATIONS:
        raise DanceError(f"{path}: fused activation {code} is not supported by this converter")
    return FUSED_ACTIVATIONS[code]


def _activation(builder: _Builder, kind: str | None, pre: str, output: str, index: int) -> None:
    if kind == "Relu":
        builder.node("Relu", [pre], output)
    elif kind == "Relu6":
        six = [builder.constant(np.array(v, np.float32), f"clip{index}_{v}") for v in (0, 6)]
        builder.node("Clip", [pre, *six], output)


def tflite_to_onnx(path: Path, outputs: dict[int, str], input_name: str = "image") -> onnx.ModelProto:
    """The model's graph for the outputs wanted ({tflite output index: ONNX name}), taking an
    NCHW float input where the tflite model takes NHWC, its outputs flattened to (1, N)."""
    reader = _Reader(Path(path))
    graph_outputs = reader.outputs()
    wanted = {graph_outputs[index]: name for index, name in outputs.items()}
    ops = reader.needed(list(wanted))
    consumers: dict[int, list[str]] = {}
    for op in ops:
        for tensor in op.inputs:
            consumers.setdefault(tensor, []).append(op.kind)
    builder = _Builder()
    folded: dict[int, tuple[int, list[int]]] = {}  # zero pad output -> (its input, pads to add)
    input_tensor = reader.graph.Inputs(0)
    builder.node("Identity", [input_name], _name(input_tensor))
    for index, op in enumerate(ops):
        source, extra = op.inputs[0], [0, 0, 0, 0]
        if source in folded:
            source, extra = folded[source]
        if op.kind == "PAD":
            (batch, (top, bottom), (left, right), channel) = reader.constants[op.inputs[1]].tolist()
            if any(batch) or any(channel):
                raise DanceError(f"{path}: padding across batch or channels is not supported by this converter")
            if all(kind in WINDOWED for kind in consumers[op.output]) and extra == [0, 0, 0, 0]:
                folded[op.output] = (source, [top, left, bottom, right])
                continue
            pads = builder.constant(np.array([0, 0, top, left, 0, 0, bottom, right], np.int64), f"pads{index}")
            builder.node("Pad", [_name(source), pads], _name(op.output))
            continue
        in_shape = reader.shape(op.inputs[0])  # NHWC, the explicit pad included
        output, activation = _name(op.output), None
        if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            depthwise = op.kind == "DEPTHWISE_CONV_2D"
            options = _options(op, tflite.DepthwiseConv2DOptions if depthwise else tflite.Conv2DOptions)
            weight = reader.constants[op.inputs[1]]  # (out, kh, kw, in), depthwise (1, kh, kw, channels)
            weight = weight.transpose(3, 0, 1, 2) if depthwise else weight.transpose(0, 3, 1, 2)
            kernel, stride, dilation = weight.shape[-1], options.StrideH(), options.DilationHFactor()
            if weight.shape[-2] != kernel or options.StrideW() != stride:
                raise DanceError(f"{path}: non-square convolution windows are not supported")
            inputs = [_name(source), builder.constant(weight.astype(np.float32), f"w{index}")]
            if len(op.inputs) > 2 and op.inputs[2] >= 0:
                inputs.append(builder.constant(reader.constants[op.inputs[2]].astype(np.float32), f"b{index}"))
            activation = _fused(path, options.FusedActivationFunction())
            attributes = dict(strides=[stride, stride], dilations=[dilation, dilation], kernel_shape=[kernel, kernel],
                              pads=_window_pads(options, in_shape, kernel, stride, dilation, extra))
            if depthwise:
                attributes["group"] = weight.shape[0]
            builder.node("Conv", inputs, output + "_pre" if activation else output, **attributes)
        elif op.kind == "ADD":
            activation = _fused(path, _options(op, tflite.AddOptions).FusedActivationFunction())
            builder.node("Add", [_name(source), _name(op.inputs[1])], output + "_pre" if activation else output)
        elif op.kind == "MAX_POOL_2D":
            options = _options(op, tflite.Pool2DOptions)
            kernel, stride = options.FilterHeight(), options.StrideH()
            builder.node("MaxPool", [_name(source)], output, kernel_shape=[kernel, kernel], strides=[stride, stride],
                         pads=_window_pads(options, in_shape, kernel, stride, 1, extra))
        elif op.kind == "LOGISTIC":
            builder.node("Sigmoid", [_name(source)], output)
        elif op.kind == "RESHAPE" and len(reader.shape(op.output)) == 2:
            builder.node("Flatten", [_name(source)], output, axis=1)
        else:
            raise DanceError(f"{path}: TensorFlow Lite op {op.kind} is not supported by this converter")
        _activation(builder, activation, output + "_pre", output, index)
    for tensor, name in wanted.items():
        builder.node("Identity", [_name(tensor)], name)
    _, height, width, channels = reader.shape(input_tensor)
    graph = helper.make_graph(
        builder.nodes,
        "tflite",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [1, channels, height, width])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, int(np.prod(reader.shape(t)[1:]))]) for t, name in wanted.items()],
        builder.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model
