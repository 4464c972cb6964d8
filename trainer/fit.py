"""`dance-train fit`: run the training stages in order, with checkpoints that resume exactly.

Stages: `global` (the global generator; at half resolution when the preset has a local enhancer),
`local` (the local enhancer, initialised from the global weights) where the preset has one, then
`face` (FaceGAN, body frozen); each is a `Stage` (trainer/stages.py). A run folder
(shared/runtime/run_folder.py) holds `config.json`, `checkpoints/` (safetensors, a `latest.json`
pointer), the plate and exemplar bank the model was trained with, `samples/` (label | fake | real
PNGs) and `tensorboard/` (trainer/training_log.py).

The step budget (`--steps`) or time budget (`--minutes`) is split between the stages. Each stage
keeps its learning rate for its first half and decays it linearly to zero over the second half.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from shared.errors import DanceError
from shared.io.files import write_text_atomic
from shared.io.tensors import image_to_tensor
from shared.label.channels import EXEMPLAR_NC, IMAGE_NC
from shared.label.exemplar.bank import ExemplarBank, build_bank
from shared.model.checkpoint import load_checkpoint, optimizer_state_tensors
from shared.model.config import ModelConfig, get_preset
from shared.model.networks import build_generator
from shared.runtime.run_folder import EXEMPLARS_FILE, RunFolder
from trainer.augment import AugmentConfig
from trainer.data import HELD_OUT_FRACTION, PairSampler, resize_pair_batch, split_frames
from trainer.dataset import Dataset
from trainer.losses import VGGLoss
from trainer.stages import BodyStage, FaceStage, Groups, LossWeights, Stage
from trainer.training_log import TrainingLog
from trainer.vgg import load_vgg19


@dataclass(frozen=True)
class FitConfig:
    preset: str = "tiny"
    steps: int | None = None  # total optimisation steps over all stages ...
    minutes: float | None = None  # ... or a wall-clock budget (one of the two)
    batch_size: int = 1
    lr: float = 2e-4
    beta1: float = 0.5
    temporal: bool = True
    composite: bool = True  # RGB + alpha over the background plate (beyond the paper; off = the paper's generator)
    face: bool = True
    face_fraction: float = 0.2  # share of the budget for the face stage
    face_d_warmup: float = 0.1  # share of the face stage that trains only the face discriminator
    gan_warmup: float = 0.25  # share of each body stage trained on reconstruction only (0 = the paper)
    amp: bool = True  # bfloat16 autocast on CUDA (ignored on CPU)
    use_vgg: bool = True
    vgg_weights: str | None = None
    lambda_l1: float = 10.0
    lambda_edge: float = 10.0  # image-gradient L1 of the body stage (trainer/losses.py: gradient_l1); 0 = off
    lambda_alpha: float = 10.0  # L1 of the body's alpha against the person masks (compositing runs; trainer/stages.py); 0 = off
    augment: bool = True  # move, turn and resize the person in half the body pairs (trainer/augment.py; compositing runs only)
    exemplar: bool = True  # condition on a training frame warped onto the pose too (shared/label/exemplar.py); off: the paper's G
    exemplar_alpha: bool = True  # alpha too may follow the warped exemplar's mask (shared/model/networks.py, ExemplarBlend)
    part_exemplars: bool = True  # each body part warped from its own nearest exemplar (shared/label/exemplar/bank.py)
    held_out: float = HELD_OUT_FRACTION  # the last share of the frames, never trained on: what `dance-train eval` scores
    seed: int = 0
    checkpoint_every: int = 100
    sample_every: int = 100

    def __post_init__(self) -> None:
        if (self.steps is None) == (self.minutes is None):
            raise DanceError("give exactly one budget: --steps N or --minutes M")
        if not 0.0 < self.held_out < 1.0:
            raise DanceError(f"--held-out must be a share of the frames between 0 and 1, got {self.held_out}")


@dataclass
class StagePlan:
    name: str  # "global", "local" or "face"
    steps: int | None  # the stage ends after this many steps ...
    seconds: float | None  # ... or after this much training time


@dataclass
class Progress:
    """Where a run stands; saved in every checkpoint."""

    stage_index: int = 0
    stage_step: int = 0
    stage_seconds: float = 0.0
    total_step: int = 0
    history: list[dict[str, float]] = field(default_factory=list)


STAGE_NAMES = ("global", "local", "face")


@dataclass
class ResumePoint:
    """Where a run starts: from scratch, or from its latest checkpoint."""

    progress: Progress
    groups: Groups | None = None  # the checkpoint's tensors
    info: dict | None = None  # and its info
    stage: Stage | None = None  # the checkpoint's stage, weights and optimisers restored


def model_config_for(fit: FitConfig, image_size: tuple[int, int], static_background: bool = True) -> ModelConfig:
    preset = get_preset(fit.preset)
    generator = replace(preset.generator, composite=fit.composite and static_background, exemplar=fit.exemplar,
                        exemplar_alpha=fit.exemplar_alpha,
                        input_nc=2 * IMAGE_NC + (EXEMPLAR_NC if fit.exemplar else 0))  # fmt: skip
    config = replace(preset, temporal=fit.temporal, generator=generator)
    if config.image_size != tuple(image_size):
        raise DanceError(
            f"the dataset is {image_size[0]}x{image_size[1]} but preset {fit.preset!r} trains at "
            f"{config.image_size[0]}x{config.image_size[1]}; prepare with --size {config.image_size[0]}x{config.image_size[1]}"
        )
    return config


def plan_stages(config: ModelConfig, fit: FitConfig) -> list[StagePlan]:
    names = ["global"] + (["local"] if config.generator.n_local else [])
    face_share = fit.face_fraction if fit.face else 0.0
    shares = [(1 - face_share) / len(names)] * len(names) + ([face_share] if fit.face else [])
    names += ["face"] if fit.face else []
    if fit.steps is not None:
        counts = [max(1, int(round(fit.steps * s))) for s in shares]
        counts[0] += fit.steps - sum(counts)
        return [StagePlan(n, max(1, c), None) for n, c in zip(names, counts)]
    return [StagePlan(n, None, fit.minutes * 60 * s) for n, s in zip(names, shares)]


def stage_fraction(plan: StagePlan, progress: Progress) -> float:
    if plan.steps is not None:
        return progress.stage_step / plan.steps
    return progress.stage_seconds / plan.seconds


def decayed_lr(base: float, fraction: float) -> float:
    """Constant for the first half of a stage, then linear decay to zero."""
    return base * min(1.0, max(0.0, 2.0 * (1.0 - fraction)))


def _rank() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class Trainer:
    """Owns the run folder, the stages' networks and the loop."""

    def __init__(self, dataset: Dataset, run_dir: Path, fit: FitConfig, device: torch.device, progress_bar: bool = True) -> None:
        self.dataset = dataset
        self.folder = RunFolder(run_dir)
        self.fit = fit
        self.device = device
        self.progress_bar = progress_bar
        self.rank, self.world = _rank()
        self.config = model_config_for(fit, dataset.manifest.image_size, dataset.manifest.static_background)
        if fit.composite and not self.config.generator.composite and self.rank == 0:
            tqdm.write("compositing is off: the target's background is not static (see `prepare`'s plate residual)")
        self.plate = image_to_tensor(dataset.plate)
        self.plans = plan_stages(self.config, fit)
        self.split = split_frames(len(dataset), dataset.manifest.fps, fit.held_out)
        augment = AugmentConfig() if fit.augment and self.config.generator.composite else None
        self.exemplars = self._exemplar_bank() if self.config.generator.exemplar else None
        self.sampler = PairSampler(dataset, self.split.train, fit.seed, self.rank, augment, self.exemplars)
        self.store = self.folder.store()
        self.weights = LossWeights(vgg=10.0 if fit.use_vgg else 0.0, l1=fit.lambda_l1, edge=fit.lambda_edge, alpha=fit.lambda_alpha)
        self.vgg = VGGLoss(load_vgg19(fit.vgg_weights)).to(device) if fit.use_vgg else None
        self.log = TrainingLog(run_dir, enabled=self.rank == 0)
        self.stage: Stage | None = None  # the stage that ran last (for inspection)

    def _exemplar_bank(self) -> ExemplarBank:
        """From the training split only (held-out frames must not lend their own texture); built the
        same way on every rank and every resume, so it needs no saved state of its own."""
        frames = np.arange(self.split.train.start - 1, self.split.train.stop)  # pairs (t-1, t) reach back one frame
        data = self.dataset
        return build_bank(data.frames[frames], data.masks[frames], data.poses.keypoints[frames], data.poses.valid[frames],
                          frames, data.poses.schema_tag, per_part=self.fit.part_exemplars)  # fmt: skip

    # -- run folder ------------------------------------------------------------------------
    def run_info(self) -> dict[str, object]:
        manifest = self.dataset.manifest
        return {
            "model": self.config.to_dict(),
            "fit": asdict(self.fit),
            "schema_tag": manifest.schema_tag,
            "image_size": list(manifest.image_size),
            "fps": manifest.fps,
            "norm_stats": self.dataset.norm_stats.to_json(),
            "dataset": str(self.dataset.folder.resolve()),
            "train": [self.split.train.start, self.split.train.stop],
            "held_out": [self.split.held_out.start, self.split.held_out.stop],
            "exemplars": EXEMPLARS_FILE if self.exemplars is not None else None,
        }

    def _check_run_config(self) -> None:
        """An existing run folder must hold this model trained on this dataset (read only)."""
        path = self.folder.config
        if not path.exists():
            return
        info = self.run_info()
        try:
            saved = json.loads(path.read_text())
            same = saved.get("model") == info["model"] and saved.get("dataset") == info["dataset"]
        except (OSError, ValueError, AttributeError) as err:
            raise DanceError(f"{path}: unreadable run config ({type(err).__name__}: {err}); choose another -o") from None
        if not same:
            raise DanceError(f"{self.folder.path} holds a run with another model or dataset; choose another -o")

    # -- stages ----------------------------------------------------------------------------
    def _stage_config(self, name: str) -> ModelConfig:
        return self.config.global_stage() if name == "global" else self.config

    def _build(self, name: str) -> Stage:
        """The stage's networks, freshly initialised (the same way for every rank and every resume)."""
        torch.manual_seed(self.fit.seed)
        config = self._stage_config(name)
        generator = build_generator(config.generator)
        fit = self.fit
        can_warm_up = fit.lambda_l1 > 0 or fit.lambda_edge > 0 or self.vgg is not None  # a reconstruction-only warm-up needs a reconstruction loss
        body = BodyStage(config, generator, self.weights, self.vgg, fit.lr, fit.beta1, self._plate_at(config.image_size),
                         warmup=fit.gan_warmup if can_warm_up else 0.0)  # fmt: skip
        if name == "face":
            return FaceStage(self.config, body, self.weights, self.vgg, fit.lr, fit.beta1, warmup=fit.face_d_warmup)
        return body

    def _plate_at(self, size: tuple[int, int]) -> torch.Tensor | None:
        if not self.config.generator.composite:
            return None
        plate = self.plate
        if tuple(plate.shape[-2:]) != (size[1], size[0]):
            plate = torch.nn.functional.interpolate(plate, size=(size[1], size[0]), mode="area")
        return plate.to(self.device)

    def _checkpoint(self, stage: Stage, progress: Progress) -> None:
        if self.rank != 0:
            return
        groups = stage.state()
        optimizer_info: dict[str, dict] = {}
        for name, optimizer in stage.optimizers().items():
            groups[name], optimizer_info[name] = optimizer_state_tensors(optimizer)
        groups["plate"] = {"image": self.plate}
        info = {
            "run": self.run_info(),
            "stage": self.plans[progress.stage_index].name,
            "progress": asdict(progress),
            "optimizers": optimizer_info,
        }
        self.store.save(progress.total_step, groups, info)

    def _sample(self, stage: Stage, stage_name: str, step: int) -> None:
        """label | fake | real for the first held-out pair (trainer/training_log.py)."""
        if self.rank != 0:
            return
        end = np.asarray([self.split.held_out.start + 1])
        batch = resize_pair_batch(self.sampler.fetch(end).to(self.device), stage.config.image_size)
        with torch.no_grad():
            fake = stage.render(batch)
        self.log.sample(stage_name, step, batch.label, fake, batch.image, exemplar=stage.config.generator.exemplar)

    # -- loop ------------------------------------------------------------------------------
    def _resume_point(self) -> ResumePoint:
        """The latest checkpoint, read and checked against this run, its stage built and restored,
        before anything is written: a damaged checkpoint is a DanceError naming it, and the run
        folder stays as it was (a finished run's final weights are checked the same way)."""
        if self.store.is_empty():
            return ResumePoint(Progress())
        path = self.store.require_latest()
        groups, info = load_checkpoint(path)
        try:
            progress = Progress(**info["progress"])
            if not all(isinstance(v, int) for v in (progress.stage_index, progress.stage_step, progress.total_step)):
                raise ValueError(f"progress {info['progress']} is not counted in steps")
            if info["run"]["model"] != json.loads(json.dumps(self.config.to_dict())):
                raise DanceError("it records another model than this run trains; remove it to resume from the checkpoint "
                                 "before, or choose another -o")  # fmt: skip
            if info["stage"] not in STAGE_NAMES:
                raise ValueError(f"unknown stage {info['stage']!r}")
            stage = self._build(info["stage"])
            stage.to(self.device)
            stage.restore(groups, info)
        except DanceError as err:
            raise DanceError(f"{path}: {err}") from None
        except (KeyError, TypeError, ValueError, AttributeError) as err:  # well-formed, but not what a run saves
            raise DanceError(f"{path}: not a checkpoint of a dancenow run ({type(err).__name__}: {err}); "
                             "remove it to resume from the one before") from None  # fmt: skip
        return ResumePoint(progress, groups, info, stage)

    def _start_run_folder(self) -> None:
        """Write what the run folder holds besides checkpoints (after the resume point was checked)."""
        self.folder.path.mkdir(parents=True, exist_ok=True)
        if self.rank != 0:
            return
        self.store.remove_leftovers()  # of a run killed while saving (the only writer is this process)
        write_text_atomic(self.folder.config, json.dumps(self.run_info(), indent=2) + "\n")
        cv2.imwrite(str(self.folder.plate), cv2.cvtColor(self.dataset.plate, cv2.COLOR_RGB2BGR))
        if self.exemplars is not None:
            self.exemplars.save(self.folder.exemplars)

    def run(self) -> Progress:
        if self.rank == 0:
            self._check_run_config()
        resumed = self._resume_point()
        self._start_run_folder()
        progress = resumed.progress
        groups, info = resumed.groups, resumed.info  # weights (and optimiser state) the next stage starts from
        while progress.stage_index < len(self.plans):
            plan = self.plans[progress.stage_index]
            resuming_here = info is not None and info.get("stage") == plan.name and progress.stage_step > 0
            if resuming_here and resumed.stage is not None:
                stage = resumed.stage
            else:
                stage = self._build(plan.name)
                stage.to(self.device)
                if groups is not None:
                    stage.start_from(groups)
            self.stage = stage
            self._run_stage(plan, stage, progress)
            if progress.stage_step > 0:
                self._checkpoint(stage, progress)
            groups, info = stage.state(), {"stage": plan.name}  # what the next stage starts from (no optimiser state)
            progress.stage_index += 1
            progress.stage_step = 0
            progress.stage_seconds = 0.0
        if self.rank == 0 and progress.total_step > 0 and not (info or {}).get("finished"):
            self._mark_finished(progress)
        self.log.close()
        return progress

    def _mark_finished(self, progress: Progress) -> None:
        """Record in the last checkpoint (which holds the final weights) that the run is complete."""
        groups, info = self.store.load_latest()
        info["progress"] = asdict(progress)
        info["finished"] = True
        self.store.save(progress.total_step, groups, info)

    def _run_stage(self, plan: StagePlan, stage: Stage, progress: Progress) -> None:
        size = stage.config.image_size
        sampler = self.sampler.with_faces() if stage.needs_faces else self.sampler
        total = plan.steps if plan.steps is not None else None
        bar = tqdm(
            total=total, initial=progress.stage_step, desc=plan.name, unit="step",
            disable=not self.progress_bar or self.rank != 0,
        )
        while stage_fraction(plan, progress) < 1.0:
            started = time.perf_counter()
            fraction = stage_fraction(plan, progress)
            lr = decayed_lr(self.fit.lr, fraction)
            batch = resize_pair_batch(sampler.batch(progress.total_step, self.fit.batch_size), size).to(self.device)
            # Mixed precision on CUDA: bfloat16 keeps fp32's exponent range, so no loss scaling is needed.
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.fit.amp and self.device.type == "cuda"):
                losses = stage.train_step(batch, lr, fraction)
            progress.stage_step += 1
            progress.total_step += 1
            progress.stage_seconds += time.perf_counter() - started
            self.log.scalars(plan.name, progress.total_step, losses)
            bar.update(1)
            bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items() if k.startswith(("g_", "face_g_"))}, refresh=False)
            if progress.stage_step % self.fit.sample_every == 0:
                self._sample(stage, plan.name, progress.total_step)
            if progress.stage_step % self.fit.checkpoint_every == 0 and stage_fraction(plan, progress) < 1.0:
                self._checkpoint(stage, progress)
        bar.close()
        self._sample(stage, plan.name, progress.total_step)
