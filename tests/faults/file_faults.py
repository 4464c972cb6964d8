"""File faults: corrupt or truncated inputs fed to the command that reads them.

Every kind of file a command reads is damaged in the ways files get damaged (cut short by a full
disk or a killed copy, zero bytes, random bytes, the wrong file under the right name, JSON edited
by hand, wrong shapes or tensors) and given to each command that reads it. A try passes when the
command exits non-zero with one `Error: ...` line that names the damaged file, prints no traceback,
and changes nothing on disk: every watched folder (the damaged copy's and any input it read)
holds exactly the files it held, byte for byte, so nothing was overwritten, nothing new (an
output, a temporary file) was left behind, and no output folder exists half-written.

Each try works on its own copy of a good input (large files hard-linked, the damaged one written
anew, so the good input never changes). `run_in_process` calls the click commands in this process
(fast: for the tests); `run_subprocess` runs the installed console scripts, as a user would.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import random
import shutil
import struct
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.faults.report import FaultRow

LINK_ABOVE = 1 << 20  # files larger than this are hard-linked into a try's copy, smaller ones copied
KINDS = ("videos", "datasets", "checkpoints", "latest.json", "manifests", "ONNX graphs", "background images")


@dataclass(frozen=True)
class Inputs:
    """Good inputs the damaged copies are made from: a target video, its dataset, a finished run
    trained on that dataset, and the run's export."""

    video: Path
    dataset: Path
    run: Path
    engines: Path


@dataclass
class Try:
    """One damaged file and the command given it."""

    target: Path  # the damaged file: the error must name it
    program: str  # "dance-train", "dance-export" or "dance-live"
    args: list[str]
    watch: list[Path]  # folders whose files must not change


@dataclass(frozen=True)
class Recipe:
    """How to make one try inside an empty folder, from the good inputs."""

    kind: str  # one of KINDS
    label: str  # the damage and the command, for failure lines
    make: Callable[[Inputs, Path], Try]


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    crashed: str | None = None  # an exception that escaped the command (a traceback for a user)


# -- damage --------------------------------------------------------------------------------------

Damage = Callable[[bytes], bytes]


def truncated(fraction: float) -> Damage:
    return lambda data: data[: int(len(data) * fraction)]


def first_bytes(count: int) -> Damage:
    return lambda data: data[:count]


def zero_length(_data: bytes) -> bytes:
    return b""


def random_bytes(data: bytes) -> bytes:
    return random.Random(len(data)).randbytes(max(64, min(len(data), 1 << 16)))


def text(_data: bytes) -> bytes:
    return b"these are notes, not the file you are looking for\n"


def json_edit(edit: Callable[[dict], object]) -> Damage:
    """Parse, let `edit` change the object in place (or return a replacement), write back."""

    def damage(data: bytes) -> bytes:
        obj = json.loads(data)
        result = edit(obj)
        return json.dumps(obj if result is None else result).encode()

    return damage


def damage_file(path: Path, damage: Damage) -> None:
    """Write the damaged bytes as a new file (a hard link to the good input is cut, not changed)."""
    data = damage(path.read_bytes())
    path.unlink()
    path.write_bytes(data)


def linked_copy(source: Path, dest: Path, skip: Callable[[Path], bool] = lambda _p: False) -> Path:
    """A copy of the folder `source`: large files hard-linked, small ones copied."""
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if path.is_dir() or skip(rel):
            continue
        out = dest / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        if not (path.stat().st_size > LINK_ABOVE and _linked(path, out)):
            shutil.copy2(path, out)
    dest.mkdir(parents=True, exist_ok=True)
    return dest


def _linked(path: Path, out: Path) -> bool:
    """Hard-link `path` as `out`; False where links are impossible (another file system)."""
    try:
        os.link(path, out)
    except OSError:
        return False
    return True


def run_copy(run: Path, dest: Path) -> Path:
    """What a run's readers use: config, exemplar bank, checkpoints (not samples or logs)."""
    keep = ("checkpoints", "config.json", "exemplars.npz", "plate.png")
    return linked_copy(run, dest, skip=lambda rel: rel.parts[0] not in keep)


def latest_checkpoint(run: Path) -> Path:
    from shared.model.checkpoint import CheckpointStore

    latest = CheckpointStore(run / "checkpoints").latest()
    assert latest is not None, f"{run} has no checkpoint"
    return latest


# -- commands ------------------------------------------------------------------------------------


def live_args(engines: Path, video: Path, out: Path, *extra: str) -> list[str]:
    return [str(engines), "--source", str(video), "-o", str(out), "--max-frames", "2", "--device", "cpu", *extra]


def fit_args(dataset: Path, run: Path) -> list[str]:
    return ["fit", str(dataset), "-o", str(run), "--steps", "1", "--no-vgg", "--device", "cpu"]


# -- videos --------------------------------------------------------------------------------------

VIDEO_DAMAGE: dict[str, tuple[str, Damage]] = {  # label: (file name, damage)
    "zero-length": ("dance.mp4", zero_length),
    "random bytes": ("dance.mp4", random_bytes),
    "a text file named .mp4": ("notes.mp4", text),
    "truncated at half": ("dance.mp4", truncated(0.5)),
    "only the first 2 KB": ("dance.mp4", first_bytes(2048)),
}


def _video_try(name: str, damage: Damage, command: str) -> Callable[[Inputs, Path], Try]:
    def make(inputs: Inputs, folder: Path) -> Try:
        video = folder / name
        shutil.copy2(inputs.video, video)
        damage_file(video, damage)
        run, shared = str(inputs.run), [folder, inputs.run]
        calls = {
            "prepare": ("dance-train", ["prepare", str(video), "-o", str(folder / "dataset")]),
            "fit": ("dance-train", fit_args(video, folder / "run")),
            "eval --source": ("dance-train", ["eval", run, "--source", str(video)]),
            "dance-live --source": ("dance-live", live_args(inputs.run, video, folder / "out.mp4")),
            "dance-live calibrate": ("dance-live", ["calibrate", run, "--source", str(video), "-o", str(folder / "c.json")]),
        }
        program, args = calls[command]
        return Try(video, program, args, shared)

    return make


VIDEO_COMMANDS = ("prepare", "fit", "eval --source", "dance-live --source", "dance-live calibrate")


# -- datasets ------------------------------------------------------------------------------------


def _npy_of_shape(*shape: int) -> Damage:
    def damage(_data: bytes) -> bytes:
        import io

        import numpy as np

        out = io.BytesIO()
        np.save(out, np.zeros(shape, np.uint8))
        return out.getvalue()

    return damage


def _drop(*keys: str) -> Callable[[dict], None]:
    def edit(obj: dict) -> None:
        for key in keys:
            obj.pop(key)

    return edit


def _set(key: str, value: object) -> Callable[[dict], None]:
    return lambda obj: obj.__setitem__(key, value)


DATASET_DAMAGE: dict[str, tuple[str, Damage | None]] = {  # label: (file, damage; None = delete it)
    "frames.npy missing": ("frames.npy", None),
    "frames.npy truncated": ("frames.npy", truncated(0.5)),
    "frames.npy random bytes": ("frames.npy", random_bytes),
    "frames.npy of the wrong shape": ("frames.npy", _npy_of_shape(4, 8, 8, 3)),
    "labels.npy truncated": ("labels.npy", truncated(0.3)),
    "masks.npy truncated": ("masks.npy", truncated(0.5)),
    "masks.npy of the wrong shape": ("masks.npy", _npy_of_shape(3, 16, 16)),
    "face_boxes.npy zero-length": ("face_boxes.npy", zero_length),
    "face_boxes.npy of the wrong shape": ("face_boxes.npy", _npy_of_shape(2, 2)),
    "poses.npz truncated": ("poses.npz", truncated(0.5)),
    "poses.npz missing": ("poses.npz", None),
    "norm_stats.json garbage": ("norm_stats.json", random_bytes),
    "norm_stats.json missing keys": ("norm_stats.json", json_edit(lambda obj: {"image_size": obj.get("image_size")})),
    "plate.png truncated": ("plate.png", truncated(0.5)),
    "plate.png zero-length": ("plate.png", zero_length),
    "dataset.json random bytes": ("dataset.json", random_bytes),
    "dataset.json truncated": ("dataset.json", truncated(0.5)),
    "dataset.json missing keys": ("dataset.json", json_edit(_drop("num_frames", "image_size"))),
    "dataset.json wrong types": ("dataset.json", json_edit(_set("image_size", "wide"))),
    "dataset.json frame count wrong": ("dataset.json", json_edit(_set("num_frames", 7))),
    "dataset.json a list": ("dataset.json", json_edit(lambda obj: [obj])),
}


def _dataset_try(name: str, damage: Damage | None) -> Callable[[Inputs, Path], Try]:
    def make(inputs: Inputs, folder: Path) -> Try:
        dataset = linked_copy(inputs.dataset, folder / "dataset")
        target = dataset / name
        if damage is None:
            target.unlink()
        else:
            damage_file(target, damage)
        return Try(target, "dance-train", fit_args(dataset, folder / "run"), [folder])

    return make


# -- checkpoints and latest.json -----------------------------------------------------------------


def _safetensors_with(metadata: dict[str, str]) -> Damage:
    """A well-formed safetensors file holding one tensor and the given metadata."""

    def damage(_data: bytes) -> bytes:
        header = json.dumps({"__metadata__": metadata, "x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
        return struct.pack("<Q", len(header)) + header + b"\0\0\0\0"

    return damage


def _rewritten_checkpoint(change: Callable[[dict, dict], None]) -> Damage:
    """The checkpoint loaded, changed by `change(groups, info)` and saved again (a well-formed file
    with the wrong content)."""

    def damage(data: bytes) -> bytes:
        import tempfile

        from shared.model.checkpoint import load_checkpoint, save_checkpoint

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "c.safetensors"
            path.write_bytes(data)
            groups, info = load_checkpoint(path)
            change(groups, info)
            save_checkpoint(path, groups, info)
            return path.read_bytes()

    return damage


def _shrink_generator(groups: dict, _info: dict) -> None:
    key = sorted(groups["generator"])[0]
    groups["generator"][key] = groups["generator"][key][..., :1].clone()


def _pickled(_data: bytes) -> bytes:
    return pickle.dumps({"generator": {"weight": [1.0, 2.0]}})


CHECKPOINT_DAMAGE: dict[str, Damage] = {
    "zero-length": zero_length,
    "truncated at half": truncated(0.5),
    "only the header": first_bytes(200),
    "random bytes": random_bytes,
    "a pickle": _pickled,
    "a foreign safetensors file": _safetensors_with({"format": "pt"}),
    "unparsable info metadata": _safetensors_with({"dancenow": "{not json", "dancenow_groups": "[]"}),
    "wrongly shaped generator weights": _rewritten_checkpoint(_shrink_generator),
    "no generator": _rewritten_checkpoint(lambda groups, _info: groups.pop("generator")),
    "no run description": _rewritten_checkpoint(lambda _groups, info: info.pop("run")),
    "a garbled model config": _rewritten_checkpoint(lambda _groups, info: info["run"].__setitem__("model", {"ngf": "many"})),
}

CHECKPOINT_COMMANDS = ("dance-export", "eval", "dance-live", "fit (resume)")


def _run_command(command: str, inputs: Inputs, run: Path, folder: Path) -> tuple[str, list[str]]:
    """A command that reads a run's latest checkpoint."""
    calls = {
        "dance-export": ("dance-export", [str(run), "-o", str(folder / "engines"), "--backend", "onnx"]),
        "eval": ("dance-train", ["eval", str(run)]),
        "dance-live": ("dance-live", live_args(run, inputs.video, folder / "out.mp4", "--backend", "torch")),
        "fit (resume)": ("dance-train", fit_args(inputs.dataset, run)),
    }
    return calls[command]


def _checkpoint_try(damage: Damage, command: str) -> Callable[[Inputs, Path], Try]:
    def make(inputs: Inputs, folder: Path) -> Try:
        run = run_copy(inputs.run, folder / "run")
        target = latest_checkpoint(run)
        damage_file(target, damage)
        program, args = _run_command(command, inputs, run, folder)
        return Try(target, program, args, [folder, inputs.dataset])

    return make


POINTER_DAMAGE: dict[str, Damage] = {  # the step files are gone: only the pointer is left to read
    "garbage, no checkpoint beside it": random_bytes,
    "zero-length, no checkpoint beside it": zero_length,
    "naming a missing checkpoint": json_edit(_set("file", "step-00009999.safetensors")),
    "naming itself": json_edit(_set("file", "latest.json")),
}


def _pointer_try(damage: Damage, command: str) -> Callable[[Inputs, Path], Try]:
    def make(inputs: Inputs, folder: Path) -> Try:
        run = run_copy(inputs.run, folder / "run")
        for step_file in (run / "checkpoints").glob("step-*.safetensors"):
            step_file.unlink()
        target = run / "checkpoints" / "latest.json"
        damage_file(target, damage)
        program, args = _run_command(command, inputs, run, folder)
        return Try(target, program, args, [folder, inputs.dataset])

    return make


# -- engines: manifests and graphs ---------------------------------------------------------------


def _set_hash(name: str, value: str) -> Callable[[dict], None]:
    return lambda obj: obj["files"].__setitem__(name, value)


def _graph_file(name: str) -> Callable[[dict], None]:
    def edit(obj: dict) -> None:
        obj["graphs"][0]["file"] = name

    return edit


MANIFEST_DAMAGE: dict[str, Damage] = {
    "random bytes": random_bytes,
    "truncated JSON": truncated(0.5),
    "zero-length": zero_length,
    "a JSON list": json_edit(lambda obj: [obj]),
    "no format marker": json_edit(_drop("format")),
    "a newer format version": json_edit(_set("format_version", 99)),
    "no graphs": json_edit(_drop("graphs")),
    "no norm_stats": json_edit(_drop("norm_stats")),
    "image_size not numbers": json_edit(_set("image_size", ["wide", "tall"])),
    "an unknown skeleton": json_edit(_set("schema_tag", "octopus8@1")),
    "a wrong hash for body.onnx": json_edit(_set_hash("body.onnx", "0" * 64)),
    "a wrong hash for plate.png": json_edit(_set_hash("plate.png", "f" * 64)),
    "a graph outside the folder": json_edit(_graph_file("../body.onnx")),
    "a listed graph missing": json_edit(_graph_file("gone.onnx")),
}

ENGINE_COMMANDS = ("dance-live", "dance-live calibrate")


def _engine_call(command: str, inputs: Inputs, engines: Path, folder: Path) -> tuple[str, list[str]]:
    if command == "dance-live":
        return "dance-live", live_args(engines, inputs.video, folder / "out.mp4")
    return "dance-live", ["calibrate", str(engines), "--source", str(inputs.video), "-o", str(folder / "c.json"), "--device", "cpu"]


def _manifest_try(damage: Damage, command: str) -> Callable[[Inputs, Path], Try]:
    def make(inputs: Inputs, folder: Path) -> Try:
        engines = linked_copy(inputs.engines, folder / "engines")
        target = engines / "manifest.json"
        damage_file(target, damage)
        program, args = _engine_call(command, inputs, engines, folder)
        return Try(target, program, args, [folder])

    return make


# label: (graph, its damage or the name of the graph put in its place, the manifest's hash updated to match)
GRAPH_DAMAGE: dict[str, tuple[str, Damage | str, bool]] = {
    "body.onnx truncated": ("body.onnx", truncated(0.5), False),
    "body.onnx truncated, hash updated": ("body.onnx", truncated(0.5), True),
    "body.onnx random bytes, hash updated": ("body.onnx", random_bytes, True),
    "body.onnx zero-length, hash updated": ("body.onnx", zero_length, True),
    "face.onnx truncated, hash updated": ("face.onnx", truncated(0.7), True),
    "face.onnx random bytes": ("face.onnx", random_bytes, False),
    "body.onnx swapped for face.onnx, hash updated": ("body.onnx", "face.onnx", True),
}


def _graph_try(name: str, damage: Damage | str, rehash: bool, command: str) -> Callable[[Inputs, Path], Try]:
    def make(inputs: Inputs, folder: Path) -> Try:
        from shared.runtime.manifest import sha256_file

        engines = linked_copy(inputs.engines, folder / "engines")
        target = engines / name
        damage_file(target, (lambda _data: (engines / damage).read_bytes()) if isinstance(damage, str) else damage)
        if rehash:
            damage_file(engines / "manifest.json", json_edit(_set_hash(name, sha256_file(target))))
        program, args = _engine_call(command, inputs, engines, folder)
        return Try(target, program, args, [folder])

    return make


# -- background images ---------------------------------------------------------------------------

BACKGROUND_DAMAGE: dict[str, tuple[str, Damage]] = {  # label: (file name, damage of a good picture)
    "PNG zero-length": ("back.png", zero_length),
    "PNG truncated": ("back.png", truncated(0.5)),
    "PNG header only": ("back.png", first_bytes(40)),
    "JPEG random bytes": ("back.jpg", random_bytes),
    "JPEG truncated": ("back.jpg", truncated(0.6)),
    "a text file named .jpg": ("back.jpg", text),
}


def _background_try(name: str, damage: Damage) -> Callable[[Inputs, Path], Try]:
    def make(inputs: Inputs, folder: Path) -> Try:
        import cv2

        from shared.synthetic.background import render_background

        picture = folder / name
        cv2.imwrite(str(picture), render_background((256, 256), seed=3))
        damage_file(picture, damage)
        args = live_args(inputs.engines, inputs.video, folder / "out.mp4", "--background", str(picture))
        return Try(picture, "dance-live", args, [folder, inputs.engines])

    return make


# -- all recipes ---------------------------------------------------------------------------------


def recipes() -> list[Recipe]:
    """Every damage with every command that reads the damaged kind of file."""
    found = [Recipe("videos", f"{label}, {cmd}", _video_try(name, damage, cmd))
             for label, (name, damage) in VIDEO_DAMAGE.items() for cmd in VIDEO_COMMANDS]  # fmt: skip
    found += [Recipe("datasets", f"{label}, fit", _dataset_try(name, damage)) for label, (name, damage) in DATASET_DAMAGE.items()]
    found += [Recipe("checkpoints", f"{label}, {cmd}", _checkpoint_try(damage, cmd))
              for label, damage in CHECKPOINT_DAMAGE.items() for cmd in CHECKPOINT_COMMANDS]  # fmt: skip
    found += [Recipe("latest.json", f"{label}, {cmd}", _pointer_try(damage, cmd))
              for label, damage in POINTER_DAMAGE.items() for cmd in CHECKPOINT_COMMANDS]  # fmt: skip
    found += [Recipe("manifests", f"{label}, {cmd}", _manifest_try(damage, cmd))
              for label, damage in MANIFEST_DAMAGE.items() for cmd in ENGINE_COMMANDS]  # fmt: skip
    found += [Recipe("ONNX graphs", f"{label}, {cmd}", _graph_try(name, damage, rehash, cmd))
              for label, (name, damage, rehash) in GRAPH_DAMAGE.items() for cmd in ENGINE_COMMANDS]  # fmt: skip
    found += [Recipe("background images", f"{label}, dance-live --background", _background_try(name, damage))
              for label, (name, damage) in BACKGROUND_DAMAGE.items()]  # fmt: skip
    return found


def pick(all_recipes: list[Recipe], count: int, seed: int) -> list[Recipe]:
    """`count` recipes, every kind in turn (a random order within each), so a small count still
    tries every kind."""
    rng = random.Random(seed)
    by_kind = {kind: rng.sample(group, len(group)) for kind in KINDS if (group := [r for r in all_recipes if r.kind == kind])}
    chosen: list[Recipe] = []
    while len(chosen) < min(count, len(all_recipes)):
        for group in by_kind.values():
            if group and len(chosen) < count:
                chosen.append(group.pop())
    return chosen


# -- running and judging -------------------------------------------------------------------------


def _main(program: str):  # noqa: ANN202 - a click command
    if program == "dance-train":
        from trainer.cli import main
    elif program == "dance-export":
        from export.cli import main
    else:
        from live.cli import main
    return main


def run_in_process(program: str, args: list[str]) -> Outcome:
    """The click command called here (no interpreter start: fast); an escaping exception is what
    the console script would have printed as a traceback."""
    from click.testing import CliRunner

    result = CliRunner().invoke(_main(program), args)
    error, crashed = result.exception, None
    if error is not None and not isinstance(error, SystemExit):
        crashed = f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0]}"
    return Outcome(result.exit_code, result.stdout, result.stderr, crashed)


def run_subprocess(program: str, args: list[str]) -> Outcome:
    """The installed console script, as a user runs it (one CPU thread: modest beside other work)."""
    script = Path(sys.executable).with_name(program)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([str(script), *args], capture_output=True, text=True, env=env, timeout=300)
    return Outcome(done.returncode, done.stdout, done.stderr)


class Snapshot:
    """Every file under some folders with its content hash (cached by inode: hard links hash once)."""

    def __init__(self, folders: list[Path], cache: dict[tuple[int, int, int], str]) -> None:
        self.cache = cache
        self.files = {str(p): self._hash(p) for folder in folders for p in sorted(folder.rglob("*")) if p.is_file()}

    def _hash(self, path: Path) -> str:
        stat = path.stat()
        key = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if key not in self.cache:
            self.cache[key] = hashlib.sha256(path.read_bytes()).hexdigest()
        return self.cache[key]

    def changes(self, later: Snapshot) -> list[str]:
        """What differs in `later`: new, removed and changed files."""
        new = sorted(set(later.files) - set(self.files))
        gone = sorted(set(self.files) - set(later.files))
        changed = sorted(p for p in set(self.files) & set(later.files) if self.files[p] != later.files[p])
        return [f"{what} {Path(p).name}" for what, paths in (("new", new), ("removed", gone), ("overwrote", changed)) for p in paths]


def judge(outcome: Outcome, target: Path, changes: list[str]) -> str | None:
    """None when the command failed as it should; else what was wrong. Lines before the error
    (a warning, a progress bar, a native library's note) are allowed; the error must be one line,
    the last."""
    if outcome.crashed or "Traceback" in outcome.stdout + outcome.stderr:
        return f"traceback ({outcome.crashed or outcome.stderr.strip().splitlines()[-1]})"
    if outcome.code == 0:
        return "exit status 0 (the damage went unnoticed)"
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error: ")]
    if len(errors) != 1 or lines[-1] != errors[0]:
        return f"{len(errors)} error lines, or not last: {outcome.stderr.strip()[-200:]!r}"
    if target.name not in errors[0]:
        return f"the error does not name {target.name}: {errors[0][:200]}"
    if changes:
        return f"changed files: {', '.join(changes[:4])}"
    return None


def try_one(recipe: Recipe, inputs: Inputs, folder: Path, run: Callable[[str, list[str]], Outcome],
            cache: dict) -> str | None:  # fmt: skip
    """Make the damaged copy in `folder`, run the command, judge it."""
    folder.mkdir(parents=True)
    case = recipe.make(inputs, folder)
    before = Snapshot(case.watch, cache)
    outcome = run(case.program, case.args)
    return judge(outcome, case.target, before.changes(Snapshot(case.watch, cache)))


def file_rows(inputs: Inputs, workdir: Path, count: int, seed: int = 0,
              run: Callable[[str, list[str]], Outcome] = run_in_process) -> list[FaultRow]:  # fmt: skip
    """`count` damaged inputs spread over every kind; one row per kind."""
    rows = {kind: FaultRow("files", f"{kind}: corrupt or truncated, given to the commands that read them", 0, 0) for kind in KINDS}
    cache: dict = {}
    for i, recipe in enumerate(pick(recipes(), count, seed)):
        row = rows[recipe.kind]
        row.count += 1
        problem = try_one(recipe, inputs, workdir / f"{i:03d}", run, cache)
        if problem:
            row.fail(f"{recipe.label}: {problem}")
        else:
            row.passed += 1
    return [row for row in rows.values() if row.count]


def train_and_export(video: Path, dataset: Path, workdir: Path) -> Inputs:
    """The inputs, completed with a briefly trained run (body and face) and its export."""
    from export.exporter import ExportOptions, export_run
    from trainer.fit import FitConfig
    from trainer.train import run_fit

    run = workdir / "run"
    run_fit(dataset, run, FitConfig(steps=2, use_vgg=False, checkpoint_every=100), device="cpu", progress=False)
    engines, _ = export_run(run, workdir / "engines", ExportOptions(backend="onnx"))
    return Inputs(video, dataset, run, engines)


def prepare_inputs(workdir: Path) -> Inputs:
    """Good inputs made here: the synthetic dancer, its dataset, a briefly trained run, its export."""
    from shared.synthetic.body import TARGET_BODY
    from shared.synthetic.dancer import write_dance_video
    from trainer.prepare import PrepareConfig, prepare_dataset

    workdir.mkdir(parents=True, exist_ok=True)
    video = workdir / "target.mp4"
    write_dance_video(video, TARGET_BODY, num_frames=48, size=(256, 256), fps=30)
    dataset, _ = prepare_dataset(video, workdir / "dataset", PrepareConfig(), progress=False)
    return train_and_export(video, dataset, workdir)


def full_rows(workdir: Path, subprocesses: bool = True) -> list[FaultRow]:
    """The issue's count: 100 damaged inputs over every kind, each given to the installed command
    in a subprocess (or in this process with `subprocesses=False`)."""
    inputs = prepare_inputs(workdir / "inputs")
    return file_rows(inputs, workdir / "tries", 100, seed=0, run=run_subprocess if subprocesses else run_in_process)
