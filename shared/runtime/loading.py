"""The one inference seam: `load_engine(...)` gives an engine with one call shape for every backend.

    engine = load_engine("runs/target")           # a trained run, or an engines folder (dance-export)
    frame = engine.body(label, prev)                 # (1, 3, H, W): label in [0, 1], prev/frame in [-1, 1]
    frame = engine.add_face(frame, label, face_box)  # FaceGAN residual inside the face box (if trained)

`engine.info` carries everything live needs besides the networks: image size, skeleton schema,
the target's normalization statistics, face box size, whether feedback is used, the plate.
Compositing happens inside `body`, over the engine's current plate, which `set_plate` replaces
(`dance-live --background`), so callers never special-case compositing models.

Backends: `torch` (eager, from a run's checkpoint: the baseline), `onnxruntime` (the exported
graphs on the CPU, CUDA or TensorRT execution provider), `tensorrt` (TensorRT plans built from the
ONNX graph for this GPU, cached in the engines folder). Every engine takes and returns torch
tensors; on CUDA they stay on the device between calls, so the feedback frame never visits the host.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import onnxruntime as ort
import torch
from torch import Tensor

from shared.model.checkpoint import CheckpointStore
from shared.model.compositing import composite
from shared.io.tensors import image_to_tensor
from shared.errors import DanceError
from shared.io.onnxruntime_options import session_options
from shared.io.files import write_bytes_atomic
from shared.label.exemplar import ExemplarBank
from shared.model.config import EXEMPLAR_NC, IMAGE_NC
from shared.model.face_residual import add_face_residual
from shared.runtime.manifest import (
    MANIFEST_NAME,
    TENSORRT_CACHE,
    EngineManifest,
    GraphEntry,
    sha256_file,
)
from shared.normalize.stats import NormalizationStats
from shared.runtime.trained import TrainedModel, load_trained

ENGINES_DIR = "engines"  # where dance-export writes inside a run folder
BACKENDS = ("auto", "torch", "onnxruntime", "onnxruntime-fp32", "onnxruntime-fp16", "onnxruntime-int8", "tensorrt")
TENSORRT_NEEDS = "TensorRT needs an NVIDIA GPU with CUDA and the tensorrt package (pip install -e '.[gpu]')"


@dataclass(frozen=True)
class EngineInfo:
    image_size: tuple[int, int]  # (width, height) of labels and frames
    schema_tag: str
    temporal: bool  # feed the previous output back (False: always zeros)
    composite: bool  # the body generator outputs RGB + alpha over a plate
    has_face: bool
    face_box_size: int
    norm_stats: NormalizationStats  # the target's, for global pose normalization
    fps: float  # the target video's frame rate
    precision: str = "fp32"  # of the networks as run: "fp32" or "fp16"
    # The training frames to warp onto each pose (shared/label/exemplar.py), for models conditioned on
    # them; build the label input with shared.label.exemplar.conditioner_for(info.exemplars).
    exemplars: ExemplarBank | None = field(default=None, compare=False, repr=False)

    @property
    def label_nc(self) -> int:
        """Channels of the body's label input: the stick figure, plus the warped exemplar."""
        return IMAGE_NC + (EXEMPLAR_NC if self.exemplars is not None else 0)


class Engine(Protocol):
    """What every backend offers."""

    info: EngineInfo
    backend: str  # "torch", "onnxruntime", "tensorrt"

    def body(self, label: Tensor, prev: Tensor) -> Tensor: ...

    def add_face(self, frame: Tensor, label: Tensor, face_box: Tensor) -> Tensor: ...

    def set_plate(self, plate: np.ndarray | None) -> None: ...


def plate_tensor(image: np.ndarray, size: tuple[int, int], device: torch.device) -> Tensor:
    """HxWx3 uint8 RGB, resized to `size` (width, height) -> (1, 3, H, W) in [-1, 1] on `device`."""
    width, height = size
    if image.shape[:2] != (height, width):
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    return image_to_tensor(image).to(device)


def resolve_device(device: str | torch.device) -> torch.device:
    """"auto" is CUDA when torch sees a GPU, else the CPU; asking for CUDA without one is an error."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise DanceError(f"unknown device {device!r}; use cpu, cuda, cuda:N or auto") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise DanceError(f"device {device} asked for, but torch sees no CUDA GPU here; use cpu")
    return resolved


class PlateSwapping:
    """`set_plate` for every engine: each sets `info`, `device` and `trained_plate` (HxWx3 uint8 or None)."""

    info: EngineInfo
    device: torch.device
    trained_plate: np.ndarray | None
    plate: Tensor | None

    def set_plate(self, plate: np.ndarray | None) -> None:
        """Composite over `plate` (HxWx3 uint8 RGB, resized to the engine's size), or the trained plate."""
        if not self.info.composite:
            return
        self.plate = plate_tensor(self.trained_plate if plate is None else plate, self.info.image_size, self.device)


class TorchEngine(PlateSwapping):
    """Torch eager on a trained run: the paper's way of running the model (the baseline)."""

    backend = "torch"

    def __init__(self, model: TrainedModel, device: str | torch.device = "cpu") -> None:
        self.model = model
        self.device = torch.device(device)
        self.generator = model.generator.to(self.device).eval()
        self.face_generator = model.face_generator.to(self.device).eval() if model.face_generator else None
        config = model.config
        self.info = EngineInfo(
            image_size=tuple(config.image_size),
            schema_tag=model.schema_tag,
            temporal=config.temporal,
            composite=config.generator.composite,
            has_face=self.face_generator is not None,
            face_box_size=config.face.box_size,
            norm_stats=model.norm_stats,
            fps=model.fps,
            exemplars=model.exemplars,
        )
        self.trained_plate = model.plate_image
        self.plate: Tensor | None = None
        self.set_plate(None)

    @torch.inference_mode()
    def body(self, label: Tensor, prev: Tensor) -> Tensor:
        if not self.info.temporal:
            prev = torch.zeros_like(prev)
        return composite(self.generator(label.to(self.device), prev.to(self.device)), self.plate)

    @torch.inference_mode()
    def add_face(self, frame: Tensor, label: Tensor, face_box: Tensor) -> Tensor:
        if self.face_generator is None:
            return frame
        return add_face_residual(frame, label.to(self.device), face_box, self.face_generator)


# -- graph runners: one exported network, called with torch tensors ----------------------------

Graph = Callable[..., Tensor]  # graph(**named inputs) -> output; batch 1, static shapes


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def ort_providers(device: torch.device, trt_cache: Path | None = None, fp16: bool = False) -> list[Any]:
    """Execution providers for `device`, fastest first, among those this onnxruntime build has.

    On CUDA the providers run on torch's current stream, so graph outputs are ordered with the
    torch work around them without a host sync.
    """
    if device.type != "cuda":
        return ["CPUExecutionProvider"]
    available = ort.get_available_providers()
    index = device.index if device.index is not None else torch.cuda.current_device()
    stream = str(torch.cuda.current_stream(device).cuda_stream)
    chosen: list[Any] = []
    if "TensorrtExecutionProvider" in available and trt_cache is not None:
        trt_options = {
            "device_id": index,
            "trt_fp16_enable": fp16,
            "trt_engine_cache_enable": True,
            "trt_engine_cache_path": str(trt_cache),
            "user_compute_stream": stream,
        }
        chosen.append(("TensorrtExecutionProvider", trt_options))
    if "CUDAExecutionProvider" in available:
        chosen.append(("CUDAExecutionProvider", {"device_id": index, "user_compute_stream": stream}))
    return chosen + ["CPUExecutionProvider"]


def _check_interface(path: Path, session: ort.InferenceSession, entry: GraphEntry) -> None:
    """The graph takes and returns what the manifest says (another graph under this name, say the
    face graph as body.onnx, would otherwise fail at the first frame, deep in the pipeline)."""
    found = {v.name: tuple(v.shape) for v in session.get_inputs()}, {v.name: tuple(v.shape) for v in session.get_outputs()}
    listed = {s.name: s.shape for s in entry.inputs}, {s.name: s.shape for s in entry.outputs}
    if found != listed:
        raise DanceError(f"{path}: its inputs and outputs {found} are not the {entry.role} graph's {listed} from "
                         f"{MANIFEST_NAME}; re-export with `dance-export`")  # fmt: skip


class OrtGraph:
    """One ONNX graph in an onnxruntime session.

    On the CPU, torch tensors are handed over as numpy views (no copy). On CUDA the inputs and a
    fresh output tensor are bound in device memory (IO binding), so nothing crosses to the host
    and a returned frame is never overwritten by a later call.
    """

    def __init__(self, path: Path, entry: GraphEntry, device: torch.device, providers: list[Any] | None = None,
                 threads: int | None = None) -> None:  # fmt: skip
        self.entry = entry
        self.device = device
        try:
            self.session = ort.InferenceSession(str(path), session_options(threads), providers=providers or ort_providers(device))
        except Exception as err:  # onnxruntime has its own exception types (InvalidProtobuf, Fail, ...)
            raise DanceError(f"{path}: onnxruntime cannot load it ({_first_line(err)}); re-export with `dance-export`") from None
        self.providers = self.session.get_providers()
        self.inputs = {spec.name: spec.shape for spec in entry.inputs}
        self.output = entry.outputs[0]
        _check_interface(path, self.session, entry)
        self.bound = device.type == "cuda" and self.providers[0] != "CPUExecutionProvider"
        self._stream = torch.cuda.current_stream(device).cuda_stream if self.bound else None

    def __call__(self, **inputs: Tensor) -> Tensor:
        for name, shape in self.inputs.items():
            if tuple(inputs[name].shape) != shape:
                raise ValueError(f"{name} is {tuple(inputs[name].shape)} but the {self.entry.role} graph takes {shape}")
        if self.bound:
            return self._run_bound(inputs)
        feeds = {name: inputs[name].detach().to("cpu", torch.float32).contiguous().numpy() for name in self.inputs}
        (out,) = self.session.run([self.output.name], feeds)
        return torch.from_numpy(out).to(self.device)

    def _run_bound(self, inputs: dict[str, Tensor]) -> Tensor:
        binding = self.session.io_binding()
        index = self.device.index if self.device.index is not None else torch.cuda.current_device()
        keep = []  # the bound tensors must outlive the run
        for name in self.inputs:
            tensor = inputs[name].detach().to(self.device, torch.float32).contiguous()
            keep.append(tensor)
            binding.bind_input(name, "cuda", index, np.float32, tuple(tensor.shape), tensor.data_ptr())
        out = torch.empty(self.output.shape, device=self.device, dtype=torch.float32)
        binding.bind_output(self.output.name, "cuda", index, np.float32, tuple(out.shape), out.data_ptr())
        if torch.cuda.current_stream(self.device).cuda_stream != self._stream:
            torch.cuda.current_stream(self.device).synchronize()  # the caller switched streams since loading
        self.session.run_with_iobinding(binding)
        return out


# -- TensorRT: plans built from the ONNX graph for this GPU, cached beside it ------------------


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


def _stamp_path(plan: Path) -> Path:
    return plan.with_name(plan.name + ".json")


def cached_plan_matches(plan: Path, key: str) -> bool:
    """The cached plan was built for `key` and its bytes are the ones that build wrote."""
    try:
        stamp = json.loads(_stamp_path(plan).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(stamp, dict) and plan.is_file() and stamp.get("key") == key and stamp.get("plan_sha256") == sha256_file(plan)


def stamp_plan(plan: Path, key: str, parts: dict[str, str]) -> None:
    """Record what a freshly built plan is for (read by `cached_plan_matches`)."""
    stamp = {"key": key, **parts, "plan_sha256": sha256_file(plan)}
    _stamp_path(plan).write_text(json.dumps(stamp, indent=2) + "\n")


def build_tensorrt_plan(onnx_path: Path, plan: Path, fp16: bool) -> None:
    """Parse the ONNX graph with TensorRT's parser and write a serialized plan (minutes for `paper`)."""
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    major = int(trt.__version__.split(".")[0])
    flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH) if major < 10 else 0
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
    """A TensorRT plan run on torch's current CUDA stream with torch tensors as its buffers."""

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
        keep = []
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


# -- engines over exported graphs --------------------------------------------------------------


def read_plate(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DanceError(f"{path}: missing or unreadable plate image; re-export with `dance-export`")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


class _FaceCall:
    """Lets `add_face_residual` call a face graph like the torch FaceGenerator (crops one at a time,
    as the graph's batch is 1), so the crop / residual / paste math lives in one place."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph

    def __call__(self, label_crop: Tensor, image_crop: Tensor) -> Tensor:
        return torch.cat([self.graph(label_crop=lab[None], image_crop=img[None]) for lab, img in zip(label_crop, image_crop)])


class GraphEngine(PlateSwapping):
    """An exported model: the body graph (compositing inside it: the plate is an input) and the
    optional face graph, run by onnxruntime or TensorRT."""

    def __init__(self, manifest: EngineManifest, folder: Path, body: Graph, face: Graph | None, backend: str,
                 device: torch.device, precision: str) -> None:  # fmt: skip
        self.manifest = manifest
        self.folder = folder
        self.backend = backend
        self.device = device
        self.body_graph = body
        self.face_graph = face
        self.providers: list[str] = list(getattr(body, "providers", []))
        self.info = EngineInfo(
            image_size=manifest.image_size,
            schema_tag=manifest.schema_tag,
            temporal=manifest.temporal,
            composite=manifest.composite,
            has_face=face is not None,
            face_box_size=manifest.face_box_size,
            norm_stats=manifest.norm_stats,
            fps=manifest.fps,
            precision=precision,
            exemplars=ExemplarBank.load(folder / manifest.exemplars) if manifest.exemplars else None,
        )
        self.trained_plate = read_plate(folder / manifest.plate) if manifest.composite and manifest.plate else None
        self.plate: Tensor | None = None
        self.set_plate(None)

    @torch.inference_mode()
    def body(self, label: Tensor, prev: Tensor) -> Tensor:
        if not self.info.temporal:
            prev = torch.zeros_like(prev)
        frames = []
        for i in range(label.shape[0]):  # the graph's batch is 1
            feeds = {"label": label[i : i + 1], "prev": prev[i : i + 1]}
            if self.plate is not None:
                feeds["plate"] = self.plate
            frames.append(self.body_graph(**feeds))
        return frames[0] if len(frames) == 1 else torch.cat(frames)

    @torch.inference_mode()
    def add_face(self, frame: Tensor, label: Tensor, face_box: Tensor) -> Tensor:
        if self.face_graph is None:
            return frame
        return add_face_residual(frame, label.to(self.device), face_box, _FaceCall(self.face_graph))


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
        trt_cache = None
        if device.type == "cuda" and "TensorrtExecutionProvider" in ort.get_available_providers():
            parts = (gpu_name(device), "ort-" + ort.__version__, manifest.files[entry.file], precision)
            trt_cache = folder / TENSORRT_CACHE / ("ort-" + tensorrt_cache_key(*parts))
            trt_cache.mkdir(parents=True, exist_ok=True)
        providers = ort_providers(device, trt_cache, fp16=precision == "fp16")
        return OrtGraph(folder / entry.file, entry, device, providers, threads)

    face = open_graph(face_entry) if face_entry else None
    return GraphEngine(manifest, folder, open_graph(body_entry), face, "onnxruntime", device, precision)


def _tensorrt_engine(folder: Path, manifest: EngineManifest, device: torch.device) -> GraphEngine:
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
        if not run or not (Path(run) / "checkpoints").is_dir():
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
    engines = Path(run_dir) / ENGINES_DIR
    if not (engines / MANIFEST_NAME).is_file():
        return None
    latest = CheckpointStore(Path(run_dir) / "checkpoints").latest()
    manifest = EngineManifest.load(engines)
    if latest is None or any(manifest.source.get(k) != v for k, v in checkpoint_stamp(latest).items()):
        return None
    return engines


def available_backends(source: str | Path, device: str | torch.device = "cpu") -> list[str]:
    """The backends `load_engine(source, backend, device)` can run here, fastest last."""
    source, dev = Path(source), resolve_device(device)
    run = source if (source / "checkpoints").is_dir() else None
    engines = fresh_engines(source) if run else (source if (source / MANIFEST_NAME).is_file() else None)
    found: list[str] = []
    if engines is not None:
        manifest = EngineManifest.load(engines)
        run = run or (Path(manifest.source["run"]) if manifest.source.get("run") else None)
        found += [f"onnxruntime-{p}" for p in manifest.precisions()]
        if dev.type == "cuda" and tensorrt_problem() is None:
            found.append("tensorrt")
    if run is not None and (run / "checkpoints").is_dir():
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
    if (source / MANIFEST_NAME).is_file():
        return _load_engines(source, backend, dev, threads)
    if (source / "checkpoints").is_dir():
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
