"""Poses in pixels, one frame (`PoseFrame`) or a whole video (`PoseSequence`).

Missing detections are explicit: `valid` is False for a joint that was not seen and `present` is
False for a frame without a person. Invalid points hold NaN, so a forgotten mask shows up as NaN
instead of a plausible-looking point at (0, 0).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.errors import DanceError
from shared.pose.schema import HIPS, SHOULDERS, TORSO, SkeletonSchema, get_schema


@dataclass
class PoseFrame:
    keypoints: np.ndarray  # (K, 2) float32, x and y in pixels; NaN where not valid
    confidence: np.ndarray  # (K,) float32 in [0, 1]
    valid: np.ndarray  # (K,) bool
    schema_tag: str
    # (K,) float32: MediaPipe's z, how far each joint is from the camera relative to the hips' middle
    # (smaller: nearer), NaN where not known; None from sources without depth (older pose files).
    # Only its order is used: which body part is drawn in front of which.
    depth: np.ndarray | None = None

    @property
    def schema(self) -> SkeletonSchema:
        return get_schema(self.schema_tag)

    @property
    def present(self) -> bool:
        return bool(self.valid.any())

    @classmethod
    def missing(cls, schema: SkeletonSchema) -> PoseFrame:
        k = schema.num_joints
        return cls(
            keypoints=np.full((k, 2), np.nan, np.float32),
            confidence=np.zeros(k, np.float32),
            valid=np.zeros(k, bool),
            schema_tag=schema.tag,
        )

    def point(self, index: int) -> np.ndarray | None:
        """The joint's (x, y), or None when it was not seen."""
        return self.keypoints[index] if self.valid[index] else None

    def sides_swapped(self) -> PoseFrame:
        """The same points with the person's left and right exchanged (each joint takes its twin's place)."""
        order = list(self.schema.sides_swapped)
        depth = None if self.depth is None else self.depth[order]
        return PoseFrame(self.keypoints[order], self.confidence[order], self.valid[order], self.schema_tag, depth)

    def moved_to(self, keypoints: np.ndarray) -> PoseFrame:
        """The same pose with its points at `keypoints` (K, 2): its joints, confidences and depth kept."""
        depth = None if self.depth is None else self.depth.copy()
        return PoseFrame(np.asarray(keypoints, np.float32), self.confidence.copy(), self.valid.copy(), self.schema_tag, depth)


_TORSO_ENDS = np.array(SHOULDERS + HIPS)  # as an index array: the fastest fancy index


def torso_size(keypoints: np.ndarray, valid: np.ndarray) -> float | None:
    """Mid-shoulder to mid-hip distance in pixels, or None without both shoulders and hips: the
    body's own scale, wherever poses are compared or moved (exemplars, the person lock, the eval)."""
    if not all(valid[j] for j in TORSO):
        return None
    points = keypoints[_TORSO_ENDS].astype(np.float64)
    gap = (points[0] + points[1]) / 2 - (points[2] + points[3]) / 2
    size = float(np.sqrt(gap.dot(gap)))  # np.linalg.norm's arithmetic without its overhead: live calls this twice a frame
    return size if size > 1e-6 else None


@dataclass
class PoseSequence:
    keypoints: np.ndarray  # (T, K, 2) float32 pixels; NaN where not valid
    confidence: np.ndarray  # (T, K) float32
    valid: np.ndarray  # (T, K) bool
    image_size: tuple[int, int]  # (width, height) of the frames the pixels refer to
    fps: float
    schema_tag: str
    depth: np.ndarray | None = None  # (T, K) float32, each frame's `PoseFrame.depth`; None: not known

    def __post_init__(self) -> None:
        self.keypoints = np.asarray(self.keypoints, np.float32)
        self.confidence = np.asarray(self.confidence, np.float32)
        self.valid = np.asarray(self.valid, bool)
        t, k = self.valid.shape
        if self.keypoints.shape != (t, k, 2) or self.confidence.shape != (t, k):
            raise ValueError("keypoints, confidence and valid disagree on (frames, joints)")
        if self.depth is not None:
            self.depth = np.asarray(self.depth, np.float32)
            if self.depth.shape != (t, k):
                raise ValueError("depth disagrees with keypoints on (frames, joints)")
        if k != get_schema(self.schema_tag).num_joints:
            raise ValueError(f"{k} joints per frame, but schema {self.schema_tag} has {get_schema(self.schema_tag).num_joints}")
        self.keypoints[~self.valid] = np.nan
        self.image_size = (int(self.image_size[0]), int(self.image_size[1]))
        self.fps = float(self.fps)

    def __len__(self) -> int:
        return self.valid.shape[0]

    def __getitem__(self, t: int) -> PoseFrame:
        depth = None if self.depth is None else self.depth[t]
        return PoseFrame(self.keypoints[t], self.confidence[t], self.valid[t], self.schema_tag, depth)

    @property
    def schema(self) -> SkeletonSchema:
        return get_schema(self.schema_tag)

    @property
    def present(self) -> np.ndarray:
        """(T,) bool: a person was found in the frame."""
        return self.valid.any(axis=1)

    @classmethod
    def from_frames(cls, frames: list[PoseFrame], image_size: tuple[int, int], fps: float, schema: SkeletonSchema) -> PoseSequence:
        k = schema.num_joints
        if not frames:
            return cls(np.zeros((0, k, 2)), np.zeros((0, k)), np.zeros((0, k), bool), image_size, fps, schema.tag)
        return cls(
            keypoints=np.stack([f.keypoints for f in frames]),
            confidence=np.stack([f.confidence for f in frames]),
            valid=np.stack([f.valid for f in frames]),
            image_size=image_size,
            fps=fps,
            schema_tag=schema.tag,
            depth=_stacked_depth(frames),
        )

    def replace(self, **changes: object) -> PoseSequence:
        """A copy with some fields changed (arrays are copied, never shared)."""
        fields = {
            "keypoints": self.keypoints.copy(),
            "confidence": self.confidence.copy(),
            "valid": self.valid.copy(),
            "image_size": self.image_size,
            "fps": self.fps,
            "schema_tag": self.schema_tag,
            "depth": None if self.depth is None else self.depth.copy(),
        }
        fields.update(changes)
        return PoseSequence(**fields)  # type: ignore[arg-type]

    def transformed(self, scale: float, offset: tuple[float, float], image_size: tuple[int, int]) -> PoseSequence:
        """Map pixels through x' = scale * x + offset (a crop and resize of the frames)."""
        moved = self.keypoints * np.float32(scale) + np.asarray(offset, np.float32)
        return self.replace(keypoints=moved, image_size=image_size)

    def save(self, path: str | Path) -> None:
        depth = {} if self.depth is None else {"depth": self.depth}
        np.savez_compressed(
            path,
            keypoints=self.keypoints,
            confidence=self.confidence,
            valid=self.valid,
            image_size=np.asarray(self.image_size, np.int64),
            fps=np.float64(self.fps),
            schema_tag=np.str_(self.schema_tag),
            **depth,
        )

    @classmethod
    def load(cls, path: str | Path) -> PoseSequence:
        try:
            with np.load(path, allow_pickle=False) as data:
                return cls(
                    keypoints=data["keypoints"],
                    confidence=data["confidence"],
                    valid=data["valid"],
                    image_size=tuple(int(v) for v in data["image_size"]),  # type: ignore[arg-type]
                    fps=float(data["fps"]),
                    schema_tag=str(data["schema_tag"]),
                    depth=data["depth"] if "depth" in data.files else None,  # pose files written before depth was kept
                )
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as err:  # missing, damaged, not an .npz
            raise DanceError(f"{path}: not a readable pose file ({type(err).__name__}: {err})") from None


def _stacked_depth(frames: list[PoseFrame]) -> np.ndarray | None:
    """(T, K) depth of the frames, NaN for a frame without (a frame with nobody); None when none has any."""
    if all(f.depth is None for f in frames):
        return None
    unknown = np.full(len(frames[0].valid), np.nan, np.float32)
    return np.stack([unknown if f.depth is None else f.depth for f in frames])
