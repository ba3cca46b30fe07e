"""The paper in TensorFlow: Gram matrices, the losses (equations 1 to 7), the loss object, one run.

Images are float32 RGB arrays (H, W, 3) in [0, 1]; files are helper.py's business, the
network tensorflow_vgg's. What goes beyond the paper lives beside this module: the
optimiser and the precision schedule in optimisation/, coarse-to-fine and colour
preservation in going_further/.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

import helper
from optimisation import lbfgs, precisions
from optimisation.settings import Settings, SettingsError, blend_shares, check_image_side
from optimisation.settings import layer_weights as style_layer_weights
from optimisation.starts import initial_image
from tensorflow_vgg.vgg16_avg_pool import Vgg16

# Every run traces its own tf.function (its targets are constants), so after five runs in one
# process TensorFlow warns of "retracing": expected here, and noise in a notebook or a batch.
tf.get_logger().setLevel("ERROR")

# --- The paper's quantities ------------------------------------------------------------------


def gram_matrix(F: tf.Tensor) -> tf.Tensor:
    """Return G = F^T F of a feature map (1, H, W, N_l) as (N_l, N_l) (paper, eq. 3)."""
    N_l = tf.shape(F)[-1]
    F = tf.reshape(F, (-1, N_l))  # (1, H, W, N_l) -> (M_l, N_l)
    return tf.matmul(F, F, transpose_a=True)


def content_loss(F: tf.Tensor, P: tf.Tensor) -> tf.Tensor:
    """Return L_content = 1/2 * sum((F - P)^2) (paper, eq. 1)."""
    return 0.5 * tf.reduce_sum(tf.square(F - P))


def style_layer_loss(G: tf.Tensor, A: tf.Tensor, N_l: int, M_l: int) -> tf.Tensor:
    """Return E_l = sum((G - A)^2) / (4 N_l^2 M_l^2) (paper, eq. 4)."""
    return tf.reduce_sum(tf.square(G - A)) / (4.0 * float(N_l) ** 2 * float(M_l) ** 2)


def style_loss(E: Sequence[tf.Tensor], w: Sequence[float]) -> tf.Tensor:
    """Return L_style = sum_l w_l E_l (paper, eq. 5)."""
    return tf.add_n([w_l * E_l for E_l, w_l in zip(E, w)])


def total_loss(content, style, tv, settings: Settings) -> tf.Tensor:
    """Return alpha L_content + beta L_style (paper, eq. 7) + gamma L_tv."""
    return settings.alpha * content + settings.beta * style + settings.gamma * tv


def total_variation_loss(image: tf.Tensor) -> tf.Tensor:
    """Return the sum of squared differences between neighbouring pixels, in 0..255 units.

    Not in the paper: a small multiple of it removes the high-frequency noise that
    L-BFGS otherwise leaves in flat regions ("denoising").
    """
    image = image * 255.0
    dy = image[:, 1:, :, :] - image[:, :-1, :, :]
    dx = image[:, :, 1:, :] - image[:, :, :-1, :]
    return tf.reduce_sum(tf.square(dy)) + tf.reduce_sum(tf.square(dx))


def style_target(F_style: tf.Tensor, M_l: int) -> tf.Tensor:
    """Return the style Gram matrix A rescaled to M_l positions of the generated image.

    A Gram matrix sums over positions, so it grows with the image area. When the style
    image has M_s positions at a layer and the generated image M_l, we use
    A * M_l / M_s: the Gram of an image with the style's feature statistics at the
    generated image's size. E_l then equals sum((G/M_l - A/M_s)^2) / (4 N_l^2),
    the paper's definition exactly when the two sizes agree.
    """
    M_s = int(np.prod(F_style.shape[1:3]))
    return gram_matrix(F_style) * (M_l / M_s)


def as_style_list(style_image: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    """Return one style image or several as a list of style images."""
    return [style_image] if isinstance(style_image, np.ndarray) else list(style_image)


@functools.lru_cache(maxsize=2)
def network(weights_path: str | None = None) -> Vgg16:
    """Return the average-pool VGG16 for a weights file, built once per process."""
    return Vgg16(weights_path)


# --- The loss with its targets ---------------------------------------------------------------


class StyleTransferLoss:
    """The total loss of equation 7 for one image size, with its targets P and A computed once.

    Calling it gives every term of a batch of one image (1, H, W, 3) as tensors;
    `terms` and `terms_and_gradient` take and give NumPy, each one traced `tf.function`.
    `precision` ("float32" or "bfloat16", settable between evaluations) is the format of
    `terms_and_gradient`'s convolutions; the targets and `terms` are always float32.
    """

    def __init__(
        self,
        net: Vgg16,
        content_image: np.ndarray,
        style_images: np.ndarray | Sequence[np.ndarray],
        settings: Settings | None = None,
        precision: str = "float32",
    ):
        self.settings = settings or Settings()
        self.content_layers = list(self.settings.content_layers)
        self.style_layers = list(self.settings.style_layers)
        self.w_l = style_layer_weights(self.style_layers, self.settings.layer_weights)
        self.shape = tuple(content_image.shape)
        self._net = net
        self._layers = self.settings.layers
        style_list = as_style_list(style_images)
        for name, image in [("content", content_image)] + [("style", s) for s in style_list]:
            check_image_side(f"the {name} image", *image.shape[:2], self._layers)
        # One pass of the content image gives P and the size of every style layer.
        content_features = net(content_image[None], self._layers)
        self.P = {name: tf.constant(content_features[name]) for name in self.content_layers}
        self.M_l = {
            name: int(np.prod(content_features[name].shape[1:3])) for name in self.style_layers
        }
        self.N_l = {name: int(content_features[name].shape[-1]) for name in self.style_layers}
        self.A = self._blended_style_targets(style_list, self.settings.style_blend)
        self._spec = tf.TensorSpec((1, *self.shape), tf.float32)
        self._traced: dict[str, Callable] = {}  # terms and gradient per precision, traced once
        self.precision = precision
        self._terms = tf.function(
            self.__call__, input_signature=[self._spec], jit_compile=self.settings.jit_compile
        )

    @property
    def precision(self) -> str:
        """The format of the convolutions in `terms_and_gradient`: "float32" or "bfloat16"."""
        return self._precision

    @precision.setter
    def precision(self, value: str) -> None:
        if value not in precisions.EVALUATION_PRECISIONS:
            choices = ", ".join(precisions.EVALUATION_PRECISIONS)
            raise SettingsError(f"unknown evaluation precision {value!r}; choose one of {choices}")
        if value not in self._traced:
            self._traced[value] = tf.function(
                lambda image: self._terms_and_gradient(image, tf.as_dtype(value)),
                input_signature=[self._spec],
                jit_compile=self.settings.jit_compile,
            )
        self._precision = value

    def _blended_style_targets(self, style_list, blend) -> dict[str, tf.Tensor]:
        blend = blend_shares(len(style_list), blend)
        A = {name: tf.zeros((self.N_l[name], self.N_l[name])) for name in self.style_layers}
        for image, share in zip(style_list, blend):
            features = self._net(image[None], self.style_layers)
            for name in self.style_layers:
                A[name] = A[name] + share * style_target(features[name], self.M_l[name])
        return {name: tf.constant(value) for name, value in A.items()}

    def __call__(
        self, image: tf.Tensor, compute_dtype: tf.DType = tf.float32
    ) -> dict[str, tf.Tensor]:
        """Return every loss term of a batch of one image (1, H, W, 3): equations 1, 4, 5, 7."""
        features = self._net(image, self._layers, compute_dtype)
        content = tf.add_n([content_loss(features[n], self.P[n]) for n in self.content_layers])
        E = {
            name: style_layer_loss(
                gram_matrix(features[name]), self.A[name], self.N_l[name], self.M_l[name]
            )
            for name in self.style_layers
        }
        style = style_loss([E[name] for name in self.style_layers], self.w_l)
        tv = total_variation_loss(image)
        total = total_loss(content, style, tv, self.settings)
        terms = {"total": total, "content": content, "style": style, "tv": tv}
        terms.update({f"style_{name}": value for name, value in E.items()})
        return terms

    def _terms_and_gradient(self, image: tf.Tensor, compute_dtype: tf.DType):
        with tf.GradientTape() as tape:
            tape.watch(image)
            terms = self(image, compute_dtype)
        return terms, tape.gradient(terms["total"], image)

    def terms_and_gradient(self, image: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
        """Return the loss terms as floats and d(total)/d(image) as (H, W, 3) float32."""
        terms, gradient = self._traced[self._precision](tf.constant(image[None], tf.float32))
        return {k: float(v) for k, v in terms.items()}, gradient.numpy()[0]

    def terms(self, image: np.ndarray) -> dict[str, float]:
        """Return the float32 loss terms of an image (H, W, 3) as floats."""
        return {k: float(v) for k, v in self._terms(tf.constant(image[None], tf.float32)).items()}


# --- Optimisation ----------------------------------------------------------------------------


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


Callback = Callable[[int, dict[str, float], "np.ndarray | None"], None]


class _Tracker:
    """Keeps the best image seen, the history, and calls the user's callback each iteration."""

    def __init__(self, callback: Callback | None, frame_every: int):
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

    def enter_phase(self, loss: StyleTransferLoss, evaluation_precision: str) -> None:
        """Switch the loss's precision; losses from before no longer pick the best image."""
        if evaluation_precision != loss.precision:
            loss.precision = evaluation_precision
            self.best_terms = None  # the image stays, in case the run ends before the next offer

    def iteration_done(self, image: np.ndarray, terms: dict[str, float]) -> None:
        iteration = len(self.history) + 1
        self.history.append(
            {"iteration": iteration, "seconds": time.perf_counter() - self.start, **terms}
        )
        if self.callback is not None:
            wants_frame = self.frame_every > 0 and iteration % self.frame_every == 0
            self.callback(iteration, terms, np.clip(image, 0, 1) if wants_frame else None)


def _run_lbfgs(loss: StyleTransferLoss, x0: np.ndarray, phases, tracker: _Tracker) -> str | None:
    """Run L-BFGS through the phases; return why it stopped early, or None."""
    grey = x0.ndim == 3 and x0.shape[-1] == 1  # one channel, shown as R = G = B
    shape = x0.shape

    def as_image(x: np.ndarray) -> np.ndarray:
        image = x.reshape(shape)
        return np.repeat(image, 3, axis=-1) if grey else image

    last = {}

    def loss_and_gradient(x: np.ndarray):
        image = as_image(x)
        terms, gradient = loss.terms_and_gradient(image)
        tracker.offer(image, terms)
        last["terms"] = terms
        return terms["total"], (gradient.sum(axis=-1) if grey else gradient).ravel()

    def on_iteration(x: np.ndarray, total: float):
        tracker.iteration_done(as_image(x), last["terms"])  # terms of the accepted x

    # One memory for every phase: the pairs from bfloat16 still describe the curvature.
    history = lbfgs.Memory(loss.settings.lbfgs_memory or lbfgs.pairs_for(x0.size))
    x = x0
    for evaluation_precision, count in phases:
        tracker.enter_phase(loss, evaluation_precision)  # minimize re-evaluates x first
        minimum = lbfgs.minimize(
            loss_and_gradient, x, count, on_iteration=on_iteration, history=history
        )
        if minimum.stopped_because:
            return minimum.stopped_because
        x = minimum.x
    return None


def _adam_step(loss: StyleTransferLoss, image: tf.Variable, optimizer, grey: bool) -> Callable:
    """Return one Adam step in a `tf.function`, evaluating in the loss's current precision."""
    evaluate = loss._traced[loss.precision]

    @tf.function
    def step():
        terms, gradient = evaluate(tf.convert_to_tensor(image))
        optimizer.apply_gradients([(gradient, image)])
        image.assign(tf.clip_by_value(image, 0.0, 1.0))
        if grey:  # keep R = G = B
            image.assign(tf.repeat(tf.reduce_mean(image, axis=-1, keepdims=True), 3, axis=-1))
        return terms

    return step


def _run_adam(loss: StyleTransferLoss, x0: np.ndarray, phases, tracker: _Tracker) -> None:
    grey = x0.shape[-1] == 1
    image = tf.Variable(np.repeat(x0, 3, axis=-1)[None] if grey else x0[None])
    optimizer = tf.keras.optimizers.Adam(learning_rate=loss.settings.learning_rate)
    for evaluation_precision, count in phases:
        tracker.enter_phase(loss, evaluation_precision)  # the next step offers the image first
        step = _adam_step(loss, image, optimizer, grey)
        for _ in range(count):
            before = image.numpy()[0]
            terms = {k: float(v) for k, v in step().items()}
            tracker.offer(before, terms)
            tracker.iteration_done(image.numpy()[0], terms)


def run_style_transfer(
    content_image: np.ndarray,
    style_image: np.ndarray | Sequence[np.ndarray],
    settings: Settings | None = None,
    *,
    net: Vgg16 | None = None,
    loss: StyleTransferLoss | None = None,
    callback: Callback | None = None,
    frame_every: int = 0,
    initial: np.ndarray | None = None,
    iterations_done: int = 0,
) -> RunResult:
    """Optimise an image to match the content of one image and the style of others (paper, §2).

    Returns the lowest-loss image seen. A non-finite loss ends the run early and still
    returns it (`failed`); so does an optimiser that no step can take further
    (`stopped_because` says why). Ctrl-C raises Interrupted, which holds that image.
    `callback(iteration, terms, image)` is called after every iteration, with the image
    every `frame_every` iterations. Where evaluations run in bfloat16 the history holds the
    losses the optimiser saw; `terms` is always the float32 loss of the returned image. A
    resumed run passes the image it stopped at as `initial` and the iterations it did as
    `iterations_done`. When the photo and every painting are grey, so is the picture: one
    channel is optimised and shown as R = G = B. `loss` replaces the StyleTransferLoss the
    run would build: another evaluation of the same loss (going_further/tiling.py).
    """
    settings = settings or Settings()
    if not isinstance(iterations_done, int) or not 0 <= iterations_done < settings.iterations:
        raise SettingsError(
            f"iterations_done must be a whole number from 0 to {settings.iterations - 1}, "
            f"not {iterations_done!r}"
        )
    resolved = precisions.resolve(settings.precision)
    phases = precisions.phases(resolved, settings.iterations, iterations_done)
    styles = as_style_list(style_image)
    if loss is None:
        loss = StyleTransferLoss(net or network(), content_image, styles, settings, phases[0][0])
    loss.precision = phases[0][0]
    if initial is None:
        initial = initial_image(
            settings.init, content_image, styles, settings.seed, settings.style_blend
        )
    if all(helper.is_grey(image) for image in [content_image, *styles]):
        initial = initial.mean(axis=-1, keepdims=True)
    tracker = _Tracker(callback, frame_every)
    try:
        run = _run_lbfgs if settings.optimizer == "lbfgs" else _run_adam
        reason = run(loss, initial, phases, tracker)
    except KeyboardInterrupt:
        raise Interrupted(_result(loss, initial, tracker, "interrupted")) from None
    except FloatingPointError as error:
        return _result(loss, initial, tracker, f"stopped: {error}", failed=True)
    if reason is None:
        return _result(loss, initial, tracker, "finished")
    done = iterations_done + len(tracker.history)
    verb = "converged" if reason == lbfgs.CONVERGED else "stopped"
    return _result(
        loss, initial, tracker, f"{verb} at iteration {done} of {settings.iterations}: {reason}"
    )


def _result(loss, x0, tracker: _Tracker, stopped_because: str, failed=False) -> RunResult:
    """Return the best image with its float32 terms (the starting image if no step was taken)."""
    if tracker.best_image is None:
        x0 = np.repeat(x0, 3, axis=-1) if x0.shape[-1] == 1 else x0
        terms = loss.terms(x0)
        if not all(math.isfinite(value) for value in terms.values()):
            raise SettingsError(
                f"the loss is {terms['total']} at the starting image; lower the style weight "
                f"(beta = {loss.settings.beta:g}) or the content weight "
                f"(alpha = {loss.settings.alpha:g})"
            )
        tracker.offer(x0, terms)
    image = np.clip(tracker.best_image, 0.0, 1.0)
    # The best image's terms are float32 only if the run ended in float32.
    ended_in_float32 = loss.precision == "float32" and tracker.best_terms
    return RunResult(
        image=image,
        terms=tracker.best_terms if ended_in_float32 else loss.terms(image),
        history=tracker.history,
        stopped_because=stopped_because,
        failed=failed,
    )
