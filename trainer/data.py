"""Batches of consecutive frame pairs from a prepared dataset, as tensors.

Which frames make a batch depends only on (seed, step, rank), so a resumed run sees exactly the
batches an uninterrupted one would, and no sampler state needs saving.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from shared.errors import DanceError
from shared.io.tensors import images_to_tensor, labels_to_tensor
from shared.label.exemplar.bank import ExemplarBank
from shared.label.exemplar.conditioner import stack_conditioning
from trainer.augment import AugmentConfig, augment_pair
from trainer.dataset import Dataset

HELD_OUT_FRACTION = 0.1
# Training never borrows an exemplar from this close to the frame it learns (it would show the
# answer): the generator must learn to fix an exemplar that is near, not equal, as live gives it.
EXEMPLAR_EXCLUDE_SECONDS = 0.25
EXEMPLAR_TOP = 3  # training draws among this many nearest exemplars
# ... except for this share of the pairs, which get the nearest exemplar from outside a few
# frames only: live, a source whose pose the target once held gets an exemplar that close, and
# the generator should then copy it nearly as it is rather than redraw it. On motion the target
# never made, 0.8 measured better than 0.5 (a model that copies more keeps the warped person whole;
# README, "Real people: transfer on motion the target never made").
EXEMPLAR_NEAR_SHARE = 0.8
EXEMPLAR_NEAR_EXCLUDE_SECONDS = 0.04


# Held-out frames are kept this far from the training frames, by the rule above: a training frame
# closer than that shows the answer. Without the gap, on Pose2Sim cam01 the training frame with the
# nearest pose was the last one for every held-out frame (the held-out motion comes right after it,
# not earlier in the clip), and copying it won by adjacency, background grain and exposure included.
HELD_OUT_GAP_SECONDS = EXEMPLAR_EXCLUDE_SECONDS
MIN_TRAIN_FRAMES = 3


@dataclass(frozen=True)
class Split:
    train: range  # frame indices a pair (t-1, t) may end at during training
    held_out: range  # the last frames (10% by default), never trained on

    @property
    def gap(self) -> range:
        """Frames between the two, used for neither (HELD_OUT_GAP_SECONDS)."""
        return range(self.train.stop, self.held_out.start)

    @classmethod
    def of_run(cls, run_info: dict) -> Split:
        """The split a run trained with, from its info; runs saved before the gap have none."""
        start, stop = run_info["held_out"]
        train = run_info.get("train", [1, start])
        return cls(train=range(*train), held_out=range(start, stop))


def split_frames(num_frames: int, fps: float, held_out_fraction: float = HELD_OUT_FRACTION) -> Split:
    """The last `held_out_fraction` of the frames held out (10% by default), HELD_OUT_GAP_SECONDS
    before them left out (less in a clip too short to spare it), the rest trained on."""
    held = max(2, int(round(num_frames * held_out_fraction)))
    if num_frames - held < MIN_TRAIN_FRAMES:
        raise DanceError(f"the dataset has {num_frames} frames; training needs at least {held + MIN_TRAIN_FRAMES}")
    gap = min(int(round(HELD_OUT_GAP_SECONDS * fps)), num_frames - held - MIN_TRAIN_FRAMES)
    return Split(train=range(1, num_frames - held - gap), held_out=range(num_frames - held, num_frames))


@dataclass
class PairBatch:
    """Frames t-1 and t: labels (N, C, H, W) in [0, 1] (C = 3, or 7 with the warped exemplar),
    images (N, 3, H, W) in [-1, 1]; face boxes (N, 3) of frame t; the person masks (N, 1, H, W) in
    [0, 1] (what a compositing generator's alpha should be)."""

    label_prev: Tensor
    label: Tensor
    image_prev: Tensor
    image: Tensor
    face_box: Tensor
    mask_prev: Tensor
    mask: Tensor

    def to(self, device: torch.device) -> PairBatch:
        return PairBatch(*(getattr(self, f).to(device, non_blocking=True) for f in self.__dataclass_fields__))


def resize_pair_batch(batch: PairBatch, size: tuple[int, int]) -> PairBatch:
    """Downscale for a coarse stage: area-average images, nearest-neighbour labels (as the paper)."""
    width, height = size
    if batch.image.shape[-1] == width and batch.image.shape[-2] == height:
        return batch
    scale = width / batch.image.shape[-1]
    area = lambda x: F.interpolate(x, size=(height, width), mode="area")  # noqa: E731
    nearest = lambda x: F.interpolate(x, size=(height, width), mode="nearest")  # noqa: E731
    boxes = batch.face_box.clone()
    has_box = boxes[:, 2] > 0
    boxes[has_box] = (boxes[has_box].float() * scale).round().long()
    return PairBatch(nearest(batch.label_prev), nearest(batch.label), area(batch.image_prev), area(batch.image), boxes,
                     area(batch.mask_prev), area(batch.mask))  # fmt: skip


class PairSampler:
    """Draws training batches of pairs (t-1, t) from a dataset's training split."""

    def __init__(self, dataset: Dataset, frames: range, seed: int, rank: int = 0, augment: AugmentConfig | None = None,
                 exemplars: ExemplarBank | None = None) -> None:  # fmt: skip
        self.dataset = dataset
        self.frames = np.asarray(frames)
        self.seed = seed
        self.rank = rank
        self.augment = augment  # move and resize the person in some pairs (see trainer/augment.py)
        self.exemplars = exemplars  # each pair's label gains an exemplar warped onto its poses (shared/label/exemplar/)
        self.exclude_radius = max(1, round(EXEMPLAR_EXCLUDE_SECONDS * dataset.manifest.fps))
        self.near_exclude_radius = max(1, round(EXEMPLAR_NEAR_EXCLUDE_SECONDS * dataset.manifest.fps))

    def with_faces(self) -> PairSampler:
        """Only pairs whose frame t has a face box (for the face stage; never augmented)."""
        boxes = self.dataset.face_boxes
        keep = [t for t in self.frames if boxes[t, 2] > 0]
        if not keep:
            raise DanceError("no training frame has a face box; the face stage cannot train")
        sampler = PairSampler(self.dataset, range(0), self.seed, self.rank, exemplars=self.exemplars)
        sampler.frames = np.asarray(keep)
        return sampler

    def indices(self, step: int, batch_size: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, step, self.rank])
        return self.frames[rng.integers(0, len(self.frames), batch_size)]

    def batch(self, step: int, batch_size: int) -> PairBatch:
        rng = np.random.default_rng([self.seed, step, self.rank, 1])
        return self.fetch(self.indices(step, batch_size), rng)

    def fetch(self, ends: np.ndarray, rng: np.random.Generator | None = None) -> PairBatch:
        """The pairs ending at `ends`. With `rng`, each pair's exemplar is drawn among the nearest
        few (else the nearest) and, with augmentation on, each pair is moved by its own random
        similarity or left as it is (see trainer/augment.py)."""
        data = self.dataset
        pairs = np.stack([ends - 1, ends], axis=1)  # (N, 2): frames t-1, t
        labels = np.asarray(data.labels[pairs.ravel()]).reshape(*pairs.shape, *data.labels.shape[1:])
        if self.exemplars is not None:
            labels = np.stack([self._with_exemplar(pair, labels[i], rng) for i, pair in enumerate(pairs)])
        frames = np.asarray(data.frames[pairs.ravel()]).reshape(*pairs.shape, *data.frames.shape[1:])
        boxes = np.asarray(data.face_boxes[pairs.ravel()], np.int64).reshape(*pairs.shape, 3)
        masks = np.asarray(data.masks[pairs.ravel()]).reshape(*pairs.shape, *data.masks.shape[1:])
        if rng is not None and self.augment is not None:
            for i in range(len(pairs)):
                labels[i], frames[i], masks[i], boxes[i] = augment_pair(
                    labels[i], frames[i], masks[i], boxes[i], data.plate, rng, self.augment
                )
        return PairBatch(
            label_prev=labels_to_tensor(labels[:, 0]),
            label=labels_to_tensor(labels[:, 1]),
            image_prev=images_to_tensor(frames[:, 0]),
            image=images_to_tensor(frames[:, 1]),
            face_box=torch.from_numpy(np.ascontiguousarray(boxes[:, 1])),
            mask_prev=labels_to_tensor(masks[:, 0, ..., None]),  # 0-255 -> [0, 1], as a label's channels
            mask=labels_to_tensor(masks[:, 1, ..., None]),
        )

    def _with_exemplar(self, pair: np.ndarray, labels: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        """(2, H, W, 3) labels of frames t-1, t -> (2, H, W, 7): one exemplar, chosen by frame t's
        pose, warped onto each frame's pose (the same texture for both, as live keeps it)."""
        bank, poses = self.exemplars, self.dataset.poses
        index = self.exemplar_for(int(pair[1]), rng)
        if index is None:
            return np.stack([stack_conditioning(label, None, None) for label in labels])
        return np.stack([stack_conditioning(label, *bank.warp(index, poses[int(t)])) for t, label in zip(pair, labels)])

    def exemplar_for(self, end: int, rng: np.random.Generator | None) -> int | np.ndarray | None:
        """The bank index of frame `end`'s exemplar ((P,) indices, one per part, for a per-part bank):
        without `rng` the nearest outside the wide exclusion; with it, a near one (EXEMPLAR_NEAR_SHARE
        of the time) or one of the nearest few."""
        bank, pose = self.exemplars, self.dataset.poses[end]
        if rng is not None and rng.random() < EXEMPLAR_NEAR_SHARE:
            return bank.choose(pose, end, self.near_exclude_radius, None)
        return bank.choose(pose, end, self.exclude_radius, rng, EXEMPLAR_TOP)
