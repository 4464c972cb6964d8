"""What a run shows while it trains: TensorBoard scalars and label | fake | real sample images.

Only rank 0 writes; the other ranks of a data-parallel run are given a log that writes nothing.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from torch import Tensor

from shared.io.tensors import tensor_to_images
from shared.label.channels import IMAGE_NC
from shared.runtime.run_folder import RunFolder


class TrainingLog:
    """Run-folder writers for one training run (`RunFolder.tensorboard`, `RunFolder.samples`)."""

    def __init__(self, run_dir: Path, enabled: bool = True) -> None:
        self.run_dir = run_dir
        self.enabled = enabled
        self.writer = None  # opened on first use: a run that writes nothing leaves no event file

    def scalars(self, stage_name: str, step: int, losses: dict[str, float]) -> None:
        if not self.enabled:
            return
        if self.writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(RunFolder(self.run_dir).tensorboard))
        for key, value in losses.items():
            self.writer.add_scalar(f"{stage_name}/{key}", value, step)

    def sample(self, stage_name: str, step: int, label: Tensor, fake: Tensor, real: Tensor, exemplar: bool) -> None:
        """The first pair's label (and its warped exemplar when the model takes one), fake and real
        frame side by side, as a PNG in samples/ and a TensorBoard image."""
        if not self.enabled:
            return
        shown = [label[:, :IMAGE_NC]] + ([label[:, IMAGE_NC : 2 * IMAGE_NC]] if exemplar else [])
        inputs = [tensor_to_images(image * 2 - 1)[0] for image in shown]
        grid = np.concatenate([*inputs, tensor_to_images(fake)[0], tensor_to_images(real)[0]], axis=1)
        folder = RunFolder(self.run_dir).samples
        folder.mkdir(exist_ok=True)
        cv2.imwrite(str(folder / f"{step:08d}-{stage_name}.png"), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
        self.scalars(stage_name, step, {})
        self.writer.add_image(f"{stage_name}/label_fake_real", grid, step, dataformats="HWC")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
