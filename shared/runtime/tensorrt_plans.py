"""TensorRT: plans built from the exported ONNX graphs for this GPU, cached in the engines folder.

A plan only runs on the GPU model and TensorRT version that built it, for the graph it was built
from. So each plan sits beside a stamp (`<plan>.json`) that records the key it was built for and
the sha256 of its bytes; a plan whose stamp does not match (another GPU, another TensorRT, a
re-export, a truncated file) is rebuilt, never loaded. `dance-export` builds the plans ahead
(export/tensorrt.py) so live does not wait minutes for the first build; live rebuilds them here.

Everything that needs the `tensorrt` package imports it inside the function: on a machine
without CUDA or TensorRT this module still imports, and `tensorrt_problem()` says why the backend
cannot run, which both `dance-export --backend tensorrt` and `load_engine(..., "tensorrt")` show.

    engines/tensorrt/body.fp16.plan        the serialized plan (fp16: the fp32 graph built with FP16)
    engines/tensorrt/body.fp16.plan.json   its stamp: key, gpu, tensorrt, model_sha256, precision, plan_sha256
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from torch import Tensor

from shared.errors import DanceError
from shared.io.files import write_bytes_atomic, write_text_atomic
from shared.runtime.manifest import TENSORRT_CACHE, EngineManifest, GraphEntry, sha256_file

TENSORRT_NEEDS = "TensorRT needs an NVIDIA GPU with CUDA and the tensorrt package (pip install -e '.[gpu]')"


def tensorrt_problem() -> str | None:
    """Why TensorRT cannot run on this machine, or None when it can."""
    if not torch.cuda.is_available():
        return f"{TENSORRT_NEEDS}; this machine has no CUDA device"
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return f"{TENSORRT_NEEDS}; the tensorrt package is not installed"
    return None


def gpu_name(device: torch.device) -> str:
    props = torch.cuda.get_device_properties(device)
    return f"{props.name} sm{props.major}{props.minor}"


def tensorrt_cache_key(gpu: str, tensorrt_version: str, model_sha256: str, precision: str) -> str:
    """A plan only runs on the GPU model and TensorRT version that built it, for the graph it was
    built from: anything else must be rebuilt, never loaded."""
    return hashlib.sha256("\n".join((gpu, tensorrt_version, model_sha256, precision)).encode()).hexdigest()[:24]


def plan_path(folder: Path, role: str, precision: str) -> Path:
    return folder / TENSORRT_CACHE / f"{role}.{precision}.plan"


def stamp_path(plan: Path) -> Path:
    """The plan's stamp: what it was built for (`stamp_plan`), plus dance-export's parity."""
    return plan.with_name(plan.name + ".json")


def cached_plan_matches(plan: Path, key: str) -> bool:
    """The cached plan was built for `key` and its bytes are the ones that build wrote."""
    try:
        stamp = json.loads(stamp_path(plan).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(stamp, dict) and plan.is_file() and stamp.get("key") == key and stamp.get("plan_sha256") == sha256_file(plan)


def stamp_plan(plan: Path, key: str, parts: dict[str, str]) -> None:
    """Record what a freshly built plan is for (read by `cached_plan_matches`)."""
    stamp = {"key": key, **parts, "plan_sha256": sha256_file(plan)}
    write_text_atomic(stamp_path(plan), json.dumps(stamp, indent=2) + "\n")


def build_tensorrt_plan(onnx_path: Path, plan: Path, fp16: bool) -> None:
    """Parse the ONNX graph with TensorRT's parser and write a serialized plan (minutes for `paper`)."""
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    major = int(trt.__version__.split(".")[0])
    flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH) if major < 10 else 0  # explicit batch is the only mode from 10 on
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise DanceError(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 2 << 30)
    if hasattr(trt.BuilderFlag, "TF32"):
        config.clear_flag(trt.BuilderFlag.TF32)  # fp32 plans must match torch within 1e-4
    if fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise DanceError(f"TensorRT could not build a plan for {onnx_path} (see its log above)")
    plan.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(plan, bytes(serialized))


def ensure_tensorrt_plan(folder: Path, manifest: EngineManifest, role: str, precision: str, device: torch.device) -> Path:
    """The cached plan for this GPU, TensorRT version and graph; (re)built when it does not match."""
    import tensorrt as trt

    entry = manifest.graph(role, "fp32")  # plans are built from the fp32 graph; fp16 is a builder flag
    if entry is None:
        raise DanceError(f"{folder}: no fp32 {role} graph to build a TensorRT plan from; re-export with `dance-export`")
    parts = {"gpu": gpu_name(device), "tensorrt": trt.__version__, "model_sha256": manifest.files[entry.file], "precision": precision}
    key = tensorrt_cache_key(parts["gpu"], parts["tensorrt"], parts["model_sha256"], precision)
    plan = plan_path(folder, role, precision)
    if not cached_plan_matches(plan, key):
        build_tensorrt_plan(folder / entry.file, plan, fp16=precision == "fp16")
        stamp_plan(plan, key, parts)
    return plan


class TensorRTGraph:
    """A TensorRT plan run on torch's current CUDA stream with torch tensors as its buffers.

    Inputs are made contiguous fp32 on the device and bound by address; the output is a fresh
    tensor per call, so a returned frame is never overwritten by a later call. The runtime is
    kept: a deserialized engine must not outlive it.
    """

    def __init__(self, plan: Path, entry: GraphEntry, device: torch.device) -> None:
        import tensorrt as trt

        self.entry = entry
        self.device = device
        self.runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        with torch.cuda.device(device):
            self.engine = self.runtime.deserialize_cuda_engine(plan.read_bytes())
            if self.engine is None:
                raise DanceError(f"{plan}: TensorRT cannot load this plan; delete it so it is rebuilt")
            self.context = self.engine.create_execution_context()
        self.inputs = {spec.name: spec.shape for spec in entry.inputs}
        self.output = entry.outputs[0]
        self.providers = ["TensorRT " + trt.__version__]

    def __call__(self, **inputs: Tensor) -> Tensor:
        keep = []  # the bound tensors must outlive the enqueue
        for name, shape in self.inputs.items():
            tensor = inputs[name].detach().to(self.device, torch.float32).contiguous()
            if tuple(tensor.shape) != shape:
                raise ValueError(f"{name} is {tuple(tensor.shape)} but the {self.entry.role} plan takes {shape}")
            keep.append(tensor)
            self.context.set_tensor_address(name, tensor.data_ptr())
        out = torch.empty(self.output.shape, device=self.device, dtype=torch.float32)
        self.context.set_tensor_address(self.output.name, out.data_ptr())
        if not self.context.execute_async_v3(torch.cuda.current_stream(self.device).cuda_stream):
            raise RuntimeError(f"TensorRT failed to run the {self.entry.role} plan")
        return out
