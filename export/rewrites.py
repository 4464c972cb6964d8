"""Exact torch-level rewrites applied before export: same function, a graph onnxruntime runs better.

Each rewrite computes what the layer it replaces computes (up to float summation order) and is
checked by the export's parity test like everything else; training code never sees them.
`for_export` makes the fp32 graph (which must match torch to 1e-4); `for_int8` makes the graph the
int8 one is quantized from, where speed wins over fp32 rounding (see export.int8).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from shared.model.networks import GlobalGenerator, LocalEnhancer

# onnxruntime's blocked (NCHWc) convolutions work on channel blocks of 8 (AVX2) or 16 (AVX-512)
# and pad a conv's output channels up to a whole block. An image head (3 to 5 output channels:
# RGB, alpha for compositing, the exemplar blend) then computes 3-5x the outputs it keeps; packing
# 4 output phases fills the blocks instead. (The exemplar model's 5-channel head, left unpacked,
# took 27 ms of the tiny int8 body's 67 on one core.)
PACK_MAX_OUT_CHANNELS = 5


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


class SubPixelConvTranspose(nn.Module):
    """pix2pixHD's upsampler, ConvTranspose2d(k=3, stride=2, padding=1, output_padding=1), as a
    2x2 conv over the input padded by one row and column at the end, whose output channels are the
    4 pixel phases of each original channel, put in place by a pixel shuffle (ONNX DepthToSpace).

    Output pixel (2i + a, 2j + b) gathers input pixels (i, j) and (i + 1, j + 1) in each direction
    that has an odd phase: rows use kernel row 1 for a = 0, rows 2 (at i) and 0 (at i + 1) for
    a = 1, and columns likewise; the 2x2 kernel holds those taps (zeros where a phase has one).
    The point is int8: onnxruntime has no quantized ConvTranspose, so the original upsamplers
    stay fp32 between a dequantize and a quantize, while this conv becomes one more QLinearConv
    (with the shuffle moved onto its uint8 output, see export.int8). On the tiny body (1 thread)
    the three upsamplers went from 7.4 ms to 2.9 ms of QLinearConv + 2.2 ms of uint8 shuffles.
    """

    TAPS = {0: {0: 1}, 1: {0: 2, 1: 0}}  # output phase -> {2x2 tap offset: 3x3 kernel index}

    def __init__(self, upsample: nn.ConvTranspose2d) -> None:
        super().__init__()
        if not is_pix2pixhd_upsampler(upsample):
            raise ValueError(f"{upsample} is not a ConvTranspose2d(k=3, stride=2, padding=1, output_padding=1)")
        weight = upsample.weight.detach()  # (in, out, 3, 3)
        in_ch, out_ch = weight.shape[:2]
        packed = weight.new_zeros(out_ch, 2, 2, in_ch, 2, 2)  # (out, phase row, phase col, in, tap row, tap col)
        for a, rows in self.TAPS.items():
            for b, cols in self.TAPS.items():
                for dy, ky in rows.items():
                    for dx, kx in cols.items():
                        packed[:, a, b, :, dy, dx] = weight[:, :, ky, kx].t()
        self.weight = nn.Parameter(packed.reshape(out_ch * 4, in_ch, 2, 2), requires_grad=False)
        bias = upsample.bias.detach() if upsample.bias is not None else weight.new_zeros(out_ch)
        self.bias = nn.Parameter(bias.repeat_interleave(4), requires_grad=False)

    def forward(self, x: Tensor) -> Tensor:
        return F.pixel_shuffle(F.conv2d(F.pad(x, (0, 1, 0, 1)), self.weight, self.bias), 2)


def is_pix2pixhd_upsampler(layer: nn.Module) -> bool:
    """Whether `layer` is the transposed conv that exactly doubles height and width in these networks."""
    return (
        type(layer) is nn.ConvTranspose2d
        and layer.kernel_size == (3, 3)
        and layer.stride == (2, 2)
        and layer.padding == (1, 1)
        and layer.output_padding == (1, 1)
        and layer.dilation == (1, 1)
        and layer.groups == 1
    )


class _SpaceToDepth(torch.autograd.Function):
    """ONNX SpaceToDepth (block 2): (N, C, H, W) -> (N, 4C, H/2, W/2), channel (by * 2 + bx) * C + c
    holding pixel (2y + by, 2x + bx) of channel c. torch's pixel_unshuffle orders the channels the
    other way round and exports as a 6-D Transpose (3.3 ms on the stem's input, 1 thread) where
    onnxruntime's SpaceToDepth takes 0.4 ms."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # noqa: ANN001, ARG004 - autograd's signature
        return _blocks_to_channels(x)

    @staticmethod
    def symbolic(g, x):  # noqa: ANN001, ANN205 - the TorchScript exporter's hook
        return g.op("SpaceToDepth", x, blocksize_i=2)


def _blocks_to_channels(x: Tensor) -> Tensor:
    """(N, C, H, W) -> (N, 4C, H/2, W/2), value (c, 2y + by, 2x + bx) to ((by * 2 + bx) * C + c, y, x)."""
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 3, 5, 1, 2, 4).reshape(n, 4 * c, h // 2, w // 2)


def space_to_depth(x: Tensor) -> Tensor:
    """See `_SpaceToDepth`; height and width must be even."""
    return _SpaceToDepth.apply(x)


def stride_one_weight(weight: Tensor) -> Tensor:
    """The kernel that, over `space_to_depth(x)` at stride 1, computes the stride-2 conv of x with
    `weight` (O, C, 2k, 2k): kernel tap (2ty + by, 2tx + bx) of channel c moves to tap (ty, tx) of
    channel (by * 2 + bx) * C + c."""
    kh, kw = weight.shape[2:]
    if kh % 2 or kw % 2:
        raise ValueError(f"a stride-2 kernel of even size is needed, got {kh}x{kw}")
    return _blocks_to_channels(weight)  # the kernel's taps regrouped exactly as the input's pixels


class SpaceToDepthStem(nn.Module):
    """A generator's first layers, reflection pad + 7x7 stem conv + instance norm + ReLU + stride-2
    3x3 downsampling conv (zero padding 1), computed at half resolution on the stem's 4 pixel phases.

    The stem conv becomes a `PhasePackedConv` without its pixel shuffle: its output holds, for each
    channel, the 4 phases as 4 channels. Instance norm takes its statistics over a channel's 4
    phases together (a reshape that stacks them), ReLU is per pixel, and the downsampling conv
    reads full-resolution pixels 2Y - 1, 2Y, 2Y + 1, which are phase 1 at Y - 1 and phases 0 and
    1 at Y: a 2x2 conv over the phases, padded by one zero row and column at the top and left.
    No pixel shuffle is left. The point is int8: the stem, with 6 input channels, ran at a third of
    the speed of the other QLinearConvs; on the tiny body (1 thread) the stem and downsampling
    convs went from 6.6 ms to 3.9 ms.

    The stride-2 8x8 stem conv itself runs as a stride-1 4x4 conv over the padded input's
    `space_to_depth`: the same multiply-adds, which onnxruntime's int8 conv does about twice as
    fast at stride 1 (the exemplar body's stem, 10 input channels: 6.4-7.4 ms -> 4.0 ms + 0.4 ms
    for the SpaceToDepth, 1 thread).
    """

    TAPS = {0: {1: 1}, 1: {0: 0, 1: 2}}  # phase -> {tap (packed offset + 1): 3x3 kernel index}

    def __init__(self, pad: nn.ReflectionPad2d, stem: nn.Conv2d, norm: nn.Module, down: nn.Conv2d) -> None:
        super().__init__()
        self.pad = pad
        packed = PhasePackedConv(stem)
        self.stem_weight = nn.Parameter(stride_one_weight(packed.weight.detach()), requires_grad=False)
        self.stem_bias = nn.Parameter(packed.bias.detach(), requires_grad=False)
        self.norm = norm
        weight = down.weight.detach()  # (out, in, 3, 3)
        out_ch, in_ch = weight.shape[:2]
        packed = weight.new_zeros(out_ch, in_ch, 2, 2, 2, 2)  # (out, in, phase row, phase col, tap row, tap col)
        for py, rows in self.TAPS.items():
            for px, cols in self.TAPS.items():
                for ty, ky in rows.items():
                    for tx, kx in cols.items():
                        packed[:, :, py, px, ty, tx] = weight[:, :, ky, kx]
        self.down_weight = nn.Parameter(packed.reshape(out_ch, in_ch * 4, 2, 2), requires_grad=False)
        bias = down.bias.detach() if down.bias is not None else weight.new_zeros(out_ch)
        self.down_bias = nn.Parameter(bias, requires_grad=False)

    def forward(self, x: Tensor) -> Tensor:
        phases = F.conv2d(space_to_depth(self.pad(x)), self.stem_weight, self.stem_bias)  # (N, 4C, H/2, W/2)
        normed = _norm_over_phases(self.norm, phases)
        return F.conv2d(F.pad(F.relu(normed), (1, 0, 1, 0)), self.down_weight, self.down_bias)


def _norm_over_phases(norm: nn.Module, phases: Tensor) -> Tensor:
    """Instance norm of (N, 4C, H, W) pixel phases (channel c * 4 + phase), each channel's statistics
    over its 4 phases together: the norm of the full-resolution map, without building it."""
    n, channels, height, width = (int(d) for d in phases.shape)  # constants in the graph (ONNX's norm needs C)
    return norm(phases.reshape(n, channels // 4, 4 * height, width)).reshape(n, channels, height, width)


def _is_stem_and_downsample(layers: list[nn.Module]) -> bool:
    """Whether `layers` are [reflection pad, stem conv, instance norm, ReLU, downsampling conv], as
    every generator here starts (shared.model.networks: _stem, then _downsample)."""
    if len(layers) < 5:
        return False
    pad, stem, norm, relu, down = layers[:5]
    return (
        type(pad) is nn.ReflectionPad2d
        and type(stem) is nn.Conv2d and is_packable(stem)
        and isinstance(norm, nn.InstanceNorm2d)
        and type(relu) is nn.ReLU
        and type(down) is nn.Conv2d
        and (down.kernel_size, down.stride, down.padding, down.dilation, down.groups) == ((3, 3), (2, 2), (1, 1), (1, 1), 1)
        and down.padding_mode == "zeros"
        and down.in_channels == stem.out_channels
    )


def _space_to_depth_stems(module: nn.Module) -> None:
    """Replace the first five layers of every Sequential that starts like a generator by a
    `SpaceToDepthStem`, in place."""
    for sequential in [m for m in module.modules() if type(m) is nn.Sequential]:
        layers = list(sequential)
        if _is_stem_and_downsample(layers):
            pad, stem, norm, _, down = layers[:5]
            del sequential[:5]
            sequential.insert(0, SpaceToDepthStem(pad, stem, norm, down))


def _reflected_phase(phase: Tensor, dim: int, q: int) -> Tensor:
    """Phase `q` (0: even, 1: odd positions) along `dim` of an image reflection-padded by 3, from
    phase 1 - q of the image itself (`phase`, n values along `dim`).

    Padded position 2j + q holds image position 2j + q - 3 (reflected at the ends): for q = 0 that
    is image positions -3, -1, 1, ..., 2n - 1, 2n + 1, i.e. odd phase values 1, 0, 0..n-1, n-2; for
    q = 1, image positions -2, 0, ..., 2n - 2, 2n, 2n + 2, i.e. even phase values 1, 0..n-1, n-1, n-2.
    """
    n = phase.shape[dim]
    first, second = phase.narrow(dim, 0, 1), phase.narrow(dim, 1, 1)
    last, before_last = phase.narrow(dim, n - 1, 1), phase.narrow(dim, n - 2, 1)
    parts = [second, first, phase, before_last] if q == 0 else [second, phase, last, before_last]
    return torch.cat(parts, dim)


class PhaseUpsampleHead(nn.Module):
    """A generator's last upsampler + instance norm + ReLU + image head (reflection pad 3, 7x7 conv),
    computed on the upsampler's 4 pixel phases at half resolution.

    The upsampler is a `SubPixelConvTranspose` without its pixel shuffle, normalized over each
    channel's 4 phases together (as `SpaceToDepthStem` does). The head reads the full-resolution
    map reflection-padded by 3 in space-to-depth form: phase (qy, qx) of the padded map is phase
    (1 - qy, 1 - qx) of the map, its rows and columns re-indexed at the borders (`_reflected_phase`);
    the head conv is then the phase-packed stride-1 4x4 conv over that (`stride_one_weight`), and
    one pixel shuffle of its few output channels is left. The full-resolution feature map is never
    built: on the exemplar body (1 thread) its uint8 pixel shuffle alone took 2.2 ms.
    """

    def __init__(self, upsample: nn.ConvTranspose2d, norm: nn.Module, pad: nn.ReflectionPad2d, conv: nn.Conv2d) -> None:
        super().__init__()
        if tuple(pad.padding) != (3, 3, 3, 3) or conv.kernel_size != (7, 7):
            raise ValueError("PhaseUpsampleHead computes a reflection pad of 3 followed by a 7x7 conv")
        sub_pixel = SubPixelConvTranspose(upsample)
        self.up_weight, self.up_bias = sub_pixel.weight, sub_pixel.bias
        self.norm = norm
        packed = PhasePackedConv(conv)
        self.head_weight = nn.Parameter(stride_one_weight(packed.weight.detach()), requires_grad=False)
        self.head_bias = packed.bias

    def forward(self, x: Tensor) -> Tensor:
        up = F.conv2d(F.pad(x, (0, 1, 0, 1)), self.up_weight, self.up_bias)  # channel c * 4 + row phase * 2 + column phase
        n, channels, height, width = (int(d) for d in up.shape)
        phases = F.relu(_norm_over_phases(self.norm, up)).reshape(n, channels // 4, 2, 2, height, width)
        rows = [_reflected_phase(phases[:, :, 1 - qy], dim=3, q=qy) for qy in range(2)]  # (n, c, 2, height + 3, width)
        padded = [_reflected_phase(rows[qy][:, :, 1 - qx], dim=3, q=qx) for qy in range(2) for qx in range(2)]
        return F.pixel_shuffle(F.conv2d(torch.cat(padded, dim=1), self.head_weight, self.head_bias), 2)


def _is_upsampler_norm_relu(layers: list[nn.Module]) -> bool:
    return (
        len(layers) >= 3
        and is_pix2pixhd_upsampler(layers[-3])
        and isinstance(layers[-2], nn.InstanceNorm2d)
        and type(layers[-1]) is nn.ReLU
    )


def _is_image_head(head: nn.Module) -> bool:
    return (
        type(head) is nn.Sequential
        and len(head) == 3
        and type(head[0]) is nn.ReflectionPad2d
        and tuple(head[0].padding) == (3, 3, 3, 3)
        and type(head[1]) is nn.Conv2d and is_packable(head[1]) and head[1].kernel_size == (7, 7)
    )


def _phase_heads(module: nn.Module) -> None:
    """In every generator whose features end in an upsampler + norm + ReLU (a global generator's
    trunk, a local enhancer's local branch), move those layers into a `PhaseUpsampleHead` with
    the image head, in place."""
    for generator in list(module.modules()):
        if isinstance(generator, GlobalGenerator):
            features = generator.trunk
        elif isinstance(generator, LocalEnhancer):
            features = generator.local_up
        else:
            continue
        if not (_is_upsampler_norm_relu(list(features)) and _is_image_head(generator.head)):
            continue
        upsample, norm = features[-3], features[-2]
        del features[-3:]
        pad, conv, squash = generator.head
        generator.head = nn.Sequential(PhaseUpsampleHead(upsample, norm, pad, conv), squash)


def _rewrite(module: nn.Module, accurate_norm: bool, phase_layers: bool) -> nn.Module:
    """A rewritten copy; `phase_layers`: stems and upsamplers on pixel phases (for int8)."""
    module = copy.deepcopy(module)
    if phase_layers:
        _space_to_depth_stems(module)
        _phase_heads(module)
    children = [(parent, name, child) for parent in module.modules() for name, child in parent.named_children()]
    for parent, name, child in children:
        if isinstance(child, nn.InstanceNorm2d):
            if child.affine or child.track_running_stats:
                raise ValueError(f"{name}: only InstanceNorm2d without affine parameters or running stats is exported")
            if accurate_norm:
                setattr(parent, name, AccurateInstanceNorm(child.eps))
        elif type(child) is nn.Conv2d and child.out_channels <= PACK_MAX_OUT_CHANNELS and is_packable(child):
            setattr(parent, name, PhasePackedConv(child))
        elif phase_layers and is_pix2pixhd_upsampler(child):
            setattr(parent, name, SubPixelConvTranspose(child))
    return module


def for_export(module: nn.Module) -> nn.Module:
    """A copy of `module` for the fp32 graph: every InstanceNorm2d replaced by `AccurateInstanceNorm`
    and every packable conv with at most PACK_MAX_OUT_CHANNELS outputs (the image heads) by
    `PhasePackedConv`. (A sub-pixel upsampler is slower in fp32: its shuffle costs more than the
    transposed conv it saves.)"""
    return _rewrite(module, accurate_norm=True, phase_layers=False)


def for_int8(module: nn.Module) -> nn.Module:
    """A copy of `module` for the graph int8 is quantized from: the stems as `SpaceToDepthStem`,
    each generator's last upsampler and image head as one `PhaseUpsampleHead`, the other
    upsamplers as `SubPixelConvTranspose`, and onnxruntime's own
    InstanceNormalization (its 4e-4 fp32 rounding is nothing beside int8's; on the tiny body
    2.4 ms, plus 1.5 ms of layout transposes around it, against 6.2 ms for the accurate form's
    plain ops)."""
    return _rewrite(module, accurate_norm=False, phase_layers=True)
