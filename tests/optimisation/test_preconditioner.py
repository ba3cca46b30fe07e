"""L-BFGS's initial inverse Hessian c gamma (I + lambda G), against SciPy and NumPy."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage

from optimisation import lbfgs, preconditioner
from tests.optimisation.test_lbfgs import _quadratic, _scipy_minimum


def _matrix(apply, n: int) -> np.ndarray:
    """Return the n x n matrix of a linear map of flat vectors, column by column."""
    return np.stack([apply(np.eye(n, dtype=np.float32)[i]) for i in range(n)], axis=1)


@pytest.mark.parametrize("shape, sigma", [((9, 7, 3), 1.5), ((12, 10, 1), 2.0), ((6, 11, 3), 0.7)])
def test_the_blur_is_a_gaussian_with_mirrored_edges(shape, sigma):
    v = np.random.default_rng(0).standard_normal(int(np.prod(shape))).astype(np.float32)
    expected = scipy.ndimage.gaussian_filter(
        v.reshape(shape).astype(np.float64), sigma=(sigma, sigma, 0), mode="reflect"
    )  # "reflect" repeats the edge pixel, as OpenCV's BORDER_REFLECT does
    actual = preconditioner.gaussian_blur(shape, sigma)(v)
    np.testing.assert_allclose(actual, expected.ravel(), rtol=0, atol=2e-3)


@pytest.mark.parametrize("shape", [(8, 6, 3), (10, 9, 1), (40, 1, 1), (20, 24, 1)])
def test_the_blur_is_symmetric_and_the_preconditioner_positive_definite(shape):
    blur = preconditioner.gaussian_blur(shape, preconditioner.SIGMA)
    G = _matrix(blur, int(np.prod(shape))).astype(np.float64)
    np.testing.assert_allclose(G, G.T, rtol=0, atol=1e-6)
    eigenvalues = np.linalg.eigvalsh((G + G.T) / 2)
    # G is positive semidefinite but for the Gaussian cut off at 4 sigma (about -3e-5)
    assert eigenvalues.min() > -1e-4 and eigenvalues.max() == pytest.approx(1.0, abs=1e-5)
    assert 1.0 + preconditioner.MAX_LAMBDA * eigenvalues.min() > 0.99  # I + lambda G


def _dots(s, y, Gy):
    return [float(np.dot(a, b)) for a, b in ((s, y), (y, y), (s, Gy), (y, Gy), (Gy, Gy))]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_lambda_is_b_over_a_of_the_least_squares_fit(seed):
    rng = np.random.default_rng(seed)
    y, Gy = rng.standard_normal(50), rng.standard_normal(50)
    s = 0.7 * y + rng.uniform(0.1, 2.0) * Gy + 0.3 * rng.standard_normal(50)
    (a, b), *_ = np.linalg.lstsq(np.stack([y, Gy], axis=1), s, rcond=None)
    expected = min(preconditioner.MAX_LAMBDA, b / a) if a > 0 and b > 0 else 0.0
    assert preconditioner.fitted_lambda(*_dots(s, y, Gy)) == pytest.approx(expected, rel=1e-9)


def test_lambda_is_zero_without_a_smooth_share_and_capped_with_a_large_one():
    rng = np.random.default_rng(5)
    y, Gy = rng.standard_normal(40), rng.standard_normal(40)
    assert preconditioner.fitted_lambda(*_dots(2.0 * y, y, Gy)) == pytest.approx(0.0, abs=1e-12)
    assert preconditioner.fitted_lambda(*_dots(2.0 * y - Gy, y, Gy)) == 0.0  # b < 0
    assert preconditioner.fitted_lambda(*_dots(-y + Gy, y, Gy)) == 0.0  # a < 0
    assert preconditioner.fitted_lambda(*_dots(y + 3.0 * Gy, y, Gy)) == pytest.approx(3.0)
    assert preconditioner.fitted_lambda(*_dots(y + 50.0 * Gy, y, Gy)) == preconditioner.MAX_LAMBDA
    assert preconditioner.fitted_lambda(*_dots(y, y, 2.0 * y)) == 0.0  # G y parallel to y


@pytest.mark.parametrize("factor", [1.0, preconditioner.GAMMA_FACTOR])
def test_the_direction_is_minus_h_g_from_the_fitted_initial_inverse_hessian(factor):
    shape = (6, 5, 3)
    n = int(np.prod(shape))
    blur = preconditioner.gaussian_blur(shape, 1.0)
    G = _matrix(blur, n).astype(np.float64)
    rng = np.random.default_rng(7)
    y = rng.standard_normal(n).astype(np.float32)
    s = (0.5 * y + 0.9 * blur(y)).astype(np.float32)  # a step that moved smooth changes further
    memory = lbfgs.Memory(3, blur, factor)
    memory.add(s, y)
    s64, y64 = s.astype(np.float64), y.astype(np.float64)
    lam = preconditioner.fitted_lambda(*_dots(s64, y64, G @ y64))
    assert memory.lam == pytest.approx(lam, rel=1e-4) and lam == pytest.approx(1.8, rel=1e-3)
    H0 = factor * (np.eye(n) + lam * G) * (s64 @ y64) / (y64 @ (np.eye(n) + lam * G) @ y64)
    rho = 1.0 / (s64 @ y64)
    H = (np.eye(n) - rho * np.outer(s64, y64)) @ H0 @ (np.eye(n) - rho * np.outer(y64, s64))
    H += rho * np.outer(s64, s64)  # the BFGS update of H0 by the pair (Nocedal & Wright, 6.17)
    g = rng.standard_normal(n).astype(np.float32)
    np.testing.assert_allclose(memory.direction(g), -H @ g, rtol=1e-4, atol=1e-5)


def test_with_several_pairs_h_maps_the_newest_y_to_its_s():
    shape = (6, 5, 3)
    n = int(np.prod(shape))
    rng = np.random.default_rng(8)
    memory = lbfgs.memory_for(shape, 4, precondition=True)
    for _ in range(3):  # pairs of a convex quadratic's curvature: y = A s
        s = rng.standard_normal(n).astype(np.float32)
        y = (s * rng.uniform(0.5, 4.0, n)).astype(np.float32)
        memory.add(s, y)
    assert len(memory.pairs) == 3
    # the secant equation H y = s of the newest pair, whatever H_0 is (an older pair's y
    # would not give its s: a memory in the wrong order, or a wrong rho, fails here)
    np.testing.assert_allclose(memory.direction(y), -s, rtol=1e-4, atol=1e-4)


def test_the_preconditioner_off_is_the_usual_lbfgs_and_on_has_its_blur_and_factor():
    usual = lbfgs.memory_for((4, 5, 3), 7, precondition=False)
    assert usual.blur is None and usual.gamma_factor == 1.0 and usual.pairs.maxlen == 7
    on = lbfgs.memory_for((4, 5, 3), 7, precondition=True)
    assert on.gamma_factor == preconditioner.GAMMA_FACTOR > 1.0
    v = np.random.default_rng(9).standard_normal(60).astype(np.float32)
    np.testing.assert_allclose(on.blur(v), preconditioner.gaussian_blur((4, 5, 3))(v))
    with pytest.raises(ValueError, match="gamma_factor must be above 0"):
        lbfgs.Memory(3, None, 0.0)


@pytest.mark.parametrize("seed", [0, 1])
def test_lbfgs_with_the_blur_finds_the_same_box_constrained_minimum_as_scipy(seed):
    shape = (5, 8, 1)
    n = int(np.prod(shape))
    loss_and_gradient = _quadratic(n, seed)
    history = lbfgs.Memory(
        10, preconditioner.gaussian_blur(shape, 1.5), preconditioner.GAMMA_FACTOR
    )
    result = lbfgs.minimize(loss_and_gradient, np.full(n, 0.5, np.float32), 400, history=history)
    np.testing.assert_allclose(result.x, _scipy_minimum(loss_and_gradient, n), atol=2e-3)


def test_a_blur_the_fit_never_uses_takes_exactly_the_usual_steps():
    n = 30
    loss_and_gradient = _quadratic(n, seed=4)
    x0 = np.full(n, 0.5, np.float32)
    usual = lbfgs.minimize(loss_and_gradient, x0, 25, memory=6)
    history = lbfgs.Memory(6, np.zeros_like)  # G y = 0: nothing to fit, lambda stays 0
    same = lbfgs.minimize(loss_and_gradient, x0, 25, history=history)
    np.testing.assert_array_equal(same.x, usual.x)
    assert history.lam == 0.0
