"""The box-constrained L-BFGS against SciPy's L-BFGS-B on problems with known minima."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize

from optimisation import lbfgs


def _quadratic(n: int, seed: int):
    """f(x) = 1/2 (x - c)' Q (x - c): an ill-conditioned bowl whose centre c lies partly outside [0, 1]."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.standard_normal((n, n)))
    Q = (basis * np.geomspace(1.0, 1e3, n)) @ basis.T
    c = rng.uniform(-0.5, 1.5, n)

    def loss_and_gradient(x):
        r = x.astype(np.float64) - c
        return float(0.5 * r @ Q @ r), (Q @ r).astype(np.float32)

    return loss_and_gradient


def _scipy_minimum(loss_and_gradient, n: int) -> np.ndarray:
    result = scipy.optimize.minimize(
        lambda x: (lambda f, g: (f, g.astype(np.float64)))(*loss_and_gradient(x)),
        np.full(n, 0.5),
        jac=True,
        method="L-BFGS-B",
        bounds=[(0.0, 1.0)] * n,
        options={"maxiter": 5000, "ftol": 0.0, "gtol": 1e-10},
    )
    return result.x


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_finds_the_same_box_constrained_minimum_as_scipy(seed):
    n = 40
    loss_and_gradient = _quadratic(n, seed)
    desired = _scipy_minimum(loss_and_gradient, n)
    actual = lbfgs.minimize(loss_and_gradient, np.full(n, 0.5, np.float32), 400, memory=10).x
    np.testing.assert_allclose(actual, desired, atol=2e-3)
    assert ((desired <= 1e-6) | (desired >= 1 - 1e-6)).any()  # some bounds are active


def test_never_leaves_the_box_and_never_raises_the_loss():
    loss_and_gradient = _quadratic(30, seed=3)
    seen = []
    lbfgs.minimize(
        loss_and_gradient,
        np.full(30, 0.5, np.float32),
        100,
        on_iteration=lambda x, f: seen.append((x.min(), x.max(), f)),
    )
    lows, highs, losses = zip(*seen)
    assert min(lows) >= 0.0 and max(highs) <= 1.0
    assert all(later <= earlier for earlier, later in zip(losses, losses[1:]))


def test_reaches_the_rosenbrock_minimum_inside_the_box():
    # f = (1 - a)^2 + 100 (b - a^2)^2 has its minimum at (1, 1), on the box's corner.
    def loss_and_gradient(x):
        a, b = float(x[0]), float(x[1])
        f = (1 - a) ** 2 + 100 * (b - a * a) ** 2
        g = np.array([-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)], np.float32)
        return f, g

    result = lbfgs.minimize(loss_and_gradient, np.array([0.1, 0.8], np.float32), 500)
    x, f = result.x, result.f
    np.testing.assert_allclose(x, [1.0, 1.0], atol=1e-3)
    assert f < 1e-6


def test_calls_back_once_per_accepted_step_with_that_steps_loss():
    loss_and_gradient = _quadratic(20, seed=4)
    calls = []
    result = lbfgs.minimize(
        loss_and_gradient,
        np.full(20, 0.5, np.float32),
        7,
        on_iteration=lambda x, f: calls.append(f),
    )
    assert len(calls) == 7 == result.iterations
    assert result.stopped_because is None
    assert calls[-1] == result.f == loss_and_gradient(result.x)[0]


def test_memory_keeps_only_the_last_pairs_with_positive_curvature():
    memory = lbfgs.Memory(2)
    for k in range(1, 4):
        memory.add(np.full(3, float(k), np.float32), np.full(3, 2.0 * k, np.float32))
    memory.add(np.ones(3, np.float32), -np.ones(3, np.float32))  # s'y < 0: not kept
    assert [s[0] for s, _, _ in memory.pairs] == [2.0, 3.0]
    # With pairs y = 2 s, H is 1/2 along s: the direction of a gradient along s is -g / 2.
    np.testing.assert_allclose(memory.direction(np.ones(3, np.float32)), -0.5 * np.ones(3))


def _quartic(n: int, seed: int, scale: float):
    """scale * (1/4 sum(((x - c) * w)^4) + 1/2 |x - c|^2): curvature that grows away from c."""
    rng = np.random.default_rng(seed)
    c, w = rng.uniform(-0.2, 1.2, n), rng.uniform(1.0, 30.0, n)

    def loss_and_gradient(x):
        r = x.astype(np.float64) - c
        f = 0.25 * np.sum((r * w) ** 4) + 0.5 * r @ r
        return float(scale * f), (scale * (w**4 * r**3 + r)).astype(np.float32)

    return loss_and_gradient


def test_the_steps_do_not_depend_on_the_scale_of_the_loss():
    """A style weight of 1e5 puts the loss near 1e12: the same path, only the values scaled."""
    x0 = np.full(50, 0.5, np.float32)
    paths = {}
    for scale in (1.0, 1e6, 1e12):
        seen: list[np.ndarray] = []
        lbfgs.minimize(_quartic(50, 5, scale), x0, 30, on_iteration=lambda x, f, seen=seen: seen.append(x))  # fmt: skip
        paths[scale] = np.array(seen)
    assert paths[1.0].shape == (30, 50)
    for scale in (1e6, 1e12):
        np.testing.assert_allclose(paths[scale], paths[1.0], atol=1e-4)


def test_a_loss_near_float32s_limit_takes_exactly_the_steps_of_a_small_one():
    """A style weight of 1e30 puts the loss near 1e37, where float32 dots of g overflow."""
    x0 = np.full(50, 0.5, np.float32)
    paths, losses = {}, {}
    for scale in (1.0, 2.0**110):
        seen: list[tuple[np.ndarray, float]] = []
        lbfgs.minimize(_quartic(50, 5, scale), x0, 30, on_iteration=lambda x, f, seen=seen: seen.append((x, f)))  # fmt: skip
        paths[scale] = np.array([x for x, _ in seen])
        losses[scale] = np.array([f for _, f in seen])
    assert paths[1.0].shape == (30, 50)
    assert np.ptp(paths[1.0][-1]) > 0.1  # the small loss's run did move
    np.testing.assert_array_equal(paths[2.0**110], paths[1.0])
    np.testing.assert_allclose(losses[2.0**110], losses[1.0] * 2.0**110, rtol=1e-6)


@pytest.mark.parametrize(
    "f, expected",
    [
        (1.0, 1.0),
        (1.99, 1.0),
        (2.0, 0.5),
        (-3.0, 0.5),
        (6.4e37, 2.0**-125),
        (0.0, 1.0),
        (np.inf, 1.0),
    ],
)
def test_the_loss_unit_is_the_power_of_two_that_brings_f_into_one_to_two(f, expected):
    assert lbfgs.loss_unit(f) == expected
    if expected != 1.0 or 1 <= abs(f) < 2:
        assert 1 <= abs(f) * lbfgs.loss_unit(f) < 2


def test_memory_keeps_pairs_of_any_scale_and_refuses_a_right_angle():
    s = np.linspace(1.0, 2.0, 8).astype(np.float32)
    for scale in (1e-6, 1.0, 1e12, 1e18):  # y'y is 1e37 at 1e18: past float32's range if squared
        memory = lbfgs.Memory(3)
        memory.add(s, (scale * s).astype(np.float32))
        assert len(memory.pairs) == 1, scale
        assert memory.gamma == pytest.approx(1.0 / scale, rel=1e-5)
    memory = lbfgs.Memory(3)
    y = np.array([1, -1, 0, 0, 0, 0, 0, 0], np.float32)
    memory.add(np.ones(8, np.float32), y)  # s'y = 0: no curvature along s, not kept
    assert not memory.pairs


@pytest.mark.parametrize("u_star", [0.1, 0.3, 0.5])
def test_a_rejected_step_shrinks_to_the_minimum_of_the_fitted_parabola(u_star):
    # q(u) = f + b u + a u^2 with its minimum at u_star: b = -2 a u_star
    f, a = 10.0, 4.0
    b = -2 * a * u_star
    f_new = f + b + a
    assert lbfgs.backtrack_factor(f, f_new, b) == pytest.approx(u_star)


def test_a_rejected_step_shrinks_by_a_tenth_to_a_half():
    assert lbfgs.backtrack_factor(1.0, 1e12, -1.0) == 0.1  # a huge rise: at most ten times
    assert lbfgs.backtrack_factor(1.0, 1.0, -1e-9) == 0.5  # almost flat: at least halve
    assert lbfgs.backtrack_factor(1.0, float("inf"), -1.0) == 0.5  # no parabola through inf
    assert lbfgs.backtrack_factor(1.0, float("nan"), -1.0) == 0.5


def test_minimize_goes_on_with_the_pairs_of_an_earlier_call():
    """Two calls sharing one Memory take exactly the steps of one call as long as both."""
    rng = np.random.default_rng(3)
    Q = rng.normal(size=(40, 40))
    A, b = Q @ Q.T / 40 + 0.1 * np.eye(40), rng.normal(size=40)

    def f(x):
        x = x.astype(np.float64)
        return float(0.5 * x @ A @ x - b @ x), (A @ x - b).astype(np.float32)

    x0 = np.full(40, 0.5, np.float32)
    whole = lbfgs.minimize(f, x0, 12, memory=5).x
    history = lbfgs.Memory(5)
    half = lbfgs.minimize(f, x0, 6, history=history).x
    assert len(history.pairs) == 5
    actual = lbfgs.minimize(f, half, 6, history=history).x
    np.testing.assert_array_equal(actual, whole)
    fresh = lbfgs.minimize(f, half, 6, memory=5).x  # without the pairs: a different path
    assert not np.array_equal(fresh, whole)


class Misleading(lbfgs.Memory):
    """A memory whose direction descends so slightly, so steeply sideways, that no step helps."""

    def __init__(self, size: int):
        super().__init__(size)
        self.tried = 0

    def direction(self, g: np.ndarray) -> np.ndarray:
        self.tried += 1
        sideways = np.roll(g, 1) - g * float(np.dot(np.roll(g, 1), g) / np.dot(g, g))
        return -1e-30 * g + 1e6 * sideways / np.linalg.norm(sideways)


def test_a_stalled_step_restarts_from_steepest_descent_and_goes_on():
    loss_and_gradient = _quadratic(20, seed=5)
    x0 = np.full(20, 0.5, np.float32)
    history = Misleading(5)
    history.add(np.full(20, 0.1, np.float32), np.full(20, 0.2, np.float32))  # one pair kept
    result = lbfgs.minimize(loss_and_gradient, x0, 10, history=history)
    assert history.tried >= 1  # the memory's direction was tried, and failed
    assert result.stopped_because is None and result.iterations == 10
    assert result.f < 0.1 * loss_and_gradient(x0)[0]


def test_no_step_after_a_restart_stops_early_and_says_why():
    def flat(x):  # the loss never falls, whatever the gradient says
        return 1.0, np.ones_like(x)

    result = lbfgs.minimize(flat, np.full(4, 0.5, np.float32), 10)
    assert result.iterations == 0
    assert result.stopped_because == lbfgs.STALLED == "no step lowered the loss after a restart"


def test_a_zero_projected_gradient_is_a_minimum():
    def pinned(x):  # pushes every variable out through the bound it sits on
        return float(np.sum(x)), np.ones_like(x)

    result = lbfgs.minimize(pinned, np.zeros(4, np.float32), 10)
    assert (result.iterations, result.stopped_because) == (0, lbfgs.CONVERGED)
