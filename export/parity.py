"""Inputs on which an exported graph must match the torch model: random ones and real ones.

Random inputs cover the whole input range; the real cases are what live feeds the body graph (a
rendered stick figure with zeros fed back on the first frame, then the model's own previous
frame) and the face graph (crops of those at the face box). The real label comes from the run's
dataset when it is still on disk, else from the target's own standing pose (export.stand_in_poses),
so an export never needs the training data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import Tensor

from shared.model.compositing import composite
from shared.label.exemplar.conditioner import conditioner_for
from shared.model.face_residual import crop_faces, face_label_crops
from shared.label.facebox import FaceBox, face_box
from shared.pose.keypoints import PoseFrame, PoseSequence
from shared.label.render import render_label
from shared.pose.schema import get_schema
from shared.runtime.feedback import Body, rollout
from shared.runtime.trained import TrainedModel

from export.stand_in_poses import stand_in_poses

FP32_TOLERANCE = 1e-4  # max abs error of an fp32 graph against torch (outputs in [-1, 1])
FP16_TOLERANCE = 2e-2
STAND_IN = "the target's standing pose (its dataset is gone)"


@dataclass
class ParityCase:
    name: str  # "random", "first frame" (real label, nothing fed back) or "feedback" (real label and frame)
    body: dict[str, Tensor]  # label, prev[, plate]
    face: dict[str, Tensor]  # label_crop, image_crop


def torch_body(model: TrainedModel) -> Body:
    """The torch body step an exported body graph must match: (label, prev) -> frame over the plate.

    Fed whatever `prev` it is given (export.int8 and the parity cases roll it out with feedback, as
    a temporal model runs live)."""
    return lambda label, prev: composite(model.generator(label, prev), model.plate)


def _label_tensor(model: TrainedModel, label: np.ndarray, pose: PoseFrame | None) -> Tensor:
    """The body's label input for `label`, made as live makes it: with the nearest exemplar warped
    onto `pose` for exemplar models (zeros in its channels when there is no pose to warp onto)."""
    pose = pose if pose is not None else PoseFrame.missing(get_schema(model.schema_tag))
    return conditioner_for(model.exemplars)(pose, np.ascontiguousarray(label))


def _box_around(cx: float, cy: float, size: int, image_size: tuple[int, int]) -> Tensor:
    width, height = image_size
    x0 = int(min(max(round(cx - size / 2), 0), width - size))
    y0 = int(min(max(round(cy - size / 2), 0), height - size))
    return torch.tensor([[x0, y0, size]])


Centre = tuple[float, float] | None  # of a label's face box, in the model's pixels; None: no face seen


@dataclass
class DatasetLabels:
    labels: np.ndarray  # (T, H, W, 3) uint8, memory-mapped
    boxes: np.ndarray  # (T, 3) face boxes
    poses: PoseSequence | None  # at the labels' size (None when poses.npz is gone)
    name: str


@dataclass
class RealFrame:
    label: np.ndarray  # HxWx3 uint8 at the model's size
    centre: Centre
    pose: PoseFrame | None  # at the model's size


def _dataset_labels(model: TrainedModel) -> DatasetLabels | None:
    """The run's dataset labels, face boxes and poses, and its name; None when it is gone."""
    folder = Path(str(model.info["run"].get("dataset", "")))
    if not (folder / "labels.npy").is_file():
        return None
    try:
        labels = np.load(folder / "labels.npy", mmap_mode="r")
        boxes = np.load(folder / "face_boxes.npy") if (folder / "face_boxes.npy").is_file() else np.full((len(labels), 3), -1)
        poses = PoseSequence.load(folder / "poses.npz") if (folder / "poses.npz").is_file() else None
    except Exception:  # noqa: BLE001 - unreadable dataset (any reason): the target's standing pose stands in
        return None
    return DatasetLabels(labels, boxes, poses, folder.name)


def _dataset_frame(data: DatasetLabels, index: int, size: tuple[int, int]) -> RealFrame:
    """Dataset label `index` at `size`, with its face box centre and pose scaled alike."""
    label = np.array(data.labels[index])
    scale = size[0] / label.shape[1]
    if label.shape[:2] != (size[1], size[0]):
        label = cv2.resize(label, size, interpolation=cv2.INTER_NEAREST)
    x0, y0, side = (float(v) for v in data.boxes[index])
    pose = None
    if data.poses is not None and index < len(data.poses):
        pose = data.poses.transformed(scale, (0.0, 0.0), size)[index] if scale != 1 else data.poses[index]
    return RealFrame(label, ((x0 + side / 2) * scale, (y0 + side / 2) * scale) if side > 0 else None, pose)


def _pose_frame(model: TrainedModel, pose: PoseFrame) -> RealFrame:
    """`pose` (at the model's size) drawn as live draws it, with its face box centre."""
    size = tuple(model.config.image_size)
    box: FaceBox | None = face_box(pose, size, model.config.face.box_size)
    return RealFrame(render_label(pose, size), (box.x0 + box.size / 2, box.y0 + box.size / 2) if box else None, pose)


def real_label(model: TrainedModel) -> tuple[RealFrame, str]:
    """A real label (with its face box centre and pose) at the model's size, and where it came from."""
    size = tuple(model.config.image_size)
    dataset = _dataset_labels(model)
    if dataset is not None and len(dataset.labels):
        with_face = np.flatnonzero(dataset.boxes[:, 2] > 0)
        index = int(with_face[len(with_face) // 2]) if len(with_face) else len(dataset.labels) // 2
        return _dataset_frame(dataset, index, size), f"dataset {dataset.name} frame {index}"
    return _pose_frame(model, stand_in_poses(model, 1)[0]), STAND_IN


@torch.no_grad()
def parity_cases(model: TrainedModel, seed: int = 0) -> tuple[list[ParityCase], str]:
    """The random and the two real cases for this model, and where the real label came from."""
    width, height = model.config.image_size
    box_size = model.config.face.box_size
    gen = torch.Generator().manual_seed(seed)
    plate = model.plate

    def rand(*shape: int, signed: bool = True) -> Tensor:
        values = torch.rand(*shape, generator=gen)
        return values * 2 - 1 if signed else values

    random_body = {"label": rand(1, model.config.generator.label_nc, height, width, signed=False), "prev": rand(1, 3, height, width)}
    if plate is not None:
        random_body["plate"] = rand(1, 3, height, width)
    random_face = {"label_crop": rand(1, 3, box_size, box_size, signed=False), "image_crop": rand(1, 3, box_size, box_size)}

    real, origin = real_label(model)
    label = _label_tensor(model, real.label, real.pose)
    cx, cy = real.centre if real.centre is not None else (width / 2, height / 4)
    box = _box_around(cx, cy, box_size, (width, height))
    # live's first frame (nothing fed back yet: zeros), then the same label fed that frame back
    steps = rollout(torch_body(model), (label, label))
    cases = [ParityCase("random", random_body, random_face)]
    for name, (prev, frame) in zip(("first frame", "feedback"), steps):
        body = {"label": label, "prev": prev} | ({"plate": plate} if plate is not None else {})
        cases.append(ParityCase(name, body, {"label_crop": face_label_crops(label, box), "image_crop": crop_faces(frame, box)}))
    return cases, origin


@dataclass
class LabelSequence:
    """Real labels in order, with their face boxes: what live feeds, for int8 calibration and checks."""

    labels: list[Tensor]  # (1, C, H, W) in [0, 1] at the model's size: the body's label input
    boxes: list[Tensor]  # (1, 3) face box (x0, y0, size) of each label, clamped inside the image
    origin: str


def label_sequence(model: TrainedModel, count: int, max_stride: int = 4) -> LabelSequence:
    """`count` labels from the run's dataset (every frame up to every `max_stride`th, spread over as
    much of it as that reaches), else the target's standing pose, its arms swinging."""
    size = tuple(model.config.image_size)
    dataset = _dataset_labels(model)
    if dataset is not None and len(dataset.labels):
        total = len(dataset.labels)
        stride = int(min(max_stride, max(1, total // count)))
        start = max(0, (total - stride * count) // 2)
        indices = range(start, min(total, start + stride * count), stride)
        frames = [_dataset_frame(dataset, index, size) for index in indices]
        origin = f"dataset {dataset.name} frames {indices[0]}-{indices[-1]} every {stride}"
    else:
        frames = [_pose_frame(model, pose) for pose in stand_in_poses(model, count)]
        origin = STAND_IN
    width, height = size
    boxes_out = [_box_around(*(f.centre or (width / 2, height / 4)), model.config.face.box_size, size) for f in frames]
    return LabelSequence([_label_tensor(model, f.label, f.pose) for f in frames], boxes_out, origin)
