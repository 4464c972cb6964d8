"""Torch generators to checked, slimmed ONNX graphs with static shapes, and their parity with torch.

The body graph folds the compositing in (frame = alpha * rgb + (1 - alpha) * plate, the plate an
input), so every runtime backend has one call shape and `set_plate` only swaps an input. The
TorchScript exporter (`dynamo=False`) is used: it needs no onnxscript, and these networks are
plain convolution stacks that it exports exactly.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import Tensor, nn

from export.rewrites import for_export
from shared.model.compositing import composite
from shared.errors import DanceError
from shared.runtime.manifest import BODY_INPUTS, BODY_OUTPUT, FACE_INPUTS, FACE_OUTPUT
from shared.io.onnxruntime_options import session_options


class BodyGraph(nn.Module):
    """(label, prev[, plate]) -> frame: the body generator with its compositing inside the graph."""

    def __init__(self, generator: nn.Module, composites: bool) -> None:
        super().__init__()
        self.generator = generator
        self.composites = composites

    def forward(self, label: Tensor, prev: Tensor, plate: Tensor | None = None) -> Tensor:
        return composite(self.generator(label, prev), plate if self.composites else None)


def body_inputs(composites: bool) -> tuple[str, ...]:
    return BODY_INPUTS if composites else BODY_INPUTS[:2]


def _strip_unused_opsets(model: onnx.ModelProto) -> None:
    """onnxruntime's optimizer declares all its domains; keep the default one and those used."""
    used = {node.domain for node in model.graph.node}
    keep = [op for op in model.opset_import if op.domain in ("", "ai.onnx") or op.domain in used]
    del model.opset_import[:]
    model.opset_import.extend(keep)


def slim(path: Path) -> None:
    """Fold constants and drop redundant nodes in place (onnxruntime's provider-independent basic
    level): the exporter's reflection-pad arithmetic becomes plain Pad nodes, which TensorRT's
    parser and a person reading the graph both prefer. Keeps the original if that fails."""
    slimmed = path.with_name(path.stem + ".slim.onnx")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(slimmed)
    try:
        ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        model = onnx.load(str(slimmed))
        _strip_unused_opsets(model)
        onnx.checker.check_model(model)
        onnx.save(model, str(path))
    except Exception:  # noqa: BLE001 - slimming is an optimisation: the checked original stays
        pass
    finally:
        slimmed.unlink(missing_ok=True)


def export_graph(module: nn.Module, example: dict[str, Tensor], output: str, path: Path, opset: int) -> None:
    """Export `module(**example)` to `path` (static shapes), run the ONNX checker, slim it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes about static shapes: static is what we want
            torch.onnx.export(
                module.eval(),
                tuple(example.values()),
                str(path),
                input_names=list(example),
                output_names=[output],
                opset_version=opset,
                dynamo=False,
                do_constant_folding=True,
            )
    except (RuntimeError, ValueError, torch.onnx.errors.OnnxExporterError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise DanceError(f"ONNX export at opset {opset} failed ({first}); try the default --opset 17") from None
    try:
        onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as err:
        raise DanceError(f"the exported graph {path.name} fails the ONNX checker: {err}") from None
    slim(path)


Rewrite = Callable[[nn.Module], nn.Module]  # export.rewrites: for_export (fp32 graphs) or for_int8


def export_body(generator: nn.Module, composites: bool, image_size: tuple[int, int], path: Path, opset: int,
                rewrite: Rewrite = for_export, label_nc: int = 3) -> BodyGraph:  # fmt: skip
    """Export the body graph (its layers rewritten by `rewrite`); returns the torch module it must
    match (the parity reference). `label_nc`: 3, or 7 when the label carries a warped exemplar."""
    width, height = image_size
    example = {name: torch.zeros(1, label_nc if name == "label" else 3, height, width) for name in body_inputs(composites)}
    export_graph(BodyGraph(rewrite(generator), composites), example, BODY_OUTPUT, path, opset)
    return BodyGraph(generator, composites).eval()


def export_face(face_generator: nn.Module, box_size: int, path: Path, opset: int, rewrite: Rewrite = for_export) -> nn.Module:
    example = {name: torch.zeros(1, 3, box_size, box_size) for name in FACE_INPUTS}
    export_graph(rewrite(face_generator), example, FACE_OUTPUT, path, opset)
    return face_generator.eval()


@torch.no_grad()
def reference_outputs(module: nn.Module, cases: dict[str, dict[str, Tensor]]) -> dict[str, np.ndarray]:
    """The torch module's output for each named case: what every graph of it must match."""
    return {name: module(**feeds).numpy() for name, feeds in cases.items()}


def parity(path: Path, cases: dict[str, dict[str, Tensor]], references: dict[str, np.ndarray]) -> dict[str, float]:
    """Largest |onnxruntime - torch| over the output for each named case (on the CPU)."""
    session = ort.InferenceSession(str(path), session_options(), providers=["CPUExecutionProvider"])
    errors = {}
    for name, feeds in cases.items():
        got = session.run(None, {key: t.numpy() for key, t in feeds.items()})[0].astype(np.float32)
        errors[name] = float(np.abs(got - references[name]).max())
    return errors
