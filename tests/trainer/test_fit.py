"""`dance-train fit` and `eval` on the synthetic dancer: stages, checkpoints, resume, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from shared.model.checkpoint import CheckpointStore, load_checkpoint
from trainer.cli import main
from trainer.data import Split


def _fit(dataset: Path, run: Path, *extra: str) -> None:
    args = ["fit", str(dataset), "-o", str(run), "--no-vgg", *extra]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output


def _final(run: Path) -> tuple[dict, dict]:
    return CheckpointStore(run / "checkpoints").load_latest()


def test_fit_writes_a_complete_run_and_eval_scores_it(synthetic_dataset: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    _fit(synthetic_dataset, run, "--steps", "10")
    groups, info = _final(run)
    assert info["finished"] is True and info["progress"]["total_step"] == 10
    assert {"generator", "face_generator", "face_discriminator"} <= set(groups)
    assert info["run"]["schema_tag"] == "mediapipe33@1"
    assert info["run"]["norm_stats"]["ankle_max"] > 0
    assert (run / "config.json").exists()
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["00000008-global.png", "00000010-face.png"]
    assert any((run / "tensorboard").iterdir())

    result = CliRunner().invoke(main, ["eval", str(run)])
    assert result.exit_code == 0, result.output
    assert "temporal + face" in result.output and "LPIPS skipped" in result.output
    assert (run / "eval.json").exists()

    again = CliRunner().invoke(main, ["fit", str(synthetic_dataset), "-o", str(run), "--no-vgg", "--steps", "10"])
    assert again.exit_code == 0
    assert _final(run)[1]["progress"]["total_step"] == 10, "a finished run is not trained again"


def test_face_stage_leaves_the_body_generator_unchanged(synthetic_dataset: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    _fit(synthetic_dataset, run, "--steps", "10", "--checkpoint-every", "4")
    body_after_global, _ = load_checkpoint(run / "checkpoints" / "step-00000008.safetensors")
    final, _ = _final(run)
    for key, value in body_after_global["generator"].items():
        assert torch.equal(value, final["generator"][key]), key
    assert "face_generator" not in body_after_global


def test_resume_after_a_kill_matches_an_uninterrupted_run(synthetic_dataset: Path, tmp_path: Path) -> None:
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    _fit(synthetic_dataset, straight, "--steps", "6", "--no-face", "--checkpoint-every", "3")
    _fit(synthetic_dataset, resumed, "--steps", "6", "--no-face", "--checkpoint-every", "3")
    # Simulate a run killed after its step-3 checkpoint: drop everything written later.
    checkpoints = resumed / "checkpoints"
    (checkpoints / "step-00000006.safetensors").unlink()
    (checkpoints / "latest.json").unlink()
    assert CheckpointStore(checkpoints).latest().name == "step-00000003.safetensors"
    _fit(synthetic_dataset, resumed, "--steps", "6", "--no-face", "--checkpoint-every", "3")
    a, info_a = _final(straight)
    b, info_b = _final(resumed)
    assert info_b["progress"]["total_step"] == 6
    for group in ("generator", "discriminator", "temporal_discriminator"):
        for key in a[group]:
            torch.testing.assert_close(a[group][key], b[group][key], rtol=0, atol=1e-5, msg=f"{group}.{key}")


def test_no_temporal_trains_without_a_temporal_discriminator(synthetic_dataset: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    _fit(synthetic_dataset, run, "--steps", "2", "--no-face", "--no-temporal")
    groups, info = _final(run)
    assert "temporal_discriminator" not in groups
    assert info["run"]["model"]["temporal"] is False


def test_missing_vgg_weights_stop_with_advice(synthetic_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))  # an empty hub cache

    def offline(*_args: object, **_kwargs: object) -> None:
        raise OSError("network unreachable")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    result = CliRunner().invoke(main, ["fit", str(synthetic_dataset), "-o", str(tmp_path / "run"), "--steps", "2"])
    assert result.exit_code == 1
    assert "--vgg-weights" in result.output and "--no-vgg" in result.output
    assert "Traceback" not in result.output
    missing = CliRunner().invoke(main, ["fit", str(synthetic_dataset), "-o", str(tmp_path / "run2"), "--steps", "2",
                                        "--vgg-weights", str(tmp_path / "nope.pth")])
    assert missing.exit_code == 1 and "nope.pth" in missing.output


def test_dataset_of_another_size_is_refused(synthetic_dataset: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["fit", str(synthetic_dataset), "-o", str(tmp_path / "run"), "--preset", "small",
                                       "--steps", "1", "--no-vgg"])
    assert result.exit_code == 1 and "--size 512x256" in result.output


def test_fit_a_video_prepares_it_inside_the_run(synthetic_video: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    _fit(synthetic_video, run, "--steps", "1", "--no-face")
    assert (run / "dataset" / "dataset.json").exists()


def test_an_exemplar_run_trains_exports_and_runs_live(synthetic_dataset: Path, synthetic_video: Path, tmp_path: Path) -> None:
    """--exemplar end to end: the bank is saved with the run, the generator and discriminators take
    the 7-channel conditioning, the export carries the bank and passes parity, and live runs it."""
    from export.exporter import export_run
    from live.capture import VideoFileSource
    from live.pipeline import LivePipeline, PipelineConfig
    from live.sinks import VideoFileSink
    from shared.runtime.loading import load_engine
    from shared.runtime.trained import load_trained
    from shared.io.video import probe_video

    run = tmp_path / "run"
    _fit(synthetic_dataset, run, "--steps", "6", "--exemplar", "--checkpoint-every", "100")
    assert (run / "exemplars.npz").is_file()
    model = load_trained(run)
    assert model.config.generator.label_nc == 7 and model.exemplars is not None
    split = Split.of_run(model.info["run"])
    assert model.exemplars.frame_ids.max() < split.train.stop < split.held_out.start, \
        "held-out frames, and the gap before them, never lend their texture"
    assert CliRunner().invoke(main, ["eval", str(run)]).exit_code == 0

    engines, manifest = export_run(run)
    assert manifest.exemplars == "exemplars.npz" and "exemplars.npz" in manifest.files
    engine = load_engine(engines, "onnxruntime")
    assert engine.info.exemplars is not None and engine.info.label_nc == 7
    output = tmp_path / "live.mp4"
    source = VideoFileSource(synthetic_video, max_frames=12)
    pipeline = LivePipeline(engine, source, PipelineConfig(), log=lambda _: None)
    stats = pipeline.run([VideoFileSink(output, source.fps, engine.info.image_size)]).as_dict()
    assert stats["frames_out"] == 12 and probe_video(output).frame_count == 12
    assert stats["frames_generated"] > 0, "the synthetic dancer is seen and rendered"
