"""One person, locked: choose the source's person once and follow only that person.

MediaPipe Pose finds one person per frame, and with two in view it jumps between them, which
moves the target across the stage. So the person is chosen once (`choose`: the largest, or the
leftmost / rightmost of the people found) and followed: MediaPipe runs on a region around the
locked person's last box, so someone entering elsewhere is never seen. A pose whose torso jumps
further, or changes size more, than a body can between two frames is another person (an identity
switch) and counts as "no person this frame", exactly like a lost person, until the locked one
is found again. After a few lost frames the whole frame is searched again; a person found there
is taken only when consistent with the lock's last torso, or after a longer loss (then the lock
starts over with the `choose` rule).

In shared/ because live, the trainer's transfer eval and dataset preparation all need the same
person from a video with a bystander.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from shared.errors import DanceError
from shared.pose.keypoints import PoseFrame, torso_size
from shared.pose.schema import HIPS, Joint, SkeletonSchema

CHOICES = ("largest", "left", "right")


@dataclass(frozen=True)
class LockConfig:
    choose: str = "largest"  # which of the people found is locked: largest | left | right
    margin: float = 0.5  # the region around the last box grows by this share of the box's longer side, each side
    max_speed: float = 6.0  # torso heights per second the torso centre can move (a fast dancer moves ~2-3)
    max_growth: float = 1.5  # per second, |log(size ratio)| the torso size can change (walking at the camera)
    jitter: float = 0.35  # torso heights (and log size) of pose noise allowed on top, between any two frames
    search_after: int = 5  # lost frames before the whole frame is searched again
    search_every: int = 3  # ... and then every this many frames (a search costs a few MediaPipe passes)
    relock_after: float = 2.0  # seconds lost after which any person found starts a new lock
    max_candidates: int = 3  # people looked for when choosing

    def __post_init__(self) -> None:
        if self.choose not in CHOICES:
            raise DanceError(f"--person must be one of {', '.join(CHOICES)}, got {self.choose!r}")


@dataclass(frozen=True)
class Torso:
    """Where a person's torso is and how big: the identity the lock checks frame to frame."""

    centre: np.ndarray  # (2,) mid-shoulder, px (hips may leave the view, the shoulders define the place)
    size: float  # px: shoulder-to-hip length, or shoulder width when the hips are not seen
    from_hips: bool  # which of the two `size` measures (only like is compared with like)

    @classmethod
    def of(cls, pose: PoseFrame) -> Torso | None:
        """The torso, or None when the shoulders are not both seen."""
        keypoints, valid = pose.keypoints, pose.valid
        if not (valid[Joint.LEFT_SHOULDER] and valid[Joint.RIGHT_SHOULDER]):
            return None
        shoulders = (keypoints[Joint.LEFT_SHOULDER] + keypoints[Joint.RIGHT_SHOULDER]) / 2
        hips = [keypoints[j] for j in HIPS if valid[j]]
        if not hips:
            width = float(np.linalg.norm(keypoints[Joint.LEFT_SHOULDER] - keypoints[Joint.RIGHT_SHOULDER]))
            return cls(shoulders.astype(np.float32), max(width, 1.0), from_hips=False)
        size = torso_size(keypoints, valid)  # both hips seen: the body's scale, as everywhere else
        if size is None:  # one hip (or a torso too short to measure)
            size = float(np.linalg.norm(np.mean(hips, axis=0) - shoulders))
        return cls(shoulders.astype(np.float32), max(size, 1.0), from_hips=True)


def box_of(pose: PoseFrame) -> np.ndarray | None:
    """(x0, y0, x1, y1) of the valid keypoints, or None for no person."""
    if not pose.present:
        return None
    points = pose.keypoints[pose.valid]
    return np.concatenate([points.min(axis=0), points.max(axis=0)]).astype(np.float32)


def is_same_person(last: Torso, new: Torso, seconds: float, config: LockConfig) -> bool:
    """False when the torso moved or resized more than a body can in `seconds`."""
    seconds = max(seconds, 0.0)
    reach = (config.max_speed * seconds + config.jitter) * last.size
    if float(np.linalg.norm(new.centre - last.centre)) > reach:
        return False
    if new.from_hips != last.from_hips:
        return True  # hips came into or left the view: the two sizes measure different things
    return abs(np.log(new.size / last.size)) <= config.max_growth * seconds + config.jitter


def choose_person(people: list[PoseFrame], rule: str) -> PoseFrame | None:
    """The person the rule picks from those found in one frame."""
    boxes = [(box_of(p), p) for p in people if p.present]
    if not boxes:
        return None
    if rule == "left":
        return min(boxes, key=lambda bp: (bp[0][0] + bp[0][2]) / 2)[1]
    if rule == "right":
        return max(boxes, key=lambda bp: (bp[0][0] + bp[0][2]) / 2)[1]
    return max(boxes, key=lambda bp: (bp[0][2] - bp[0][0]) * (bp[0][3] - bp[0][1]))[1]


def offset_pose(pose: PoseFrame, dx: float, dy: float) -> PoseFrame:
    """The pose found in a crop, in the full frame's pixels."""
    moved = pose.keypoints + np.asarray((dx, dy), np.float32)
    return pose.moved_to(moved)


def grown_box(box: np.ndarray, frame_size: tuple[int, int], margin: float, min_aspect: float = 0.0) -> tuple[int, int, int, int]:
    """The box grown by `margin` of its width and height on each side (the width taken as at least
    `min_aspect` of the height), clipped to the frame, as integer (x0, y0, x1, y1)."""
    width, height = frame_size
    box_w, box_h = box[2] - box[0], box[3] - box[1]
    grow_w = max(box_w, min_aspect * box_h)
    cx = (box[0] + box[2]) / 2
    half_w, pad_y = grow_w * (0.5 + margin), margin * box_h
    x0, y0 = max(0, int(cx - half_w)), max(0, int(box[1] - pad_y))
    x1, y1 = min(width, int(np.ceil(cx + half_w))), min(height, int(np.ceil(box[3] + pad_y)))
    return x0, y0, x1, y1


def crop_region(box: np.ndarray, frame_size: tuple[int, int], margin: float) -> tuple[int, int, int, int]:
    """Where to look for the person next: the box grown by `margin` each side (at least half as wide
    as tall, for arms that swing out), clipped to the frame; the whole frame for a tiny box."""
    x0, y0, x1, y1 = grown_box(box, frame_size, margin, min_aspect=0.5)
    if x1 - x0 < 16 or y1 - y0 < 16:
        return 0, 0, frame_size[0], frame_size[1]
    return x0, y0, x1, y1


class PersonLock:
    """The lock's state: who is locked (last torso and box), since when lost, and where to look next."""

    def __init__(self, config: LockConfig | None = None) -> None:
        self.config = config or LockConfig()
        self.release()
        self.switches = 0  # identity switches refused so far

    def release(self) -> None:
        """Forget the locked person; the next person found is chosen by the rule (the `c` key)."""
        self.torso: Torso | None = None
        self.box: np.ndarray | None = None
        self.seen_at: float | None = None
        self.lost = 0

    @property
    def locked(self) -> bool:
        return self.box is not None

    @property
    def searching(self) -> bool:
        """True when the next frame should be searched whole (nobody locked, or lost too long)."""
        if not self.locked:
            return True
        late = self.lost - self.config.search_after
        return late >= 0 and late % self.config.search_every == 0

    def region(self, frame_size: tuple[int, int]) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) where MediaPipe looks next; the whole frame while searching."""
        if self.searching:
            return 0, 0, frame_size[0], frame_size[1]
        margin = self.config.margin * (1 + self.lost)  # the person may have moved further while lost
        return crop_region(self.box, frame_size, margin)

    def accepts(self, pose: PoseFrame, media_time: float) -> bool:
        """Whether this pose may be the locked person (True for anyone while nothing is locked)."""
        if not pose.present:
            return False
        if not self.locked or self.torso is None:
            return True
        since = self._since(media_time)
        if since >= self.config.relock_after:
            return True
        torso = Torso.of(pose)
        return torso is None or is_same_person(self.torso, torso, since, self.config)

    def pick(self, people: list[PoseFrame], media_time: float) -> PoseFrame | None:
        """Of the people found in a whole-frame search: the one nearest the lock that may be the
        locked person, or (nobody locked, or lost too long) the one the rule chooses."""
        if not self.locked or self.torso is None or self._since(media_time) >= self.config.relock_after:
            return choose_person(people, self.config.choose)
        consistent = [p for p in people if self.accepts(p, media_time)]
        if not consistent:
            return None

        def distance(p: PoseFrame) -> float:
            torso = Torso.of(p)
            return 0.0 if torso is None else float(np.linalg.norm(torso.centre - self.torso.centre))

        return min(consistent, key=distance)

    def _since(self, media_time: float) -> float:
        return media_time - (self.seen_at if self.seen_at is not None else media_time)

    def update(self, pose: PoseFrame, media_time: float) -> PoseFrame:
        """The pose if it is the locked person, else a missing frame (an identity switch or nobody)."""
        if not pose.present:
            self.lost += 1
            return pose
        if not self.accepts(pose, media_time):
            self.switches += 1
            self.lost += 1
            return PoseFrame.missing(pose.schema)
        torso = Torso.of(pose)
        if torso is not None:
            self.torso = torso
        self.box = box_of(pose)
        self.seen_at = media_time
        self.lost = 0
        return pose


def mask_box(image: np.ndarray, box: np.ndarray, margin: float) -> np.ndarray:
    """The image with a found person's box (grown by `margin` of its size) greyed out, so the
    next search finds someone else."""
    x0, y0, x1, y1 = grown_box(box, (image.shape[1], image.shape[0]), margin)
    masked = image.copy()
    masked[y0:y1, x0:x1] = 127
    return masked


def grey_outside(image: np.ndarray, region: tuple[int, int, int, int]) -> np.ndarray:
    """The image with everything outside the region greyed out (the frame keeps its size)."""
    x0, y0, x1, y1 = region
    if (x0, y0, x1, y1) == (0, 0, image.shape[1], image.shape[0]):
        return image
    out = np.full_like(image, 127)
    out[y0:y1, x0:x1] = image[y0:y1, x0:x1]
    return out


def find_people(image: np.ndarray, detect: Callable[[np.ndarray], PoseFrame], limit: int) -> list[PoseFrame]:
    """Up to `limit` people in one frame: detect, grey the person out, detect again."""
    people: list[PoseFrame] = []
    search = image
    for _ in range(limit):
        pose = detect(search)
        box = box_of(pose)
        if box is None:
            break
        people.append(pose)
        search = mask_box(search, box, margin=0.2)
    return people


class Estimate(Protocol):
    """A pose estimator's per-frame call: the pose and, where asked for, the person mask."""

    def estimate(self, frame_rgb: np.ndarray) -> tuple[PoseFrame, np.ndarray | None]: ...

    def reset(self) -> None: ...


class Follower(Protocol):
    """Follows one person from frame to frame once started on their pose (shared/pose/onnx_follower.py)."""

    @property
    def following(self) -> bool: ...

    def start(self, image: np.ndarray, pose: PoseFrame, points: np.ndarray | None = None) -> None: ...

    def follow(self, image: np.ndarray) -> PoseFrame: ...

    def reset(self) -> None: ...


class PersonLockedEstimator:
    """A tracking estimator run on the locked person's region, and a still-image detector that
    searches the whole frame for people when nobody is locked or the locked one was lost.

    With `crop` the tracking estimator sees the region cut out (more pixels on a small person);
    without, the frame with everything outside the region greyed out, for an estimator that needs
    one frame size throughout (MediaPipe's mask smoothing does)."""

    def __init__(
        self,
        tracking: Estimate,
        detector: Estimate,
        schema: SkeletonSchema,
        config: LockConfig | None = None,
        crop: bool = True,
        follower: Follower | None = None,
    ) -> None:
        self.schema = schema
        self.crop = crop
        self.tracking = tracking
        self.detector = detector
        self.follower = follower
        self.lock = PersonLock(config)
        self.others_only = 0  # frames where someone was seen, but not the locked person

    def rechoose(self) -> None:
        """Choose the person again by the rule (a new dancer stepped in: the `c` key)."""
        self.lock.release()
        if self.follower is not None:
            self.follower.reset()

    def estimate(self, image: np.ndarray, media_time: float) -> tuple[PoseFrame, np.ndarray | None]:
        """The locked person's pose in the frame's pixels (missing when not seen, or someone else)
        and the tracking estimator's person mask over the whole frame (None when it gives none).

        With a follower, the locked person is followed by it from frame to frame, and MediaPipe
        runs only to find them (the first frame, after the follower lost them, or another person)."""
        follower = self.follower
        if follower is not None and follower.following and not self.lock.searching:
            pose = follower.follow(image)
            if pose.present:
                kept = self.lock.update(pose, media_time)
                if not kept.present:  # someone else: find the locked person again
                    self.others_only += 1
                    follower.reset()
                return kept, None
        pose, mask, points = self._find(image, media_time)
        if follower is not None and pose.present:
            follower.start(image, pose, points)
        return pose, mask

    def _find(self, image: np.ndarray, media_time: float) -> tuple[PoseFrame, np.ndarray | None, np.ndarray | None]:
        """MediaPipe on the locked person's region, or a search of the whole frame; the pose, the
        mask, and the tracking estimator's every body landmark (seen or not) in frame pixels, where
        it gives them and the pose is its own."""
        height, width = image.shape[:2]
        fallback: PoseFrame | None = None
        if self.lock.searching:
            people = find_people(image, lambda rgb: self.detector.estimate(rgb)[0], self.lock.config.max_candidates)
            fallback = self.lock.pick(people, media_time)
            if fallback is None:
                self.others_only += bool(people)
                return self.lock.update(PoseFrame.missing(self.schema), media_time), None, None
            self.tracking.reset()  # start tracking afresh on the chosen person's region
            x0, y0, x1, y1 = crop_region(box_of(fallback), (width, height), self.lock.config.margin)
        else:
            x0, y0, x1, y1 = self.lock.region((width, height))
        offset = np.array([x0, y0] if self.crop else [0, 0], np.float32)
        if self.crop:
            found, crop_mask = self.tracking.estimate(image[y0:y1, x0:x1])
            pose = offset_pose(found, x0, y0)
            mask = None
            if crop_mask is not None:
                mask = np.zeros((height, width), np.float32)
                mask[y0:y1, x0:x1] = crop_mask
        else:
            pose, mask = self.tracking.estimate(grey_outside(image, (x0, y0, x1, y1)))
        points = getattr(self.tracking, "body_points", None)  # only MediaPipe's estimator has them
        points = None if points is None else points + offset
        if fallback is not None and not self._same(fallback, pose):
            pose, mask, points = fallback, (None if mask is None else np.zeros_like(mask)), None
        kept = self.lock.update(pose, media_time)
        if pose.present and not kept.present:
            self.others_only += 1
            self.tracking.reset()  # it is following someone else now
            mask = None if mask is None else np.zeros_like(mask)
        return kept, mask, points

    def _same(self, picked: PoseFrame, tracked: PoseFrame) -> bool:
        """Whether the tracking estimator found the person the search picked (not a neighbour)."""
        a, b = Torso.of(picked), Torso.of(tracked)
        if a is None or b is None:
            return tracked.present and a is None and b is None
        return is_same_person(a, b, 0.0, self.lock.config)
