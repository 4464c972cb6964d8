"""Inputs on which an exported graph must match the torch model: random ones and real ones.

Random inputs cover the whole input range; the real cases are what live feeds the body graph (a
rendered stick figure with zeros fed back on the first frame, then the model's own previous
frame) and the face graph (crops of those at the face box). The real label comes from the run's dataset when it is still on disk, else from
the synthetic dancer, so an export never needs the training data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import Tensor

from shared.compositing import composite
from shared.face_residual import crop_faces
from shared.facebox import FaceBox, face_box
from shared.pose import PoseFrame
from shared.render import render_label
from shared.synthetic import TARGET_BODY, dance_poses
from shared.trained import TrainedModel

FP32_TOLERANCE = 1e-4  # max abs error of an fp32 graph against torch (outputs in [-1, 1])
FP16_TOLERANCE = 2e-2


@dataclass
class ParityCase:
    name: str  # "random", "first frame" (real label, nothing fed back) or "feedback" (real label and frame)
    body: dict[str, Tensor]  # label, prev[, plate]
    face: dict[str, Tensor]  # label_crop, image_crop


def _label_tensor(label: np.ndarray) -> Tensor:
    return torch.from_numpy(np.ascontiguousarray(label)).permute(2, 0, 1)[None].float() / 255.0


def _box_around(cx: float, cy: float, size: int, image_size: tuple[int, int]) -> Tensor:
    width, height = image_size
    x0 = int(min(max(round(cx - size / 2), 0), width - size))
    y0 = int(min(max(round(cy - size / 2), 0), height - size))
    return torch.tensor([[x0, y0, size]])


Centre = tuple[float, float] | None  # of a label's face box, in the model's pixels; None: no face seen


def _dataset_labels(model: TrainedModel) -> tuple[np.ndarray, np.ndarray, str] | None:
    """The run's dataset labels (memory-mapped) and face boxes, and its name; None when it is gone."""
    folder = Path(str(model.info["run"].get("dataset", "")))
    if not (folder / "labels.npy").is_file():
        return None
    try:
        labels = np.load(folder / "labels.npy", mmap_mode="r")
        boxes = np.load(folder / "face_boxes.npy") if (folder / "face_boxes.npy").is_file() else np.full((len(labels), 3), -1)
    except (OSError, ValueError):
        return None  # unreadable dataset: the synthetic dancer stands in
    return labels, boxes, folder.name


def _dataset_frame(labels: np.ndarray, boxes: np.ndarray, index: int, size: tuple[int, int]) -> tuple[np.ndarray, Centre]:
    """Dataset label `index` at `size`, and its face box centre scaled alike."""
    label = np.array(labels[index])
    scale = size[0] / label.shape[1]
    if label.shape[:2] != (size[1], size[0]):
        label = cv2.resize(label, size, interpolation=cv2.INTER_NEAREST)
    x0, y0, side = (float(v) for v in boxes[index])
    return label, (((x0 + side / 2) * scale, (y0 + side / 2) * scale) if side > 0 else None)


def _synthetic_frame(model: TrainedModel, pose: PoseFrame) -> tuple[np.ndarray, Centre]:
    size = tuple(model.config.image_size)
    box: FaceBox | None = face_box(pose, size, model.config.face.box_size)
    return render_label(pose, size), ((box.x0 + box.size / 2, box.y0 + box.size / 2) if box else None)


def real_label(model: TrainedModel) -> tuple[np.ndarray, Centre, str]:
    """A real label at the model's size, the centre of its face box (or None), and where it came from."""
    size = tuple(model.config.image_size)
    dataset = _dataset_labels(model)
    if dataset is not None and len(dataset[0]):
        labels, boxes, name = dataset
        with_face = np.flatnonzero(boxes[:, 2] > 0)
        index = int(with_face[len(with_face) // 2]) if len(with_face) else len(labels) // 2
        return *_dataset_frame(labels, boxes, index, size), f"dataset {name} frame {index}"
    return *_synthetic_frame(model, dance_poses(TARGET_BODY, num_frames=8, size=size)[4]), "the synthetic dancer"


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

    random_body = {"label": rand(1, 3, height, width, signed=False), "prev": rand(1, 3, height, width)}
    if plate is not None:
        random_body["plate"] = rand(1, 3, height, width)
    random_face = {"label_crop": rand(1, 3, box_size, box_size, signed=False), "image_crop": rand(1, 3, box_size, box_size)}

    label_image, centre, origin = real_label(model)
    label = _label_tensor(label_image)
    cx, cy = centre if centre is not None else (width / 2, height / 4)
    box = _box_around(cx, cy, box_size, (width, height))
    zeros = torch.zeros(1, 3, height, width)
    first = composite(model.generator(label, zeros), plate)  # live's first frame: nothing fed back yet
    second = composite(model.generator(label, first), plate)
    cases = [ParityCase("random", random_body, random_face)]
    for name, prev, frame in (("first frame", zeros, first), ("feedback", first, second)):
        body = {"label": label, "prev": prev} | ({"plate": plate} if plate is not None else {})
        cases.append(ParityCase(name, body, {"label_crop": crop_faces(label, box), "image_crop": crop_faces(frame, box)}))
    return cases, origin


@dataclass
class LabelSequence:
    """Real labels in order, with their face boxes: what live feeds, for int8 calibration and checks."""

    labels: list[Tensor]  # (1, 3, H, W) in [0, 1] at the model's size
    boxes: list[Tensor]  # (1, 3) face box (x0, y0, size) of each label, clamped inside the image
    origin: str


def label_sequence(model: TrainedModel, count: int, max_stride: int = 4) -> LabelSequence:
    """`count` labels from the run's dataset (every frame up to every `max_stride`th, spread over as
    much of it as that reaches), else from the synthetic dancer."""
    size = tuple(model.config.image_size)
    dataset = _dataset_labels(model)
    if dataset is not None and len(dataset[0]):
        labels, boxes, name = dataset
        stride = int(min(max_stride, max(1, len(labels) // count)))
        start = max(0, (len(labels) - stride * count) // 2)
        indices = range(start, min(len(labels), start + stride * count), stride)
        frames = [_dataset_frame(labels, boxes, index, size) for index in indices]
        origin = f"dataset {name} frames {indices[0]}-{indices[-1]} every {stride}"
    else:
        frames = [_synthetic_frame(model, pose) for pose in dance_poses(TARGET_BODY, num_frames=count, size=size)]
        origin = "the synthetic dancer"
    width, height = size
    boxes_out = [_box_around(*(centre or (width / 2, height / 4)), model.config.face.box_size, size) for _, centre in frames]
    return LabelSequence([_label_tensor(label) for label, _ in frames], boxes_out, origin)
