"""Background-plate compositing: the generator draws the person and an alpha mask, the plate the rest.

The target is filmed by a static camera, so the background is the same in every frame. A small
generator that must also redraw that background spends its capacity there and blurs it; one that
outputs RGB + alpha over a fixed plate (the per-pixel median of the target frames) only has to
draw the person. frame = alpha * rgb + (1 - alpha) * plate, everything in [-1, 1] but alpha in [0, 1].
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

# Pre-tanh bias of the alpha channel at init: alpha = (tanh(b) + 1) / 2 = 0.018, so an untrained
# model returns (almost) the plate, while tanh's slope there (0.07) still lets alpha learn quickly.
ALPHA_INIT_BIAS = -2.0


def init_alpha_near_zero(output_conv: nn.Conv2d) -> None:
    """Start the 4th output channel (alpha) near zero."""
    with torch.no_grad():
        output_conv.bias[3].fill_(ALPHA_INIT_BIAS)


def alpha_of(output: Tensor) -> Tensor:
    """(N, 1, H, W) alpha in [0, 1] from a 4-channel generator output."""
    return (output[:, 3:4] + 1) / 2


def composite(output: Tensor, plate: Tensor | None) -> Tensor:
    """The frame a generator output stands for: RGB as is, or RGB + alpha over the plate."""
    if output.shape[1] == 3:
        return output
    if plate is None:
        raise ValueError("a compositing generator needs a background plate")
    alpha = alpha_of(output)
    return alpha * output[:, :3] + (1 - alpha) * plate

