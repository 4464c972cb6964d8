"""Exact torch-level rewrites applied before export: same function, a graph onnxruntime runs better.

Each rewrite computes what the layer it replaces computes (up to float summation order) and is
checked by the export's parity test like everything else; training code never sees them.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# onnxruntime's blocked (NCHWc) convolutions work on channel blocks of 8 (AVX2) or 16 (AVX-512)
# and pad a conv's output channels up to a whole block. An image head (3 or 4 output channels)
# then computes 4-5x the outputs it keeps; packing 4 output phases fills the block instead.
PACK_MAX_OUT_CHANNELS = 4


class AccurateInstanceNorm(nn.Module):
    """InstanceNorm2d without affine parameters, as plain ops whose means go over rows, then columns.

    onnxruntime's InstanceNormalization (like a one-level ReduceMean) sums a whole feature map in
    one fp32 pass. Where a map's mean is large next to its spread (on the first frame: zeros fed
    back and a mostly black label), that rounding error, divided by the small std, reaches 1e-3
    inside the network and 1e-4 at its output, beyond the fp32 parity bound. Two-level means (256
    + 256 terms rather than 65536) are as exact as torch's, at the same speed (bench/generator.py).
    """

    def __init__(self, eps: float) -> None:
        super().__init__()
        self.eps = eps

    @staticmethod
    def _mean(x: Tensor) -> Tensor:
        return x.mean(dim=3, keepdim=True).mean(dim=2, keepdim=True)

    def forward(self, x: Tensor) -> Tensor:
        centred = x - self._mean(x)
        return centred / torch.sqrt(self._mean(centred * centred) + self.eps)


class PhasePackedConv(nn.Module):
    """A stride-1 unpadded KxK conv with few output channels, as a stride-2 (K+1)x(K+1) conv whose
    output channels are the 4 pixel phases (row parity x column parity) of each original channel,
    put back in place by a pixel shuffle (ONNX DepthToSpace).

    Output pixel (2Y + py, 2X + px) reads the input window at (2Y + py, 2X + px); that is the
    stride-2 window at (2Y, 2X) with the KxK kernel shifted by (py, px) inside a (K+1)x(K+1) one.
    On the tiny body's 7x7 head (16 -> 4 channels at 256x256) onnxruntime's time for the layer
    drops from 7.5 ms to 2.5 ms + 0.7 ms for the shuffle on 2 cores: the packed conv does 1.3x
    the multiply-adds but fills the 16-channel blocks the original left three-quarters empty.
    The input's height and width after padding must be even (the head's are: image + 6).
    """

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        if not is_packable(conv):
            raise ValueError(f"{conv} is not a stride-1, unpadded, ungrouped, undilated conv")
        k = conv.kernel_size[0]
        weight = conv.weight.detach()
        out_ch, in_ch = weight.shape[:2]
        packed = weight.new_zeros(out_ch, 2, 2, in_ch, k + 1, k + 1)  # (out, py, px, in, ky, kx)
        for py in range(2):
            for px in range(2):
                packed[:, py, px, :, py : py + k, px : px + k] = weight
        self.weight = nn.Parameter(packed.reshape(out_ch * 4, in_ch, k + 1, k + 1), requires_grad=False)
        bias = conv.bias.detach() if conv.bias is not None else weight.new_zeros(out_ch)
        self.bias = nn.Parameter(bias.repeat_interleave(4), requires_grad=False)
        self.kernel = k

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[2] % 2 or x.shape[3] % 2:
            raise ValueError(f"PhasePackedConv needs an even input height and width, got {tuple(x.shape[2:])}")
        return F.pixel_shuffle(F.conv2d(x, self.weight, self.bias, stride=2), 2)


def is_packable(conv: nn.Conv2d) -> bool:
    """Whether `conv` is a plain stride-1 square conv without padding (the reflection pad is a
    separate layer in these networks)."""
    return (
        conv.stride == (1, 1)
        and conv.padding in ((0, 0), "valid")
        and conv.dilation == (1, 1)
        and conv.groups == 1
        and conv.kernel_size[0] == conv.kernel_size[1]
    )


def for_export(module: nn.Module) -> nn.Module:
    """A copy of `module` with every InstanceNorm2d replaced by `AccurateInstanceNorm` and every
    packable conv with at most PACK_MAX_OUT_CHANNELS outputs (the image heads) by `PhasePackedConv`."""
    module = copy.deepcopy(module)
    children = [(parent, name, child) for parent in module.modules() for name, child in parent.named_children()]
    for parent, name, child in children:
        if isinstance(child, nn.InstanceNorm2d):
            if child.affine or child.track_running_stats:
                raise ValueError(f"{name}: only InstanceNorm2d without affine parameters or running stats is exported")
            setattr(parent, name, AccurateInstanceNorm(child.eps))
        elif type(child) is nn.Conv2d and child.out_channels <= PACK_MAX_OUT_CHANNELS and is_packable(child):
            setattr(parent, name, PhasePackedConv(child))
    return module
