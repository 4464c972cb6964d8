"""Poses carry MediaPipe's depth through every step that moves them, and pose files keep it."""

from pathlib import Path

import numpy as np

from shared.pose.keypoints import PoseFrame, PoseSequence
from shared.pose.schema import BODY_SCHEMA, Joint


def _pose(seed: int, depth: bool = True) -> PoseFrame:
    rng = np.random.default_rng(seed)
    count = BODY_SCHEMA.num_joints
    return PoseFrame(rng.uniform(0, 200, (count, 2)).astype(np.float32), np.ones(count, np.float32), np.ones(count, bool),
                     BODY_SCHEMA.tag, rng.normal(0, 0.3, count).astype(np.float32) if depth else None)  # fmt: skip


def test_swapping_sides_moves_each_joints_depth_with_it():
    pose = _pose(0)
    swapped = pose.sides_swapped()
    assert swapped.depth[Joint.LEFT_WRIST] == pose.depth[Joint.RIGHT_WRIST]
    assert swapped.depth[Joint.NOSE] == pose.depth[Joint.NOSE]
    assert _pose(0, depth=False).sides_swapped().depth is None


def test_moving_a_pose_keeps_its_depth_and_copies_it():
    pose = _pose(1)
    moved = pose.moved_to(pose.keypoints + 5)
    np.testing.assert_array_equal(moved.keypoints, pose.keypoints + 5)
    np.testing.assert_array_equal(moved.depth, pose.depth)
    moved.depth[0] = 99.0
    assert pose.depth[0] != 99.0


def test_a_sequence_keeps_depth_through_its_frames_a_file_and_a_transform(tmp_path: Path):
    frames = [_pose(2), PoseFrame.missing(BODY_SCHEMA), _pose(3)]
    seq = PoseSequence.from_frames(frames, (200, 200), 30.0, BODY_SCHEMA)
    assert np.isnan(seq.depth[1]).all()  # nobody in that frame: no depth, the others keep theirs
    np.testing.assert_array_equal(seq[2].depth, frames[2].depth)
    seq.save(tmp_path / "poses.npz")
    loaded = PoseSequence.load(tmp_path / "poses.npz")
    np.testing.assert_array_equal(loaded.depth, seq.depth)
    np.testing.assert_array_equal(loaded.transformed(0.5, (3.0, 4.0), (100, 100)).depth, seq.depth)


def test_a_pose_file_written_without_depth_loads_without_it(tmp_path: Path):
    seq = PoseSequence.from_frames([_pose(4, depth=False)], (200, 200), 30.0, BODY_SCHEMA)
    assert seq.depth is None
    seq.save(tmp_path / "poses.npz")
    with np.load(tmp_path / "poses.npz") as data:
        assert "depth" not in data.files
    loaded = PoseSequence.load(tmp_path / "poses.npz")
    assert loaded.depth is None and loaded[0].depth is None
