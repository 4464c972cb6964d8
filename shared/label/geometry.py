"""Least-squares transforms between point sets: the similarity the pose metric aligns with, and
the affine maps the exemplar warp moves body parts with."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Similarity:
    """p' = scale * rotation @ p + shift."""

    scale: float
    rotation: np.ndarray  # (2, 2), a proper rotation
    shift: np.ndarray  # (2,)

    def apply(self, points: np.ndarray) -> np.ndarray:
        return self.scale * points @ self.rotation.T + self.shift

    def rescaled(self, scale: float, anchor: np.ndarray) -> Similarity:
        """The same rotation at another `scale`, still taking `anchor` where it took it."""
        anchor = np.asarray(anchor, np.float64)
        return Similarity(scale, self.rotation, self.apply(anchor) - scale * self.rotation @ anchor)

    def matrix(self) -> np.ndarray:
        """The same map as a 2x3 matrix (cv2.warpAffine's form)."""
        return np.hstack([self.scale * self.rotation, self.shift[:, None]])


def umeyama(src: np.ndarray, dst: np.ndarray) -> Similarity | None:
    """The least-squares similarity taking (N, 2) `src` onto `dst` (Umeyama 1991, no reflection);
    None when `src` has no spread (all points in one place)."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    mu_src, mu_dst = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - mu_src, dst - mu_dst
    var_src = float((a**2).sum(axis=1).mean())
    if var_src < 1e-12:
        return None
    u, d, vt = np.linalg.svd(b.T @ a / len(src))
    sign = np.diag([1.0, -1.0 if np.linalg.det(u) * np.linalg.det(vt) < 0 else 1.0])  # no reflections
    rotation = u @ sign @ vt
    scale = float(np.trace(np.diag(d) @ sign) / var_src)
    return Similarity(scale, rotation, mu_dst - scale * rotation @ mu_src)


def least_squares_affine(src: np.ndarray, dst: np.ndarray) -> np.ndarray | None:
    """The 2x3 affine map taking (N >= 3, 2) `src` onto `dst` in the least-squares sense; None when
    the points are (nearly) collinear, where an affine map is not determined."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    design = np.hstack([src, np.ones((len(src), 1))])
    if len(src) < 3 or np.linalg.matrix_rank(design, tol=1e-6 * max(1.0, float(np.abs(src).max()))) < 3:
        return None
    solution, *_ = np.linalg.lstsq(design, dst, rcond=None)
    return solution.T


def bone_affine(a: np.ndarray, b: np.ndarray, a2: np.ndarray, b2: np.ndarray, width_scale: float,
                min_stretch: float = 0.3, max_stretch: float = 3.0) -> np.ndarray | None:
    """The 2x3 map taking bone a->b onto a2->b2: along the bone it stretches with the bone's
    length (clamped, so a foreshortened limb is squashed, not collapsed), across it it scales by
    `width_scale` (the body's scale, so a limb keeps its thickness); None for a zero-length bone."""
    points = (np.asarray(p, np.float64)[None] for p in (a, b, a2, b2))
    maps, nonzero = bone_affines(*points, width_scale, min_stretch, max_stretch)
    return maps[0] if nonzero[0] else None


def bone_affines(a: np.ndarray, b: np.ndarray, a2: np.ndarray, b2: np.ndarray, width_scale: float,
                 min_stretch: float = 0.3, max_stretch: float = 3.0) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """`bone_affine` for (N, 2) bones at once (live maps every limb of every frame): (N, 2, 3) maps
    and (N,) bool, False for a zero-length bone (its map is then meaningless)."""
    (length, frame), (length2, frame2) = _bone_frames(a, b), _bone_frames(a2, b2)
    stretch = np.clip(length2 / np.maximum(length, 1e-6), min_stretch * width_scale, max_stretch * width_scale)
    scales = np.zeros((len(length), 2, 2))
    scales[:, 0, 0], scales[:, 1, 1] = stretch, width_scale
    linear = frame2.transpose(0, 2, 1) @ scales @ frame
    shift = np.asarray(a2, np.float64) - (linear @ np.asarray(a, np.float64)[:, :, None])[:, :, 0]
    return np.concatenate([linear, shift[:, :, None]], axis=2), (length >= 1e-6) & (length2 >= 1e-6)


def _bone_frames(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N,) lengths of bones a -> b and (N, 2, 2) frames, rows along and across each bone."""
    along = np.asarray(b, np.float64) - np.asarray(a, np.float64)
    length = np.sqrt((along[:, None, :] @ along[:, :, None])[:, 0, 0])
    along = along / np.maximum(length, 1e-6)[:, None]
    return length, np.stack([along, np.stack([-along[:, 1], along[:, 0]], axis=1)], axis=1)
