"""Passes over a quantized ONNX graph that move data movement onto its uint8 tensors.

onnxruntime's quantizer (QOperator format) quantizes only the convolutions; what lies between them
stays fp32, including ops that only move values: pixel shuffles, pads, slices, concatenations.
Quantizing and dequantizing with a per-tensor scale is one affine map for every value, so such an
op computes the same function on the uint8 tensor, moving a quarter of the bytes. These passes
rewrite the graph in place so that it does; `export.int8.quantize_int8` runs them after quantizing.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

# op type -> positions of the inputs that carry values (None: all); the others are shapes, pads, axes
MOVES: dict[str, tuple[int, ...] | None] = {
    "Concat": None, "Pad": (0,), "Slice": (0,), "Split": (0,), "Gather": (0,), "Reshape": (0,),
    "Transpose": (0,), "SpaceToDepth": (0,), "DepthToSpace": (0,), "Squeeze": (0,), "Unsqueeze": (0,),
}  # fmt: skip


def _producers(nodes: list[onnx.NodeProto]) -> dict[str, int]:
    return {output: i for i, node in enumerate(nodes) for output in node.output}


def _readers(nodes: list[onnx.NodeProto]) -> dict[str, list[int]]:
    readers: dict[str, list[int]] = {}
    for i, node in enumerate(nodes):
        for name in node.input:
            readers.setdefault(name, []).append(i)
    return readers


def _scalars(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    return {init.name: numpy_helper.to_array(init) for init in graph.initializer if int(np.prod(init.dims)) == 1}


def shuffle_before_dequantize(model: onnx.ModelProto) -> int:
    """Move each DepthToSpace that reads a DequantizeLinear (with a per-tensor scale) before it, in
    place; returns how many moved.

    The quantizer leaves pixel shuffles in fp32 (QLinearConv -> DequantizeLinear -> DepthToSpace).
    A shuffle only moves values and dequantizing is the same affine map for every value, so
    shuffling the uint8 tensor and dequantizing after is the same function, on a quarter of the
    bytes: onnxruntime's DepthToSpace takes 1.2 ms on the tiny body's last upsampler in uint8
    against 2.0 ms in fp32 (1 thread).
    """
    graph = model.graph
    nodes = list(graph.node)
    producer = _producers(nodes)
    readers = {name: len(indices) for name, indices in _readers(nodes).items()}
    scalars = _scalars(graph)
    shuffle_for: dict[int, int] = {}  # index of a DequantizeLinear -> index of the shuffle to run first
    for i, node in enumerate(nodes):
        j = producer.get(node.input[0]) if node.op_type == "DepthToSpace" else None
        if j is None:
            continue
        dequantize = nodes[j]
        if dequantize.op_type != "DequantizeLinear" or readers[dequantize.output[0]] != 1 or dequantize.input[1] not in scalars:
            continue
        quantized, shuffled = dequantize.input[0], node.output[0]
        node.input[0], node.output[0] = quantized, f"{quantized}_shuffled"
        dequantize.input[0], dequantize.output[0] = f"{quantized}_shuffled", shuffled
        shuffle_for[j] = i
    moved = set(shuffle_for.values())
    order = []
    for i, node in enumerate(nodes):
        if i in shuffle_for:
            order.append(nodes[shuffle_for[i]])
        if i not in moved:
            order.append(node)
    _replace_nodes(graph, order)
    return len(shuffle_for)


def quantize_before_moves(model: onnx.ModelProto) -> int:
    """Move each QuantizeLinear (with a per-tensor scale) that reads the end of a chain or tree of
    data movement back to where that movement's values come from, in place: one QuantizeLinear
    per tensor entering it, the movement done on uint8. Returns how many QuantizeLinears moved.

    Only movement whose results go nowhere else moves (a tensor also read in fp32 stays fp32). A
    constant pad must pad with 0, which becomes the zero point. On the tiny exemplar body these
    are the input concat, reflection pad and space-to-depth in front of the stem, the reflection
    pads in front of the residual blocks' convs and the phase head's re-indexing.
    """
    moved = 0
    while _move_one_quantize(model.graph):
        moved += 1
    return moved


def _data_inputs(node: onnx.NodeProto) -> list[int]:
    positions = MOVES[node.op_type]
    return [k for k in (range(len(node.input)) if positions is None else positions) if k < len(node.input) and node.input[k]]


def _pad_mode(node: onnx.NodeProto) -> bytes:
    return next((helper.get_attribute_value(a) for a in node.attribute if a.name == "mode"), b"constant")


def _pads_with_zero(node: onnx.NodeProto, scalars: dict[str, np.ndarray]) -> bool:
    """Whether a Pad node is safe on uint8: reflect or edge, or constant with the value 0."""
    if _pad_mode(node) != b"constant":
        return True
    if len(node.input) < 3 or not node.input[2]:
        return True
    value = scalars.get(node.input[2])
    return value is not None and float(value.reshape(())) == 0.0


def _region(nodes: list[onnx.NodeProto], quantize: int, producer: dict[str, int], readers: dict[str, list[int]],
            outputs: set[str], scalars: dict[str, np.ndarray]) -> set[int]:  # fmt: skip
    """The movement nodes upstream of node `quantize` whose results only it (or each other) read."""
    region: set[int] = set()
    stack = [nodes[quantize].input[0]]
    while stack:
        i = producer.get(stack.pop())
        if i is None or i in region or nodes[i].op_type not in MOVES:
            continue
        if nodes[i].op_type == "Pad" and not _pads_with_zero(nodes[i], scalars):
            continue
        region.add(i)
        stack.extend(nodes[i].input[k] for k in _data_inputs(nodes[i]))
    while True:  # drop nodes whose results are read outside; the nodes feeding them follow next round
        escaping = {
            i for i in region for name in nodes[i].output
            if name in outputs or any(r not in region and r != quantize for r in readers.get(name, []))
        }  # fmt: skip
        if not escaping:
            return region
        region -= escaping


def _move_one_quantize(graph: onnx.GraphProto) -> bool:
    nodes = list(graph.node)
    producer = _producers(nodes)
    readers = _readers(nodes)
    outputs = {output.name for output in graph.output}
    scalars = _scalars(graph)
    for q, node in enumerate(nodes):
        if node.op_type != "QuantizeLinear" or len(node.input) < 3 or not {node.input[1], node.input[2]} <= scalars.keys():
            continue
        region = _region(nodes, q, producer, readers, outputs, scalars)
        if producer.get(node.input[0]) not in region:
            continue
        _quantize_region(graph, nodes, q, region, producer)
        return True
    return False


def _quantize_region(graph: onnx.GraphProto, nodes: list[onnx.NodeProto], q: int, region: set[int], producer: dict[str, int]) -> None:
    quantize = nodes[q]
    scale, zero_point = quantize.input[1], quantize.input[2]
    taken = {name for n in nodes for name in (*n.input, *n.output)}
    quantized: dict[str, str] = {}  # fp32 tensor entering the region -> its uint8 copy
    inserted: dict[int, list[onnx.NodeProto]] = {}  # region node index -> QuantizeLinears to run before it
    for i in sorted(region):
        node = nodes[i]
        for k in _data_inputs(node):
            name = node.input[k]
            if producer.get(name) in region:
                continue
            if name not in quantized:
                quantized[name] = _fresh(f"{name}_uint8", taken)
                inserted.setdefault(i, []).append(helper.make_node("QuantizeLinear", [name, scale, zero_point], [quantized[name]]))
            node.input[k] = quantized[name]
        if node.op_type == "Pad" and _pad_mode(node) == b"constant":  # pads with 0: in uint8, the zero point
            if len(node.input) < 3:
                node.input.append(zero_point)
            else:
                node.input[2] = zero_point
    end = quantize.input[0]  # the region's result, now uint8: it takes the QuantizeLinear's output name
    for i in region:
        node = nodes[i]
        node.output[:] = [quantize.output[0] if name == end else name for name in node.output]
        node.input[:] = [quantize.output[0] if name == end else name for name in node.input]
    internal = {name for i in region for name in nodes[i].output}
    kept = [info for info in graph.value_info if info.name not in internal]  # their element type changed
    del graph.value_info[:]
    graph.value_info.extend(kept)
    order = []
    for i, node in enumerate(nodes):
        order.extend(inserted.get(i, []))
        if i != q:
            order.append(node)
    _replace_nodes(graph, order)


def _fresh(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        candidate, n = f"{name}_{n}", n + 1
    taken.add(candidate)
    return candidate


def _replace_nodes(graph: onnx.GraphProto, order: list[onnx.NodeProto]) -> None:
    copies = [onnx.NodeProto() for _ in order]
    for copy, node in zip(copies, order):
        copy.CopyFrom(node)  # the nodes belong to graph.node, which is cleared next
    del graph.node[:]
    graph.node.extend(copies)
