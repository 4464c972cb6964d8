"""The least-squares maps the pose metric and the exemplar warp use."""

from __future__ import annotations

import numpy as np

from shared.label.geometry import bone_affine, least_squares_affine, umeyama


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def test_umeyama_recovers_a_similarity_and_its_matrix_agrees() -> None:
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (6, 2))
    angle = 0.7
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = 1.8 * src @ rotation.T + (5.0, -3.0)
    fit = umeyama(src, dst)
    assert fit is not None and abs(fit.scale - 1.8) < 1e-9
    assert np.allclose(fit.apply(src), dst) and np.allclose(_apply(fit.matrix(), src), dst)
    assert umeyama(np.ones((3, 2)), dst[:3]) is None


def test_least_squares_affine_recovers_an_affine_map_and_refuses_collinear_points() -> None:
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 50, (4, 2))
    truth = np.array([[1.2, 0.3, 4.0], [-0.2, 0.8, 7.0]])
    assert np.allclose(least_squares_affine(src, _apply(truth, src)), truth)
    line = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    assert least_squares_affine(line, line) is None


def test_bone_affine_maps_the_bone_and_keeps_its_width_at_the_body_scale() -> None:
    a, b = np.array([10.0, 10.0]), np.array([10.0, 50.0])  # a vertical bone, 40 px
    a2, b2 = np.array([100.0, 100.0]), np.array([160.0, 100.0])  # horizontal, 60 px
    matrix = bone_affine(a, b, a2, b2, width_scale=1.0)
    assert np.allclose(_apply(matrix, np.stack([a, b])), np.stack([a2, b2]))
    side = _apply(matrix, np.array([[15.0, 10.0]]))[0]  # 5 px across the bone
    assert np.isclose(np.linalg.norm(side - a2), 5.0), "across the bone the width stays (scale 1)"
    squashed = bone_affine(a, b, a2, a2 + (1.0, 0.0), width_scale=1.0)  # foreshortened to 1 px
    assert np.isclose(np.linalg.norm(_apply(squashed, b[None])[0] - a2), 0.3 * 40), "stretch clamped at 0.3"
    assert bone_affine(a, a, a2, b2, 1.0) is None
