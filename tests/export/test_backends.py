"""Every backend present runs the exported model the same way the torch model runs."""

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from shared.errors import DanceError
from shared.label.exemplar.conditioner import conditioner_for
from shared.label.facebox import face_box
from shared.runtime.manifest import EngineManifest
from shared.label.render import render_label
from shared.runtime.run_folder import ENGINES_DIR
from shared.runtime.engine import EngineInfo
from shared.runtime.loading import available_backends, load_engine
from shared.synthetic.body import SOURCE_BODY
from shared.synthetic.dancer import dance_poses
from tests.export.conftest import copy_run

TOLERANCE = {"torch": 0.0, "onnxruntime-fp32": 1e-4, "onnxruntime-fp16": 2e-2}


def _dance(info: EngineInfo, frames: int = 5) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The label inputs (stick figure and warped exemplar) of a moving person with their face
    boxes, as live feeds them."""
    poses = dance_poses(SOURCE_BODY, frames, size=(256, 256), fps=10)
    conditioner = conditioner_for(info.exemplars)
    out = []
    for t in range(frames):
        label = conditioner(poses[t], render_label(poses[t], (256, 256)))
        box = face_box(poses[t], (256, 256), 64)
        out.append((label, torch.tensor([[box.x0, box.y0, box.size]])))
    return out


def test_every_backend_gives_the_same_frames_over_a_feedback_loop(exported) -> None:
    folder = exported.folder
    backends = available_backends(folder)
    assert {"torch", "onnxruntime-fp32", "onnxruntime-fp16"} <= set(backends)
    engines = {name: load_engine(folder, name) for name in TOLERANCE}
    assert {e.backend for e in engines.values()} == {"torch", "onnxruntime"}
    assert engines["onnxruntime-fp16"].info.precision == "fp16"
    assert all(e.info == dataclasses.replace(engines["torch"].info, precision=e.info.precision) for e in engines.values())
    prev = {name: torch.zeros(1, 3, 256, 256) for name in engines}
    worst = dict.fromkeys(engines, 0.0)
    for label, box in _dance(engines["torch"].info):
        for name, engine in engines.items():
            frame = engine.add_face(engine.body(label, prev[name]), label, box)
            assert frame.shape == (1, 3, 256, 256) and frame.dtype == torch.float32
            prev[name] = frame  # each backend is fed its own output, as live does
        for name in engines:
            worst[name] = max(worst[name], float((prev[name] - prev["torch"]).abs().max()))
    assert all(worst[name] <= TOLERANCE[name] for name in engines), worst
    assert float((prev["torch"] - engines["torch"].body(label, torch.zeros(1, 3, 256, 256))).abs().max()) > 1e-3, \
        "the feedback frame matters, so the loop really tests it"  # fmt: skip


def test_set_plate_swaps_the_background_input(exported) -> None:
    folder = exported.folder
    torch_engine, onnx_engine = load_engine(folder, "torch"), load_engine(folder, "onnxruntime")
    label, prev = _dance(onnx_engine.info, 1)[0][0], torch.zeros(1, 3, 256, 256)
    trained = onnx_engine.body(label, prev)
    white = np.full((100, 100, 3), 255, np.uint8)
    for engine in (torch_engine, onnx_engine):
        engine.set_plate(white)
    swapped = onnx_engine.body(label, prev)
    assert float(swapped.mean()) > float(trained.mean()) + 0.2
    assert float((swapped - torch_engine.body(label, prev)).abs().max()) <= 1e-4
    onnx_engine.set_plate(None)
    assert torch.allclose(onnx_engine.body(label, prev), trained)


def test_a_run_uses_its_engines_only_while_they_match_the_latest_checkpoint(exported, tiny_run: Path, tmp_path: Path) -> None:
    run = copy_run(tiny_run, tmp_path / "run")
    assert load_engine(run).backend == "torch"
    with pytest.raises(DanceError, match="export it with `dance-export"):
        load_engine(run, "onnxruntime")
    engines = Path(shutil.copytree(exported.folder, run / ENGINES_DIR))
    assert load_engine(run).backend == "onnxruntime"
    assert load_engine(run, "torch").backend == "torch"
    assert available_backends(run) == ["torch", "onnxruntime-fp32", "onnxruntime-fp16"]
    manifest = EngineManifest.load(engines)  # now pretend the run trained on after the export
    dataclasses.replace(manifest, source={**manifest.source, "checkpoint": "step-99999999.safetensors"}).save(engines)
    assert load_engine(run).backend == "torch", "stale engines are never used"
    with pytest.raises(DanceError, match="without engines exported from its latest checkpoint"):
        load_engine(run, "onnxruntime-fp16")


def test_unknown_backend_and_missing_precision_are_clear_errors(exported, tmp_path: Path) -> None:
    with pytest.raises(DanceError, match="unknown backend 'tensorflow'"):
        load_engine(exported.folder, "tensorflow")
    folder = Path(shutil.copytree(exported.folder, tmp_path / "engines"))
    manifest = EngineManifest.load(folder)
    fp32_only = tuple(g for g in manifest.graphs if g.precision == "fp32")
    dataclasses.replace(manifest, graphs=fp32_only, precision="fp32").save(folder)
    with pytest.raises(DanceError, match="no fp16 graphs.*--fp16"):
        load_engine(folder, "onnxruntime-fp16")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: asking for it is no error")
def test_asking_for_cuda_without_a_gpu_is_a_clear_error(exported) -> None:
    with pytest.raises(DanceError, match="torch sees no CUDA GPU here; use cpu"):
        load_engine(exported.folder, device="cuda")
    assert load_engine(exported.folder, device="auto").device.type == "cpu"
