"""What the generator is conditioned on: the label alone (`LabelOnly`), or the label beside the
exemplar nearest the pose warped onto it (`ExemplarConditioner`); `conditioner_for` picks."""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import Tensor

from shared.io.tensors import label_to_tensor
from shared.label.channels import EXEMPLAR_NC, IMAGE_NC
from shared.label.exemplar.bank import LEVEL, ExemplarBank
from shared.pose.keypoints import PoseFrame

SWITCH_RATIO = 0.85  # live: change exemplar only when another is this much closer


def stack_conditioning(label: np.ndarray, rgb: np.ndarray | None, alpha: np.ndarray | None) -> np.ndarray:
    """(H, W, 7) uint8: label, warped exemplar, its mask (zeros when there is no exemplar)."""
    height, width = label.shape[:2]
    if rgb is None or alpha is None:
        return np.concatenate([label, np.zeros((height, width, EXEMPLAR_NC), np.uint8)], axis=2)
    return np.concatenate([label, rgb, alpha[..., None]], axis=2)


class ExemplarConditioner:
    """Live: the exemplar nearest each pose (for a per-part bank, each part's nearest), kept until
    another is SWITCH_RATIO closer, warped onto it."""

    def __init__(self, bank: ExemplarBank, switch_ratio: float = SWITCH_RATIO) -> None:
        self.bank = bank
        self.switch_ratio = switch_ratio
        self.reset()

    def reset(self) -> None:
        self.current: int | np.ndarray | None = None  # an index, or (P,) indices for a per-part bank

    def pick(self, pose: PoseFrame) -> int | np.ndarray | None:
        if self.bank.per_part:
            return self._pick_parts(pose)
        distances = self.bank.distances(pose)
        best = int(np.argmin(distances))
        if not np.isfinite(distances[best]):
            return self.current
        if self.current is None or distances[best] < self.switch_ratio * distances[self.current]:
            self.current = best
        return self.current

    def _pick_parts(self, pose: PoseFrame) -> np.ndarray | None:
        """`pick` part by part: each part keeps its exemplar until another is SWITCH_RATIO closer for it."""
        distances = self.bank.part_distances(pose)
        parts = np.arange(distances.shape[1])
        best = np.argmin(distances, axis=0)
        current = np.full(len(parts), -1, np.int64) if self.current is None else self.current
        held = np.where(current >= 0, distances[np.maximum(current, 0), parts], np.inf)
        switch = np.isfinite(distances[best, parts]) & ((current < 0) | (distances[best, parts] < self.switch_ratio * held))
        self.current = np.where(switch, best, current)
        return self.current if (self.current >= 0).any() else None

    def __call__(self, pose: PoseFrame, label: np.ndarray) -> Tensor:
        """(1, 7, H, W) float in [0, 1], the engine's label input, filled channel-first directly:
        the exemplar is painted into its planes, with no (H, W, 7) or uint8 image in between."""
        height, width = label.shape[:2]
        planes = np.zeros((IMAGE_NC + EXEMPLAR_NC, height, width), np.float32)
        for plane, channel in zip(planes, cv2.split(label)):  # split first: half the time of one strided pass
            np.multiply(channel, LEVEL, out=plane, dtype=np.float32)
        index = self.pick(pose) if pose.present else None
        if index is not None:
            exemplar = planes[IMAGE_NC:]
            self.bank.warp_into(index, pose, exemplar)
            np.rint(exemplar[:IMAGE_NC], out=exemplar[:IMAGE_NC])  # the levels `warp` would give
            exemplar *= LEVEL
        return torch.from_numpy(planes)[None]


class LabelOnly:
    """The paper's conditioning: the label image alone (models trained with --no-exemplar)."""

    def reset(self) -> None:
        pass

    def __call__(self, pose: PoseFrame, label: np.ndarray) -> Tensor:
        del pose  # the label already shows it
        return label_to_tensor(label)


def conditioner_for(bank: ExemplarBank | None) -> ExemplarConditioner | LabelOnly:
    """What turns (pose, label) into an engine's label input: one per stream (it keeps state)."""
    return LabelOnly() if bank is None else ExemplarConditioner(bank)
