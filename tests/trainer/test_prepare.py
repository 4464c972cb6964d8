"""`dance-train prepare` on real footage and on bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from shared.pose.schema import BODY_SCHEMA
from shared.io.video import write_video
from trainer.cli import main
from trainer.dataset import Dataset


@pytest.fixture(scope="module")
def real_dataset(real_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("prepared") / "cam01"
    result = CliRunner().invoke(main, ["prepare", str(real_clip), "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_real_video_gives_a_complete_dataset(real_dataset: Path) -> None:
    dataset = Dataset.open(real_dataset)
    assert len(dataset) == 100
    assert dataset.manifest.schema_tag == BODY_SCHEMA.tag
    assert dataset.frames.shape == dataset.labels.shape == (100, 256, 256, 3)
    assert dataset.poses.present.sum() >= 90
    assert dataset.face_boxes.shape == (100, 3)
    assert (dataset.face_boxes[dataset.poses.present, 2] == 64).all()
    assert (real_dataset / "contact_sheet.png").stat().st_size > 10_000
    # The labels really draw the person where the frames show them: label pixels sit inside the
    # pose's bounding box, and every frame with a person has a non-empty label.
    for t in (0, 50, 99):
        drawn = np.argwhere(dataset.labels[t].any(axis=-1))
        assert len(drawn) > 200
        points = dataset.poses.keypoints[t][dataset.poses.valid[t]]
        assert drawn[:, 1].min() >= points[:, 0].min() - 10 and drawn[:, 1].max() <= points[:, 0].max() + 10
    # The crop keeps the whole person inside the image.
    seen = dataset.poses.keypoints[dataset.poses.valid]
    assert (seen >= 0).all() and (seen < 256).all()
    # MediaPipe's depth is kept for every joint seen (the exemplar warp draws the parts in its order)
    assert dataset.poses.depth is not None and np.isfinite(dataset.poses.depth[dataset.poses.valid]).all()
    stats = json.loads((real_dataset / "norm_stats.json").read_text())
    assert stats["ankle_max"] > stats["height_close"] * 0.5
    assert stats["front_share"] == 1.0, "the Pose2Sim target faces the camera throughout"
    upper_arm, forearm, thigh, shin = stats["limbs"]  # in torso sizes, as an adult's
    assert 0.3 < forearm < upper_arm < 0.8 and 0.4 < shin < thigh < 1.0


def test_a_dataset_prepared_before_the_facing_and_limbs_were_kept_gets_them_from_its_poses(real_dataset: Path, tmp_path: Path) -> None:
    old = tmp_path / "old"
    shutil.copytree(real_dataset, old)
    stats = json.loads((old / "norm_stats.json").read_text())
    limbs = stats.pop("limbs")
    del stats["front_share"]
    (old / "norm_stats.json").write_text(json.dumps(stats))
    recomputed = Dataset.open(old).norm_stats
    assert recomputed.front_share == 1.0
    assert recomputed.limbs == pytest.approx(limbs)


def test_rerun_does_nothing_and_other_settings_are_refused(real_clip: Path, real_dataset: Path) -> None:
    before = (real_dataset / "dataset.json").stat().st_mtime_ns
    again = CliRunner().invoke(main, ["prepare", str(real_clip), "-o", str(real_dataset)])
    assert again.exit_code == 0 and "nothing to do" in again.output
    assert (real_dataset / "dataset.json").stat().st_mtime_ns == before
    other = CliRunner().invoke(main, ["prepare", str(real_clip), "-o", str(real_dataset), "--size", "128x128"])
    assert other.exit_code != 0 and "--force" in other.output


def _grey_video(path: Path, frames: int = 20) -> Path:
    write_video(path, [np.full((96, 128, 3), 120 + i, np.uint8) for i in range(frames)], fps=10)
    return path


def _empty_video(path: Path) -> Path:
    import av

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height = 32, 32
        container.start_encoding()  # writes the header: a real mp4 with a stream and no frames
    return path


@pytest.mark.parametrize(
    "make_input, message",
    [
        (lambda d: d / "missing.mp4", "no such file"),
        (lambda d: (d / "notes.mp4").write_text("not a video") and d / "notes.mp4", "not a readable video"),
        (lambda d: _empty_video(d / "empty.mp4"), "no video frames"),
        (lambda d: _grey_video(d / "nobody.mp4"), "person was found in only 0 of 20 frames"),
    ],
    ids=["missing", "not-a-video", "zero-frames", "no-person"],
)
def test_bad_input_gives_one_line_error_and_leaves_nothing(tmp_path: Path, make_input, message: str) -> None:
    video = make_input(tmp_path)
    out = tmp_path / "dataset"
    result = CliRunner().invoke(main, ["prepare", str(video), "-o", str(out)])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert not out.exists()
    assert not list(tmp_path.glob(".dataset*")), "no partial dataset left behind"


def test_console_script_prints_no_traceback(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("dance-train")
    done = subprocess.run([str(script), "prepare", str(tmp_path / "nope.mp4")], capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"Error: {tmp_path / 'nope.mp4'}: no such file"]


# --- one locked person, and the framing report -------------------------------------------------

LEFT_FOR = range(16, 24)  # frames where the target is out of view and only the bystander dances


@pytest.fixture(scope="module")
def bystander_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """32 frames, 512x256: the (larger) target dancer on the left, a bystander dancing on the right;
    the target steps out for `LEFT_FOR`."""
    from shared.synthetic.body import SOURCE_BODY, TARGET_BODY
    from shared.synthetic.background import render_background
    from shared.synthetic.dancer import render_dance

    target, _ = render_dance(TARGET_BODY, 32, (256, 256), seed=0)
    target[LEFT_FOR.start : LEFT_FOR.stop] = render_background((256, 256), seed=0)
    bystander, _ = render_dance(SOURCE_BODY, 32, (256, 256), seed=1)
    path = tmp_path_factory.mktemp("bystander") / "two.mp4"
    write_video(path, np.concatenate([target, bystander], axis=2), fps=30)
    return path


def test_a_bystander_is_never_the_target_and_the_crop_holds_the_target_alone(bystander_video: Path, tmp_path: Path) -> None:
    out = tmp_path / "two"
    result = CliRunner().invoke(main, ["prepare", str(bystander_video), "-o", str(out)])
    assert result.exit_code == 0, result.output
    dropped = [line for line in result.output.splitlines() if "showed only someone other than the target" in line]
    assert len(dropped) == 1 and 1 <= int(dropped[0].split()[0]) <= len(LEFT_FOR)
    assert "person height in the prepared 256x256 frames" in result.output
    dataset = Dataset.open(out)
    present = dataset.poses.present
    assert not present[LEFT_FOR.start : LEFT_FOR.stop].any()  # the bystander's frames are dropped
    assert present[: LEFT_FOR.start].sum() >= 14 and present[LEFT_FOR.stop :].sum() >= 6
    window = dataset.manifest.crop_window
    assert window["x0"] + window["width"] / 2 < 256  # around the target on the left, not the whole frame


def test_framing_report_warns_when_the_person_is_too_small() -> None:
    from trainer.prepare import framing_report, person_height
    from shared.pose.keypoints import PoseSequence

    assert framing_report(200, (256, 256)) == "person height in the prepared 256x256 frames: 200 px (78% of the height)"
    small = framing_report(100, (512, 256))
    assert small.startswith("warning:") and "100 px (39% of the height)" in small
    assert "tighter" in small and "--size" in small and "\n" not in small
    keypoints = np.zeros((2, BODY_SCHEMA.num_joints, 2), np.float32)
    keypoints[:, :, 1] = np.linspace(40, 160, BODY_SCHEMA.num_joints)
    valid = np.ones((2, BODY_SCHEMA.num_joints), bool)
    valid[1] = False  # a frame without the person does not count
    seq = PoseSequence(keypoints, valid.astype(np.float32), valid, (256, 256), 30, BODY_SCHEMA.tag)
    assert person_height(seq) == pytest.approx(120)
