"""Checkpoints: one `.safetensors` file of named tensor groups plus a JSON info blob.

Keys are `<group>.<name>` (`generator.trunk.1.weight`, `optimizer.g.state.0.exp_avg`); the group
names and the caller's info travel as JSON in the file's string metadata, tagged with a format
marker and version. safetensors holds raw tensor bytes only, so loading never unpickles anything:
a `.pt`/`.pth` pickle could run arbitrary code and is refused. Writes are atomic (temporary file,
fsync, `os.replace`), so a crash mid-save leaves the previous checkpoint usable.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Collection
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor, nn

from shared.errors import DanceError
from shared.io.files import atomic_write

FORMAT = "dancenow-checkpoint"
FORMAT_VERSION = 1
_INFO_KEY = "dancenow"  # metadata entry: {"format", "format_version", **caller's info}
_GROUPS_KEY = "dancenow_groups"  # metadata entry: JSON list of group names (groups may be empty)
_RESERVED = ("format", "format_version")

Groups = dict[str, dict[str, Tensor]]


def save_checkpoint(path: str | Path, groups: Groups, info: dict[str, Any]) -> None:
    """Write `groups` and the JSON-safe `info` to `path` atomically (tensors go to CPU first)."""
    path = Path(path)
    names = sorted(groups)
    for a in names:
        if not a or any(b.startswith(a + ".") for b in names):
            raise ValueError(f"group names must be non-empty and not prefix one another: {names}")
    if any(key in info for key in _RESERVED):
        raise ValueError(f"info keys {_RESERVED} are reserved for the checkpoint format")
    metadata = {
        _INFO_KEY: json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION, **info}),
        _GROUPS_KEY: json.dumps(names),
    }
    tensors: dict[str, Tensor] = {}
    seen_storages: set[int] = set()
    for group, named in groups.items():
        for name, tensor in named.items():
            t = tensor.detach().to("cpu").contiguous()
            storage = t.untyped_storage().data_ptr()
            if storage in seen_storages:  # tied weights / views: save_file refuses shared memory
                t = t.clone()
            seen_storages.add(t.untyped_storage().data_ptr())
            tensors[f"{group}.{name}"] = t
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


def _not_ours(path: Path, why: str) -> DanceError:
    return DanceError(
        f"{path} is not a dancenow checkpoint ({why}; pickled .pt/.pth files are refused: "
        "loading them can run code); pass a .safetensors checkpoint written by dance-train"
    )


def load_checkpoint(
    path: str | Path, groups: Collection[str] | None = None
) -> tuple[Groups, dict[str, Any]]:
    """Read `(groups, info)` from `path`; only the named `groups` when given. Never unpickles."""
    path = Path(path)
    if not path.is_file():
        raise DanceError(f"checkpoint {path} not found; check the path or the run folder")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            metadata = f.metadata() or {}
            if _INFO_KEY not in metadata or _GROUPS_KEY not in metadata:
                raise _not_ours(path, "a safetensors file without the dancenow format marker")
            info = json.loads(metadata[_INFO_KEY])
            names = json.loads(metadata[_GROUPS_KEY])
            if not isinstance(info, dict) or info.get("format") != FORMAT:
                raise _not_ours(path, "the format marker is missing or wrong")
            version = info.get("format_version")
            if not isinstance(version, int) or version > FORMAT_VERSION:
                raise DanceError(
                    f"checkpoint {path} has format version {version!r}, newer than this dancenow "
                    f"reads (up to {FORMAT_VERSION}); update dancenow"
                )
            wanted = names if groups is None else list(groups)
            absent = sorted(set(wanted) - set(names))
            if absent:
                raise DanceError(f"checkpoint {path} has no group(s) {absent}; it holds {names}")
            out: Groups = {group: {} for group in wanted}
            for key in f.keys():
                group = next((g for g in wanted if key.startswith(g + ".")), None)
                if group is not None:
                    out[group][key[len(group) + 1 :]] = f.get_tensor(key)
    except DanceError:
        raise
    except Exception as err:  # truncated, garbage, a pickle, a zip: safetensors cannot parse it
        first_line = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise _not_ours(path, f"unreadable as safetensors: {first_line}") from None
    for key in _RESERVED:
        info.pop(key)
    return out, info


def optimizer_state_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, Tensor], dict]:
    """Split `optimizer.state_dict()` into tensors `state.<param>.<name>` and a JSON-safe rest."""
    state_dict = optimizer.state_dict()
    tensors: dict[str, Tensor] = {}
    plain: dict[str, dict[str, Any]] = {}
    for index, param_state in state_dict["state"].items():
        for name, value in param_state.items():
            if isinstance(value, Tensor):
                tensors[f"state.{index}.{name}"] = value
            else:
                plain.setdefault(str(index), {})[name] = value
    return tensors, {"state": plain, "param_groups": state_dict["param_groups"]}


def load_optimizer_state(
    optimizer: torch.optim.Optimizer, tensors: dict[str, Tensor], info: dict
) -> None:
    """Inverse of `optimizer_state_tensors`: restore `optimizer` exactly."""
    state: dict[int, dict[str, Any]] = {}
    for index, param_state in info["state"].items():
        state.setdefault(int(index), {}).update(param_state)
    for key, value in tensors.items():
        _, index, name = key.split(".", 2)
        state.setdefault(int(index), {})[name] = value
    # JSON turned tuples (Adam's betas) into lists; give them back the optimizer's own types.
    param_groups = [
        {k: tuple(v) if isinstance(current.get(k), tuple) else v for k, v in saved.items()}
        for saved, current in zip(info["param_groups"], optimizer.param_groups)
    ] + info["param_groups"][len(optimizer.param_groups) :]
    try:
        optimizer.load_state_dict({"state": state, "param_groups": param_groups})
    except (ValueError, KeyError, RuntimeError) as err:
        raise DanceError(
            f"optimizer state does not fit this model ({str(err).strip().splitlines()[0]}); "
            "checkpoint made with another model config?"
        ) from None


def _preview(keys: list[str], limit: int = 3) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def load_module_state(module: nn.Module, tensors: dict[str, Tensor], strict: bool = True) -> None:
    """`module.load_state_dict` with a one-line DanceError naming what does not fit."""
    expected = module.state_dict()
    missing = sorted(expected.keys() - tensors.keys()) if strict else []
    unexpected = sorted(tensors.keys() - expected.keys()) if strict else []
    reshaped = sorted(
        f"{k} {tuple(tensors[k].shape)} vs {tuple(expected[k].shape)}"
        for k in expected.keys() & tensors.keys()
        if tensors[k].shape != expected[k].shape
    )
    labelled = {"missing": missing, "unexpected": unexpected, "wrong shape": reshaped}
    problems = [f"{label}: {_preview(keys)}" for label, keys in labelled.items() if keys]
    if problems:
        raise DanceError(
            f"checkpoint weights do not fit this {type(module).__name__} ({'; '.join(problems)}); "
            "checkpoint made with another model config?"
        )
    module.load_state_dict(tensors, strict=strict)


class CheckpointStore:
    """A run's checkpoint folder: `step-XXXXXXXX.safetensors` files, a `latest.json` pointer,
    and only the newest `keep` checkpoints kept."""

    POINTER = "latest.json"
    _STEP_FILE = re.compile(r"step-(\d{8,})\.safetensors")
    _TEMP_FILE = re.compile(r"\.(step-\d{8,}\.safetensors|latest\.json)\..+\.tmp")  # `atomic_write`'s folders

    def __init__(self, folder: str | Path, keep: int = 3) -> None:
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        self.folder = Path(folder)
        self.keep = keep

    def _step_files(self) -> list[Path]:
        """Step files sorted oldest first (by step number); temporary files never match."""
        if not self.folder.is_dir():
            return []
        found = [
            (int(m.group(1)), p)
            for p in self.folder.iterdir()
            if (m := self._STEP_FILE.fullmatch(p.name)) and p.is_file() and p.stat().st_size > 8
        ]
        return [p for _, p in sorted(found)]

    def save(self, step: int, groups: Groups, info: dict[str, Any]) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"step-{step:08d}.safetensors"
        save_checkpoint(path, groups, info)
        pointer = json.dumps({"file": path.name, "step": step})
        atomic_write(self.folder / self.POINTER, lambda tmp: tmp.write_text(pointer))
        older = [p for p in self._step_files() if p != path]
        for stale in older[: max(0, len(older) - (self.keep - 1))]:
            stale.unlink(missing_ok=True)
        return path

    def remove_leftovers(self) -> list[Path]:
        """Delete what saves killed midway left (`atomic_write` removes its temporary folder on an
        exception, but SIGKILL or a power cut leave it, up to a checkpoint's size, each time).
        Call it before the first save of a run: it assumes no other process saves into the folder."""
        if not self.folder.is_dir():
            return []
        stale = [p for p in self.folder.iterdir() if self._TEMP_FILE.fullmatch(p.name)]
        for path in stale:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:  # a temporary file of an older version's save
                path.unlink(missing_ok=True)
        return stale

    def latest(self) -> Path | None:
        """The pointer's file; else the newest step file (pointer lost or stale); else None."""
        try:
            data = json.loads((self.folder / self.POINTER).read_text())
            candidate = self.folder / Path(data["file"]).name  # a name only: never leave the folder
            if candidate.is_file():
                return candidate
        except (OSError, ValueError, KeyError, TypeError):
            pass
        files = self._step_files()
        return files[-1] if files else None

    def is_empty(self) -> bool:
        """Nothing saved yet: no checkpoint and no pointer. (A pointer without a checkpoint is not
        empty: the run's checkpoints were lost, which `require_latest` reports.)"""
        return self.latest() is None and not (self.folder / self.POINTER).exists()

    def require_latest(self) -> Path:
        """The checkpoint to load, or a DanceError naming what is missing."""
        path = self.latest()
        if path is not None:
            return path
        pointer = self.folder / self.POINTER
        if pointer.exists():
            raise DanceError(
                f"{pointer} names no checkpoint in {self.folder} (unreadable, or its file is gone) and no "
                "step-*.safetensors is left beside it; restore the checkpoints, or remove the folder to train from scratch"
            )
        raise DanceError(f"no checkpoint in {self.folder}; train first or check the run folder")

    def load_latest(self, groups: Collection[str] | None = None) -> tuple[Groups, dict[str, Any]]:
        return load_checkpoint(self.require_latest(), groups)
