"""`dance-train eval`: generate the held-out frames the way live does (feedback from zeros) and score them.

Scores follow the paper's ablation: SSIM (and PSNR) on the body crop and on the face crop, plus a
temporal flicker score and L1, beside the mean-training-image baseline that any model must beat.
The paper's pose-distance transfer metric is in trainer/transfer.py; `write_eval` stores both.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import Tensor

from shared.model.compositing import alpha_of, composite
from shared.label.exemplar.conditioner import conditioner_for
from shared.model.face_residual import add_face_residual
from shared.pose.keypoints import PoseFrame
from shared.runtime.feedback import rollout
from shared.runtime.run_folder import RunFolder
from shared.runtime.trained import TrainedModel
from trainer.data import Split
from shared.io.tensors import images_to_tensor
from trainer.dataset import Dataset
from trainer.metrics import EvalResult, crop_boxes, crop_resized, flicker, keypoint_box, l1_error, psnr, ssim


def held_out_conditioning(model: TrainedModel, dataset: Dataset, frames: range) -> tuple[list[PoseFrame], Tensor]:
    """The poses (at the model's size) and the generator's conditioning for `frames`, made as live
    makes it: the label, plus the exemplar live would pick, warped, for exemplar models."""
    width, height = model.config.image_size
    poses = dataset.poses
    if tuple(dataset.manifest.image_size) != (width, height):
        poses = poses.transformed(width / dataset.manifest.image_size[0], (0.0, 0.0), (width, height))
    conditioner = conditioner_for(model.exemplars)
    driving, conditions = [], []
    for t in frames:
        label = np.array(dataset.labels[t])  # a copy: the dataset is memory-mapped read-only
        if label.shape[:2] != (height, width):
            label = cv2.resize(label, (width, height), interpolation=cv2.INTER_NEAREST)
        driving.append(poses[t])
        conditions.append(conditioner(poses[t], label))
    return driving, torch.cat(conditions)


@torch.no_grad()
def generate_sequence(
    model: TrainedModel, labels: Tensor, face_boxes: Tensor | None, use_face: bool = True, alphas: list[float] | None = None
) -> Tensor:
    """(T, C, H, W) conditioning in [0, 1] -> frames in [-1, 1], each fed the previous body output
    (zeros first; shared.runtime.feedback.rollout, as live feeds it).

    `alphas`, when given, receives each frame's mean alpha (compositing models only)."""

    def body(label: Tensor, prev: Tensor) -> Tensor:
        raw = model.generator(label, prev)
        if alphas is not None and raw.shape[1] == 4:
            alphas.append(float(alpha_of(raw).mean()))
        return composite(raw, model.plate)

    frames = []
    for t, step in enumerate(rollout(body, labels.split(1), feed_back=model.config.temporal)):
        out = step.frame
        if use_face and model.face_generator is not None and face_boxes is not None:
            out = add_face_residual(out, labels[t : t + 1], face_boxes[t : t + 1], model.face_generator)
        frames.append(out)
    return torch.cat(frames)


def score(fake: Tensor, real: Tensor, dataset: Dataset, frames: range) -> EvalResult:
    """Metrics for generated vs real held-out frames (both (T, 3, H, W) in [-1, 1])."""
    fake01, real01 = (fake + 1) / 2, (real + 1) / 2
    width, height = dataset.manifest.image_size
    boxes = [
        keypoint_box(dataset.poses.keypoints[t], dataset.poses.valid[t], (width, height)) or (0, 0, width, height)
        for t in frames
    ]
    body_size = (width // 2, height)
    body_fake, body_real = crop_resized(fake01, boxes, body_size), crop_resized(real01, boxes, body_size)
    face_boxes = dataset.face_boxes[frames.start : frames.stop]
    face_fake, index = crop_boxes(fake01, face_boxes)
    face_real, _ = crop_boxes(real01, face_boxes)
    has_face = len(index) > 0
    return EvalResult(
        body_ssim=float(ssim(body_fake, body_real).mean()),
        body_psnr=float(psnr(body_fake, body_real).mean()),
        face_ssim=float(ssim(face_fake, face_real).mean()) if has_face else None,
        face_psnr=float(psnr(face_fake, face_real).mean()) if has_face else None,
        flicker=flicker(fake01, real01),
        l1=float(l1_error(fake, real).mean()),
        num_frames=len(frames),
    )


def nearest_pose_frames(dataset: Dataset, train_end: int, held_out: range) -> np.ndarray:
    """For each held-out frame, the training frame whose pose is closest (mean distance over the
    joints seen in both); the poses share the target's pixel frame, so no normalization is needed."""
    poses = dataset.poses
    train_points, train_valid = poses.keypoints[:train_end], poses.valid[:train_end]
    picks = []
    for t in held_out:
        both = train_valid & poses.valid[t]
        dist = np.linalg.norm(np.nan_to_num(train_points - poses.keypoints[t]), axis=-1)
        mean = np.where(both.any(axis=1), (dist * both).sum(axis=1) / np.maximum(both.sum(axis=1), 1), np.inf)
        picks.append(int(np.argmin(mean)))
    return np.asarray(picks)


PERSON_MARGIN = 9  # px (at the dataset's size) the person masks grow by: edges and the shadow near them


def person_region(dataset: Dataset, held_out: range, nearest: np.ndarray) -> Tensor:
    """(T, 1, H, W) bool: where the held-out frame's person or its nearest-pose frame's person
    (`nearest`, from nearest_pose_frames) stands, masks grown by PERSON_MARGIN: the pixels a
    pose-driven answer can get wrong."""
    frames = np.concatenate([np.arange(held_out.start, held_out.stop), nearest])
    kernel = np.ones((PERSON_MARGIN, PERSON_MARGIN), np.uint8)
    grown = np.stack([cv2.dilate((np.asarray(dataset.masks[t]) > 127).astype(np.uint8), kernel) for t in frames]).astype(bool)
    half = len(held_out)
    return torch.from_numpy(grown[:half] | grown[half:])[:, None]


def _region_at(region: Tensor, real: Tensor) -> Tensor:
    """`region` (T, 1, h, w) bool at the size of the frames it marks."""
    if region.shape[-2:] == real.shape[-2:]:
        return region
    return torch.nn.functional.interpolate(region.float(), size=real.shape[-2:], mode="nearest") > 0.5


def l1_split(answer: Tensor, real: Tensor, region: Tensor) -> dict[str, float]:
    """L1 as two shares that add up to it: inside `region` (the person) and outside (background)."""
    region = _region_at(region, real)
    error = (real - answer).abs()
    inside = error * region
    return {"person": float(inside.sum() / error.numel()), "background": float((error - inside).sum() / error.numel())}


def region_l1(answer: Tensor, real: Tensor, region: Tensor) -> float:
    """Mean absolute error over the pixels of `region` alone (the person): not diluted by background."""
    inside = _region_at(region, real).expand_as(real)
    return float((real - answer).abs()[inside].mean()) if inside.any() else float("nan")


def baseline_answers(dataset: Dataset, train_end: int, held_out: range, nearest: np.ndarray) -> tuple[Tensor, dict[str, Tensor]]:
    """The real held-out frames and the answers of `baseline_l1`, at the dataset's size
    (`nearest`: the training frames nearest_pose_frames picks)."""
    real = images_to_tensor(np.asarray(dataset.frames[held_out.start : held_out.stop]))
    mean = images_to_tensor(np.asarray(dataset.frames[:train_end]).mean(axis=0, keepdims=True).round().astype(np.uint8))
    nearest = images_to_tensor(np.asarray(dataset.frames[nearest]))
    plate = images_to_tensor(dataset.plate[None])
    mask = torch.from_numpy(np.asarray(dataset.masks[held_out.start : held_out.stop], np.float32) / 255)[:, None]
    person_on_plate = real * mask + plate * (1 - mask)
    return real, {"mean_image": mean, "plate": plate, "nearest_pose": nearest, "person_on_plate": person_on_plate}


def baseline_l1(dataset: Dataset, train_end: int, held_out: range) -> dict[str, float]:
    """L1 (in [-1, 1] units) of three answers that need no generator: the bars a model must beat.

    mean_image: the mean training frame; plate: the background plate alone; nearest_pose: a copy
    of the training frame with the closest pose (strong when held-out frames resemble training ones,
    and stronger still next to them: a neighbouring frame shares the video's grain and exposure,
    which a median plate smooths away). person_on_plate is no baseline but a bound: the real
    held-out person (by its mask) over the plate, the best a compositing model can reach.
    """
    return answer_l1(*baseline_answers(dataset, train_end, held_out, nearest_pose_frames(dataset, train_end, held_out)))


def answer_l1(real: Tensor, answers: dict[str, Tensor]) -> dict[str, float]:
    return {name: float((real - answer).abs().mean()) for name, answer in answers.items()}


def evaluate_run(model: TrainedModel) -> dict[str, object]:
    """Scores of one run (loaded) on its held-out frames, with and without the face stage where it has one."""
    dataset = Dataset.open(model.info["run"]["dataset"])
    split = Split.of_run(model.info["run"])
    held_out = split.held_out
    start, stop = held_out.start, held_out.stop
    _, labels = held_out_conditioning(model, dataset, held_out)
    train_end = split.train.stop  # the baselines draw on the frames the model trained on, no closer
    nearest = nearest_pose_frames(dataset, train_end, held_out)
    dataset_real, answers = baseline_answers(dataset, train_end, held_out, nearest)
    real = dataset_real  # scored at the model's size (the baselines stay at the dataset's)
    size = model.config.image_size
    if tuple(real.shape[-2:]) != (size[1], size[0]):
        real = torch.nn.functional.interpolate(real, size=(size[1], size[0]), mode="area")
    boxes = torch.from_numpy(np.asarray(dataset.face_boxes[start:stop], np.int64))
    rows: dict[str, EvalResult] = {}
    body_name = "temporal" if model.config.temporal else "frame-by-frame"
    alphas: list[float] = []
    generated = generate_sequence(model, labels, boxes, use_face=False, alphas=alphas)
    rows[body_name] = score(generated, real, dataset, held_out)
    if model.face_generator is not None:
        generated = generate_sequence(model, labels, boxes)
        rows[model.row_name] = score(generated, real, dataset, held_out)
    coverage = float(np.mean(alphas)) if alphas else None
    region = person_region(dataset, held_out, nearest)
    shares = {"model": l1_split(generated, real, region)}
    person_l1 = region_l1(generated, real, region)
    shares |= {name: l1_split(answer, dataset_real, region) for name, answer in answers.items() if name != "mean_image"}
    return {"rows": rows, "baselines": answer_l1(dataset_real, answers), "l1_split": shares,
            "alpha_coverage": coverage, "held_out": [start, stop], "train_end": train_end,
            "person_ssim": list(rows.values())[-1].body_ssim, "person_l1": person_l1}


def write_eval(run_dir: Path, result: dict[str, object]) -> Path:
    """RUN/eval.json: the rows and baselines, plus "transfer" (per source), "held_out_pose" and
    "ceiling" (the real target frames) when `result` carries them (see trainer/transfer.py)."""
    path = RunFolder(Path(run_dir)).eval
    payload = {
        "rows": {name: row.as_dict() for name, row in result["rows"].items()},  # type: ignore[union-attr]
        "baselines": result["baselines"],
        "l1_split": result["l1_split"],
        "alpha_coverage": result["alpha_coverage"],
        "held_out": result["held_out"],
        "train_end": result["train_end"],
        "person_ssim": result.get("person_ssim"),
        "person_l1": result.get("person_l1"),
    }
    for key in ("transfer", "held_out_pose"):  # trainer/transfer.py's PoseScores, when computed
        if result.get(key) is not None:
            payload[key] = {name: score.as_dict() for name, score in result[key].items()}  # type: ignore[union-attr]
    if result.get("ceiling") is not None:
        payload["ceiling"] = result["ceiling"].as_dict()  # type: ignore[union-attr]
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path
