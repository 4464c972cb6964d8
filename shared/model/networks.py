"""pix2pixHD networks: global generator, local enhancer, multi-scale PatchGAN, FaceGAN generator.

Structure follows NVIDIA's pix2pixHD (instance norm without affine parameters, reflection padding,
transposed-conv upsampling, tanh output). Generators take `(label, prev)`: the stick-figure label
and the previous generated frame, concatenated on channels (temporal pix2pixHD); the first frame
gets zeros as `prev`. Only ops that ONNX opset 17 expresses are used, so every module exports.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from shared.model.compositing import init_alpha_near_zero
from shared.errors import DanceError
from shared.label.channels import IMAGE_NC
from shared.model.config import DiscriminatorConfig, FaceConfig, GeneratorConfig

INIT_STD = 0.02  # pix2pixHD / DCGAN convolution init
FACE_RESIDUAL_INIT_STD = 1e-3  # see FaceGenerator
MAX_DISCRIMINATOR_CHANNELS = 512


def init_weights(module: nn.Module, std: float = INIT_STD) -> None:
    """N(0, std) for every conv weight, zero biases (instance norm here has no affine params)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def num_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _stem(in_ch: int, out_ch: int) -> list[nn.Module]:
    """Reflection-padded 7x7 conv + InstanceNorm + ReLU at full resolution."""
    return [
        nn.ReflectionPad2d(3),
        nn.Conv2d(in_ch, out_ch, 7),
        nn.InstanceNorm2d(out_ch, affine=False),
        nn.ReLU(inplace=True),
    ]


def _downsample(in_ch: int, out_ch: int) -> list[nn.Module]:
    """Stride-2 3x3 conv that exactly halves even sizes, + InstanceNorm + ReLU."""
    return [
        nn.Conv2d(in_ch, out_ch, 3, stride=2, padding=1),
        nn.InstanceNorm2d(out_ch, affine=False),
        nn.ReLU(inplace=True),
    ]


def _upsample(in_ch: int, out_ch: int) -> list[nn.Module]:
    """Transposed conv that exactly doubles height and width, + InstanceNorm + ReLU."""
    return [
        nn.ConvTranspose2d(in_ch, out_ch, 3, stride=2, padding=1, output_padding=1),
        nn.InstanceNorm2d(out_ch, affine=False),
        nn.ReLU(inplace=True),
    ]


def _output_head(in_ch: int, out_ch: int) -> nn.Sequential:
    """Final 7x7 conv to image channels, squashed to [-1, 1]."""
    return nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(in_ch, out_ch, 7), nn.Tanh())


class ResnetBlock(nn.Module):
    """Two reflection-padded 3x3 convs with instance norm, added back to the input."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            nn.InstanceNorm2d(channels, affine=False),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            nn.InstanceNorm2d(channels, affine=False),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


def _global_trunk(input_nc: int, ngf: int, n_downsample: int, n_blocks: int) -> nn.Sequential:
    """Global generator without its output head: input -> `ngf` feature maps at input resolution."""
    layers = _stem(input_nc, ngf)
    channels = ngf
    for _ in range(n_downsample):
        layers += _downsample(channels, channels * 2)
        channels *= 2
    layers += [ResnetBlock(channels) for _ in range(n_blocks)]
    for _ in range(n_downsample):
        layers += _upsample(channels, channels // 2)
        channels //= 2
    return nn.Sequential(*layers)


class GlobalGenerator(nn.Module):
    """pix2pixHD's global generator: encoder, residual blocks, decoder, 7x7 conv + tanh.

    `trunk` is everything before the output head; the local enhancer reuses it (pix2pixHD drops the
    global model's last layers the same way), which is why it is a separate attribute.
    """

    def __init__(
        self, input_nc: int, output_nc: int, ngf: int = 64, n_downsample: int = 4, n_blocks: int = 9
    ) -> None:
        super().__init__()
        self.trunk = _global_trunk(input_nc, ngf, n_downsample, n_blocks)
        self.head = _output_head(ngf, output_nc)
        init_weights(self)

    def trunk_features(self, label: Tensor, prev: Tensor) -> Tensor:
        return self.trunk(torch.cat([label, prev], dim=1))

    def forward(self, label: Tensor, prev: Tensor) -> Tensor:
        """(label, previous frame) -> frame in [-1, 1], same height and width as the inputs."""
        return self.head(self.trunk_features(label, prev))


class LocalEnhancer(nn.Module):
    """Coarse-to-fine generator: a global trunk at half resolution plus a full-resolution branch.

    The local branch downsamples once to `config.ngf` channels, adds the global trunk's features
    (computed on the 2x average-pooled input), then runs its own residual blocks and upsamples back.
    Train a `GlobalGenerator` first and copy it in with `load_global_state`.
    """

    def __init__(self, config: GeneratorConfig, output_nc: int | None = None) -> None:
        super().__init__()
        output_nc = config.output_nc if output_nc is None else output_nc
        self.downsample = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
        self.global_trunk = _global_trunk(
            config.input_nc, config.ngf, config.n_downsample, config.n_blocks
        )
        self.local_down = nn.Sequential(
            *_stem(config.input_nc, config.local_ngf),
            *_downsample(config.local_ngf, config.ngf),
        )
        self.local_up = nn.Sequential(
            *[ResnetBlock(config.ngf) for _ in range(config.local_blocks)],
            *_upsample(config.ngf, config.local_ngf),
        )
        self.head = _output_head(config.local_ngf, output_nc)
        init_weights(self)

    def coarse_features(self, label: Tensor, prev: Tensor) -> Tensor:
        """The global trunk's features of the half-resolution input."""
        return self.global_trunk(self.downsample(torch.cat([label, prev], dim=1)))

    def forward(self, label: Tensor, prev: Tensor) -> Tensor:
        x = torch.cat([label, prev], dim=1)
        coarse = self.global_trunk(self.downsample(x))
        return self.head(self.local_up(self.local_down(x) + coarse))

    def load_global_state(self, global_state_dict: dict[str, Tensor]) -> None:
        """Copy a trained `GlobalGenerator`'s trunk weights in; its output head is not used here."""
        prefix = "trunk."
        trunk = {k[len(prefix) :]: v for k, v in global_state_dict.items() if k.startswith(prefix)}
        foreign = sorted(k for k in global_state_dict if not k.startswith((prefix, "head.")))
        expected = self.global_trunk.state_dict()
        missing = sorted(expected.keys() - trunk.keys())
        unexpected = sorted(trunk.keys() - expected.keys())
        reshaped = sorted(
            f"{k} {tuple(trunk[k].shape)} vs {tuple(expected[k].shape)}"
            for k in expected.keys() & trunk.keys()
            if trunk[k].shape != expected[k].shape
        )
        problems = [
            f"{label}: {_preview(keys)}"
            for label, keys in (
                ("missing", missing),
                ("unexpected", unexpected + foreign),
                ("wrong shape", reshaped),
            )
            if keys
        ]
        if problems:
            raise DanceError(
                "the global generator weights do not fit this local enhancer ("
                + "; ".join(problems)
                + "); load a checkpoint of the global stage trained with the same generator "
                "settings (input_nc, ngf, n_downsample, n_blocks)"
            )
        self.global_trunk.load_state_dict(trunk)


def _preview(keys: list[str], limit: int = 3) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


# Pre-tanh bias of the exemplar blend at init: blend = (tanh(1) + 1) / 2 = 0.88, so an untrained
# exemplar model already shows mostly the warped exemplar where it has one, and learns where not to.
BLEND_INIT_BIAS = 1.0


class ExemplarBlend(nn.Module):
    """A generator that may copy the warped exemplar: its network draws RGB (+ alpha) plus one more
    channel, a per-pixel blend b, and the RGB becomes b * exemplar + (1 - b) * drawn RGB inside the
    exemplar's mask (the network's RGB elsewhere). Copying good texture costs the network one
    number per pixel instead of the whole appearance (few-shot vid2vid blends a warped reference
    with a hallucinated image the same way). Inputs and output are those of the wrapped generator
    without the blend channel, so every caller and exported graph stays the same.

    With `alpha_follows` (compositing models) one more channel c, everywhere, pulls alpha towards
    the exemplar's mask the same way: alpha = c * mask + (1 - c) * drawn alpha. A pose the target
    never held then starts as the warped exemplar over the plate (which the pose detector reads on
    98-100% of such frames) rather than as the drawn body, which a small model smears towards the
    training poses it remembers; the network learns where to draw instead (seams, missed pixels)."""

    def __init__(self, inner: nn.Module, output_nc: int, alpha_follows: bool = False) -> None:
        super().__init__()
        self.inner = inner
        self.output_nc = output_nc
        self.alpha_follows = alpha_follows

    def forward(self, label: Tensor, prev: Tensor) -> Tensor:
        raw = self.inner(label, prev)
        drawn = raw[:, :IMAGE_NC]
        exemplar = label[:, IMAGE_NC : 2 * IMAGE_NC] * 2 - 1
        mask = label[:, 2 * IMAGE_NC : 2 * IMAGE_NC + 1]
        blend_channel = self.output_nc
        blend = (raw[:, blend_channel : blend_channel + 1] + 1) / 2 * mask
        rgb = drawn + blend * (exemplar - drawn)
        if not self.alpha_follows:
            return torch.cat([rgb, raw[:, IMAGE_NC : self.output_nc]], dim=1)
        follow = (raw[:, blend_channel + 1 : blend_channel + 2] + 1) / 2
        alpha = raw[:, IMAGE_NC : IMAGE_NC + 1]  # in [-1, 1], as compositing reads it
        return torch.cat([rgb, alpha + follow * (mask * 2 - 1 - alpha)], dim=1)

    def load_global_state(self, global_state_dict: dict[str, Tensor]) -> None:
        """The local stage starts from a trained global ExemplarBlend (see LocalEnhancer)."""
        prefix = "inner."
        self.inner.load_global_state({k[len(prefix) :]: v for k, v in global_state_dict.items() if k.startswith(prefix)})


def build_generator(config: GeneratorConfig) -> nn.Module:
    """The global generator, or the local enhancer around one when `config.n_local == 1`; wrapped
    in ExemplarBlend when the label carries a warped exemplar.

    A compositing config (4 outputs: RGB + alpha) starts with alpha near zero, so an untrained
    model shows the background plate rather than noise.
    """
    generator: GlobalGenerator | LocalEnhancer
    alpha_follows = config.exemplar and config.composite and config.exemplar_alpha
    drawn_nc = config.output_nc + int(config.exemplar) + int(alpha_follows)  # the exemplar blends are more outputs
    if config.n_local == 0:
        generator = GlobalGenerator(config.input_nc, drawn_nc, config.ngf, config.n_downsample, config.n_blocks)
    else:
        generator = LocalEnhancer(config, drawn_nc)
    if config.composite:
        init_alpha_near_zero(generator.head[1])
    if not config.exemplar:
        return generator
    with torch.no_grad():
        generator.head[1].bias[config.output_nc :].fill_(BLEND_INIT_BIAS)
    return ExemplarBlend(generator, config.output_nc, alpha_follows)


class NLayerDiscriminator(nn.Module):
    """PatchGAN: returns every layer's output (for feature matching); the last is the prediction.

    4x4 convs padded by 2; the first `n_layers` are strided, channels double up to 512, instance
    norm on all but the first and last, LeakyReLU 0.2; no sigmoid (LSGAN loss).
    """

    def __init__(self, input_nc: int, ndf: int = 64, n_layers: int = 3) -> None:
        super().__init__()
        pad = math.ceil((4 - 1) / 2)
        first = nn.Sequential(nn.Conv2d(input_nc, ndf, 4, stride=2, padding=pad), nn.LeakyReLU(0.2))
        layers = [first]
        channels = ndf
        for i in range(1, n_layers + 1):
            out = min(channels * 2, MAX_DISCRIMINATOR_CHANNELS)
            stride = 2 if i < n_layers else 1
            layers.append(
                nn.Sequential(
                    nn.Conv2d(channels, out, 4, stride=stride, padding=pad),
                    nn.InstanceNorm2d(out, affine=False),
                    nn.LeakyReLU(0.2),
                )
            )
            channels = out
        layers.append(nn.Sequential(nn.Conv2d(channels, 1, 4, stride=1, padding=pad)))
        self.layers = nn.ModuleList(layers)
        init_weights(self)

    def forward(self, x: Tensor) -> list[Tensor]:
        features = []
        for layer in self.layers:
            x = layer(x)
            features.append(x)
        return features


class MultiscaleDiscriminator(nn.Module):
    """`num_D` PatchGANs on an average-pooled pyramid.

    Returns one feature list per scale, finest scale first.
    """

    def __init__(self, input_nc: int, ndf: int = 64, n_layers: int = 3, num_D: int = 2) -> None:
        super().__init__()
        self.scales = nn.ModuleList(
            NLayerDiscriminator(input_nc, ndf, n_layers) for _ in range(num_D)
        )
        self.downsample = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)

    def forward(self, x: Tensor) -> list[list[Tensor]]:
        results = []
        for i, discriminator in enumerate(self.scales):
            if i:
                x = self.downsample(x)
            results.append(discriminator(x))
        return results


def build_discriminator(config: DiscriminatorConfig, input_nc: int) -> MultiscaleDiscriminator:
    """`input_nc` depends on use: label + image (6) for the frame D, 12 for the temporal D."""
    return MultiscaleDiscriminator(input_nc, config.ndf, config.n_layers, config.num_D)


class FaceGenerator(GlobalGenerator):
    """FaceGAN generator: (face label crop, generated face crop) -> residual to add to the crop.

    The last conv starts with tiny weights so the initial residual is near zero: the body generator
    is already trained when the face stage starts, and a random residual (about +-0.5 with the
    usual 0.02 init) would first wreck the faces it should refine. Small but non-zero (rather than
    zero) keeps gradients flowing into the rest of the network from the first step.
    """

    def __init__(self, config: FaceConfig) -> None:
        super().__init__(2 * IMAGE_NC, IMAGE_NC, config.ngf, config.n_downsample, config.n_blocks)
        final_conv = self.head[1]
        nn.init.normal_(final_conv.weight, 0.0, FACE_RESIDUAL_INIT_STD)
        nn.init.zeros_(final_conv.bias)

    def forward(self, label_crop: Tensor, image_crop: Tensor) -> Tensor:
        """Residual in [-1, 1]; the caller adds it to `image_crop` (and clamps)."""
        return super().forward(label_crop, image_crop)


def build_face_discriminator(
    config: FaceConfig, input_nc: int = 2 * IMAGE_NC
) -> NLayerDiscriminator:
    """One PatchGAN on cat(face label crop, face image crop)."""
    return NLayerDiscriminator(input_nc, config.ndf, config.n_layers)
