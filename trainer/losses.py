"""The pix2pixHD losses: LSGAN, discriminator feature matching and the VGG perceptual loss; and,
beyond the paper, the image-gradient L1 (`gradient_l1`) that sharpens CPU runs without VGG weights.

A multi-scale discriminator returns, per scale, the list of its layer outputs; the last entry of
each scale is the real/fake prediction map and the others are the features used for matching.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from trainer.vgg import VGG19Features

# One list of layer outputs per discriminator scale.
DiscriminatorOutput = Sequence[Sequence[Tensor]]

LAMBDA_FEAT = 10.0
LAMBDA_VGG = 10.0
VGG_LAYER_WEIGHTS: tuple[float, ...] = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)  # relu1_1 .. relu5_1


def lsgan_loss(predictions: DiscriminatorOutput, target_is_real: bool) -> Tensor:
    """Mean squared distance of each scale's prediction map to 1 (real) or 0 (fake), averaged
    over scales (pix2pixHD sums over scales instead; averaging keeps the GAN term's size
    independent of the number of scales)."""
    target = 1.0 if target_is_real else 0.0
    per_scale = [F.mse_loss(scale[-1], torch.full_like(scale[-1], target)) for scale in predictions]
    return torch.stack(per_scale).mean()


def feature_matching_loss(
    fake_features: DiscriminatorOutput,
    real_features: DiscriminatorOutput,
    num_D: int,
    n_layers: int,
    lambda_feat: float = LAMBDA_FEAT,
) -> Tensor:
    """L1 between the discriminator's intermediate features on fake and real, as pix2pixHD.

    Each layer counts `lambda_feat * (1 / num_D) * 4 / (n_layers + 1)`; the prediction map (last
    entry of each scale) is excluded and the real side is detached, so only the generator learns.
    """
    if len(fake_features) != num_D or len(real_features) != num_D:
        raise ValueError(
            f"expected {num_D} discriminator scales, got {len(fake_features)} fake "
            f"and {len(real_features)} real"
        )
    weight = lambda_feat * (1.0 / num_D) * 4.0 / (n_layers + 1)
    terms = [
        F.l1_loss(fake, real.detach())
        for fake_scale, real_scale in zip(fake_features, real_features)
        for fake, real in zip(fake_scale[:-1], real_scale[:-1], strict=True)
    ]
    return weight * torch.stack(terms).sum()


class VGGLoss(nn.Module):
    """Weighted L1 between VGG19 features of fake and real images (both in [-1, 1]).

    Not multiplied by LAMBDA_VGG: the trainer applies that, so the weighting is visible there.
    """

    def __init__(self, vgg: VGG19Features) -> None:
        super().__init__()
        self.vgg = vgg

    def forward(self, fake: Tensor, real: Tensor) -> Tensor:
        fake_features = self.vgg(fake)
        with torch.no_grad():  # the target needs no graph
            real_features = self.vgg(real)
        terms = [
            w * F.l1_loss(f, r)
            for w, f, r in zip(VGG_LAYER_WEIGHTS, fake_features, real_features, strict=True)
        ]
        return torch.stack(terms).sum()


def _as_floats(losses: object) -> dict[str, float]:
    return {
        f.name: float(value.detach())
        for f in fields(losses)  # type: ignore[arg-type]
        if (value := getattr(losses, f.name)) is not None
    }


def gradient_l1(fake: Tensor, real: Tensor) -> Tensor:
    """L1 between the images' horizontal and vertical pixel differences: a pixel L1 alone is
    content with a blurred edge (the mean of where it might be), this one asks for the edge itself.
    Without VGG weights (none can be downloaded here) it is the sharpening term that is left."""
    return F.l1_loss(fake.diff(dim=-1), real.diff(dim=-1)) + F.l1_loss(fake.diff(dim=-2), real.diff(dim=-2))


@dataclass
class GeneratorLosses:
    """The generator's loss terms, each already weighted; a term that is switched off is None."""

    gan: Tensor | None = None  # None during a reconstruction-only warm-up
    feat: Tensor | None = None
    vgg: Tensor | None = None
    temporal_gan: Tensor | None = None
    l1: Tensor | None = None  # pixel reconstruction, beyond the paper: it carries CPU runs without VGG weights
    edge: Tensor | None = None  # image-gradient L1 (`gradient_l1`), beyond the paper: sharper edges without VGG
    alpha: Tensor | None = None  # a compositing generator's alpha against the person masks (L1), beyond the paper

    def total(self) -> Tensor:
        terms = [getattr(self, f.name) for f in fields(self)]
        return torch.stack([t for t in terms if t is not None]).sum()

    def as_dict(self) -> dict[str, float]:
        """Plain floats for logging."""
        return _as_floats(self)


@dataclass
class DiscriminatorLosses:
    """LSGAN terms of a discriminator on real and on fake (detached) inputs."""

    real: Tensor
    fake: Tensor

    def total(self) -> Tensor:
        """Halved as in pix2pixHD, which slows D relative to G."""
        return 0.5 * (self.real + self.fake)

    def as_dict(self) -> dict[str, float]:
        return _as_floats(self)
