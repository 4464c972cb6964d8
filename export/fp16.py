"""fp16 ONNX graphs with fp32 inputs and outputs, for onnxruntime on a GPU (or wherever TensorRT is absent).

Weights and activations go to fp16; Cast nodes at the edges keep the graph's interface fp32, so the
runtime feeds it exactly like the fp32 graph. Numerically fragile ops can stay fp32: instance
normalization (exported as means, a square root and a division, see export.onnx_export) sums whole
feature maps, which can lose precision in fp16. `FP16_ATTEMPTS` is tried in order and the exporter
keeps the first that passes parity, so fp32 islands appear only where they are needed.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import onnx

FP16_ATTEMPTS: tuple[tuple[str, ...], ...] = (
    (),
    ("ReduceMean", "Sqrt", "Div"),  # the normalization statistics in fp32
    ("ReduceMean", "Sqrt", "Div", "Sub", "Mul", "Add", "InstanceNormalization"),  # all elementwise math in fp32
)


def convert_to_fp16(src: Path, dst: Path, keep_fp32: tuple[str, ...] = ()) -> None:
    """Write an fp16 copy of the fp32 graph `src` to `dst`, keeping the ops in `keep_fp32` fp32."""
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # notes about weights clamped to the fp16 range
        model = convert_float_to_float16(
            onnx.load(str(src)), keep_io_types=True, op_block_list=list(DEFAULT_OP_BLOCK_LIST) + list(keep_fp32)
        )
    _sort_topologically(model.graph)
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))


def _sort_topologically(graph: onnx.GraphProto) -> None:
    """The converter appends its input Casts at the end; ONNX wants producers before consumers."""
    ready = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        runnable = [n for n in pending if all(name in ready for name in n.input)]
        if not runnable:
            raise ValueError("the fp16 graph has a cycle or an input nobody produces")
        for node in runnable:
            ordered.append(node)
            ready.update(node.output)
        pending = [n for n in pending if n not in runnable]
    del graph.node[:]
    graph.node.extend(ordered)
