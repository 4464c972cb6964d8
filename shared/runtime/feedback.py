"""The generator stage: the engine fed its own previous output, with the paper's start rules.

Training starts every sequence from a zero previous frame and then feeds back the generator's own
output, so live does the same: zeros at the first frame and again when the person comes back after
being lost for more than `lost_frames` frames (the old output no longer matches the new pose);
in between, while nobody is seen, the last output is held. What is fed back is the body output
before the face residual, because the body generator was trained on its own body outputs (the
face GAN is a later stage with the body generator frozen). `shared.runtime.puppet.PuppetStep`
runs it for live and for the trainer's eval alike.

`rollout` is the same rule over a fixed sequence of labels, for the trainer's eval, the int8
calibration data and the export parity cases: each body output is the next frame's previous
frame, zeros first. `Feedback` holds that rule's one piece of state for both.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np
import torch
from torch import Tensor

from shared.io.tensors import tensor_to_image
from shared.label.facebox import FaceBox
from shared.runtime.engine import Engine

DEFAULT_LOST_FRAMES = 10


Body = Callable[[Tensor, Tensor], Tensor]  # (label, prev) -> frame, both (1, C, H, W); prev and frame in [-1, 1]


class Step(NamedTuple):
    prev: Tensor  # what the body was fed as the previous frame
    frame: Tensor  # what it returned: the next step's `prev`


class Feedback:
    """The feedback rule: the body is fed its own last output, and zeros at the start (and after
    `restart`). With `feed_back` False it is always fed zeros (a frame-by-frame model)."""

    def __init__(self, body: Body, feed_back: bool = True) -> None:
        self.body = body
        self.feed_back = feed_back
        self.prev: Tensor | None = None

    def restart(self) -> None:
        self.prev = None

    def step(self, label: Tensor) -> Step:
        fed = self.prev if self.prev is not None and self.feed_back else torch.zeros(1, 3, *label.shape[-2:])
        frame = self.body(label, fed)
        self.prev = frame
        return Step(fed, frame)


def rollout(body: Body, labels: Iterable[Tensor], feed_back: bool = True) -> Iterator[Step]:
    """`body` run over `labels` in order, as live runs it: each output fed back, zeros first.

    Lazy, one `Step` per label, so callers add their per-frame work (the face residual, crops,
    recording the feeds) between steps.
    """
    feedback = Feedback(body, feed_back)
    for label in labels:
        yield feedback.step(label)


class StageTimes(Protocol):
    """Where per-stage times go (live's LiveStats), without shared/ depending on live/."""

    def stage(self, name: str, seconds: float) -> None: ...


@dataclass
class Generated:
    image: np.ndarray  # HxWx3 uint8 RGB at the engine's size
    held: bool  # nobody was seen: this is an earlier output (or the empty scene), not a new one
    restarted: bool  # generated from a zero previous frame


class FeedbackLoop:
    """Turns a stream of (label, face box, person seen) into output frames."""

    def __init__(self, engine: Engine, lost_frames: int = DEFAULT_LOST_FRAMES, stats: StageTimes | None = None) -> None:
        if lost_frames < 0:
            raise ValueError("lost_frames must be >= 0")
        self.engine = engine
        self.lost_frames = lost_frames
        self.stats = stats
        width, height = engine.info.image_size
        self._zeros = torch.zeros(1, 3, height, width)  # the empty scene's previous frame
        self._feedback = Feedback(engine.body)  # the engine zeros `prev` itself for frame-by-frame models
        self.reset()

    def reset(self) -> None:
        """Start over from zeros at the next person (a new stream)."""
        self._feedback.restart()  # the body output fed back at the next frame is gone
        self._last: np.ndarray | None = None  # the last output frame, held while nobody is seen
        self._idle: np.ndarray | None = None  # the empty scene, shown before anyone was seen
        self.lost = 0  # frames in a row without a person

    def plate_changed(self) -> None:
        """The engine's plate changed: the cached empty scene is out of date."""
        self._idle = None

    def _time(self, stage: str, start: float) -> None:
        if self.stats is not None:
            self.stats.stage(stage, time.perf_counter() - start)

    def __call__(self, label: Tensor, face_box: FaceBox | None, present: bool) -> Generated:
        if not present:
            self.lost += 1
            if self._last is not None:
                return Generated(self._last, held=True, restarted=False)
            if self._idle is None:
                self._idle = tensor_to_image(self.engine.body(torch.zeros_like(label), self._zeros))
            return Generated(self._idle, held=True, restarted=False)

        restart = self._feedback.prev is None or self.lost > self.lost_frames
        if restart:
            self._feedback.restart()
        self.lost = 0
        start = time.perf_counter()
        body = self._feedback.step(label).frame
        self._time("body", start)
        frame = body
        if face_box is not None and self.engine.info.has_face:
            start = time.perf_counter()
            boxes = torch.tensor([[face_box.x0, face_box.y0, face_box.size]], dtype=torch.int64)
            frame = self.engine.add_face(body, label, boxes)
            self._time("face", start)
        self._last = tensor_to_image(frame)
        return Generated(self._last, held=False, restarted=restart)
