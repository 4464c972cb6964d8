"""A trained run's networks, loaded from its latest checkpoint for inference (eval, export, live).

Lives in shared/ because export and live load runs too, and they must not import the trainer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from shared.model.checkpoint import load_checkpoint, load_module_state
from shared.errors import DanceError
from shared.io.tensors import tensor_to_image
from shared.label.exemplar.bank import ExemplarBank
from shared.model.config import ModelConfig
from shared.model.networks import FaceGenerator, build_generator
from shared.normalize.stats import NormalizationStats
from shared.pose.schema import get_schema
from shared.runtime.run_folder import EXEMPLARS_FILE, RunFolder


@dataclass
class TrainedModel:
    config: ModelConfig
    generator: nn.Module
    face_generator: nn.Module | None
    plate: Tensor | None  # (1, 3, H, W) in [-1, 1] when the generator composites
    info: dict  # the checkpoint's info; info["run"] describes the target (see trainer/fit.py)
    exemplars: ExemplarBank | None = None  # at the model's size, when the generator takes warped exemplars

    @property
    def schema_tag(self) -> str:
        return self.info["run"]["schema_tag"]

    @property
    def norm_stats(self) -> NormalizationStats:
        return NormalizationStats.from_json(self.info["run"]["norm_stats"])

    @property
    def fps(self) -> float:
        return float(self.info["run"].get("fps", 30.0))

    @property
    def plate_image(self) -> np.ndarray | None:
        """The plate as HxWx3 uint8 RGB, or None."""
        if self.plate is None:
            return None
        return tensor_to_image(self.plate)

    @property
    def row_name(self) -> str:
        name = "temporal" if self.config.temporal else "frame-by-frame"
        return name + (" + face" if self.face_generator is not None else "")


def load_trained(run_dir: str | Path) -> TrainedModel:
    """The run's latest body (and face) generator, in eval mode on the CPU."""
    run_dir = Path(run_dir)
    store = RunFolder(run_dir).store()
    if store.is_empty():
        raise DanceError(f"{run_dir}: no checkpoint found; train it with `dance-train fit`")
    path = store.require_latest()
    groups, info = load_checkpoint(path)
    try:
        model = _networks(groups, info)
    except DanceError as err:
        raise DanceError(f"{path}: {err}") from None
    except (KeyError, TypeError, ValueError, AttributeError) as err:  # a well-formed file without what a run saves
        raise DanceError(f"{path}: not a checkpoint of a dancenow run ({type(err).__name__}: {err}); "
                         "train it again with `dance-train fit`") from None  # fmt: skip
    if model.config.generator.exemplar:
        model.exemplars = ExemplarBank.load(run_dir / info["run"].get("exemplars", EXEMPLARS_FILE)).resized(model.config.image_size)
    return model


def _networks(groups: dict, info: dict) -> TrainedModel:
    """The generators (and plate) a checkpoint holds, checked against the model config it records;
    the run's description (skeleton, statistics, fps) is read here too, so a damaged one is told now."""
    config = ModelConfig.from_dict(info["run"]["model"])
    stage = info.get("stage", "global")
    gen_config = config.global_stage().generator if stage == "global" else config.generator
    generator = build_generator(gen_config)
    load_module_state(generator, groups["generator"])
    face_generator = None
    if "face_generator" in groups:
        face_generator = FaceGenerator(config.face)
        load_module_state(face_generator, groups["face_generator"])
    if stage == "global" and config.generator.n_local:
        config = config.global_stage()
    plate = None
    if config.generator.composite:
        plate = groups["plate"]["image"]
        width, height = config.image_size
        if tuple(plate.shape[-2:]) != (height, width):
            plate = torch.nn.functional.interpolate(plate, size=(height, width), mode="area")
    model = TrainedModel(config, generator.eval(), face_generator.eval() if face_generator else None, plate, info)
    _check_description(model)
    return model


def _check_description(model: TrainedModel) -> None:
    """Read what export and live take from the run's description (skeleton, statistics, fps), so
    a damaged one fails at load, not halfway through an export."""
    get_schema(model.schema_tag)
    NormalizationStats.from_json(model.info["run"]["norm_stats"])
    if not model.fps > 0:
        raise ValueError(f"fps {model.fps} is not positive")
