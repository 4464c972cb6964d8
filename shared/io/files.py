"""Atomic file writes: a file appears under its real name complete, or not at all.

Training is killed, disks fill, a user presses Ctrl-C mid-save: a half-written checkpoint, manifest
or exemplar bank under the real name would be read later as if it were whole. Every writer in the
product goes through `atomic_write`, so the rule and the leftover's name are the same everywhere.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> None:
    """`write` the file in a private temporary folder beside `path`, fsync it, then swap it in with
    one rename. The writer's own temporary files (safetensors writes to a `.tmpXXXXXX` of its own
    first) land in that folder too, so a write killed midway leaves exactly one thing behind: a
    hidden folder `.<name>.<random>.tmp`."""
    path = Path(path)
    folder = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    tmp = folder / path.name
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    try:  # make the rename itself durable (POSIX; not possible everywhere)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def write_text_atomic(path: str | Path, text: str) -> None:
    """A text file (JSON configs, manifests) written with `atomic_write`."""
    atomic_write(path, lambda tmp: tmp.write_text(text))


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """A binary file (a TensorRT plan) written with `atomic_write`."""
    atomic_write(path, lambda tmp: tmp.write_bytes(data))

