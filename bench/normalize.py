"""How live's normalizer (shared/normalize/adaptive.py) keeps the drawn feet on the target's floor,
per running-estimate setting (window, floor quantile, easing), on the synthetic dancer's exact poses:

- jump 0.4 s / 0.6 s: the most the floor estimate moves while the source jumps 40 px up and lands
  (% of the target's height; a jump must not be taken for a new floor);
- step back: the mean distance (px) of the drawn feet from the target's floor line over the 2 s
  after the source steps back (feet 25 px up, body x0.85, over 0.2 s), and the seconds from the end
  of the step until they stay within 3 px of it.

No generated frame and no pose detector is involved: the settings are chosen on these numbers.

    .venv/bin/python bench/normalize.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared.normalize.adaptive import FLOOR_QUANTILE, SMOOTHING_SECONDS, WINDOW_SECONDS, AdaptiveNormalizer  # noqa: E402
from shared.normalize.stats import NormalizationStats, compute_stats, lower_ankle_y  # noqa: E402
from shared.synthetic.body import SOURCE_BODY, TARGET_BODY  # noqa: E402
from shared.synthetic.dancer import dance_poses  # noqa: E402
from shared.synthetic.moves import jumping, stepping_back  # noqa: E402

SIZE = (256, 256)
FPS = 30.0
STEP_START, STEP_FRAMES = 30, 6  # the step back: from 1.0 s, over 0.2 s
SETTINGS = [(0.8, 0.8, 0.2), (0.5, 0.9, 0.1), (1.0, 0.6, 0.1), (1.2, 0.5, 0.2), (1.2, 0.5, 0.1), (1.5, 0.5, 0.1)]


def _normalizer(target: NormalizationStats, window: float, quantile: float, easing: float) -> AdaptiveNormalizer:
    standing = target.standing_pose(dance_poses(TARGET_BODY, 1, SIZE, FPS).schema)
    return AdaptiveNormalizer(target, standing, window=window, smoothing=easing, floor_quantile=quantile)


def jump_floor_move(target: NormalizationStats, setting: tuple[float, float, float], air_seconds: float) -> float:
    """The most the floor estimate moves during and after a 40 px jump (% of the target's height)."""
    frames = 60
    in_the_air = jumping(dance_poses(SOURCE_BODY, frames, SIZE, FPS), 30, int(round(air_seconds * FPS)))
    normalizer = _normalizer(target, *setting)
    floors = []
    for t in range(frames):
        normalizer(in_the_air[t], t / FPS)
        floors.append(normalizer.floor)
    return 100 * max(abs(f - floors[29]) for f in floors[30:]) / target.height_far


def step_back(target: NormalizationStats, setting: tuple[float, float, float]) -> tuple[float, float]:
    """The drawn feet's mean distance (px) from the target's floor from the step on, and the seconds
    after the step until they stay within 3 px of it."""
    frames = 90
    stepping = stepping_back(dance_poses(SOURCE_BODY, frames, SIZE, FPS), STEP_START, STEP_FRAMES)
    normalizer = _normalizer(target, *setting)
    drawn = [normalizer(stepping[t], t / FPS) for t in range(frames)]
    off = np.array([abs(float(lower_ankle_y(pose.keypoints, pose.valid)) - normalizer.target_floor) for pose in drawn])
    end = STEP_START + STEP_FRAMES
    away = np.flatnonzero(off[end:] > 3)
    settle = (away[-1] + 1) / FPS if len(away) else 0.0
    return float(off[STEP_START:].mean()), settle


@click.command()
def main() -> None:
    """Print the floor-tracking table, the kept setting marked."""
    target = compute_stats(dance_poses(TARGET_BODY, 60, SIZE, FPS))
    kept = (WINDOW_SECONDS, FLOOR_QUANTILE, SMOOTHING_SECONDS)
    click.echo("| window s | floor quantile | easing s | jump 0.4 s | jump 0.6 s | step back: mean px off | settled after |")
    click.echo("|---|---|---|---|---|---|---|")
    for setting in SETTINGS:
        j4, j6 = jump_floor_move(target, setting, 0.4), jump_floor_move(target, setting, 0.6)
        mean_off, settle = step_back(target, setting)
        mark = " (kept)" if setting == kept else ""
        click.echo(f"| {setting[0]}{mark} | {setting[1]} | {setting[2]} | {j4:.1f}% | {j6:.1f}% | {mean_off:.1f} | {settle:.2f} s |")


if __name__ == "__main__":
    main()
