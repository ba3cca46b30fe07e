"""Run a style transfer: minimise a loss over the image, keep the best picture, report progress.

Read it after tf_helper.py (the paper's loss). The run knows the loss only as a
loss_interface.Loss (its terms, the terms with their gradient, the precision of its evaluations),
so the whole-picture loss and the tiled one (going_further/tiling.py) run the same way.
L-BFGS (optimisation/lbfgs.py), as the paper used, or Adam; Ctrl-C keeps the best picture.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

import tf_helper
from loss_interface import Loss
from loss_settings import SettingsError, as_style_list
from optimisation import content_boost, interrupts, lbfgs, precisions
from optimisation.settings import Settings
from optimisation.starts import initial_image, is_grey
from tensorflow_vgg.vgg16_avg_pool import Vgg16, network

Callback = Callable[[int, dict[str, float], "np.ndarray | None"], None]


@dataclass
class RunResult:
    """What a run returns: the best image, its loss terms, the per-iteration history, and why
    it ended: "finished", "interrupted", or a sentence for an early stop (`failed` if the
    loss became NaN or infinite)."""

    image: np.ndarray
    terms: dict[str, float]
    history: list[dict[str, float]] = field(default_factory=list)
    stopped_because: str = "finished"
    failed: bool = False


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or the notebook's stop button during a run; `result` holds the best image so far."""

    def __init__(self, result: RunResult):
        iterations = len(result.history)
        super().__init__(f"interrupted after {iterations} iterations; kept the best image so far")
        self.result = result

    def _render_traceback_(self) -> list[str]:  # IPython shows these lines, not a traceback
        return [f"Interrupted: {self}"]


def run_style_transfer(
    content_image: np.ndarray,
    style_image: np.ndarray | Sequence[np.ndarray],
    settings: Settings | None = None,
    *,
    net: Vgg16 | None = None,
    loss: Loss | None = None,
    callback: Callback | None = None,
    frame_every: int = 0,
    initial: np.ndarray | None = None,
    iterations_done: int = 0,
    resumes_own_start: bool = False,
) -> RunResult:
    """Optimise an image to match the content of one image and the style of others (paper, §2).

    Returns the lowest-loss image seen. A non-finite loss ends the run early and still
    returns it (`failed`); so does an optimiser that no step can take further
    (`stopped_because` says why). Ctrl-C raises Interrupted, which holds that image.
    `callback(iteration, terms, image)` is called after every iteration, with the image
    every `frame_every` iterations (numbered from 1 in each call; the history numbers on from
    `iterations_done`). Where evaluations run in bfloat16 the history holds the
    losses the optimiser saw; `terms` is always the float32 loss of the returned image. A
    resumed run passes the image it stopped at as `initial` and the iterations it did as
    `iterations_done`. From a start of its own holding the photo (no `initial`), L-BFGS
    weighs the content more in the first iterations (settings.content_boost,
    optimisation/content_boost.py), and a run resumed from such a start
    (`resumes_own_start`) goes on with its ramp; the best image is always chosen by
    equation 7's loss.
    `loss` replaces the tf_helper.StyleTransferLoss the run would build (the tiled loss, for
    one). When the photo and every painting are grey, so is the
    picture: one channel is optimised and shown as R = G = B.
    """
    settings = settings or Settings()
    if settings.beyond(Settings):
        raise SettingsError(
            f"run_style_transfer does not read {', '.join(settings.beyond(Settings))}; "
            "call going_further.stylize.stylize, which does"
        )
    if not isinstance(iterations_done, int) or not 0 <= iterations_done < settings.iterations:
        raise SettingsError(
            f"iterations_done must be a whole number from 0 to {settings.iterations - 1}, "
            f"not {iterations_done!r}"
        )
    phases = precisions.phases(
        precisions.resolve(settings.precision), settings.iterations, iterations_done
    )
    # The boost keeps the photo's layout in a start the run makes itself (content_boost.py);
    # a given start (a coarser scale's picture, a video's last frame) has its own; a checkpoint of
    # a run that made its own start goes on with that run's ramp.
    boosted = (
        settings.content_boost
        and settings.optimizer == "lbfgs"
        and (initial is None or (resumes_own_start and iterations_done > 0))
        and settings.init in content_boost.PHOTO_STARTS
    )
    if boosted:
        boosts = content_boost.factors(settings.iterations, iterations_done)
    else:
        boosts = [(1.0, settings.iterations - iterations_done)]
    phases = content_boost.combined(phases, boosts)
    styles = as_style_list(style_image)
    if loss is None:
        loss = tf_helper.StyleTransferLoss(
            net or network(), content_image, styles, settings, phases[0][0]
        )
    if initial is None:
        initial = initial_image(
            settings.init, content_image, styles, settings.seed, settings.style_blend
        )
    if all(is_grey(image) for image in [content_image, *styles]):
        loss, initial = _Grey(loss), initial.mean(axis=-1, keepdims=True)
    loss.precision = phases[0][0]
    tracker = _Tracker(callback, frame_every, iterations_done)
    try:
        with interrupts.deferred():  # Ctrl-C stops the run between two evaluations
            if settings.optimizer == "lbfgs":
                reason = _run_lbfgs(
                    loss, initial, phases, tracker, settings.lbfgs_memory, settings.preconditioner
                )
            else:
                reason = _run_adam(loss, initial, phases, tracker, settings.learning_rate)
            interrupts.check()  # pressed during the last evaluation
    except KeyboardInterrupt:
        raise Interrupted(_result(loss, initial, tracker, settings, "interrupted")) from None
    except FloatingPointError as error:
        return _result(loss, initial, tracker, settings, f"stopped: {error}", failed=True)
    if reason is None:
        return _result(loss, initial, tracker, settings, "finished")
    done = iterations_done + len(tracker.history)
    verb = "converged" if reason == lbfgs.CONVERGED else "stopped"
    why = f"{verb} at iteration {done} of {settings.iterations}: {reason}"
    return _result(loss, initial, tracker, settings, why)


# --- The optimisers ----------------------------------------------------------------------


def _run_lbfgs(
    loss, x0: np.ndarray, phases, tracker, memory: int | None, precondition: bool
) -> str | None:
    """Run L-BFGS through the (precision, content boost, iterations) phases; return why it
    stopped early. L-BFGS minimises the loss's objective; the best image is the total's.
    With `precondition` its first guess at the inverse curvature may move smooth changes
    further, and takes longer steps where its pairs say nothing (optimisation/preconditioner.py)."""
    last = {}

    def loss_and_gradient(x: np.ndarray):
        image = x.reshape(x0.shape)
        terms, gradient = loss.terms_and_gradient(image)
        tracker.offer(image, terms)
        last["terms"] = terms
        return loss.objective(terms), gradient.ravel()

    def on_iteration(x: np.ndarray, total: float):
        tracker.iteration_done(x.reshape(x0.shape), last["terms"])  # terms of the accepted x

    # One memory for every phase: the pairs from bfloat16, or from a boosted content term,
    # still describe the curvature (measured: fewer evaluations than starting afresh).
    history = lbfgs.memory_for(x0.shape, memory or lbfgs.pairs_for(x0.size), precondition)
    x = x0
    try:
        for evaluation_precision, boost, count in phases:
            tracker.enter_phase(loss, evaluation_precision)  # minimize re-evaluates x first
            loss.content_boost = boost
            minimum = lbfgs.minimize(
                loss_and_gradient, x, count, on_iteration=on_iteration, history=history
            )
            if minimum.stopped_because:
                return minimum.stopped_because
            x = minimum.x
    finally:
        loss.content_boost = 1.0  # the loss's gradient is equation 7's again, even after Ctrl-C
    return None


def _run_adam(loss, x0: np.ndarray, phases, tracker, learning_rate: float) -> None:
    """Run Adam through the phases, keeping the image in [0, 1]."""
    image = tf.Variable(x0[None])
    optimizer = tf.keras.optimizers.Adam(learning_rate=learning_rate)
    for evaluation_precision, _, count in phases:  # no content boost (L-BFGS's alone)
        tracker.enter_phase(loss, evaluation_precision)  # the next step offers the image first
        for _ in range(count):
            before = image.numpy()[0]
            terms, gradient = loss.terms_and_gradient(before)
            tracker.offer(before, terms)
            optimizer.apply_gradients([(tf.constant(gradient[None]), image)])
            image.assign(tf.clip_by_value(image, 0.0, 1.0))
            tracker.iteration_done(image.numpy()[0], terms)


# --- What a run keeps --------------------------------------------------------------------


class WrappedLoss:
    """A loss that evaluates another one: precision and terms pass through to `loss`."""

    def __init__(self, loss: Loss):
        self.loss = loss

    @property
    def precision(self) -> str:
        return self.loss.precision

    @precision.setter
    def precision(self, value: str) -> None:
        self.loss.precision = value

    @property
    def content_boost(self) -> float:
        return self.loss.content_boost

    @content_boost.setter
    def content_boost(self, value: float) -> None:
        self.loss.content_boost = value

    def objective(self, terms: dict[str, float]) -> float:
        return self.loss.objective(terms)

    def terms(self, image: np.ndarray) -> dict[str, float]:
        return self.loss.terms(image)

    def terms_and_gradient(self, image: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
        return self.loss.terms_and_gradient(image)


class _Grey(WrappedLoss):
    """A loss over one channel shown as R = G = B, so that grey inputs give a grey picture."""

    def terms(self, image: np.ndarray) -> dict[str, float]:
        return self.loss.terms(_rgb(image))

    def terms_and_gradient(self, image: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
        terms, gradient = self.loss.terms_and_gradient(_rgb(image))
        return terms, gradient.sum(axis=-1, keepdims=True)  # (H, W, 3) -> (H, W, 1)


def _rgb(image: np.ndarray) -> np.ndarray:
    """Return an (H, W, 1) grey image as (H, W, 3); an RGB image as it is."""
    return np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image


class _Tracker:
    """Keeps the best image seen, the history, and calls the user's callback each iteration."""

    def __init__(self, callback: Callback | None, frame_every: int, iterations_done: int):
        self.iterations_done = iterations_done  # the history numbers a resumed run's iterations on
        self.callback = callback
        self.frame_every = frame_every
        self.history: list[dict[str, float]] = []
        self.best_image: np.ndarray | None = None
        self.best_terms: dict[str, float] | None = None
        self.start = time.perf_counter()

    def offer(self, image: np.ndarray, terms: dict[str, float]) -> None:
        if not all(math.isfinite(v) for v in terms.values()):
            raise FloatingPointError(f"the loss became {terms['total']}")
        if self.best_terms is None or terms["total"] < self.best_terms["total"]:
            self.best_image, self.best_terms = image.copy(), dict(terms)

    def enter_phase(self, loss, evaluation_precision: str) -> None:
        """Switch the loss's precision; losses from before no longer pick the best image."""
        if evaluation_precision != loss.precision:
            loss.precision = evaluation_precision
            self.best_terms = None  # the image stays, in case the run ends before the next offer

    def iteration_done(self, image: np.ndarray, terms: dict[str, float]) -> None:
        iteration = len(self.history) + 1
        seconds = time.perf_counter() - self.start
        self.history.append(
            {"iteration": self.iterations_done + iteration, "seconds": seconds, **terms}
        )
        if self.callback is not None:
            wants_frame = self.frame_every > 0 and iteration % self.frame_every == 0
            frame = _rgb(np.clip(image, 0, 1)) if wants_frame else None
            self.callback(iteration, terms, frame)
        interrupts.check()  # after a whole iteration: the history ends on the best image


def _result(loss, x0, tracker: _Tracker, settings: Settings, stopped_because, failed=False):
    """Return the best image with its float32 terms (the starting image if no step was taken)."""
    if tracker.best_image is None:
        terms = loss.terms(x0)
        if not all(math.isfinite(value) for value in terms.values()):
            raise SettingsError(
                f"the loss is {terms['total']} at the starting image; lower the style weight "
                f"(beta = {settings.beta:g}) or the content weight (alpha = {settings.alpha:g})"
            )
        tracker.offer(x0, terms)
    image = np.clip(tracker.best_image, 0.0, 1.0)
    # The best image's terms are float32 only if the run ended in float32.
    ended_in_float32 = loss.precision == "float32" and tracker.best_terms
    return RunResult(
        image=_rgb(image),
        terms=tracker.best_terms if ended_in_float32 else loss.terms(image),
        history=tracker.history,
        stopped_because=stopped_because,
        failed=failed,
    )
