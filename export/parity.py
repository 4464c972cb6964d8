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
from shared.facebox import FaceBox, face_box
from shared.face_residual import crop_faces
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


def real_label(model: TrainedModel) -> tuple[np.ndarray, tuple[float, float] | None, str]:
    """A real label at the model's size, the centre of its face box (or None), and where it came from."""
    size = tuple(model.config.image_size)
    folder = Path(str(model.info["run"].get("dataset", "")))
    labels_file, boxes_file = folder / "labels.npy", folder / "face_boxes.npy"
    if labels_file.is_file():
        try:
            labels = np.load(labels_file, mmap_mode="r")
            boxes = np.load(boxes_file) if boxes_file.is_file() else np.full((len(labels), 3), -1)
            with_face = np.flatnonzero(boxes[:, 2] > 0)
            index = int(with_face[len(with_face) // 2]) if len(with_face) else len(labels) // 2
            label = np.array(labels[index])
            scale = size[0] / label.shape[1]
            if label.shape[:2] != (size[1], size[0]):
                label = cv2.resize(label, size, interpolation=cv2.INTER_NEAREST)
            x0, y0, side = (float(v) for v in boxes[index])
            centre = ((x0 + side / 2) * scale, (y0 + side / 2) * scale) if side > 0 else None
            return label, centre, f"dataset {folder.name} frame {index}"
        except (OSError, ValueError, IndexError):
            pass  # unreadable dataset: fall back to the synthetic dancer
    pose = dance_poses(TARGET_BODY, num_frames=8, size=size)[4]
    box: FaceBox | None = face_box(pose, size, model.config.face.box_size)
    centre = (box.x0 + box.size / 2, box.y0 + box.size / 2) if box else None
    return render_label(pose, size), centre, "the synthetic dancer"


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
    box_size = model.config.face.box_size
    folder = Path(str(model.info["run"].get("dataset", "")))
    images: list[np.ndarray] = []
    centres: list[tuple[float, float] | None] = []
    origin = "the synthetic dancer"
    if (folder / "labels.npy").is_file():
        try:
            labels = np.load(folder / "labels.npy", mmap_mode="r")
            boxes = np.load(folder / "face_boxes.npy") if (folder / "face_boxes.npy").is_file() else np.full((len(labels), 3), -1)
            stride = int(min(max_stride, max(1, len(labels) // count)))
            start = max(0, (len(labels) - stride * count) // 2)
            for index in range(start, min(len(labels), start + stride * count), stride):
                label = np.array(labels[index])
                scale = size[0] / label.shape[1]
                if label.shape[:2] != (size[1], size[0]):
                    label = cv2.resize(label, size, interpolation=cv2.INTER_NEAREST)
                x0, y0, side = (float(v) for v in boxes[index])
                images.append(label)
                centres.append(((x0 + side / 2) * scale, (y0 + side / 2) * scale) if side > 0 else None)
            origin = f"dataset {folder.name} frames {start}-{start + stride * (len(images) - 1)} every {stride}"
        except (OSError, ValueError, IndexError):
            images, centres = [], []
    if not images:
        for pose in dance_poses(TARGET_BODY, num_frames=count, size=size):
            box = face_box(pose, size, box_size)
            images.append(render_label(pose, size))
            centres.append((box.x0 + box.size / 2, box.y0 + box.size / 2) if box else None)
    width, height = size
    boxes_out = [_box_around(*(c if c is not None else (width / 2, height / 4)), box_size, (width, height)) for c in centres]
    return LabelSequence([_label_tensor(image) for image in images], boxes_out, origin)
