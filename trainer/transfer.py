"""The paper's transfer metric: puppeteer a run with another person's video, then ask the pose
detector whether the output still shows the pose that drove it.

Per frame, MediaPipe runs on the generated frame, in a region around where the driving pose put
the person (as a person-locked live tracker would, so a bystander standing in the background plate
is not scored instead); the body joints it finds are aligned onto the driving pose (the normalized
source pose drawn into the label) by a least-squares similarity (Umeyama: scale, rotation, shift),
and the mean distance over the joints seen in both is divided by the driving pose's torso height,
so the number means the same for any video size and framing. A fixed shuffled pairing of the
frames gives the floor that a model ignoring its input reaches.

The detector often cannot tell a person's front from their back (the Pose2Sim footage blurs every
face), and then reads left and right swapped: each distance is the smaller of the direct one and
the one with left and right exchanged, for the model's score and its shuffled floor alike, and the
share of frames read mirrored is reported beside them.

The source goes through exactly the steps live uses (shared/: the tracker, then live's puppet
step, shared/runtime/puppet.py), normalized as live normalizes it: from the first frame, adapting
(`whole_clip`: by stats over the whole clip instead, as `dance-live --calibration` would, the old
eval, kept for comparison).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from shared.errors import DanceError
from shared.io.tensors import tensor_to_image
from shared.io.video import probe_video, read_frames
from shared.label.geometry import umeyama
from shared.label.render import contact_sheet, overlay, render_label
from shared.normalize.calibrator import Calibrator
from shared.normalize.stats import NormalizationStats
from shared.pose.keypoints import PoseFrame, torso_size
from shared.pose.mediapipe_estimator import MediaPipeEstimator
from shared.pose.person_lock import box_of, crop_region, offset_pose
from shared.pose.schema import MAIN_JOINTS, Joint
from shared.pose.tracking import SourcePoseTracker, estimator_config
from shared.runtime.engine import Engine
from shared.runtime.puppet import PuppetStep
from shared.runtime.torch_engine import TorchEngine
from shared.runtime.trained import load_trained
from trainer.data import Split
from trainer.dataset import Dataset
from trainer.evaluate import generate_sequence, held_out_conditioning
from trainer.metrics import format_cell, text_table

BODY_JOINTS = np.array(MAIN_JOINTS)  # what poses are compared by
MIN_JOINTS = 4  # fewer body joints seen in both poses: the frame counts as not found
# A detection whose centre lies farther than this (in driving torso heights) from the driving pose's
# is somebody else, e.g. a bystander standing in the background plate: it counts as not found.
# Real held-out frames of the Pose2Sim target sit at 0.0-0.1; its plate's bystander at 2.4-2.5.
MAX_CENTRE_OFFSET = 1.0
REGION_MARGIN = 0.25  # the detection region: the driving pose's box grown by this share of its size on each side


MIRRORED = np.array([joint.mirrored for joint in Joint])  # joint -> its other-side twin
DEFAULT_MAX_FRAMES = 300
SHEET_ROWS = 6
THUMB_HEIGHT = 160  # source frames kept for the contact sheet at this height (the sheet's cell height)


# --- the distance ---------------------------------------------------------------------------------


def torso_height(pose: PoseFrame) -> float | None:
    """Mid-shoulder to mid-hip distance, or None when a shoulder or hip was not seen."""
    return torso_size(pose.keypoints, pose.valid)


def common_joints(detected: PoseFrame, driving: PoseFrame) -> np.ndarray:
    """Indices of the body joints valid in both poses."""
    return BODY_JOINTS[detected.valid[BODY_JOINTS] & driving.valid[BODY_JOINTS]]


def mirrored(pose: PoseFrame) -> PoseFrame:
    """The same points with left and right exchanged (the detector's front/back confusion)."""
    order = np.arange(len(pose.valid))
    order[: len(MIRRORED)] = MIRRORED
    return PoseFrame(pose.keypoints[order], pose.confidence[order], pose.valid[order], pose.schema_tag)


def facing_distance(detected: PoseFrame, driving: PoseFrame) -> tuple[float | None, bool]:
    """The pose distance with either reading of left and right, and whether the swapped one won."""
    direct, swapped = pose_distance(detected, driving), pose_distance(mirrored(detected), driving)
    if direct is None or swapped is None:
        return direct, False
    return (swapped, True) if swapped < direct else (direct, False)


def pose_distance(detected: PoseFrame, driving: PoseFrame) -> float | None:
    """Mean L2 over the common body joints after aligning `detected` onto `driving`, in driving
    torso heights; None when fewer than MIN_JOINTS are common or the driving torso is not seen."""
    joints = common_joints(detected, driving)
    torso = torso_height(driving)
    if len(joints) < MIN_JOINTS or torso is None:
        return None
    src = detected.keypoints[joints].astype(np.float64)
    dst = driving.keypoints[joints].astype(np.float64)
    fit = umeyama(src, dst)
    if fit is None:
        return None
    return float(np.linalg.norm(fit.apply(src) - dst, axis=1).mean() / torso)


def centre_offset(detected: PoseFrame, driving: PoseFrame) -> float | None:
    """How far the found body's centre is from the driving one, before alignment, in driving torso
    heights: large when the detector found someone else (e.g. a bystander in the background plate)."""
    joints = common_joints(detected, driving)
    torso = torso_height(driving)
    if len(joints) < MIN_JOINTS or torso is None:
        return None
    shift = detected.keypoints[joints].astype(np.float64).mean(axis=0) - driving.keypoints[joints].astype(np.float64).mean(axis=0)
    return float(np.linalg.norm(shift) / torso)


def shuffled_partners(n: int) -> np.ndarray:
    """A fixed derangement: item k is paired with (k + n // 2) mod n; empty when n < 2 (none exists)."""
    if n < 2:
        return np.zeros(0, int)
    return (np.arange(n) + n // 2) % n


@dataclass
class PoseScore:
    """Found rate, pose distance and its shuffled floor over one clip."""

    found_rate: float | None  # output frames with a person, among frames whose driving pose has one
    pose_distance: float | None  # mean over frames with a distance, in driving torso heights
    shuffled_distance: float | None
    frames: int  # frames whose driving pose has a person
    per_frame: list[dict] = field(default_factory=list)
    mirrored_rate: float | None = None  # scored frames the detector read with left and right swapped

    @property
    def ratio(self) -> float | None:
        if self.pose_distance is None or not self.shuffled_distance:
            return None
        return self.pose_distance / self.shuffled_distance

    def as_dict(self) -> dict:
        return {
            "found_rate": self.found_rate, "pose_distance": self.pose_distance, "shuffled_distance": self.shuffled_distance,
            "ratio": self.ratio, "frames": self.frames, "mirrored_rate": self.mirrored_rate, "per_frame": self.per_frame,
        }


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def score_poses(detected: Sequence[PoseFrame], driving: Sequence[PoseFrame], frame_ids: Sequence[int] | None = None) -> PoseScore:
    """Score detected poses against the poses that drove them, frame by frame."""
    if len(detected) != len(driving):
        raise ValueError(f"{len(detected)} detected poses for {len(driving)} driving poses")
    frame_ids = list(range(len(driving))) if frame_ids is None else list(frame_ids)
    per_frame, scored, distances, swaps = [], [], [], []
    eligible = found = 0
    for t, (seen, drove) in enumerate(zip(detected, driving)):
        distance, swapped = None, False
        offset = centre_offset(seen, drove) if drove.present else None
        is_found = offset is not None and offset <= MAX_CENTRE_OFFSET
        if drove.present:
            eligible += 1
            found += is_found
            if is_found:
                distance, swapped = facing_distance(seen, drove)
        if distance is not None:
            scored.append(t)
            distances.append(distance)
            swaps.append(swapped)
        per_frame.append({"frame": int(frame_ids[t]), "source_found": drove.present, "found": bool(is_found),
                          "distance": distance, "offset": offset, "mirrored": swapped})
    partners = shuffled_partners(len(scored))
    shuffled = [facing_distance(detected[scored[k]], driving[scored[j]])[0] for k, j in enumerate(partners)]
    return PoseScore(
        found_rate=found / eligible if eligible else None,
        pose_distance=_mean(distances),
        shuffled_distance=_mean([d for d in shuffled if d is not None]),
        frames=eligible,
        per_frame=per_frame,
        mirrored_rate=_mean([float(s) for s in swaps]),
    )


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


def track_source(path: Path, schema_tag: str, label_size: tuple[int, int], max_frames: int, progress: bool = True) -> TrackedSource:
    """Decode up to `max_frames` of the video and track the person, timed as live times a file."""
    info = probe_video(path)  # a one-line DanceError for a missing or unreadable file
    tracker = SourcePoseTracker(schema_tag, label_size)
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


Region = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels, exclusive ends


def region_around(pose: PoseFrame, size: tuple[int, int], margin: float = REGION_MARGIN) -> Region | None:
    """Where the person should be: the driving pose's box grown as the person lock grows its own
    (shared/pose/person_lock.py); None when the pose has no person."""
    box = box_of(pose)
    return None if box is None else crop_region(box, size, margin)


def detect_poses(images: Sequence[np.ndarray], schema_tag: str, desc: str, progress: bool = True,
                 regions: Sequence[Region | None] | None = None) -> list[PoseFrame]:  # fmt: skip
    """A fresh MediaPipe (the tracker's settings, tracking mode) over the frames, in order; with
    `regions`, each frame is searched inside its region only (None: the whole frame)."""
    regions = list(regions) if regions is not None else [None] * len(images)
    found = []
    with MediaPipeEstimator(estimator_config(schema_tag)) as estimator:
        for image, region in zip(tqdm(images, desc=desc, unit="frame", disable=not progress), regions):
            image = np.asarray(image)
            if region is None:
                found.append(estimator(image))
                continue
            x0, y0, x1, y1 = region
            found.append(offset_pose(estimator(np.ascontiguousarray(image[y0:y1, x0:x1])), x0, y0))
    return found


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


def transfer_source(engine: Engine, path: Path, max_frames: int = DEFAULT_MAX_FRAMES,
                    progress: bool = True, whole_clip: bool = False) -> tuple[PoseScore, np.ndarray]:
    """Puppeteer the engine's run with one source video: its score and contact sheet."""
    schema_tag, label_size = engine.info.schema_tag, tuple(engine.info.image_size)
    source = track_source(path, schema_tag, label_size, max_frames, progress)
    if not source.poses:
        raise DanceError(f"{path}: has no video frames")
    engine.set_plate(None)
    run = puppeteer(engine, source, calibrate_source(source, label_size) if whole_clip else None, progress)
    regions = [region_around(pose, label_size) for pose in run.driving]
    detected = detect_poses(run.outputs, schema_tag, f"{path.name}: output poses", progress, regions)
    score = score_poses(detected, run.driving)
    return score, transfer_sheet(source, run, detected, score)


def evaluate_transfer(run_dir: Path, sources: Sequence[Path], max_frames: int = DEFAULT_MAX_FRAMES,
                      progress: bool = True, whole_clip: bool = False) -> dict[str, PoseScore]:
    """Each source's score, keyed by file name; writes RUN/transfer_<stem>.png per source."""
    names = [Path(s).name for s in sources]
    if len(set(names)) != len(names):
        raise DanceError(f"two sources share a file name ({', '.join(names)}); results are keyed by name, rename one")
    for path in sources:
        probe_video(path)  # fail before any work
    if not sources:
        return {}
    engine = TorchEngine(load_trained(run_dir))
    scores = {}
    for path in map(Path, sources):
        scores[path.name], sheet = transfer_source(engine, path, max_frames, progress, whole_clip)
        cv2.imwrite(str(Path(run_dir) / f"transfer_{path.stem}.png"), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    return scores


# --- the held-out target frames -------------------------------------------------------------------


def evaluate_held_out_pose(run_dir: Path, progress: bool = True) -> dict[str, PoseScore]:
    """The held-out target frames: `generated` (feedback from zeros, as evaluate_run) against the
    dataset poses, and `real_frames`, the real frames against the same poses: the detector's own
    noise, a lower bound for any model."""
    model = load_trained(run_dir)
    dataset = Dataset.open(model.info["run"]["dataset"])
    frames = Split.of_run(model.info["run"]).held_out
    start, stop = frames.start, frames.stop
    driving, conditions = held_out_conditioning(model, dataset, frames)
    boxes = torch.from_numpy(np.asarray(dataset.face_boxes[start:stop], np.int64))
    fake = generate_sequence(model, conditions, boxes)
    generated = [tensor_to_image(fake[t : t + 1]) for t in range(len(fake))]
    schema_tag = model.schema_tag
    size = tuple(model.config.image_size)
    found_generated = detect_poses(generated, schema_tag, "held-out: output poses", progress, [region_around(p, size) for p in driving])
    real = [np.array(dataset.frames[t]) for t in frames]
    if tuple(dataset.manifest.image_size) != size:  # the real frames are at the dataset's size
        driving_real = [dataset.poses[t] for t in frames]
    else:
        driving_real = driving
    real_size = tuple(dataset.manifest.image_size)
    found_real = detect_poses(real, schema_tag, "held-out: real frame poses", progress, [region_around(p, real_size) for p in driving_real])
    return {"generated": score_poses(found_generated, driving, frames), "real_frames": score_poses(found_real, driving_real, frames)}


# --- the table ------------------------------------------------------------------------------------


def format_pose_table(rows: dict[str, PoseScore]) -> str:
    """Found %, pose distance, shuffled floor, their ratio and frames; "-" where a number is missing."""
    header = ["pose (transfer)", "found %", "pose dist", "shuffled", "ratio", "mirrored %", "frames"]
    percent = lambda share: format_cell(None if share is None else 100 * share, ".1f")  # noqa: E731
    body = [
        [name, percent(s.found_rate), format_cell(s.pose_distance, ".4f"), format_cell(s.shuffled_distance, ".4f"),
         format_cell(s.ratio, ".3f"), percent(s.mirrored_rate), str(s.frames)]
        for name, s in rows.items()
    ]
    return text_table(header, body)
