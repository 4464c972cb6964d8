"""`dance-export`'s work: a trained run -> an engines folder (graphs, plate, manifest.json).

The folder is written under a temporary name beside its destination and swapped in at the end,
so a failed export (a parity error, Ctrl-C) never leaves a half-written engines folder that live
would try to load.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import cv2
import onnx
import onnxruntime as ort
import torch
from torch import nn

from shared.errors import DanceError
from shared.runtime.manifest import (
    MANIFEST_NAME,
    EngineManifest,
    GraphEntry,
    TensorSpec,
    sha256_file,
)
from shared.runtime.loading import checkpoint_stamp
from shared.runtime.run_folder import EXEMPLARS_FILE, PLATE_FILE, RunFolder
from shared.runtime.tensorrt_plans import tensorrt_problem
from shared.runtime.trained import TrainedModel, load_trained

from export.fp16 import FP16_ATTEMPTS, convert_to_fp16
from export.int8 import INT8_MEAN_TOLERANCE, Int8Data, int8_data, quantize_int8, sequence_errors
from export.onnx_export import Rewrite, export_body, export_face, parity, reference_outputs
from export.parity import FP16_TOLERANCE, FP32_TOLERANCE, ParityCase, parity_cases
from export.rewrites import for_export, for_int8
from export.tensorrt import build_plans, require_tensorrt

EXPORT_BACKENDS = ("onnx", "tensorrt", "auto")
DEFAULT_OPSET = 17
MIN_OPSET = 13  # the first with the Pad / Slice forms these graphs use as inputs


@dataclass(frozen=True)
class ExportOptions:
    fp16: bool = False
    int8: bool = False  # also int8 graphs for CPUs (see export.int8)
    backend: str = "auto"  # "onnx": ONNX graphs only; "tensorrt": also TensorRT plans (needs CUDA); "auto": plans when possible
    opset: int = DEFAULT_OPSET

    def __post_init__(self) -> None:
        if self.backend not in EXPORT_BACKENDS:
            raise DanceError(f"unknown export backend {self.backend!r}; choose one of {', '.join(EXPORT_BACKENDS)}")
        if self.opset < MIN_OPSET:
            raise DanceError(f"--opset {self.opset} is too old: these graphs need opset {MIN_OPSET} or newer (default {DEFAULT_OPSET})")


def _versions() -> dict[str, str]:
    try:
        dancenow = importlib.metadata.version("dancenow")
    except importlib.metadata.PackageNotFoundError:
        dancenow = "unknown"
    return {"dancenow": dancenow, "torch": torch.__version__, "onnx": onnx.__version__, "onnxruntime": ort.__version__}


def _check_destination(out: Path) -> None:
    """Only an empty folder or an earlier engines folder may be replaced."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MANIFEST_NAME).is_file())):
        raise DanceError(f"{out} exists and is not an engines folder; choose another -o (nothing was overwritten)")


def _format(errors: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:.2g}" for name, value in errors.items())


class _Exporter:
    """One export: writes graphs into `folder` and collects their manifest entries."""

    def __init__(self, folder: Path, options: ExportOptions, cases: list[ParityCase], log: Callable[[str], None]) -> None:
        self.folder = folder
        self.options = options
        self.cases = cases
        self.log = log
        self.graphs: list[GraphEntry] = []
        self.references: dict[str, dict] = {}  # role -> case -> the torch output every graph must match

    def _cases(self, role: str) -> dict[str, dict]:
        return {case.name: case.body if role == "body" else case.face for case in self.cases}

    def fp32(self, role: str, export: Callable[[Path], nn.Module]) -> nn.Module:
        """Export with `export(path)` (which returns the torch reference), check parity, record it."""
        path = self.folder / f"{role}.onnx"
        self.log(f"{role}: exporting to ONNX (opset {self.options.opset}), checking, slimming")
        reference = export(path)
        self.references[role] = reference_outputs(reference, self._cases(role))
        errors = parity(path, self._cases(role), self.references[role])
        if max(errors.values()) > FP32_TOLERANCE:
            raise DanceError(f"{role}: the fp32 ONNX graph differs from torch by {max(errors.values()):.3g} (> {FP32_TOLERANCE:g}): {_format(errors)}")
        self.log(f"{role}: fp32 parity (max abs error) {_format(errors)}")
        self._add(role, "fp32", path, errors, ())
        return reference

    def fp16(self, role: str) -> None:
        src, dst = self.folder / f"{role}.onnx", self.folder / f"{role}.fp16.onnx"
        tried = []
        for keep in FP16_ATTEMPTS:
            convert_to_fp16(src, dst, keep)
            errors = parity(dst, self._cases(role), self.references[role])
            tried.append(f"{'+'.join(keep) or 'nothing'} in fp32: {max(errors.values()):.3g}")
            if max(errors.values()) <= FP16_TOLERANCE:
                kept = f" ({', '.join(keep)} kept in fp32)" if keep else ""
                self.log(f"{role}: fp16 parity {_format(errors)}{kept}")
                self._add(role, "fp16", dst, errors, keep)
                return
        dst.unlink(missing_ok=True)
        raise DanceError(f"{role}: no fp16 graph within {FP16_TOLERANCE:g} of torch ({'; '.join(tried)}); export without --fp16")

    def int8(self, role: str, data: Int8Data, export: Callable[[Path], nn.Module]) -> None:
        """Export the graph int8 starts from with `export(path)` (export.rewrites.for_int8), quantize
        it (calibrated on every other frame of `data`), then check it on all of them, the body fed its
        own frames; too far from torch is an error, as a parity failure is."""
        dst = self.folder / f"{role}.int8.onnx"
        feeds, outputs = (data.body_feeds, data.body_outputs) if role == "body" else (data.face_feeds, data.face_outputs)
        with tempfile.TemporaryDirectory(dir=self.folder) as tmp:
            src = Path(tmp) / f"{role}.for-int8.onnx"
            export(src)
            quantize_int8(src, dst, feeds[::2])
        errors = parity(dst, self._cases(role), self.references[role]) | sequence_errors(dst, feeds, outputs, role == "body")
        if errors["sequence mean"] > INT8_MEAN_TOLERANCE:
            dst.unlink()
            raise DanceError(f"{role}: the int8 graph is too far from torch (mean error {errors['sequence mean']:.3g} > "
                             f"{INT8_MEAN_TOLERANCE:g} over {len(feeds)} real frames); export without --int8")
        self.log(f"{role}: int8 abs error against torch {_format(errors)} (max unless said; sequence: {len(feeds)} real frames)")
        self._add(role, "int8", dst, errors, ())

    def _add(self, role: str, precision: str, path: Path, errors: dict[str, float], keep: tuple[str, ...]) -> None:
        model = onnx.load(str(path), load_external_data=False)
        shapes = {v.name: tuple(d.dim_value for d in v.type.tensor_type.shape.dim) for v in [*model.graph.input, *model.graph.output]}
        inputs = tuple(TensorSpec(v.name, shapes[v.name]) for v in model.graph.input)
        outputs = tuple(TensorSpec(v.name, shapes[v.name]) for v in model.graph.output)
        self.graphs.append(GraphEntry(role, precision, path.name, inputs, outputs, errors, keep))


def export_model(model: TrainedModel, folder: Path, options: ExportOptions, source: dict,
                 log: Callable[[str], None] = lambda _: None) -> EngineManifest:  # fmt: skip
    """Write graphs, plate and manifest for `model` into the existing empty `folder`."""
    config = model.config
    cases, origin = parity_cases(model)
    log(f"parity inputs: random, and a real label from {origin}")
    exporter = _Exporter(folder, options, cases, log)
    composites = config.generator.composite
    exports: dict[str, Callable[[Path, Rewrite], nn.Module]] = {  # role -> export(path, rewrite), returning the torch module
        "body": lambda path, rewrite: export_body(model.generator, composites, config.image_size, path, options.opset, rewrite,
                                                  label_nc=config.generator.label_nc)
    }
    if model.face_generator is not None:
        exports["face"] = lambda path, rewrite: export_face(model.face_generator, config.face.box_size, path, options.opset, rewrite)
    modules = {role: exporter.fp32(role, partial(export, rewrite=for_export)) for role, export in exports.items()}
    if options.fp16:
        for role in modules:
            exporter.fp16(role)
    if options.int8:
        data = int8_data(model)
        log(f"int8: calibrating on real labels from {data.origin}")
        for role, export in exports.items():
            exporter.int8(role, data, partial(export, rewrite=for_int8))
    plate = None
    if composites:
        plate = PLATE_FILE
        cv2.imwrite(str(folder / plate), cv2.cvtColor(model.plate_image, cv2.COLOR_RGB2BGR))
    exemplars = None
    if model.exemplars is not None:
        exemplars = EXEMPLARS_FILE
        model.exemplars.save(folder / exemplars)
    files = {g.file: sha256_file(folder / g.file) for g in exporter.graphs}
    for name in (plate, exemplars):
        if name:
            files[name] = sha256_file(folder / name)
    manifest = EngineManifest(
        precision="fp16" if options.fp16 else "fp32",
        opset=options.opset,
        schema_tag=model.schema_tag,
        image_size=tuple(config.image_size),
        face_box_size=config.face.box_size,
        temporal=config.temporal,
        composite=composites,
        fps=model.fps,
        norm_stats=model.norm_stats,
        graphs=tuple(exporter.graphs),
        files=files,
        plate=plate,
        exemplars=exemplars,
        versions=_versions(),
        source=source,
    )
    manifest.save(folder)
    log(f"manifest written: {len(exporter.graphs)} graph(s), {manifest.precision}")
    problem = tensorrt_problem()
    if options.backend != "onnx" and problem is None:
        build_plans(folder, manifest, modules, cases, log)
    elif options.backend == "auto" and options.fp16:
        log(f"note: {problem}; wrote fp16 ONNX graphs for onnxruntime instead of TensorRT engines")
    return manifest


def export_run(run_dir: str | Path, engines_dir: str | Path | None = None, options: ExportOptions = ExportOptions(),
               log: Callable[[str], None] = lambda _: None) -> tuple[Path, EngineManifest]:  # fmt: skip
    """Export a run's latest checkpoint into `engines_dir` (default RUN/engines); returns the folder
    and its manifest. Parity failures, a missing run or a bad destination are DanceErrors."""
    if options.backend == "tensorrt":
        require_tensorrt()
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DanceError(f"{run_dir}: no such run folder")
    run = RunFolder(run_dir)
    out = Path(engines_dir) if engines_dir is not None else run.engines
    _check_destination(out)
    model = load_trained(run_dir)
    checkpoint = run.store().latest()
    progress = model.info.get("progress", {})
    config = model.config
    width, height = config.image_size
    log(
        f"exporting {run_dir} ({checkpoint.name}, {config.name} {width}x{height}"
        f"{', compositing' if config.generator.composite else ''}{', face' if model.face_generator else ''})"
    )
    source = {"run": str(run_dir.resolve()), **checkpoint_stamp(checkpoint), "checkpoint_sha256": sha256_file(checkpoint),
              "step": progress.get("total_step")}  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.partial-"))
    tmp.chmod(0o755)  # mkdtemp's private 0700 would survive the rename
    try:
        manifest = export_model(model, tmp, options, source, log)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out, manifest
