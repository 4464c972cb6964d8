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
    a, b, a2, b2 = (np.asarray(p, np.float64) for p in (a, b, a2, b2))
    length, length2 = np.linalg.norm(b - a), np.linalg.norm(b2 - a2)
    if length < 1e-6 or length2 < 1e-6:
        return None
    u, u2 = (b - a) / length, (b2 - a2) / length2
    frame = np.array([u, [-u[1], u[0]]])  # rows: along, across (src)
    frame2 = np.array([u2, [-u2[1], u2[0]]])
    stretch = float(np.clip(length2 / length, min_stretch * width_scale, max_stretch * width_scale))
    linear = frame2.T @ np.diag([stretch, width_scale]) @ frame
    return np.hstack([linear, (a2 - linear @ a)[:, None]])
