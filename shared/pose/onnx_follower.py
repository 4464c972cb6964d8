"""Following a person from frame to frame with MediaPipe's own pose landmark model, run by onnxruntime.

MediaPipe Pose in tracking mode crops a region of interest (ROI) around the person, found from
the previous frame's landmarks, and runs its landmark model on it. That costs 21-24 ms a frame on
one core here, of which the model is 17 ms under MediaPipe's TFLite/XNNPACK; the same model as an
ONNX graph (shared/pose/tflite_onnx.py) runs in 11 ms under onnxruntime. Live, the pose stage is in
series with the generator, so `OnnxPoseFollower` does MediaPipe's tracking step itself:

- the ROI, as MediaPipe's `PoseLandmarksToRoi` computes it: centred on the model's auxiliary
  body-centre point, rotated so that the line to its second auxiliary point (the body's extent)
  points up, its side 2 x that distance x 1.25, square;
- the crop, one affine warp of the ROI into the model's 256x256 input in [0, 1] (replicated border);
- the decoding: 39 points of (x, y, z, visibility, presence) in input pixels, the logits through a
  sigmoid, mapped back through the same warp; visibility low-pass filtered as MediaPipe does
  (alpha 0.1), so a joint near the threshold does not flicker in and out;
- the pose flag (the model's own "a person is in the ROI" score) below 0.5 ends the follow.

MediaPipe itself still finds the person (its detector, for the first frame and after a loss), and
the person lock decides who that is (shared/pose/person_lock.py); the follower starts from that pose.
MediaPipe also refines the points from the model's heatmap; that decoder is not run here (the
points differ by a fraction of a joint's size: tests/shared/pose/test_onnx_follower.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from shared.errors import DanceError
from shared.pose.keypoints import PoseFrame
from shared.io.onnxruntime_options import session_options
from shared.pose.schema import BODY_SCHEMA, POSE_LANDMARK_NAMES, Joint
from shared.pose.tflite_onnx import tflite_to_onnx

INPUT_SIDE = 256  # the landmark model's input, pixels
NUM_POINTS = 39  # 33 landmarks, then 2 auxiliary (body centre, body extent) and 4 unused
CENTRE, EXTENT = 33, 34
ROI_SCALE = 1.25  # MediaPipe's PoseLandmarksToRoi margin
PRESENCE_THRESHOLD = 0.5  # MediaPipe's pose flag threshold
VISIBILITY_ALPHA = 0.1  # MediaPipe's visibility low-pass filter
SEED_SCALE = 1.25  # a seed ROI's side over the pose box's longer side


def landmark_model_path() -> Path:
    """pose_landmark_full.tflite as the mediapipe wheel ships it (model_complexity=1)."""
    import mediapipe

    path = Path(mediapipe.__file__).parent / "modules" / "pose_landmark" / "pose_landmark_full.tflite"
    if not path.exists():
        raise DanceError(f"{path}: MediaPipe's pose landmark model is missing; reinstall mediapipe==0.10.21")
    return path


def landmark_session(options: ort.SessionOptions, path: Path | None = None) -> ort.InferenceSession:
    """The landmark model converted (0.2 s) and loaded: input `image` (1, 3, 256, 256) in [0, 1],
    outputs `landmarks` (1, 195) and `flag` (1, 1)."""
    graph = tflite_to_onnx(path or landmark_model_path(), {0: "landmarks", 1: "flag"})
    return ort.InferenceSession(graph.SerializeToString(), options, providers=["CPUExecutionProvider"])


@dataclass(frozen=True)
class Roi:
    """A square, rotated region of a frame in pixels, as MediaPipe's NormalizedRect in pixel units."""

    centre: np.ndarray  # (2,) x, y
    side: float
    rotation: float  # radians, clockwise on the image (y points down)

    @classmethod
    def from_alignment(cls, centre: np.ndarray, extent: np.ndarray) -> Roi:
        """MediaPipe's AlignmentPointsRects (target angle 90 degrees) and RectTransformation."""
        dx, dy = extent - centre
        rotation = np.pi / 2 - np.arctan2(-dy, dx)
        rotation = (rotation + np.pi) % (2 * np.pi) - np.pi
        return cls(centre.astype(np.float64), float(2 * np.hypot(dx, dy) * ROI_SCALE), float(rotation))

    @classmethod
    def of_body(cls, points: np.ndarray) -> Roi:
        """The ROI of 33 body landmarks (seen or not) as the model's auxiliary points place it: centred
        between the hips, the extent point one body radius (the circle around the hip centre that
        holds every landmark) towards the shoulders."""
        centre = (points[Joint.LEFT_HIP] + points[Joint.RIGHT_HIP]) / 2
        up = (points[Joint.LEFT_SHOULDER] + points[Joint.RIGHT_SHOULDER]) / 2 - centre
        radius = np.linalg.norm(points - centre, axis=1).max()
        return cls.from_alignment(centre, centre + up / max(np.linalg.norm(up), 1e-6) * radius)

    @classmethod
    def around(cls, pose: PoseFrame) -> Roi | None:
        """An upright ROI around a pose's seen points (a seed: the model's own points refine it)."""
        if not pose.present:
            return None
        points = pose.keypoints[pose.valid]
        low, high = points.min(axis=0), points.max(axis=0)
        return cls(((low + high) / 2).astype(np.float64), float(max(high - low) * SEED_SCALE), 0.0)

    def to_image(self) -> np.ndarray:
        """2x3 affine map from model input pixels to frame pixels."""
        scale = self.side / INPUT_SIDE
        cos, sin = np.cos(self.rotation) * scale, np.sin(self.rotation) * scale
        half = INPUT_SIDE / 2
        return np.array([
            [cos, -sin, self.centre[0] - cos * half + sin * half],
            [sin, cos, self.centre[1] - sin * half - cos * half],
        ])


def crop_input(image: np.ndarray, roi: Roi, out: np.ndarray | None = None) -> np.ndarray:
    """The ROI warped into the model's 256x256 RGB input (uint8), the border replicated.

    Coordinates are continuous, as MediaPipe's: pixel i spans [i, i + 1). cv2 samples at pixel
    indices, so output index u is read at `to_image(u + 0.5) - 0.5`."""
    to_image = roi.to_image()
    sampling = to_image.copy()
    sampling[:, 2] += to_image[:, :2].sum(axis=1) * 0.5 - 0.5
    if out is None:
        out = np.empty((INPUT_SIDE, INPUT_SIDE, 3), np.uint8)
    cv2.warpAffine(image, sampling, (INPUT_SIDE, INPUT_SIDE), out,
                   flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
    return out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class OnnxPoseFollower:
    """One stream's landmark model on the ROI its previous frame gave; `start` from a pose found
    by MediaPipe, `follow` each next frame, `reset` on a cut or another person."""

    def __init__(self, min_visibility: float = 0.5, threads: int = 1) -> None:
        self.session = landmark_session(session_options(threads))
        self.min_visibility = min_visibility
        self.roi: Roi | None = None
        self._visibility: np.ndarray | None = None
        self._input = np.empty((INPUT_SIDE, INPUT_SIDE, 3), np.uint8)

    @property
    def following(self) -> bool:
        return self.roi is not None

    def reset(self) -> None:
        self.roi = None
        self._visibility = None

    def warm_up(self) -> None:
        """One run on a blank input (onnxruntime's first run allocates and is slower)."""
        self.session.run(None, {"image": np.zeros((1, 3, INPUT_SIDE, INPUT_SIDE), np.float32)})

    def _run(self, image: np.ndarray, roi: Roi) -> tuple[np.ndarray, float]:
        """(39, 5) points (x, y, z, visibility, presence) and the pose flag: x and y in frame pixels,
        z in frame widths, as MediaPipe gives it."""
        crop_input(image, roi, self._input)
        tensor = (self._input.transpose(2, 0, 1)[None] * np.float32(1 / 255)).astype(np.float32)
        to_image = roi.to_image()
        landmarks, flag = self.session.run(None, {"image": tensor})
        points = landmarks.reshape(NUM_POINTS, 5).astype(np.float64)
        points[:, :2] = points[:, :2] @ to_image[:, :2].T + to_image[:, 2]
        points[:, 2] *= roi.side / INPUT_SIDE / image.shape[1]
        points[:, 3:] = _sigmoid(points[:, 3:])
        return points, float(flag.reshape(-1)[0])

    def start(self, image: np.ndarray, pose: PoseFrame, points: np.ndarray | None = None) -> None:
        """Begin following the person MediaPipe found in this frame: their pose, and where given
        all 33 body landmarks seen or not (a better start for a person partly out of view)."""
        self.reset()
        seed = Roi.around(pose) if points is None else Roi.of_body(points.astype(np.float64))
        if seed is None:
            return
        found, flag = self._run(image, seed)
        if flag >= PRESENCE_THRESHOLD:
            self.roi = Roi.from_alignment(found[CENTRE, :2], found[EXTENT, :2])
            self._visibility = pose.confidence[: len(POSE_LANDMARK_NAMES)].astype(np.float64)

    def follow(self, image: np.ndarray) -> PoseFrame:
        """The person's pose in this frame, or a missing pose (and no more following) when the
        model no longer sees a person in the ROI."""
        pose = PoseFrame.missing(BODY_SCHEMA)
        if self.roi is None:
            return pose
        points, flag = self._run(image, self.roi)
        if flag < PRESENCE_THRESHOLD:
            self.reset()
            return pose
        self.roi = Roi.from_alignment(points[CENTRE, :2], points[EXTENT, :2])
        count = len(POSE_LANDMARK_NAMES)
        visibility = points[:count, 3]
        if self._visibility is not None:
            visibility = self._visibility + VISIBILITY_ALPHA * (visibility - self._visibility)
        self._visibility = visibility
        pose.confidence[:] = visibility
        pose.valid[:] = visibility >= self.min_visibility
        pose.keypoints[:] = np.where(pose.valid[:, None], points[:count, :2], np.nan)
        pose.depth = np.where(pose.valid, points[:count, 2], np.nan).astype(np.float32)
        return pose
