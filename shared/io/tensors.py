"""Pictures <-> the tensors the networks take, in one place so every stage agrees on the ranges.

Labels (and the 7-channel exemplar conditioning) go in as floats in [0, 1]; camera images and
generated frames live in [-1, 1] (pix2pixHD's tanh range). Single images are HxWxC uint8 and become
(1, C, H, W); batches are (N, H, W, C) and become (N, C, H, W).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def label_to_tensor(label: np.ndarray) -> Tensor:
    """HxWxC uint8 label (RGB, or the 7-channel exemplar conditioning) -> (1, C, H, W) float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(label)).permute(2, 0, 1)[None].float().div_(255.0)


def labels_to_tensor(labels: np.ndarray) -> Tensor:
    """(N, H, W, C) uint8 -> (N, C, H, W) float in [0, 1], the generator's label input."""
    return torch.from_numpy(np.array(labels)).permute(0, 3, 1, 2).float() / 255.0


def images_to_tensor(images: np.ndarray) -> Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float in [-1, 1], the generator's image space."""
    return torch.from_numpy(np.array(images)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def image_to_tensor(image: np.ndarray) -> Tensor:
    """HxWx3 uint8 RGB (a frame, the background plate) -> (1, 3, H, W) in [-1, 1]."""
    return images_to_tensor(np.asarray(image)[None])


def tensor_to_images(images: Tensor) -> np.ndarray:
    """(N, 3, H, W) in [-1, 1] -> (N, H, W, 3) uint8."""
    return ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()


def tensor_to_image(frame: Tensor) -> np.ndarray:
    """(1, 3, H, W) in [-1, 1] -> HxWx3 uint8 RGB, contiguous (OpenCV and encoders need that)."""
    return np.ascontiguousarray(tensor_to_images(frame[:1])[0])
