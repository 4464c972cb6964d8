"""One optimisation step of each training stage: the body (global or local generator) and the face.

Body, temporal (the paper's code): y0' = G(x0, 0), y1' = G(x1, y0') with gradients through both;
the frame discriminator sees [x_t, y_t] for both frames, the temporal one [x0, x1, y0, y1].
With `temporal=False` both frames start from zeros and there is no temporal discriminator: the
frame-by-frame pix2pixHD baseline of the paper's ablation.

Face: the body generator is frozen; a face generator adds a residual to the face crop of frame t,
judged by a face discriminator on [face label, face image].

Both are a `Stage`: the fit loop (trainer/fit.py) builds, steps, samples, checkpoints and resumes
them through that one interface, without asking which stage it holds.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from shared.label.channels import IMAGE_NC
from shared.model.checkpoint import load_module_state, load_optimizer_state
from shared.model.compositing import alpha_of, composite
from shared.model.config import ModelConfig
from shared.model.face_residual import add_face_residual, crop_faces, face_label_crops
from shared.model.networks import FaceGenerator, build_discriminator, build_face_discriminator
from trainer.data import PairBatch
from trainer.losses import (
    LAMBDA_VGG, DiscriminatorLosses, GeneratorLosses, VGGLoss, feature_matching_loss, gradient_l1, lsgan_loss,
)

Groups = dict[str, dict[str, Tensor]]  # a checkpoint's tensors: group name -> state dict


@dataclass(frozen=True)
class LossWeights:
    vgg: float = LAMBDA_VGG  # 0 when no VGG weights are available (--no-vgg)
    l1: float = 10.0  # pixel L1, beyond the paper (0 = the paper's losses exactly)
    edge: float = 10.0  # image-gradient L1 of the body, beyond the paper (0 = off)
    alpha: float = 10.0  # L1 of a compositing body's alpha against the person masks, beyond the paper (0 = off)


def make_adam(params: Iterator[nn.Parameter], lr: float, beta1: float) -> torch.optim.Adam:
    return torch.optim.Adam(list(params), lr=lr, betas=(beta1, 0.999))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def average_gradients(module: nn.Module) -> None:
    """Data parallelism across processes: average gradients so every rank takes the same step.

    Done by hand rather than with the DDP wrapper because a GAN step runs each discriminator several
    times per backward pass, which DDP's bucketed reducer does not support.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return
    world = dist.get_world_size()
    for param in module.parameters():
        if param.grad is not None:
            dist.all_reduce(param.grad)
            param.grad /= world


@contextmanager
def frozen(*modules: nn.Module | None) -> Iterator[None]:
    """Parameters need no gradient while the other network steps (saves the weight-gradient work)."""
    params = [p for m in modules if m is not None for p in m.parameters()]
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)


class Stage(ABC):
    """What the fit loop needs of a training stage, the body's and the face's alike.

    A checkpoint of a stage holds `saved_modules()` (the networks it trains, and a frozen one it
    builds on) and `optimizers()`; the next stage starts from `state()`.
    """

    config: ModelConfig  # the model at this stage's image size
    needs_faces: bool  # trains only on pairs whose frame t has a face box
    warmup: float  # share of the stage stepped in its warm-up mode (see each stage's `train_step`)

    @abstractmethod
    def modules(self) -> dict[str, nn.Module]:
        """The networks this stage trains, by checkpoint group name."""

    @abstractmethod
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The optimisers, by checkpoint group name."""

    @abstractmethod
    def start_from(self, previous: Groups) -> None:
        """Begin from the previous stage's final weights (its `state()`)."""

    @abstractmethod
    def train_step(self, batch: PairBatch, lr: float, fraction: float) -> dict[str, float]:
        """One update, `fraction` of the way through the stage (which decides the warm-up); the losses."""

    @abstractmethod
    def render(self, batch: PairBatch) -> Tensor:
        """Frame t of each pair as this stage's model draws it (for the run's samples; call under no_grad)."""

    def saved_modules(self) -> dict[str, nn.Module]:
        """The networks a checkpoint of this stage holds."""
        return self.modules()

    def state(self) -> Groups:
        """The saved networks' weights on the CPU."""
        return {name: {k: v.detach().cpu() for k, v in module.state_dict().items()} for name, module in self.saved_modules().items()}

    def restore(self, groups: Groups, info: dict) -> None:
        """Resume exactly from a checkpoint of this stage (its tensors and info): weights and optimiser state."""
        for name, module in self.saved_modules().items():
            load_module_state(module, groups[name])
        for name, optimizer in self.optimizers().items():
            load_optimizer_state(optimizer, groups[name], info["optimizers"][name])

    def to(self, device: torch.device) -> None:
        for module in self.saved_modules().values():
            module.to(device)


class BodyStage(Stage):
    """Generator + frame discriminator (+ temporal discriminator) and their optimisers."""

    needs_faces = False

    def __init__(
        self,
        config: ModelConfig,
        generator: nn.Module,
        weights: LossWeights,
        vgg: VGGLoss | None,
        lr: float,
        beta1: float,
        plate: Tensor | None = None,
        warmup: float = 0.0,
    ) -> None:
        self.config = config
        self.generator = generator
        self.warmup = warmup  # share of the stage trained on reconstruction only (see `step`)
        self.plate = plate  # (1, 3, H, W) in [-1, 1] at this stage's size; used when the generator composites
        # D sees all the conditioning the generator saw (label, and the warped exemplar when used) beside the image.
        frame_nc = config.generator.label_nc + IMAGE_NC
        self.discriminator = build_discriminator(config.discriminator, input_nc=frame_nc)
        self.temporal_discriminator = build_discriminator(config.discriminator, input_nc=2 * frame_nc) if config.temporal else None
        self.weights = weights
        self.vgg = vgg
        d_params = list(self.discriminator.parameters())
        if self.temporal_discriminator is not None:
            d_params += list(self.temporal_discriminator.parameters())
        self.optimizer_g = make_adam(generator.parameters(), lr, beta1)
        self.optimizer_d = make_adam(iter(d_params), lr, beta1)

    def modules(self) -> dict[str, nn.Module]:
        named = {"generator": self.generator, "discriminator": self.discriminator}
        if self.temporal_discriminator is not None:
            named["temporal_discriminator"] = self.temporal_discriminator
        return named

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"optimizer_g": self.optimizer_g, "optimizer_d": self.optimizer_d}

    def start_from(self, previous: Groups) -> None:
        """The local enhancer starts from the global stage's generator; the global stage comes first."""
        if self.config.generator.n_local:
            self.generator.load_global_state(previous["generator"])

    def train_step(self, batch: PairBatch, lr: float, fraction: float) -> dict[str, float]:
        return self.step(batch, lr, adversarial=fraction >= self.warmup)

    def render(self, batch: PairBatch) -> Tensor:
        return self.generate_pair(batch)[1]

    def generate_pair(self, batch: PairBatch) -> tuple[Tensor, Tensor]:
        """Frames t-1 and t as shown (composited over the plate when the generator outputs alpha)."""
        first, second = self.draw_pair(batch)
        return composite(first, self.plate), composite(second, self.plate)

    def draw_pair(self, batch: PairBatch) -> tuple[Tensor, Tensor]:
        """The generator's outputs for frames t-1 and t (RGB, or RGB + alpha): t-1 from zeros, t from
        t-1's frame as shown (or zeros without the temporal feedback)."""
        zeros = torch.zeros_like(batch.image_prev)
        first = self.generator(batch.label_prev, zeros)
        second = self.generator(batch.label, composite(first, self.plate) if self.config.temporal else zeros)
        return first, second

    def step(self, batch: PairBatch, lr: float, adversarial: bool = True) -> dict[str, float]:
        """One update. `adversarial=False` is the reconstruction-only warm-up: no discriminators, only
        the L1 and VGG terms, so early CPU minutes go to getting the person roughly right fast."""
        for optimizer in (self.optimizer_g, self.optimizer_d):
            set_lr(optimizer, lr)
        drawn = torch.cat(self.draw_pair(batch))
        fakes = composite(drawn, self.plate)
        fake_prev, fake = fakes.chunk(2)
        labels = torch.cat([batch.label_prev, batch.label])
        reals = torch.cat([batch.image_prev, batch.image])
        temporal_real = torch.cat([batch.label_prev, batch.label, batch.image_prev, batch.image], 1)
        temporal_fake = torch.cat([batch.label_prev, batch.label, fake_prev, fake], 1)
        log: dict[str, float] = {}
        if adversarial:
            d_real, d_log = self._discriminator_step(labels, reals, fakes, temporal_real, temporal_fake)
            log.update(d_log)

        with frozen(self.discriminator, self.temporal_discriminator):
            losses = GeneratorLosses(
                vgg=self.weights.vgg * self.vgg(fakes, reals) if self.vgg is not None and self.weights.vgg else None,
                l1=self.weights.l1 * F.l1_loss(fakes, reals) if self.weights.l1 else None,
                edge=self.weights.edge * gradient_l1(fakes, reals) if self.weights.edge else None,
                alpha=self.weights.alpha * self._alpha_l1(drawn, batch) if self.weights.alpha and self.plate is not None else None,
            )
            if adversarial:
                g_fake = self.discriminator(torch.cat([labels, fakes], 1))
                disc = self.config.discriminator
                losses.gan = lsgan_loss(g_fake, True)
                losses.feat = feature_matching_loss(g_fake, d_real, disc.num_D, disc.n_layers)
                if self.temporal_discriminator is not None:
                    losses.temporal_gan = lsgan_loss(self.temporal_discriminator(temporal_fake), True)
            self.optimizer_g.zero_grad(set_to_none=True)
            losses.total().backward()
            average_gradients(self.generator)
            self.optimizer_g.step()
        log.update({f"g_{k}": v for k, v in losses.as_dict().items()})
        return log

    @staticmethod
    def _alpha_l1(drawn: Tensor, batch: PairBatch) -> Tensor:
        """Alpha against the person masks: the person is opaque and the rest is the plate. With the
        image losses alone, alpha settled at 0.91-0.92 inside the person, and on a pose the target
        never held the plate showed through (README, "Real people: transfer on motion the target never made")."""
        return F.l1_loss(alpha_of(drawn), torch.cat([batch.mask_prev, batch.mask]))

    def _discriminator_step(
        self, labels: Tensor, reals: Tensor, fakes: Tensor, temporal_real: Tensor, temporal_fake: Tensor
    ) -> tuple[list[list[Tensor]], dict[str, float]]:
        """Update the frame (and temporal) discriminators; returns D's features on the real frames
        (the generator's feature-matching targets) and the losses for logging."""
        d_real = self.discriminator(torch.cat([labels, reals], 1))
        d_fake = self.discriminator(torch.cat([labels, fakes.detach()], 1))
        d_losses = DiscriminatorLosses(lsgan_loss(d_real, True), lsgan_loss(d_fake, False))
        d_total = d_losses.total()
        log = {f"d_{k}": v for k, v in d_losses.as_dict().items()}
        if self.temporal_discriminator is not None:
            t_losses = DiscriminatorLosses(
                lsgan_loss(self.temporal_discriminator(temporal_real), True),
                lsgan_loss(self.temporal_discriminator(temporal_fake.detach()), False),
            )
            d_total = d_total + t_losses.total()
            log.update({f"dt_{k}": v for k, v in t_losses.as_dict().items()})
        self.optimizer_d.zero_grad(set_to_none=True)
        d_total.backward()
        average_gradients(self.discriminator)
        if self.temporal_discriminator is not None:
            average_gradients(self.temporal_discriminator)
        self.optimizer_d.step()
        return d_real, log


class FaceStage(Stage):
    """Face generator + face discriminator on the face crop of frame t; the body generator is frozen."""

    needs_faces = True

    def __init__(
        self, config: ModelConfig, body: BodyStage, weights: LossWeights, vgg: VGGLoss | None, lr: float, beta1: float,
        warmup: float = 0.0,
    ) -> None:  # fmt: skip
        self.config = config
        self.body = body
        self.warmup = warmup  # share of the stage that trains only the face discriminator (see `step`)
        self.face_generator = FaceGenerator(config.face)
        self.face_discriminator = build_face_discriminator(config.face)
        self.weights = weights
        self.vgg = vgg
        self.optimizer_g = make_adam(self.face_generator.parameters(), lr, beta1)
        self.optimizer_d = make_adam(self.face_discriminator.parameters(), lr, beta1)
        for param in body.generator.parameters():
            param.requires_grad_(False)

    def modules(self) -> dict[str, nn.Module]:
        return {"face_generator": self.face_generator, "face_discriminator": self.face_discriminator}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"optimizer_face_g": self.optimizer_g, "optimizer_face_d": self.optimizer_d}

    def saved_modules(self) -> dict[str, nn.Module]:
        """The face networks, and the frozen body generator they refine (a run's final weights)."""
        return {**self.modules(), "generator": self.body.generator}

    def start_from(self, previous: Groups) -> None:
        load_module_state(self.body.generator, previous["generator"])

    def train_step(self, batch: PairBatch, lr: float, fraction: float) -> dict[str, float]:
        return self.step(batch, lr, discriminator_only=fraction < self.warmup)

    def render(self, batch: PairBatch) -> Tensor:
        _, fake = self.body.generate_pair(batch)
        return add_face_residual(fake, batch.label, batch.face_box, self.face_generator)

    def step(self, batch: PairBatch, lr: float, discriminator_only: bool = False) -> dict[str, float]:
        """`discriminator_only`: the paper's first face epochs train only the face discriminator."""
        for optimizer in (self.optimizer_g, self.optimizer_d):
            set_lr(optimizer, lr)
        with torch.no_grad():
            self.body.generator.eval()
            _, fake = self.body.generate_pair(batch)
        label_crop = face_label_crops(batch.label, batch.face_box)
        real_crop = crop_faces(batch.image, batch.face_box)
        fake_crop = crop_faces(fake, batch.face_box)
        face = fake_crop + self.face_generator(label_crop, fake_crop)

        d_real = [self.face_discriminator(torch.cat([label_crop, real_crop], 1))]
        d_fake = [self.face_discriminator(torch.cat([label_crop, face.detach()], 1))]
        d_losses = DiscriminatorLosses(lsgan_loss(d_real, True), lsgan_loss(d_fake, False))
        self.optimizer_d.zero_grad(set_to_none=True)
        d_losses.total().backward()
        average_gradients(self.face_discriminator)
        self.optimizer_d.step()
        log = {f"face_d_{k}": v for k, v in d_losses.as_dict().items()}
        if discriminator_only:
            return log

        with frozen(self.face_discriminator):
            g_fake = [self.face_discriminator(torch.cat([label_crop, face], 1))]
            losses = GeneratorLosses(
                gan=lsgan_loss(g_fake, True),
                feat=feature_matching_loss(g_fake, d_real, 1, self.config.face.n_layers),
                vgg=self.weights.vgg * self.vgg(face, real_crop) if self.vgg is not None and self.weights.vgg else None,
                l1=self.weights.l1 * F.l1_loss(face, real_crop) if self.weights.l1 else None,
            )
            self.optimizer_g.zero_grad(set_to_none=True)
            losses.total().backward()
            average_gradients(self.face_generator)
            self.optimizer_g.step()
        log.update({f"face_g_{k}": v for k, v in losses.as_dict().items()})
        return log
