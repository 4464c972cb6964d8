import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from click.testing import CliRunner

import export.exporter
from export.cli import main
from export.exporter import ExportOptions, export_run
from export.onnx_export import BodyGraph
from shared.errors import DanceError
from shared.runtime.manifest import MANIFEST_NAME, EngineManifest, sha256_file
from shared.runtime.loading import load_engine
from shared.runtime.trained import load_trained


def test_graphs_pass_the_checker_and_match_torch(exported, tiny_run: Path) -> None:
    folder, manifest = exported.folder, exported.manifest
    assert {(g.role, g.precision) for g in manifest.graphs} == {("body", "fp32"), ("face", "fp32"), ("body", "fp16"), ("face", "fp16")}
    for graph in manifest.graphs:
        onnx.checker.check_model(onnx.load(str(folder / graph.file)))
        limit = 1e-4 if graph.precision == "fp32" else 2e-2
        assert set(graph.parity) == {"random", "first frame", "feedback"} and max(graph.parity.values()) <= limit, graph
    body = manifest.graph("body", "fp32")
    # the label carries the warped exemplar (7 channels: the tiny run trains with exemplars, the default)
    assert [(s.name, s.shape) for s in body.inputs] == [("label", (1, 7, 256, 256)), ("prev", (1, 3, 256, 256)), ("plate", (1, 3, 256, 256))]
    assert [(s.name, s.shape) for s in manifest.graph("face", "fp16").inputs] == [("label_crop", (1, 3, 64, 64)), ("image_crop", (1, 3, 64, 64))]
    assert "body: fp32 parity" in exported.result.output and "face: fp16 parity" in exported.result.output

    # Independently of the numbers the exporter recorded: fresh random inputs, the torch model itself.
    model = load_trained(tiny_run)
    reference = BodyGraph(model.generator, composites=True).eval()
    gen = torch.Generator().manual_seed(123)
    feeds = {"label": torch.rand(1, 7, 256, 256, generator=gen), "prev": torch.rand(1, 3, 256, 256, generator=gen) * 2 - 1, "plate": model.plate}
    with torch.no_grad():
        expected = reference(**feeds).numpy()
    for precision, limit in (("fp32", 1e-4), ("fp16", 2e-2)):
        session = ort.InferenceSession(str(folder / manifest.graph("body", precision).file), providers=["CPUExecutionProvider"])
        got = session.run(None, {k: v.numpy() for k, v in feeds.items()})[0]
        assert got.dtype == np.float32, "fp16 graphs keep fp32 inputs and outputs"
        assert np.abs(got - expected).max() <= limit


def test_manifest_round_trips_and_carries_what_live_needs(exported, tiny_run: Path) -> None:
    folder, manifest = exported.folder, exported.manifest
    loaded = EngineManifest.load(folder)
    assert loaded == manifest
    assert EngineManifest.from_json(json.loads(json.dumps(loaded.to_json()))) == manifest
    model = load_trained(tiny_run)
    assert manifest.norm_stats == model.norm_stats and manifest.schema_tag == model.schema_tag
    assert manifest.image_size == (256, 256) and manifest.face_box_size == 64 and manifest.temporal and manifest.composite
    assert manifest.precision == "fp16" and manifest.opset == 17
    assert set(manifest.versions) >= {"torch", "onnx", "onnxruntime"}
    assert manifest.source["run"] == str(exported.run.resolve())
    assert sorted(manifest.files) == sorted([g.file for g in manifest.graphs] + ["plate.png", "exemplars.npz"])
    assert manifest.exemplars == "exemplars.npz"
    manifest.verify_files(folder)
    plate = cv2.cvtColor(cv2.imread(str(folder / "plate.png")), cv2.COLOR_BGR2RGB)
    assert np.array_equal(plate, model.plate_image)


def _copy(folder: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(folder, tmp_path / "engines"))


def test_corrupt_or_missing_graph_is_a_clear_error(exported, tmp_path: Path) -> None:
    folder = _copy(exported.folder, tmp_path)
    body = folder / "body.onnx"
    data = bytearray(body.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = b"\xff" * 64
    body.write_bytes(bytes(data))
    with pytest.raises(DanceError, match="body.onnx is corrupt or was changed after export"):
        load_engine(folder, "onnxruntime-fp32")
    # A file whose hash matches the manifest but that onnxruntime cannot parse (a broken export).
    body.write_bytes(b"not a protobuf at all")
    manifest = EngineManifest.load(folder)
    manifest.files["body.onnx"] = sha256_file(body)
    manifest.save(folder)
    with pytest.raises(DanceError, match="onnxruntime cannot load it"):
        load_engine(folder, "onnxruntime-fp32")
    (folder / "face.fp16.onnx").unlink()
    with pytest.raises(DanceError, match="face.fp16.onnx is missing"):
        load_engine(folder, "onnxruntime-fp16")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda text: text[: len(text) // 2], "unreadable manifest"),
        (lambda text: text.replace('"mediapipe33@1"', '"openpose25@9"'), "unknown skeleton schema 'openpose25@9'"),
        (lambda text: text.replace('"format_version": 1', '"format_version": 99'), "newer than this dancenow reads"),
        (lambda text: text.replace('"image_size"', '"image_sighs"', 1), "corrupt manifest"),
        (lambda text: text.replace('"dancenow-engines"', '"something-else"'), "not a dancenow engines manifest"),
    ],
)
def test_corrupt_manifest_is_a_clear_error(exported, tmp_path: Path, edit, message: str) -> None:
    folder = _copy(exported.folder, tmp_path)
    path = folder / MANIFEST_NAME
    path.write_text(edit(path.read_text()))
    with pytest.raises(DanceError, match=message):
        load_engine(folder)


def test_parity_failure_is_an_error_and_leaves_nothing(tiny_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export.exporter, "FP32_TOLERANCE", -1.0)  # nothing can pass
    out = tmp_path / "engines"
    with pytest.raises(DanceError, match="body: the fp32 ONNX graph differs from torch"):
        export_run(tiny_run, out, ExportOptions())
    assert not out.exists() and list(tmp_path.iterdir()) == [], "no half-written engines folder"


def test_refuses_to_overwrite_a_folder_that_is_not_an_engines_folder(tiny_run: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DanceError, match="not an engines folder"):
        export_run(tiny_run, tmp_path, ExportOptions())
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_dance_export_fp16_takes_the_latest_run(exported, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    output = exported.result.output
    assert "body: fp16 parity" in output and "done: runs/newer/engines" in output
    assert "TensorRT needs an NVIDIA GPU" in output or torch.cuda.is_available()
    assert exported.folder == exported.run / "engines" and not (exported.other_run / "engines").exists()
    engine = load_engine(exported.run)  # a run with fresh engines runs them
    assert engine.backend == "onnxruntime" and engine.info.precision == "fp32"

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["--fp16"])
    assert result.exit_code == 1 and result.output.startswith("Error: no RUN given and no runs/ folder")
    (tmp_path / "runs" / "empty").mkdir(parents=True)
    result = CliRunner().invoke(main, [])
    assert result.exit_code == 1 and "no trained run under runs/" in result.output
    result = CliRunner().invoke(main, [str(exported.run), "--opset", "9"])
    assert result.exit_code == 1 and "--opset 9 is too old" in result.output
