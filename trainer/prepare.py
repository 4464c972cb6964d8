"""`dance-train prepare`: a target video in, a training dataset (see trainer/dataset.py) out.

video -> MediaPipe poses of one locked person (a bystander is never taken for the target) ->
7-frame median smoothing -> one crop window around the person's whole-video extent ->
cropped frames + person masks + rendered labels + face boxes + normalization stats + the
background plate (which then clears the background the masks took in) + a contact sheet.

The dataset is built in a hidden sibling folder and renamed into place at the end, so an interrupted
run never leaves a folder that looks complete, and a failed one leaves nothing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from shared.errors import DanceError
from shared.pose.mediapipe_estimator import EstimatorConfig, extract_person_poses
from shared.label.facebox import face_boxes
from shared.pose.framing import person_window
from shared.normalize.stats import compute_stats
from shared.pose.keypoints import PoseSequence
from shared.label.render import contact_sheet, overlay, render_label
from shared.pose.smoothing import median_smooth
from shared.io.video import probe_video, read_frames
from shared.runtime.run_folder import PLATE_FILE
from trainer.dataset import DATASET_FORMAT_VERSION, MANIFEST_NAME, DatasetManifest
from trainer.plate import STATIC_RESIDUAL_LIMIT, clear_background, estimate_plate

MASK_WORK_SIDE = 512  # person masks are kept at most this large until the crop is known
MIN_HEIGHT_SHARE = 0.5  # a person shorter than this share of the frame height is too small to learn


@dataclass(frozen=True)
class PrepareConfig:
    size: tuple[int, int] = (256, 256)  # (width, height) of the model's images
    holistic: bool = False  # 21-point hands from MediaPipe Holistic
    smooth_window: int = 7  # frames in the centred median; 1 turns smoothing off
    min_person_fraction: float = 0.5  # refuse videos where fewer frames show a person
    contact_sheet_rows: int = 6


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _settings(config: PrepareConfig) -> dict[str, object]:
    settings = asdict(config)
    settings["size"] = list(config.size)
    return settings


def _existing_is_current(out_dir: Path, video_sha: str, config: PrepareConfig) -> bool:
    """True when `out_dir` already holds this dataset; an error when it holds a different one."""
    if not (out_dir / MANIFEST_NAME).exists():
        if out_dir.exists() and any(out_dir.iterdir()):
            raise DanceError(f"{out_dir}: exists and is not a dataset; choose another -o or remove it")
        return False
    manifest = DatasetManifest.load(out_dir)
    if manifest.source_sha256 == video_sha and manifest.settings == _settings(config):
        return True
    raise DanceError(f"{out_dir}: holds a dataset made from another video or with other settings; pass --force to rebuild it")


def prepare_dataset(
    video: str | Path, out_dir: str | Path, config: PrepareConfig | None = None, force: bool = False, progress: bool = True
) -> tuple[Path, bool]:
    """Build the dataset; returns its folder and whether anything was done (False: already there)."""
    video, out_dir = Path(video), Path(out_dir)
    config = config or PrepareConfig()
    info = probe_video(video)
    video_sha = file_sha256(video)
    if not force and _existing_is_current(out_dir, video_sha, config):
        return out_dir, False

    partial = out_dir.with_name(f".{out_dir.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        manifest = _build(video, info.size, info.fps, video_sha, partial, config, progress)
        manifest.save(partial)  # last: its presence marks a finished dataset
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(partial, out_dir)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return out_dir, True


def _build(
    video: Path, source_size: tuple[int, int], fps: float, video_sha: str, folder: Path, config: PrepareConfig, progress: bool
) -> DatasetManifest:
    mask_scale = min(1.0, MASK_WORK_SIDE / max(source_size))
    mask_size = (max(1, round(source_size[0] * mask_scale)), max(1, round(source_size[1] * mask_scale)))
    full_masks = np.lib.format.open_memmap(
        folder / "masks_full.npy", mode="w+", dtype=np.uint8, shape=(max(1, _frame_budget(video)), mask_size[1], mask_size[0])
    )

    def keep_mask(index: int, mask: np.ndarray) -> None:
        if index < len(full_masks):
            full_masks[index] = (cv2.resize(mask, mask_size, interpolation=cv2.INTER_AREA) * 255).round().astype(np.uint8)

    raw, others_only = extract_person_poses(
        video, EstimatorConfig(holistic=config.holistic), progress=progress, on_mask=keep_mask
    )
    if others_only:
        tqdm.write(f"{others_only} of {len(raw)} frames showed only someone other than the target person and were dropped")
    found = int(raw.present.sum())
    if found < config.min_person_fraction * len(raw):
        raise DanceError(f"{video}: a person was found in only {found} of {len(raw)} frames; a target video must show one person")

    window = person_window(raw, config.size)
    raw_poses = window.map_poses(raw, config.size)
    poses = median_smooth(raw_poses, config.smooth_window) if config.smooth_window > 1 else raw_poses
    tqdm.write(framing_report(person_height(poses), config.size))
    raw_poses.save(folder / "poses_raw.npz")
    poses.save(folder / "poses.npz")

    width, height = config.size
    shape = (len(poses), height, width, 3)
    frames = np.lib.format.open_memmap(folder / "frames.npy", mode="w+", dtype=np.uint8, shape=shape)
    labels = np.lib.format.open_memmap(folder / "labels.npy", mode="w+", dtype=np.uint8, shape=shape)
    masks = np.lib.format.open_memmap(folder / "masks.npy", mode="w+", dtype=np.uint8, shape=shape[:3])
    mask_window = window.scaled(mask_scale)
    decoded = read_frames(video, max_frames=len(poses))
    for t, rgb in enumerate(tqdm(decoded, total=len(poses), desc="frames", unit="frame", disable=not progress)):
        frames[t] = window.apply(rgb, config.size)
        labels[t] = render_label(poses[t], config.size)
        if t < len(full_masks):
            masks[t] = mask_window.apply(full_masks[t], config.size)
    for array in (frames, labels, masks):
        array.flush()
    del full_masks
    (folder / "masks_full.npy").unlink()

    plate = estimate_plate(frames, masks)
    cv2.imwrite(str(folder / PLATE_FILE), cv2.cvtColor(plate.plate, cv2.COLOR_RGB2BGR))
    if plate.filled > 0:
        tqdm.write(
            f"background plate: {100 * plate.filled:.1f}% of pixels had no clean view of the background "
            "and were filled from their surroundings"
        )
    if plate.static:  # a moving camera's plate matches no frame: nothing to clear by it
        clear_background(frames, masks, plate)
        masks.flush()
    else:
        tqdm.write(
            f"the background changes between frames (plate residual {plate.residual:.3f} > {STATIC_RESIDUAL_LIMIT}): "
            "the camera seems to move, so compositing over a background plate will be off for this target"
        )

    np.save(folder / "face_boxes.npy", face_boxes(poses))
    compute_stats(poses).save(folder / "norm_stats.json")
    _write_contact_sheet(folder / "contact_sheet.png", frames, labels, poses.present, config.contact_sheet_rows)
    return DatasetManifest(
        format_version=DATASET_FORMAT_VERSION,
        schema_tag=poses.schema_tag,
        image_size=config.size,
        fps=fps,
        num_frames=len(poses),
        frames_with_person=found,
        source_video=video.name,
        source_sha256=video_sha,
        source_size=source_size,
        crop_window=window.to_dict(),
        settings=_settings(config),
        plate_residual=plate.residual,
        plate_filled=plate.filled,
        static_background=plate.static,
    )


def person_height(poses: PoseSequence) -> float:
    """Median height (px) of the person's landmarks (eyes to heels) over the frames that show them."""
    present = poses.present
    if not present.any():
        return 0.0
    y = np.where(poses.valid[present], poses.keypoints[present][..., 1], np.nan)
    return float(np.median(np.nanmax(y, axis=1) - np.nanmin(y, axis=1)))


def framing_report(height_px: float, size: tuple[int, int]) -> str:
    """How tall the person is in the prepared frames, and a clear warning when too small to learn."""
    share = height_px / size[1]
    line = f"person height in the prepared {size[0]}x{size[1]} frames: {height_px:.0f} px ({100 * share:.0f}% of the height)"
    if share >= MIN_HEIGHT_SHARE:
        return line
    return (
        f"warning: {line}, under {100 * MIN_HEIGHT_SHARE:.0f}%: too small to learn; "
        "crop the video tighter around the person or give a larger --size"
    )


def _frame_budget(video: Path) -> int:
    """Frames to reserve for masks: the header's count (MediaPipe's pass stops at the real end)."""
    return probe_video(video).frame_count


def _write_contact_sheet(path: Path, frames: np.ndarray, labels: np.ndarray, present: np.ndarray, rows: int) -> None:
    """frame | label | overlay for evenly spaced frames that show the person."""
    candidates = np.flatnonzero(present)
    picks = candidates[np.linspace(0, len(candidates) - 1, min(rows, len(candidates))).round().astype(int)]
    sheet = contact_sheet(
        [[frames[t], labels[t], overlay(frames[t], labels[t])] for t in picks], titles=["frame", "label", "overlay"]
    )
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
