"""The set the dancer performs in: a static textured wall and plank floor."""

from __future__ import annotations

import cv2
import numpy as np

HORIZON = 0.5  # where the wall meets the floor, as a fraction of the frame height


def _smooth_noise(rng: np.random.Generator, cells: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """Low-frequency noise in [-1, 1] that scales with the frame (same look at any size)."""
    grid = rng.uniform(-1.0, 1.0, (cells[1], cells[0])).astype(np.float32)
    return cv2.resize(grid, size, interpolation=cv2.INTER_CUBIC)


def render_background(size: tuple[int, int], seed: int = 0) -> np.ndarray:
    """The static set the dancer performs in: a patterned wall and a plank floor, (H, W, 3) RGB.

    It is textured on purpose, so a background-plate estimate (a per-pixel median over frames)
    can be checked against it pixel by pixel; its colours stay away from skin tones.
    """
    width, height = size
    rng = np.random.default_rng(10_000 + seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    xs, ys = xx / height, yy / height  # pattern coordinates scale with the frame height
    horizon = HORIZON * height

    # Wall: pastel base, soft vertical stripes, a faint diamond lattice, blotchy paint.
    wall_base = np.array(rng.choice([(170, 190, 205), (190, 200, 180), (200, 190, 215)]), np.float32)
    stripes = np.where(np.floor(xs / 0.06) % 2 == 0, 10.0, -10.0)
    diamonds = 8.0 * np.cos(2 * np.pi * (xs + ys) / 0.045) * np.cos(2 * np.pi * (xs - ys) / 0.045)
    wall = wall_base + (stripes + diamonds + 10.0 * _smooth_noise(rng, (9, 7), size))[..., None]
    # Two framed pictures of coloured blocks, and a skirting board.
    half = 0.5 * width / height
    for slot in range(2):  # one picture in each half of the wall
        px = rng.uniform(slot * half + 0.03, max(slot * half + 0.04, (slot + 1) * half - 0.27))
        py = rng.uniform(0.06, 0.2)
        inside = (xs > px) & (xs < px + 0.22) & (ys > py) & (ys < py + 0.16)
        frame_edge = (xs > px - 0.015) & (xs < px + 0.235) & (ys > py - 0.015) & (ys < py + 0.175) & ~inside
        blocks = (np.floor((xs - px) / 0.055) + 2 * np.floor((ys - py) / 0.08)) % 3
        palette = np.array([(40, 70, 160), (230, 210, 60), (60, 150, 170)], np.float32)
        wall[inside] = palette[blocks[inside].astype(int)]
        wall[frame_edge] = (70, 60, 55)
    skirting = (yy > horizon - 0.03 * height) & (yy <= horizon)
    wall[skirting] = (235, 235, 230)

    # Floor: planks converging on a vanishing point above the horizon, with grain and seams.
    depth = np.maximum(yy - horizon + 0.35 * height, 1.0) / height
    lateral = (xx - 0.5 * width) / height / depth
    plank = np.floor(lateral / 0.12)
    plank_shade = 18.0 * np.sin(plank * 2.39 + seed)  # deterministic per-plank tone
    seam = np.abs(lateral / 0.12 - np.round(lateral / 0.12)) * depth < 0.012
    grain = 6.0 * np.sin(2 * np.pi * 5.0 * lateral / 0.12 + 1.7 * plank)  # lines along each plank
    floor_texture = plank_shade + grain + 8.0 * _smooth_noise(rng, (11, 5), size)
    floor = np.array((128, 120, 112), np.float32) + floor_texture[..., None]  # grey-washed wood
    floor[seam] = (80, 74, 70)

    image = np.where((yy > horizon)[..., None], floor, wall)
    return np.clip(image, 0, 255).astype(np.uint8)

