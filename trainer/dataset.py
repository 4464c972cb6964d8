"""The on-disk training dataset that `dance-train prepare` writes and `dance-train fit` reads.

A dataset is a folder:
  dataset.json       this manifest (written last: a folder without it is not a dataset)
  frames.npy         (T, H, W, 3) uint8 RGB target frames, cropped and resized
  labels.npy         (T, H, W, 3) uint8 RGB stick-figure labels rendered from the smoothed poses
  masks.npy          (T, H, W) uint8 person masks (MediaPipe Pose segmentation, 0-255, less what matches the plate)
  plate.png          the background plate: per-pixel median of the frames with the person left out
  poses.npz          smoothed poses in dataset pixels (PoseSequence); poses_raw.npz: as detected
  face_boxes.npy     (T, 3) int x0, y0, size per frame; -1 where there is no face
  norm_stats.json    the target's global pose normalization statistics
  contact_sheet.png  frames | labels | overlay for a few frames, for a person to look at
Arrays are plain .npy files, memory-mapped when read, so a dataset larger than RAM still trains.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from shared.errors import DanceError
from shared.normalize.facing import front_share
from shared.normalize.limbs import limb_lengths
from shared.normalize.stats import NormalizationStats
from shared.pose.keypoints import PoseSequence
from shared.runtime.run_folder import PLATE_FILE

DATASET_FORMAT_VERSION = 2
MANIFEST_NAME = "dataset.json"


@dataclass(frozen=True)
class DatasetManifest:
    format_version: int
    schema_tag: str
    image_size: tuple[int, int]  # (width, height) of frames and labels
    fps: float
    num_frames: int
    frames_with_person: int
    source_video: str  # file name of the video it came from
    source_sha256: str
    source_size: tuple[int, int]  # (width, height) of the original video
    crop_window: dict[str, int]  # in source pixels, see shared.pose.framing.CropWindow
    settings: dict[str, object] = field(default_factory=dict)  # the PrepareConfig it was made with
    plate_residual: float = 1.0  # how badly the background plate explains the frames (see trainer/plate.py)
    static_background: bool = False  # the camera was static: compositing over the plate is possible
    plate_filled: float = 0.0  # fraction of plate pixels the person always hid, filled from their surroundings

    def save(self, folder: Path) -> None:
        (folder / MANIFEST_NAME).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, folder: Path) -> DatasetManifest:
        path = folder / MANIFEST_NAME
        if not path.is_file():
            raise DanceError(f"{folder}: not a dataset (no {MANIFEST_NAME}); make one with `dance-train prepare VIDEO`")
        try:
            data = json.loads(path.read_text())
            data["image_size"] = _size(data["image_size"])
            data["source_size"] = _size(data["source_size"])
            manifest = cls(**data)
            if not isinstance(manifest.num_frames, int) or manifest.num_frames < 1:
                raise ValueError(f"num_frames {manifest.num_frames!r} is not a positive whole number")
        except (ValueError, TypeError, KeyError) as err:
            raise DanceError(f"{path}: unreadable dataset manifest ({type(err).__name__}: {err}); prepare it again") from None
        if manifest.format_version != DATASET_FORMAT_VERSION:
            raise DanceError(
                f"{folder}: dataset format {manifest.format_version}, this version reads {DATASET_FORMAT_VERSION}; "
                "prepare it again"
            )
        return manifest


def _size(value: object) -> tuple[int, int]:
    """(width, height) from JSON: two positive whole numbers, or a ValueError."""
    if not isinstance(value, list) or len(value) != 2 or not all(isinstance(v, int) and v > 0 for v in value):
        raise ValueError(f"a size must be [width, height] in pixels, not {value!r}")
    return value[0], value[1]


def _array(path: Path, shape: tuple[int, ...], mmap: bool = True) -> np.ndarray:
    """One .npy file of the dataset, of the shape the manifest implies; anything else is a
    DanceError naming the file (np.load's own messages do not)."""
    try:
        array = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:  # missing, truncated (mmap or EOF), not an .npy file
        raise DanceError(f"{path}: damaged dataset file ({type(err).__name__}: {err}); prepare the dataset again") from None
    if array.shape != shape:
        raise DanceError(f"{path}: shape {array.shape}, but {MANIFEST_NAME} implies {shape}; prepare the dataset again")
    return array


@dataclass
class Dataset:
    """A prepared dataset, arrays memory-mapped."""

    folder: Path
    manifest: DatasetManifest
    frames: np.ndarray
    labels: np.ndarray
    poses: PoseSequence
    face_boxes: np.ndarray
    norm_stats: NormalizationStats
    masks: np.ndarray
    plate: np.ndarray  # HxWx3 uint8 RGB

    @classmethod
    def open(cls, folder: str | Path) -> Dataset:
        folder = Path(folder)
        manifest = DatasetManifest.load(folder)
        width, height = manifest.image_size
        count = manifest.num_frames
        frames = _array(folder / "frames.npy", (count, height, width, 3))
        labels = _array(folder / "labels.npy", (count, height, width, 3))
        masks = _array(folder / "masks.npy", (count, height, width))
        face_boxes = _array(folder / "face_boxes.npy", (count, 3), mmap=False)
        plate = cv2.imread(str(folder / PLATE_FILE), cv2.IMREAD_COLOR)
        if plate is None or plate.shape != (height, width, 3):
            found = "missing or unreadable" if plate is None else f"{plate.shape[1]}x{plate.shape[0]}, not {width}x{height}"
            raise DanceError(f"{folder / 'plate.png'}: {found}; prepare the dataset again")
        poses = PoseSequence.load(folder / "poses.npz")
        if len(poses) != count:
            raise DanceError(f"{folder / 'poses.npz'}: {len(poses)} frames, but {MANIFEST_NAME} says {count}; prepare the dataset again")
        stats = NormalizationStats.load(folder / "norm_stats.json")
        if stats.front_share is None:  # prepared before the target's facing was kept
            stats = replace(stats, front_share=front_share(poses))
        if stats.limbs is None:  # prepared before the target's limb lengths were kept
            stats = replace(stats, limbs=limb_lengths(poses))
        return cls(folder, manifest, frames, labels, poses, face_boxes, stats, masks, cv2.cvtColor(plate, cv2.COLOR_BGR2RGB))

    def __len__(self) -> int:
        return self.manifest.num_frames
