"""The person lock: one person chosen and followed; another person reads as nobody."""

from __future__ import annotations

import numpy as np
import pytest

from shared.errors import DanceError
from shared.pose.person_lock import (
    LockConfig,
    PersonLockedEstimator,
    PersonLock,
    Torso,
    box_of,
    choose_person,
    is_same_person,
)
from shared.pose.keypoints import PoseFrame
from shared.pose.schema import BODY_SCHEMA, Joint

FPS = 30.0
CONFIG = LockConfig()


def person(x: float, y: float, torso: float = 100.0, hips: bool = True) -> PoseFrame:
    """A stick person: shoulders centred on (x, y), hips `torso` px below, a head and ankles."""
    pose = PoseFrame.missing(BODY_SCHEMA)
    half = torso * 0.4
    points = {
        Joint.NOSE: (x, y - 0.6 * torso),
        Joint.LEFT_SHOULDER: (x + half, y),
        Joint.RIGHT_SHOULDER: (x - half, y),
    }
    if hips:
        points |= {Joint.LEFT_HIP: (x + 0.6 * half, y + torso), Joint.RIGHT_HIP: (x - 0.6 * half, y + torso)}
        points |= {Joint.LEFT_ANKLE: (x + half, y + 2.2 * torso), Joint.RIGHT_ANKLE: (x - half, y + 2.2 * torso)}
    for joint, point in points.items():
        pose.keypoints[joint] = point
        pose.valid[joint] = True
        pose.confidence[joint] = 1.0
    return pose


def nobody() -> PoseFrame:
    return PoseFrame.missing(BODY_SCHEMA)


def feed(lock: PersonLock, poses: list[PoseFrame], fps: float = FPS) -> list[bool]:
    return [lock.update(p, t / fps).present for t, p in enumerate(poses)]


# --- the identity test -------------------------------------------------------------------------


def test_a_slow_walk_is_one_person():
    # 1.5 torso heights per second across the frame, growing 20 % (walking towards the camera)
    poses = [person(200 + 5 * t, 300, 100 * 1.2 ** (t / 60)) for t in range(60)]
    lock = PersonLock()
    assert all(feed(lock, poses))
    assert lock.switches == 0


def test_a_fast_dancer_is_one_person():
    # swaying +-60 px (0.6 torso) at 2 Hz: a peak 7.5 torso heights per second, 0.25 per frame
    poses = [person(400 + 60 * np.sin(2 * np.pi * 2 * t / FPS), 300) for t in range(60)]
    lock = PersonLock()
    assert all(feed(lock, poses))


def test_a_jump_to_another_person_is_nobody():
    poses = [person(200, 300)] * 10 + [person(700, 320, 90)] * 5
    lock = PersonLock()
    seen = feed(lock, poses)
    assert seen[:10] == [True] * 10
    assert seen[10:] == [False] * 5
    assert lock.switches == 5


def test_a_size_jump_in_place_is_nobody():
    # a bystander right behind the dancer: the same place, but half the size
    poses = [person(300, 300, 100)] * 5 + [person(305, 300, 50)] * 3
    assert feed(PersonLock(), poses) == [True] * 5 + [False] * 3


def test_hips_leaving_the_view_are_not_a_switch():
    poses = [person(300, 300)] * 5 + [person(302, 300, hips=False)] * 5
    assert all(feed(PersonLock(), poses))


def test_the_allowed_jump_grows_with_the_time_lost():
    last = Torso.of(person(200, 300))
    moved = Torso.of(person(500, 300))  # 3 torso heights away
    assert not is_same_person(last, moved, 1 / FPS, CONFIG)
    assert is_same_person(last, moved, 1.0, CONFIG)


def test_the_locked_person_is_found_again_after_a_loss():
    poses = [person(200, 300)] * 5 + [nobody()] * 10 + [person(700, 300)] * 3 + [person(230, 300)] * 3
    seen = feed(PersonLock(), poses)
    assert seen == [True] * 5 + [False] * 10 + [False] * 3 + [True] * 3


def test_after_a_long_loss_anyone_starts_a_new_lock():
    lost = int(CONFIG.relock_after * FPS) + 1
    poses = [person(200, 300)] * 5 + [nobody()] * lost + [person(800, 300, 60)] * 3
    seen = feed(PersonLock(), poses)
    assert seen[-3:] == [True] * 3


def test_release_lets_anyone_in():
    lock = PersonLock()
    feed(lock, [person(200, 300)] * 3)
    lock.release()
    assert lock.update(person(800, 300), 4 / FPS).present


def test_search_region_follows_the_box_then_widens_to_the_frame():
    lock = PersonLock()
    assert lock.region((1000, 800)) == (0, 0, 1000, 800)  # nothing locked: search everywhere
    lock.update(person(300, 300), 0.0)
    x0, y0, x1, y1 = lock.region((1000, 800))
    box = box_of(person(300, 300))
    assert x0 <= box[0] and y0 <= box[1] and x1 >= box[2] and y1 >= box[3]
    assert x1 < 1000  # the dancer on the left: the right of the frame is not looked at
    for t in range(CONFIG.search_after):
        lock.update(nobody(), (t + 1) / FPS)
    assert lock.searching and lock.region((1000, 800)) == (0, 0, 1000, 800)
    searched = []
    for t in range(2 * CONFIG.search_every):
        lock.update(nobody(), (CONFIG.search_after + t + 1) / FPS)
        searched.append(lock.searching)
    assert searched.count(True) == 2 and searched[CONFIG.search_every - 1]  # a costly search every few frames only


# --- choosing ----------------------------------------------------------------------------------


def test_choose_by_rule():
    small_left, big_right = person(100, 300, 60), person(700, 300, 120)
    assert choose_person([small_left, big_right], "largest") is big_right
    assert choose_person([small_left, big_right], "left") is small_left
    assert choose_person([big_right, small_left], "right") is big_right
    assert choose_person([nobody()], "largest") is None


def test_an_unknown_rule_is_a_dance_error():
    with pytest.raises(DanceError, match="--person"):
        LockConfig(choose="tallest")


# --- the locked estimator, with fake estimators ------------------------------------------------


class ScriptedScene:
    """Two people at fixed places in a 1000x600 frame; `people` says who is in view per frame.

    The fake tracking estimator sees the first person in view inside its crop (like MediaPipe,
    it knows nothing of identity); the fake detector finds the people in view left to right,
    skipping those greyed out by an earlier search."""

    places = {"a": (250.0, 200.0), "b": (750.0, 220.0)}

    def __init__(self) -> None:
        self.in_view: tuple[str, ...] = ()
        self.crops: list[tuple[int, int]] = []
        self.resets = 0

    def pose_of(self, who: str, dx: float = 0.0, dy: float = 0.0) -> PoseFrame:
        x, y = self.places[who]
        return person(x - dx, y - dy)

    def visible(self, image: np.ndarray, dx: float, dy: float) -> list[str]:
        height, width = image.shape[:2]
        found = []
        for who in self.in_view:
            x, y = self.places[who]
            x, y = x - dx, y - dy
            if 0 <= x < width and 0 <= y < height and image[int(y), int(x), 0] != 127:
                found.append(who)
        return found


class FakeTracking:
    def __init__(self, scene: ScriptedScene) -> None:
        self.scene = scene
        self.calls = 0

    def estimate(self, crop: np.ndarray) -> tuple[PoseFrame, None]:
        self.calls += 1
        dx, dy = crop.offset  # type: ignore[attr-defined]
        seen = self.scene.visible(crop, dx, dy)
        return (self.scene.pose_of(seen[0], dx, dy) if seen else nobody()), None

    def reset(self) -> None:
        self.scene.resets += 1


class FakeDetector:
    def __init__(self, scene: ScriptedScene) -> None:
        self.scene = scene

    def estimate(self, image: np.ndarray) -> tuple[PoseFrame, None]:
        seen = self.scene.visible(image, 0, 0)
        return (self.scene.pose_of(seen[0]) if seen else nobody()), None

    def reset(self) -> None:
        pass


class OffsetImage(np.ndarray):
    """A frame that remembers where a crop of it starts, so the fake tracker can place people."""

    offset = (0, 0)

    def __getitem__(self, item):  # noqa: ANN001, ANN204
        out = super().__getitem__(item)
        if isinstance(item, tuple) and len(item) == 2 and all(isinstance(s, slice) for s in item):
            out = out.view(OffsetImage)
            out.offset = (self.offset[0] + (item[1].start or 0), self.offset[1] + (item[0].start or 0))
        return out


def frame() -> OffsetImage:
    return np.zeros((600, 1000, 3), np.uint8).view(OffsetImage)


class FakeFollower:
    """Follows whoever stands nearest the pose it started on, like the landmark model on its ROI,
    and loses them when they leave the view; `scene.drift` makes it slide onto that person."""

    def __init__(self, scene: ScriptedScene) -> None:
        self.scene = scene
        self.who: str | None = None
        self.starts = 0
        self.follows = 0

    @property
    def following(self) -> bool:
        return self.who is not None

    def start(self, image: np.ndarray, pose: PoseFrame, points: np.ndarray | None = None) -> None:
        self.starts += 1
        x = float(Torso.of(pose).centre[0])
        self.who = min(self.scene.in_view, key=lambda who: abs(self.scene.places[who][0] - x))

    def follow(self, image: np.ndarray) -> PoseFrame:
        self.follows += 1
        self.who = getattr(self.scene, "drift", None) or self.who
        if self.who not in self.scene.in_view:
            self.who = None
            return nobody()
        return self.scene.pose_of(self.who)

    def reset(self) -> None:
        self.who = None


def run_scene(
    scene: ScriptedScene, script: list[tuple[str, ...]], config: LockConfig, follower: FakeFollower | None = None,
    tracking: FakeTracking | None = None,
) -> list[float | None]:
    """The x of the mid-shoulder the locked estimator reports per frame (None for nobody)."""
    locked = PersonLockedEstimator(tracking or FakeTracking(scene), FakeDetector(scene), BODY_SCHEMA, config, follower=follower)
    xs: list[float | None] = []
    for t, in_view in enumerate(script):
        scene.in_view = in_view
        if t == getattr(scene, "drift_at", -1):
            scene.drift = "b"  # type: ignore[attr-defined]
        pose, _ = locked.estimate(frame(), t / FPS)
        torso = Torso.of(pose)
        xs.append(None if torso is None else float(torso.centre[0]))
    return xs


@pytest.mark.parametrize(("rule", "expected_x"), [("left", 250.0), ("right", 750.0)])
def test_the_rule_picks_among_everyone_in_view(rule: str, expected_x: float):
    xs = run_scene(ScriptedScene(), [("a", "b")] * 4, LockConfig(choose=rule))
    assert xs == [expected_x] * 4


def test_the_chosen_person_is_tracked_even_with_a_neighbour_in_the_region():
    # b is chosen; a stands inside b's region and the tracking estimator finds a first
    scene = ScriptedScene()
    scene.places = {"a": (330.0, 200.0), "b": (420.0, 200.0)}
    xs = run_scene(scene, [("a", "b")] * 3, LockConfig(choose="right"))
    assert xs[0] == 420.0  # the search's pick, not the neighbour the tracker saw
    assert all(x in (None, 420.0) for x in xs)


def test_a_person_leaving_is_never_replaced_by_the_bystander():
    # a locked; a walks out (b stays); a comes back
    script = [("a", "b")] * 4 + [("b",)] * 12 + [("a", "b")] * 4
    xs = run_scene(ScriptedScene(), script, LockConfig(choose="left"))
    assert xs[:4] == [250.0] * 4
    assert xs[4:16] == [None] * 12  # b never reaches the output, not even in a whole-frame search
    assert xs[16:] == [250.0] * 4


def test_the_tracker_jumping_to_the_bystander_is_refused():
    # b stands where the lock looks (the tracking estimator would follow b): nobody, not b
    scene = ScriptedScene()
    scene.places = {"a": (250.0, 200.0), "b": (380.0, 200.0)}
    script = [("a",)] * 3 + [("b",)] * 3
    xs = run_scene(scene, script, LockConfig(choose="largest"))
    assert xs == [250.0] * 3 + [None] * 3
    assert scene.resets >= 2  # the tracker started afresh after the switch


def test_a_follower_takes_over_once_the_person_is_found():
    scene = ScriptedScene()
    follower, tracking = FakeFollower(scene), FakeTracking(scene)
    xs = run_scene(scene, [("a", "b")] * 6, LockConfig(choose="left"), follower, tracking)
    assert xs == [250.0] * 6
    assert (follower.starts, follower.follows, tracking.calls) == (1, 5, 1)  # MediaPipe only found a


def test_a_follower_losing_the_person_hands_back_and_the_bystander_stays_out():
    script = [("a", "b")] * 4 + [("b",)] * 12 + [("a", "b")] * 4
    scene = ScriptedScene()
    follower = FakeFollower(scene)
    xs = run_scene(scene, script, LockConfig(choose="left"), follower)
    assert xs[:4] == [250.0] * 4
    assert xs[4:16] == [None] * 12
    assert xs[16:] == [250.0] * 4
    assert follower.starts == 2 and follower.who == "a"  # started again on a when a came back


def test_a_follower_sliding_onto_the_bystander_is_refused_and_reset():
    scene = ScriptedScene()
    scene.places = {"a": (250.0, 200.0), "b": (380.0, 200.0)}
    scene.drift_at = 3  # type: ignore[attr-defined]
    follower = FakeFollower(scene)
    xs = run_scene(scene, [("a", "b")] * 6, LockConfig(choose="left"), follower)
    assert xs[:3] == [250.0] * 3
    assert 380.0 not in xs  # the bystander never reaches the output


# --- real footage: Pose2Sim's Demo_MultiPerson (a second person in view) ---------------------

STEP = 3  # every third frame of the 60 fps clip: 20 fps, a slow webcam's rate
LEAVE = range(6, 12)  # subsampled frames where the locked person is greyed out (has left)


@pytest.fixture(scope="module")
def two_people() -> list[np.ndarray]:
    from shared.io.video import read_frames
    from tests.conftest import fetch_multi_person_clip

    return list(read_frames(fetch_multi_person_clip("cam01"), max_frames=16 * STEP))[::STEP]


def test_real_two_people_the_locked_one_is_followed_and_never_swapped(two_people: list[np.ndarray]):
    from shared.pose.mediapipe_estimator import EstimatorConfig, MediaPipeEstimator
    from shared.pose.person_lock import mask_box
    from shared.pose.tracking import SourcePoseTracker

    # cam01: the man dances at the back (left), the woman stands in front (right, larger)
    tracker = SourcePoseTracker(EstimatorConfig().schema.tag, (256, 256), person=LockConfig(choose="left"))
    torsos: list[tuple[float, Torso | None]] = []
    gone_box = None
    try:
        for index, image in enumerate(two_people):
            if index == LEAVE.start:
                gone_box = tracker.lock.box.copy()
            if index in LEAVE:
                image = mask_box(image, gone_box, margin=0.3)
                left_only = image
            pose = tracker.estimate(image, index * STEP / 60)
            torsos.append((index * STEP / 60, Torso.of(pose)))
    finally:
        tracker.close()
    with MediaPipeEstimator(EstimatorConfig(static=True)) as plain:
        bystander = Torso.of(plain(left_only))
    last_seen_at, last = torsos[LEAVE.start - 1]
    # what an unlocked MediaPipe gives in the man's absence: someone else
    assert bystander is not None and not is_same_person(last, bystander, LEAVE.start * STEP / 60 - last_seen_at, CONFIG)

    seen = [(t, torso) for t, torso in torsos if torso is not None]
    assert all(torso is not None and torso.centre[0] < 700 for _, torso in torsos[: LEAVE.start])
    assert all(torso is None for _, torso in torsos[LEAVE.start : LEAVE.stop])  # the woman never stands in
    assert any(torso is not None for _, torso in torsos[LEAVE.stop :])  # the man is found again
    for (t0, a), (t1, b) in zip(seen, seen[1:]):
        assert is_same_person(a, b, t1 - t0, CONFIG), f"torso jumped between {t0:.2f} s and {t1:.2f} s"


@pytest.mark.parametrize("rule", ["left", "right"])
def test_real_the_rule_chooses_between_two_people(rule: str):
    from shared.pose.mediapipe_estimator import EstimatorConfig
    from shared.pose.tracking import SourcePoseTracker
    from shared.io.video import read_frames
    from tests.conftest import fetch_multi_person_clip

    # cam02: the woman stands on the left (nearer, larger), the man dances in the middle
    frames = list(read_frames(fetch_multi_person_clip("cam02"), max_frames=8 * STEP))[::STEP]
    tracker = SourcePoseTracker(EstimatorConfig().schema.tag, (256, 256), person=LockConfig(choose=rule))
    try:
        xs = [t.centre[0] for i, image in enumerate(frames) if (t := Torso.of(tracker.estimate(image, i * STEP / 60)))]
    finally:
        tracker.close()
    assert len(xs) >= 6
    assert all(x < 300 for x in xs) if rule == "left" else all(x > 400 for x in xs)


# --- synthetic: two dancers side by side -------------------------------------------------------

SIDE = 256  # each dancer's half of the frame


@pytest.fixture(scope="module")
def two_dancers() -> tuple[np.ndarray, np.ndarray]:
    """16 frames of the target dancer (left half) and the source dancer (right half), and the
    right half's empty background for the frames where the right dancer has left."""
    from shared.synthetic.body import SOURCE_BODY, TARGET_BODY
    from shared.synthetic.background import render_background
    from shared.synthetic.dancer import render_dance

    left, _ = render_dance(TARGET_BODY, 16, (SIDE, SIDE), seed=0)
    right, _ = render_dance(SOURCE_BODY, 16, (SIDE, SIDE), seed=1)
    return np.concatenate([left, right], axis=2), render_background((SIDE, SIDE), seed=1)


def synthetic_run(frames: np.ndarray, rule: str) -> list[Torso | None]:
    from shared.pose.mediapipe_estimator import EstimatorConfig
    from shared.pose.tracking import SourcePoseTracker

    tracker = SourcePoseTracker(EstimatorConfig().schema.tag, (256, 256), person=LockConfig(choose=rule))
    try:
        return [Torso.of(tracker.estimate(image, t / FPS)) for t, image in enumerate(frames)]
    finally:
        tracker.close()


@pytest.mark.parametrize("rule", ["left", "right"])
def test_synthetic_two_dancers_the_chosen_one_is_followed(two_dancers, rule: str):  # noqa: ANN001
    frames, _ = two_dancers
    torsos = synthetic_run(frames[:8], rule)
    assert sum(t is not None for t in torsos) >= 6
    on_left = [bool(t.centre[0] < SIDE) for t in torsos if t is not None]
    assert all(on_left) if rule == "left" else not any(on_left)


def test_synthetic_the_locked_dancer_leaving_is_not_replaced(two_dancers):  # noqa: ANN001
    frames, empty_right = two_dancers
    frames = frames.copy()
    frames[6:12, :, SIDE:] = empty_right  # the right dancer steps out for 6 frames, then comes back
    torsos = synthetic_run(frames, "right")
    assert all(t is None or t.centre[0] >= SIDE for t in torsos)  # the left dancer never stands in
    assert all(t is None for t in torsos[6:12])
    assert any(t is not None for t in torsos[12:])
