"""The engines folder's `manifest.json`: all that live needs to run an exported model.

`dance-export` writes it last, beside the graphs; `shared.runtime.loading` reads it. It lists every file
with its sha256, so a truncated, corrupted or swapped file is caught with a clear message before
onnxruntime sees it, and it carries the target's metadata (skeleton schema, sizes, normalization
statistics, fps, the background plate) so live never opens the training run.

    engines/
      manifest.json      this file
      body.onnx          (label, prev[, plate]) -> frame, fp32
      body.fp16.onnx     the same in fp16 with fp32 inputs and outputs (with --fp16)
      face.onnx          (label_crop, image_crop) -> residual (when the run trained FaceGAN)
      face.fp16.onnx
      plate.png          the background plate (compositing models)
      exemplars.npz      training frames to warp onto each pose (exemplar models, shared/label/exemplar/)
      tensorrt/          TensorRT plans, built per GPU and cached (see shared.runtime.tensorrt_plans)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.errors import DanceError
from shared.io.files import write_text_atomic
from shared.normalize.stats import NormalizationStats
from shared.pose.schema import get_schema

MANIFEST_NAME = "manifest.json"
FORMAT = "dancenow-engines"
FORMAT_VERSION = 1
ROLES = ("body", "face")
PRECISIONS = ("fp32", "fp16", "int8")
TENSORRT_CACHE = "tensorrt"  # folder of per-GPU TensorRT plans inside the engines folder

# The graphs' interface, shared by the exporter and the runtime.
BODY_INPUTS = ("label", "prev", "plate")  # label in [0, 1]; prev and plate in [-1, 1]; plate only when compositing
BODY_OUTPUT = "frame"  # in [-1, 1], composited over the plate inside the graph
FACE_INPUTS = ("label_crop", "image_crop")
FACE_OUTPUT = "residual"  # added to image_crop by shared.model.face_residual


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class TensorSpec:
    """One graph input or output; shapes are static (batch 1)."""

    name: str
    shape: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TensorSpec:
        return cls(str(data["name"]), tuple(int(v) for v in data["shape"]))


@dataclass(frozen=True)
class GraphEntry:
    """One exported ONNX graph: which network, at which precision, and how close it is to torch."""

    role: str  # "body" or "face"
    precision: str  # "fp32", "fp16" or "int8" (every graph takes and returns fp32 tensors)
    file: str  # name inside the engines folder
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    parity: dict[str, float]  # abs error against the torch model per case: {"random": ..., "first frame": ...}
    fp32_ops: tuple[str, ...] = ()  # op types an fp16 graph keeps in fp32

    def to_json(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "precision": self.precision,
            "file": self.file,
            "inputs": [spec.to_json() for spec in self.inputs],
            "outputs": [spec.to_json() for spec in self.outputs],
            "parity": dict(self.parity),
            "fp32_ops": list(self.fp32_ops),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GraphEntry:
        entry = cls(
            role=str(data["role"]),
            precision=str(data["precision"]),
            file=str(data["file"]),
            inputs=tuple(TensorSpec.from_json(d) for d in data["inputs"]),
            outputs=tuple(TensorSpec.from_json(d) for d in data["outputs"]),
            parity={str(k): float(v) for k, v in data["parity"].items()},
            fp32_ops=tuple(str(op) for op in data.get("fp32_ops", ())),
        )
        if entry.role not in ROLES or entry.precision not in PRECISIONS:
            raise ValueError(f"graph {entry.file}: unknown role {entry.role!r} or precision {entry.precision!r}")
        if Path(entry.file).name != entry.file:
            raise ValueError(f"graph file {entry.file!r} must be a plain name inside the engines folder")
        if len(entry.outputs) != 1:
            raise ValueError(f"graph {entry.file} must have exactly one output")
        return entry


@dataclass(frozen=True)
class EngineManifest:
    precision: str  # what the export was asked for: "fp16" with --fp16, else "fp32"
    opset: int
    schema_tag: str
    image_size: tuple[int, int]  # (width, height)
    face_box_size: int
    temporal: bool
    composite: bool
    fps: float
    norm_stats: NormalizationStats
    graphs: tuple[GraphEntry, ...]
    files: dict[str, str]  # every file's name -> sha256 (graphs, plate, exemplars)
    plate: str | None = None  # "plate.png" for compositing models
    exemplars: str | None = None  # "exemplars.npz" for models conditioned on warped exemplars
    versions: dict[str, str] = field(default_factory=dict)  # torch, onnx, onnxruntime, ...
    source: dict[str, Any] = field(default_factory=dict)  # run, checkpoint, checkpoint_sha256, step
    format_version: int = FORMAT_VERSION

    def graph(self, role: str, precision: str) -> GraphEntry | None:
        return next((g for g in self.graphs if g.role == role and g.precision == precision), None)

    def precisions(self, role: str = "body") -> list[str]:
        return [g.precision for g in self.graphs if g.role == role]

    def extra_files(self) -> list[str]:
        """The files besides the graphs: plate and exemplar bank, where the model has them."""
        return [name for name in (self.plate, self.exemplars) if name]

    @property
    def has_face(self) -> bool:
        return any(g.role == "face" for g in self.graphs)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": self.format_version,
            "precision": self.precision,
            "opset": self.opset,
            "schema_tag": self.schema_tag,
            "image_size": list(self.image_size),
            "face_box_size": self.face_box_size,
            "temporal": self.temporal,
            "composite": self.composite,
            "fps": self.fps,
            "norm_stats": self.norm_stats.to_json(),
            "plate": self.plate,
            "exemplars": self.exemplars,
            "graphs": [g.to_json() for g in self.graphs],
            "files": dict(self.files),
            "versions": dict(self.versions),
            "source": dict(self.source),
        }

    @classmethod
    def from_json(cls, data: Any, where: str = MANIFEST_NAME) -> EngineManifest:
        """Parse and validate; anything malformed is a DanceError that says to re-export."""
        redo = "re-export with `dance-export`"
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise DanceError(f"{where} is not a dancenow engines manifest (format marker missing); {redo}")
        version = data.get("format_version")
        if not isinstance(version, int) or version < 1:
            raise DanceError(f"{where}: bad manifest format version {version!r}; {redo}")
        if version > FORMAT_VERSION:
            raise DanceError(
                f"{where} has manifest format {version}, newer than this dancenow reads (up to {FORMAT_VERSION}); "
                "update dancenow or export again with this version"
            )
        try:
            manifest = cls(
                precision=str(data["precision"]),
                opset=int(data["opset"]),
                schema_tag=str(data["schema_tag"]),
                image_size=(int(data["image_size"][0]), int(data["image_size"][1])),
                face_box_size=int(data["face_box_size"]),
                temporal=bool(data["temporal"]),
                composite=bool(data["composite"]),
                fps=float(data["fps"]),
                norm_stats=NormalizationStats.from_json(data["norm_stats"]),
                graphs=tuple(GraphEntry.from_json(g) for g in data["graphs"]),
                files={str(k): str(v) for k, v in data["files"].items()},
                plate=None if data.get("plate") is None else str(data["plate"]),
                exemplars=None if data.get("exemplars") is None else str(data["exemplars"]),
                versions={str(k): str(v) for k, v in data.get("versions", {}).items()},
                source=dict(data.get("source", {})),
                format_version=version,
            )
        except DanceError as err:
            raise DanceError(f"{where}: {err}") from None
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as err:
            raise DanceError(f"{where}: corrupt manifest ({type(err).__name__}: {err}); {redo}") from None
        manifest._validate(where)
        return manifest

    def _validate(self, where: str) -> None:
        try:
            get_schema(self.schema_tag)
        except ValueError as err:
            raise DanceError(f"{where}: {err}; update dancenow or re-export with this version") from None
        problems = []
        if self.precision not in PRECISIONS:
            problems.append(f"unknown precision {self.precision!r}")
        if self.graph("body", "fp32") is None and self.graph("body", self.precision) is None:
            problems.append("no body graph")
        listed = [g.file for g in self.graphs] + self.extra_files()
        problems += [f"{name} has no sha256 in files" for name in listed if name not in self.files]
        if self.composite and not self.plate:
            problems.append("a compositing model without a plate")
        if problems:
            raise DanceError(f"{where}: corrupt manifest ({'; '.join(problems)}); re-export with `dance-export`")

    def save(self, folder: str | Path) -> Path:
        """Write `folder/manifest.json` atomically."""
        path = Path(folder) / MANIFEST_NAME
        write_text_atomic(path, json.dumps(self.to_json(), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, folder: str | Path) -> EngineManifest:
        """Read and validate `folder/manifest.json` (files are checked by `verify_files`)."""
        path = Path(folder) / MANIFEST_NAME
        if not path.is_file():
            raise DanceError(f"{folder}: no {MANIFEST_NAME}; export the run with `dance-export RUN -o {folder}`")
        try:
            data = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as err:
            raise DanceError(f"{path}: unreadable manifest ({err}); re-export with `dance-export`") from None
        return cls.from_json(data, str(path))

    def verify_files(self, folder: str | Path, names: list[str] | None = None) -> None:
        """Every named file (default: all) exists and has the sha256 the manifest recorded."""
        folder = Path(folder)
        for name in self.files if names is None else names:
            path = folder / name
            if not path.is_file():
                raise DanceError(f"{path} is missing; the engines folder is incomplete, re-export with `dance-export`")
            if sha256_file(path) != self.files[name]:
                raise DanceError(
                    f"{path} is corrupt or was changed after export (sha256 differs from {MANIFEST_NAME}); "
                    "re-export with `dance-export`"
                )
