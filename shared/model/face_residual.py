"""FaceGAN at inference and training: crop the face box, add the face generator's residual, paste back.

Every sample in a batch shares one box size (fixed per resolution), so crops stack into one batch.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from shared.label.channels import IMAGE_NC


def crop_faces(images: Tensor, boxes: Tensor) -> Tensor:
    """(N, C, H, W) and (N, 3) boxes (x0, y0, size; all valid, one size) -> (N, C, size, size)."""
    size = int(boxes[0, 2])
    return torch.stack([img[:, int(y0) : int(y0) + size, int(x0) : int(x0) + size] for img, (x0, y0, _) in zip(images, boxes)])


def face_label_crops(labels: Tensor, boxes: Tensor) -> Tensor:
    """The face generator's label input: the face box of the stick figure (the first IMAGE_NC
    channels), whatever else the body's conditioning carries (a warped exemplar)."""
    return crop_faces(labels[:, :IMAGE_NC], boxes)


def paste_faces(images: Tensor, crops: Tensor, boxes: Tensor) -> Tensor:
    """A copy of `images` with each crop written at its box (differentiable in both inputs)."""
    out = images.clone()
    size = crops.shape[-1]
    for i, (x0, y0, _) in enumerate(boxes.tolist()):
        out[i, :, y0 : y0 + size, x0 : x0 + size] = crops[i]
    return out


def add_face_residual(frames: Tensor, labels: Tensor, boxes: Tensor, face_generator: nn.Module) -> Tensor:
    """Frames with the FaceGAN residual added inside each valid box (boxes with size <= 0 are skipped).

    Outside the boxes the frames are returned unchanged; inside, `crop + residual` clamped to [-1, 1].
    """
    has_face = boxes[:, 2] > 0
    if not bool(has_face.any()):
        return frames
    if not bool(has_face.all()):  # refine the frames with a face, keep the others
        index = torch.nonzero(has_face).flatten()
        out = frames.clone()
        out[index] = add_face_residual(frames[index], labels[index], boxes[index], face_generator)
        return out
    # Every frame has a face (always so live): no gathering of whole frames, one copy for the paste.
    frame_crops = crop_faces(frames, boxes)
    residual = face_generator(face_label_crops(labels, boxes), frame_crops)
    return paste_faces(frames, (frame_crops + residual).clamp(-1.0, 1.0), boxes)
