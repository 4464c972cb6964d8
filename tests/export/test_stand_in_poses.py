"""Parity and int8 labels without the run's dataset: the target's standing pose, not the synthetic dancer."""

import dataclasses
from pathlib import Path

import numpy as np
import torch

from export.parity import STAND_IN, label_sequence, parity_cases
from export.stand_in_poses import stand_in_poses
from shared.label.facebox import face_box
from shared.pose.schema import ANKLES
from shared.runtime.trained import load_trained


def _without_dataset(tiny_run: Path, tmp_path: Path):  # noqa: ANN202 - a TrainedModel
    model = load_trained(tiny_run)
    model.info["run"]["dataset"] = str(tmp_path / "gone")
    return model


def test_without_the_dataset_parity_draws_the_targets_standing_pose(tiny_run: Path, tmp_path: Path) -> None:
    model = _without_dataset(tiny_run, tmp_path)
    cases, origin = parity_cases(model)
    assert origin == STAND_IN and [c.name for c in cases] == ["random", "first frame", "feedback"]
    assert float(cases[1].body["label"][:, :3].sum()) > 0, "a stick figure is drawn"
    sequence = label_sequence(model, 6)
    assert sequence.origin == STAND_IN and len(sequence.labels) == 6
    assert not torch.equal(sequence.labels[1], sequence.labels[4]), "the arms swing over the sequence"


def test_stats_without_a_standing_pose_get_a_plain_figure_on_the_targets_floor(tiny_run: Path, tmp_path: Path) -> None:
    model = _without_dataset(tiny_run, tmp_path)
    stats = dataclasses.replace(model.norm_stats, standing=None)
    model.info["run"]["norm_stats"] = stats.to_json()
    poses = stand_in_poses(model, 4)
    first = poses[0]
    ankles = first.keypoints[list(ANKLES), 1]
    assert np.allclose(ankles, stats.ankle_med * model.config.image_size[1] / stats.image_size[1])
    assert face_box(first, model.config.image_size, model.config.face.box_size) is not None
    assert label_sequence(model, 4).origin == STAND_IN
