"""The per-frame puppet step: a source pose in the label frame -> the target's output frame.

    normalize onto the target -> render the label -> face box -> exemplar conditioning -> generate
    (the engine fed its own previous output, shared.runtime.feedback)

Live, the trainer's transfer eval and the benchmarks all run this one object, so the eval scores
exactly what live shows. The step has two halves because live runs them on two threads: `label`
on the pose thread (it holds the normalizer's and the exemplar conditioner's state), `generate` on
the generator thread (it holds the feedback state). Calling the step does both in turn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import Tensor

from shared.label.exemplar.conditioner import conditioner_for
from shared.label.facebox import FaceBox, face_box
from shared.label.render import render_label
from shared.normalize.calibrator import LiveNormalizer
from shared.normalize.stats import NormalizationStats
from shared.pose.keypoints import PoseFrame
from shared.pose.schema import get_schema
from shared.runtime.engine import Engine
from shared.runtime.feedback import (
    DEFAULT_LOST_FRAMES,
    FeedbackLoop,
    Generated,
    StageTimes,
)


@dataclass
class Labelled:
    """One frame after the label half: everything the generator needs, and what it was drawn from."""

    pose: PoseFrame  # the normalized (driving) pose drawn into the label
    label: np.ndarray  # HxWx3 uint8 RGB stick figure at the engine's size
    tensor: Tensor  # the engine's label input, (1, C, H, W) in [0, 1]: the label, plus the warped exemplar for exemplar models
    face_box: FaceBox | None  # None when nobody is seen

    @property
    def present(self) -> bool:
        """A person was found."""
        return self.pose.present


class PuppetStep:
    """Drives one engine with a stream of label-frame source poses (one stream: the state carries over).

    Without `calibration` (fixed source stats) it normalizes from the first frame that shows a
    person, adapting as the person moves, and (unless `full_body`) drives only the upper body of a
    source without legs.
    """

    def __init__(
        self,
        engine: Engine,
        calibration: NormalizationStats | None = None,
        full_body: bool = False,
        lost_frames: int = DEFAULT_LOST_FRAMES,
        stats: StageTimes | None = None,
    ) -> None:
        self.engine = engine
        self.label_size = tuple(engine.info.image_size)
        target = engine.info.norm_stats
        standing = target.standing_pose(get_schema(engine.info.schema_tag))
        self.normalizer = LiveNormalizer(target, calibration, standing, full_body)
        self.conditioner = conditioner_for(engine.info.exemplars)
        self.feedback = FeedbackLoop(engine, lost_frames, stats)

    def label(self, pose: PoseFrame, media_time: float) -> Labelled:
        """Normalize, draw, place the face box and build the engine's input (the pose thread's half)."""
        pose = self.normalizer(pose, media_time)
        label = render_label(pose, self.label_size)
        box = face_box(pose, self.label_size, self.engine.info.face_box_size) if pose.present else None
        return Labelled(pose, label, self.conditioner(pose, label), box)

    def generate(self, labelled: Labelled) -> Generated:
        """The output frame for a labelled frame (the generator thread's half)."""
        return self.feedback(labelled.tensor, labelled.face_box, labelled.present)

    def __call__(self, pose: PoseFrame, media_time: float) -> tuple[Labelled, Generated]:
        labelled = self.label(pose, media_time)
        return labelled, self.generate(labelled)

    def set_plate(self, plate: np.ndarray | None) -> None:
        """Put a new background plate behind the person (None: the run's own)."""
        self.engine.set_plate(plate)
        self.feedback.plate_changed()
