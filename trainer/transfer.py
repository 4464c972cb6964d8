"""The paper's transfer metric, judged strictly: puppeteer a run with another person's video as live
does, then ask the pose detector, frame by frame, whether each output shows the pose that drove it.

The source goes through exactly the steps live uses (shared/: the tracker, locked on `person`, then
live's puppet step, shared/runtime/puppet.py), normalized as live normalizes it: from the first frame,
adapting (`whole_clip`: by stats over the whole clip instead, as `dance-live --calibration` would).
Each output is judged on its own (trainer/judge.py: static detection where the output differs from
the plate) and scored by trainer/pose_score.py; the same judge on the real target frames is the
ceiling (`evaluate_ceiling`), the shuffled pairing the floor.

Judge on motion the target never made: its own clip mirrored and played backwards, another person,
the synthetic source dancer. Another synchronized camera of the training take replays poses the
target held in training (exemplar retrieval finds the very instant): that is reconstruction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from shared.errors import DanceError
from shared.io.tensors import tensor_to_image
from shared.io.video import probe_video, read_frames
from shared.label.render import contact_sheet, overlay, render_label
from shared.normalize.calibrator import Calibrator
from shared.normalize.stats import NormalizationStats
from shared.pose.keypoints import PoseFrame
from shared.pose.person_lock import LockConfig
from shared.pose.tracking import SourcePoseTracker
from shared.runtime.engine import Engine
from shared.runtime.puppet import PuppetStep
from shared.runtime.torch_engine import TorchEngine
from shared.runtime.trained import TrainedModel
from trainer.data import Split
from trainer.dataset import Dataset
from trainer.evaluate import generate_sequence, held_out_conditioning
from trainer.judge import judge, judge_real_frames
from trainer.pose_score import PoseScore

DEFAULT_MAX_FRAMES = 300
SHEET_ROWS = 6
THUMB_HEIGHT = 160  # source frames kept for the contact sheet at this height (the sheet's cell height)


# --- running a source as live does ----------------------------------------------------------------


@dataclass
class TrackedSource:
    """A source clip's label-frame poses as live's tracker sees them, with small frames for the sheet."""

    name: str
    poses: list[PoseFrame]  # in the model's label frame, One-Euro smoothed, not yet normalized
    thumbnails: list[np.ndarray]
    fps: float


def _thumbnail(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    size = (max(1, round(width * THUMB_HEIGHT / height)), THUMB_HEIGHT)
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def track_source(path: Path, schema_tag: str, label_size: tuple[int, int], max_frames: int, progress: bool = True,
                 person: str = "largest") -> TrackedSource:  # fmt: skip
    """Decode up to `max_frames` of the video and track the person (`person`: which one is locked,
    as `dance-live --person`), timed as live times a file."""
    info = probe_video(path)  # a one-line DanceError for a missing or unreadable file
    tracker = SourcePoseTracker(schema_tag, label_size, person=LockConfig(choose=person))
    poses, thumbnails = [], []
    try:
        total = min(info.frame_count, max_frames) if info.frame_count > 0 else max_frames
        for index, image in enumerate(tqdm(read_frames(path, max_frames), total=total, desc=f"{path.name}: source poses",
                                           unit="frame", disable=not progress)):
            poses.append(tracker(image, media_time=index / info.fps))
            thumbnails.append(_thumbnail(image))
    finally:
        tracker.close()
    return TrackedSource(path.name, poses, thumbnails, info.fps)


def calibrate_source(source: TrackedSource, label_size: tuple[int, int]) -> NormalizationStats:
    """The source's stats over the whole clip, as `dance-live calibrate --seconds <clip length>` gives."""
    calibrator = Calibrator(label_size, seconds=len(source.poses) / source.fps)
    for index, pose in enumerate(source.poses):
        calibrator.add(pose, index / source.fps)  # the clip ends before the calibration time
    try:
        return calibrator.finish()
    except DanceError as err:
        raise DanceError(f"{source.name}: {err}") from None


@dataclass
class Puppeteered:
    driving: list[PoseFrame]  # the normalized poses drawn into the labels
    labels: list[np.ndarray]
    outputs: list[np.ndarray]  # HxWx3 uint8 RGB, as live shows them


def puppeteer(engine: Engine, source: TrackedSource, stats: NormalizationStats | None = None,
              progress: bool = True) -> Puppeteered:
    """Each frame through live's puppet step (zeros first, hold while nobody is seen): normalized as
    live does without a calibration file, or with fixed `stats` (from calibrate_source: full-body
    mode, the source was calibrated with its legs)."""
    step = PuppetStep(engine, stats, full_body=stats is not None)
    result = Puppeteered([], [], [])
    for index, pose in enumerate(tqdm(source.poses, desc=f"{source.name}: generating", unit="frame", disable=not progress)):
        labelled, generated = step(pose, index / source.fps)
        result.driving.append(labelled.pose)
        result.labels.append(labelled.label)
        result.outputs.append(generated.image)
    return result


def transfer_sheet(source: TrackedSource, run: Puppeteered, detected: list[PoseFrame], score: PoseScore) -> np.ndarray:
    """source | label | output | the pose found on the output, for evenly spaced frames."""
    n = len(run.outputs)
    picks = np.unique(np.linspace(0, n - 1, min(SHEET_ROWS, n)).round().astype(int))
    size = run.outputs[0].shape[1::-1]
    rows = []
    for t in picks:
        found = overlay(run.outputs[t], render_label(detected[t], size), alpha=0.6)
        distance, offset = score.per_frame[t]["distance"], score.per_frame[t]["offset"]
        if distance is not None:
            text = f"#{t} d={distance:.2f} off={offset:.1f}"
        else:
            text = f"#{t} " + ("no torso to scale by" if score.per_frame[t]["found"] else "not found")
        cv2.putText(found, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
        rows.append([source.thumbnails[t], run.labels[t], run.outputs[t], found])
    return contact_sheet(rows, titles=["source", "label", "output", "found on output"])


def transfer_source(engine: Engine, path: Path, plate: np.ndarray | None, max_frames: int = DEFAULT_MAX_FRAMES,
                    progress: bool = True, whole_clip: bool = False, person: str = "largest") -> tuple[PoseScore, np.ndarray]:  # fmt: skip
    """Puppeteer the engine's run with one source video (over its own `plate`, judged against it):
    its score and contact sheet."""
    schema_tag, label_size = engine.info.schema_tag, tuple(engine.info.image_size)
    source = track_source(path, schema_tag, label_size, max_frames, progress, person)
    if not source.poses:
        raise DanceError(f"{path}: has no video frames")
    engine.set_plate(None)
    run = puppeteer(engine, source, calibrate_source(source, label_size) if whole_clip else None, progress)
    score, detected = judge(run.outputs, run.driving, plate, schema_tag, f"{path.name}: output poses", progress)
    return score, transfer_sheet(source, run, detected, score)


def evaluate_transfer(model: TrainedModel, sources: Sequence[Path], sheet_dir: Path, max_frames: int = DEFAULT_MAX_FRAMES,
                      progress: bool = True, whole_clip: bool = False, person: str = "largest") -> dict[str, PoseScore]:  # fmt: skip
    """Each source's score, keyed by file name; writes `sheet_dir`/transfer_<stem>.png per source (the run's folder)."""
    names = [Path(s).name for s in sources]
    if len(set(names)) != len(names):
        raise DanceError(f"two sources share a file name ({', '.join(names)}); results are keyed by name, rename one")
    for path in sources:
        probe_video(path)  # fail before any work
    if not sources:
        return {}
    engine = TorchEngine(model)
    scores = {}
    for path in map(Path, sources):
        scores[path.name], sheet = transfer_source(engine, path, model.plate_image, max_frames, progress, whole_clip, person)
        cv2.imwrite(str(Path(sheet_dir) / f"transfer_{path.stem}.png"), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    return scores


def evaluate_ceiling(model: TrainedModel, max_frames: int = DEFAULT_MAX_FRAMES, progress: bool = True) -> PoseScore:
    """The judge on the run's real target frames (up to `max_frames`, evenly spaced, at the model's
    size) against their dataset poses: the found rate and pose error any output can hope for."""
    dataset = Dataset.open(model.info["run"]["dataset"])
    frames = np.unique(np.linspace(0, len(dataset) - 1, min(max_frames, len(dataset))).round().astype(int)).tolist()
    return judge_real_frames(dataset, frames, tuple(model.config.image_size), model.schema_tag, progress)


# --- the held-out target frames -------------------------------------------------------------------


def evaluate_held_out_pose(model: TrainedModel, progress: bool = True) -> dict[str, PoseScore]:
    """The held-out target frames: `generated` (feedback from zeros, as evaluate_run) against the
    dataset poses, and `real_frames`, the real frames against the same poses, both judged frame by
    frame: the detector's own noise, a bound for any model."""
    dataset = Dataset.open(model.info["run"]["dataset"])
    frames = Split.of_run(model.info["run"]).held_out
    driving, conditions = held_out_conditioning(model, dataset, frames)
    boxes = torch.from_numpy(np.asarray(dataset.face_boxes[frames.start : frames.stop], np.int64))
    fake = generate_sequence(model, conditions, boxes)
    generated = [tensor_to_image(fake[t : t + 1]) for t in range(len(fake))]
    plate = model.plate_image
    generated_score, _ = judge(generated, driving, plate, model.schema_tag, "held-out: output poses", progress, frames)
    real_score = judge_real_frames(dataset, frames, tuple(model.config.image_size), model.schema_tag, progress)
    return {"generated": generated_score, "real_frames": real_score}
