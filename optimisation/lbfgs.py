"""L-BFGS on the box [0, 1]^n in float32 NumPy, one loss evaluation per iteration as a rule.

SciPy's L-BFGS-B does single-threaded float64 work between two evaluations (copies, the
Cauchy point over every bound) while TensorFlow's threads sit idle; this projected L-BFGS
does the same job in float32 in a fraction of that time (benchmarks/README.md):

* variables at a bound whose gradient pushes them out of the box are held fixed;
* the search direction is the two-loop recursion over the last `memory` pairs
  s_k = x_{k+1} - x_k, y_k = g_{k+1} - g_k (Nocedal & Wright, Algorithm 7.4), from the
  initial inverse Hessian gamma I, gamma = s'y / y'y, or with the preconditioner (as tf_run
  runs it, `memory_for`) c gamma (I + lambda G), G a blur and lambda fitted to the newest pair,
  which moves smooth changes further where the steps call for it, and c a fixed factor
  (preconditioner.py);
* a pair is kept only if the angle between s and y is below 90 degrees, a test that does
  not depend on the loss's scale (a high style weight puts it near 1e12);
* the step x + t d is projected onto the box; t = 1 is tried first and, until the Armijo
  condition holds, shrunk to the minimum of the parabola through f, its slope and the
  rejected f (by a tenth to a half); t = 1 is accepted in almost every iteration;
* f and g are multiplied by the power of two that brings f(x0) into [1, 2): no step
  changes, and float32 dot products stay finite up to a loss of about 1e38.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from optimisation import preconditioner

LossAndGradient = Callable[[np.ndarray], tuple[float, np.ndarray]]

# 50 pairs gave a lower loss than 10 at equal iterations, and 150 no lower than 50.
MAX_PAIRS = 50
PAIRS_BUDGET_BYTES = 256 * 2**20  # so that a 1024 px run stays within 4 GB (10 pairs there)
MIN_PAIRS = 2  # at print sizes, where a 4096 px picture's pair takes 270 MB
ARMIJO = 1e-4  # sufficient decrease: f(x_new) <= f(x) + ARMIJO * g'(x_new - x)
MAX_BACKTRACKS = 20
MIN_CURVATURE_COSINE = 1e-8  # keep a pair only if cos(s, y) is above this


def pairs_for(n: int) -> int:
    """Return how many (s, y) pairs to keep for n variables: 50, fewer where they pass 256 MiB."""
    return max(MIN_PAIRS, min(MAX_PAIRS, PAIRS_BUDGET_BYTES // (2 * 4 * n)))


class Memory:
    """The last `size` pairs (s, y) and the two-loop recursion that turns a gradient into -H g."""

    def __init__(
        self,
        size: int,
        blur: Callable[[np.ndarray], np.ndarray] | None = None,
        gamma_factor: float = 1.0,
    ):
        if not gamma_factor > 0:
            raise ValueError(f"gamma_factor must be above 0 (H_0 positive), not {gamma_factor}")
        self.pairs: deque[tuple[np.ndarray, np.ndarray, float]] = deque(maxlen=size)
        self.gamma = 1.0
        self.blur = blur  # G of H_0 = c gamma (I + lambda G); None: H_0 = c gamma I
        self.gamma_factor = gamma_factor  # c of H_0 = c gamma (...); 1: the usual gamma
        self.lam = 0.0
        self.unit: float | None = None  # the loss is searched in units of this (minimize)

    def add(self, s: np.ndarray, y: np.ndarray) -> None:
        """Keep the pair if it has positive curvature s'y (else H would stop being positive),
        and fit H_0's gamma (and lambda, given a blur: preconditioner.py) to it."""
        # y / max|y| keeps y'y within float32 at any loss scale. Float32 on purpose: float64
        # dots here slowed the next TensorFlow evaluation (threads competing).
        peak = float(np.max(np.abs(y)))
        if not 0 < peak < math.inf:
            return
        unit_y = y / np.float32(peak)
        sy, ss, yy = float(np.dot(s, unit_y)), float(np.dot(s, s)), float(np.dot(unit_y, unit_y))
        # The angle between s and y, not s'y against y'y: that comparison depends on the
        # loss's scale and threw away every pair of a loss near 1e12 (a high style weight).
        if sy > MIN_CURVATURE_COSINE * math.sqrt(ss * yy):
            self.pairs.append((s, y, 1.0 / (sy * peak)))
            yMy = yy
            if self.blur is not None:
                blurred_y = self.blur(unit_y)
                yGy = float(np.dot(unit_y, blurred_y))
                GyGy, sGy = float(np.dot(blurred_y, blurred_y)), float(np.dot(s, blurred_y))
                self.lam = preconditioner.fitted_lambda(sy, yy, sGy, yGy, GyGy)
                yMy = yy + self.lam * yGy
            self.gamma = self.gamma_factor * sy / (yMy * peak)  # y' H_0 y = c s'y

    def direction(self, g: np.ndarray) -> np.ndarray:
        """Return -H g, H the L-BFGS approximation of the inverse Hessian (from H_0)."""
        q = g.copy()
        alphas = []
        for s, y, rho in reversed(self.pairs):
            alpha = rho * float(np.dot(s, q))
            q -= alpha * y
            alphas.append(alpha)
        if self.lam:
            blurred = self.blur(q)
            blurred *= np.float32(self.lam)
            q += blurred
        q *= self.gamma
        for (s, y, rho), alpha in zip(self.pairs, reversed(alphas)):
            beta = rho * float(np.dot(y, q))
            q += (alpha - beta) * s
        return -q

    def clear(self) -> None:
        """Forget every pair (the next step is steepest descent, as the first one is)."""
        self.pairs.clear()


def memory_for(shape: tuple[int, ...], size: int, precondition: bool) -> Memory:
    """Return an empty Memory of `size` pairs for a picture of `shape` (H, W, C): with the
    preconditioner's blur and gamma factor if `precondition`, else the usual L-BFGS's."""
    if not precondition:
        return Memory(size)
    blur = preconditioner.gaussian_blur(shape)
    return Memory(size, blur, preconditioner.GAMMA_FACTOR)


def backtrack_factor(f: float, f_new: float, slope: float) -> float:
    """Return the factor a rejected step shrinks by: the fitted parabola's minimiser, in [0.1, 0.5]."""
    # q(u) = f + slope u + rise u^2 through q(1) = f_new (Nocedal & Wright, eq. 3.57)
    rise = f_new - f - slope
    if not math.isfinite(f_new) or rise <= 0:
        return 0.5
    return min(0.5, max(0.1, -slope / (2.0 * rise)))


def free_variables(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Return the mask of variables not pinned at a bound by a gradient pointing out of the box."""
    return ~(((x <= 0.0) & (g > 0)) | ((x >= 1.0) & (g < 0)))


@dataclass
class Minimum:
    """Where minimize stopped: x, f(x), the steps taken, and why it stopped early (None: it did not)."""

    x: np.ndarray
    f: float
    iterations: int
    stopped_because: str | None = None


CONVERGED = "the projected gradient is zero"
STALLED = "no step lowered the loss after a restart"


def minimize(
    loss_and_gradient: LossAndGradient,
    x0: np.ndarray,
    iterations: int,
    memory: int | None = None,
    on_iteration: Callable[[np.ndarray, float], None] | None = None,
    history: Memory | None = None,
) -> Minimum:
    """Minimise f over [0, 1]^n from x0 for `iterations` accepted steps.

    `loss_and_gradient(x)` returns (f, g) for a float32 vector; `on_iteration(x, f)` is
    called after every accepted step; `memory` pairs are kept (default: `pairs_for(n)`),
    in `history` if given, which lets a second call go on with the pairs of the first.
    When no step along the L-BFGS direction lowers f, the memory is cleared and a
    steepest-descent step is tried (the standard restart); only if that fails too, or the
    projected gradient is zero, does it stop early, and says why.
    """
    x = np.clip(x0.astype(np.float32).ravel(), 0.0, 1.0)
    f, g = loss_and_gradient(x)
    if history is None:
        history = Memory(memory or pairs_for(x.size))
    # The search runs on f and g times a power of two that brings f(x0) near 1: exactly the
    # same steps at any loss scale, and float32 dot products of g that do not overflow at a
    # style weight of 1e30 (unscaled, g'd was inf and the run stalled). A second call keeps
    # the first one's unit, in which its pairs are.
    if history.unit is None:
        history.unit = loss_unit(f)
    unit = history.unit
    evaluate = _scaled(loss_and_gradient, unit)
    f, g = f * unit, g * np.float32(unit)
    for done in range(iterations):
        step = _step(evaluate, x, f, g, history)
        if step == STALLED and history.pairs:
            history.clear()  # forget the curvature: the next step is steepest descent
            step = _step(evaluate, x, f, g, history)
        if isinstance(step, str):
            return Minimum(x, f / unit, done, step)
        x, f, g = step
        if on_iteration is not None:
            on_iteration(x, f / unit)
    return Minimum(x, f / unit, iterations)


def _step(evaluate: LossAndGradient, x, f: float, g, history: Memory):
    """Take one projected L-BFGS step from x; return (x, f, g) after it, or CONVERGED or STALLED."""
    free = free_variables(x, g)
    g_free = g * free
    d = history.direction(g_free) * free if history.pairs else -g_free
    slope = float(np.dot(g, d))
    if slope >= 0:  # not a descent direction: forget the curvature pairs
        history.clear()
        d, slope = -g_free, -float(np.dot(g, g_free))
    if slope == 0:
        return CONVERGED  # every variable is pinned or the gradient is zero: a minimum
    del free, g_free  # two image-sized arrays fewer in memory while the evaluations below run
    # Without curvature pairs there is no scale: start with a step of length 1, as L-BFGS-B does.
    t = 1.0 if history.pairs else 1.0 / max(float(np.linalg.norm(d)), 1e-30)
    for _ in range(MAX_BACKTRACKS):
        x_new = np.clip(x + t * d, 0.0, 1.0)
        f_new, g_new = evaluate(x_new)
        s = x_new - x  # the projected step actually taken
        # min(0, ...): a projected step can have a positive slope; never accept a rise
        slope_s = min(0.0, float(np.dot(g, s)))
        if f_new <= f + ARMIJO * slope_s:
            history.add(s, g_new - g)
            return x_new, f_new, g_new
        t *= backtrack_factor(f, f_new, slope_s)
    return STALLED  # no decrease along d even for a tiny step


def loss_unit(f: float) -> float:
    """Return the power of two that brings |f| into [1, 2), or 1 if f is 0 or not finite."""
    if f == 0 or not math.isfinite(f):
        return 1.0
    return math.ldexp(1.0, 1 - math.frexp(abs(f))[1])


def _scaled(loss_and_gradient: LossAndGradient, unit: float) -> LossAndGradient:
    """Return loss_and_gradient with f and g multiplied by `unit` (a power of two: exact)."""
    unit32 = np.float32(unit)

    def evaluate(x: np.ndarray) -> tuple[float, np.ndarray]:
        f, g = loss_and_gradient(x)
        return f * unit, g * unit32

    return evaluate
