"""The one inference seam: `load_engine(...)` gives an engine with one call shape for every backend.

    engine = load_engine("runs/target")           # a trained run, or an engines folder (dance-export)
    frame = engine.body(label, prev)                 # see shared.runtime.engine for the interface

Backends: `torch` (eager, from a run's checkpoint: the baseline; shared.runtime.torch_engine),
`onnxruntime` (the exported graphs on the CPU, CUDA or TensorRT execution provider;
shared.runtime.onnx_graph), `tensorrt` (TensorRT plans built from the ONNX graph for this GPU,
cached in the engines folder; shared.runtime.tensorrt_plans). This module picks the backend and
precision for a folder and device, and checks the folder's files before any of them is run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnxruntime as ort
import torch

from shared.errors import DanceError
from shared.runtime.engine import BACKENDS, Engine, resolve_device
from shared.runtime.graph_engine import GraphEngine
from shared.runtime.manifest import MANIFEST_NAME, TENSORRT_CACHE, EngineManifest, GraphEntry
from shared.runtime.onnx_graph import OrtGraph, ort_providers
from shared.runtime.run_folder import RunFolder, is_engines_folder
from shared.runtime.tensorrt_plans import TensorRTGraph, ensure_tensorrt_plan, gpu_name, tensorrt_cache_key, tensorrt_problem
from shared.runtime.torch_engine import TorchEngine
from shared.runtime.trained import load_trained


def _preferred_precision(manifest: EngineManifest, device: torch.device) -> str:
    """fp16 on a GPU when exported; on a CPU int8 when exported (`dance-export --int8`: about 1.7x
    faster than fp32 there), never fp16 (the CPU provider casts around most ops: slower, less exact)."""
    if device.type == "cuda":
        return "fp16" if manifest.graph("body", "fp16") else "fp32"
    return "int8" if manifest.graph("body", "int8") else "fp32"


def _onnxruntime_engine(folder: Path, manifest: EngineManifest, backend: str, device: torch.device,
                        threads: int | None) -> GraphEngine:  # fmt: skip
    forced = {"onnxruntime-fp32": "fp32", "onnxruntime-fp16": "fp16", "onnxruntime-int8": "int8"}.get(backend)
    precision = forced or _preferred_precision(manifest, device)
    body_entry = manifest.graph("body", precision)
    if body_entry is None:
        raise DanceError(f"{folder} holds no {precision} graphs (it has {manifest.precisions()}); export with `dance-export --{precision}`")
    face_entry = manifest.graph("face", precision)
    entries = [body_entry] + ([face_entry] if face_entry else [])
    manifest.verify_files(folder, [e.file for e in entries] + manifest.extra_files())

    def open_graph(entry: GraphEntry) -> OrtGraph:
        trt_cache = None  # onnxruntime's TensorRT provider caches its engines per GPU, version and graph too
        if device.type == "cuda" and "TensorrtExecutionProvider" in ort.get_available_providers():
            parts = (gpu_name(device), "ort-" + ort.__version__, manifest.files[entry.file], precision)
            trt_cache = folder / TENSORRT_CACHE / ("ort-" + tensorrt_cache_key(*parts))
            trt_cache.mkdir(parents=True, exist_ok=True)
        providers = ort_providers(device, trt_cache, fp16=precision == "fp16")
        return OrtGraph(folder / entry.file, entry, device, providers, threads)

    face = open_graph(face_entry) if face_entry else None
    return GraphEngine(manifest, folder, open_graph(body_entry), face, "onnxruntime", device, precision)


def _tensorrt_engine(folder: Path, manifest: EngineManifest, device: torch.device) -> GraphEngine:
    """Plans for the manifest's precision, built from the fp32 graphs (cached; see tensorrt_plans)."""
    problem = tensorrt_problem()
    if problem:
        raise DanceError(problem)
    if device.type != "cuda":
        raise DanceError("the tensorrt backend runs on a CUDA device; pass device cuda (or auto)")
    precision = manifest.precision
    roles = ["body"] + (["face"] if manifest.graph("face", "fp32") else [])
    entries = {role: manifest.graph(role, "fp32") for role in roles}
    manifest.verify_files(folder, [e.file for e in entries.values() if e] + manifest.extra_files())
    graphs = {role: TensorRTGraph(ensure_tensorrt_plan(folder, manifest, role, precision, device), entries[role], device) for role in roles}
    return GraphEngine(manifest, folder, graphs["body"], graphs.get("face"), "tensorrt", device, precision)


def _load_engines(folder: Path, backend: str, device: torch.device, threads: int | None) -> Engine:
    manifest = EngineManifest.load(folder)
    if backend == "auto":
        backend = "tensorrt" if device.type == "cuda" and tensorrt_problem() is None else "onnxruntime"
    if backend == "tensorrt":
        return _tensorrt_engine(folder, manifest, device)
    if backend == "torch":
        run = manifest.source.get("run")
        if not run or not RunFolder(Path(run)).is_trained():
            raise DanceError(f"the torch backend needs the training run this was exported from ({run}), which is not here")
        return TorchEngine(load_trained(run), device)
    return _onnxruntime_engine(folder, manifest, backend, device, threads)


def checkpoint_stamp(path: Path) -> dict[str, Any]:
    """What identifies the checkpoint an export came from (dance-export records it in the manifest)."""
    return {"checkpoint": path.name, "checkpoint_bytes": path.stat().st_size}


def fresh_engines(run_dir: Path) -> Path | None:
    """RUN/engines when it was exported from the run's latest checkpoint, else None (stale or absent).

    A corrupt manifest there is an error rather than a silent fall-back to the slow torch path.
    """
    run = RunFolder(Path(run_dir))
    if not is_engines_folder(run.engines):
        return None
    latest = run.store().latest()
    manifest = EngineManifest.load(run.engines)
    if latest is None or any(manifest.source.get(k) != v for k, v in checkpoint_stamp(latest).items()):
        return None
    return run.engines


def available_backends(source: str | Path, device: str | torch.device = "cpu") -> list[str]:
    """The backends `load_engine(source, backend, device)` can run here, fastest last."""
    source, dev = Path(source), resolve_device(device)
    run = source if RunFolder(source).is_trained() else None
    engines = fresh_engines(source) if run else (source if is_engines_folder(source) else None)
    found: list[str] = []
    if engines is not None:
        manifest = EngineManifest.load(engines)
        run = run or (Path(manifest.source["run"]) if manifest.source.get("run") else None)
        found += [f"onnxruntime-{p}" for p in manifest.precisions()]
        if dev.type == "cuda" and tensorrt_problem() is None:
            found.append("tensorrt")
    if run is not None and RunFolder(run).is_trained():
        found.insert(0, "torch")
    return found


def load_engine(source: str | Path, backend: str = "auto", device: str = "cpu", threads: int | None = None) -> Engine:
    """An engine for a trained run folder or an exported engines folder (see export/).

    backend: "torch" (eager, from the run's checkpoint), "onnxruntime" (the fp16 graphs on a GPU when
    exported with --fp16, the int8 ones on a CPU when exported with --int8, else fp32),
    "onnxruntime-fp32", "onnxruntime-fp16", "onnxruntime-int8", "tensorrt" (CUDA only),
    or "auto": the fastest present for `device`: tensorrt, then onnxruntime, then torch. A run folder
    whose `engines/` was exported from its latest checkpoint runs those engines.
    device: "cpu", "cuda", "cuda:N", or "auto" (CUDA when present).
    threads: intra-op CPU threads of onnxruntime graphs (default: as many as torch uses).
    """
    source = Path(source)
    if backend not in BACKENDS:
        raise DanceError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if not source.exists():
        raise DanceError(f"{source}: no such run or engines folder")
    dev = resolve_device(device)
    if is_engines_folder(source):
        return _load_engines(source, backend, dev, threads)
    if RunFolder(source).is_trained():
        engines = None if backend == "torch" else fresh_engines(source)
        if engines is not None:
            return _load_engines(engines, backend, dev, threads)
        if backend not in ("auto", "torch"):
            raise DanceError(
                f"{source} is a training run without engines exported from its latest checkpoint: only the torch "
                f"backend runs it; export it with `dance-export {source}` for {backend}"
            )
        return TorchEngine(load_trained(source), dev)
    raise DanceError(f"{source}: neither a training run (no checkpoints/) nor an engines folder (no {MANIFEST_NAME})")
