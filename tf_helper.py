"""The model side of style transfer: activations, Gram matrices, the paper's losses, optimisation.

Images are float32 RGB arrays (H, W, 3) in [0, 1]; file handling lives in helper.py.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

import lbfgs
import precisions
from tensorflow_vgg.vgg16_avg_pool import LAYER_ORDER, Vgg16, check_layer_names, minimum_image_side

DEFAULT_CONTENT_LAYERS = ("conv4_2",)
DEFAULT_STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
INITS = ("noise", "content", "recolored", "style")
PRECISIONS = precisions.PRECISIONS  # see precisions.py
OPTIMIZERS = ("lbfgs", "adam")


class SettingsError(ValueError):
    """A run setting (weight, size, iteration count, option value) that cannot be used."""


# --- The paper's quantities --------------------------------------------------------------


def gram_matrix(F: tf.Tensor) -> tf.Tensor:
    """Return the Gram matrix G = F^T F of a feature map (1, H, W, N_l) as (N_l, N_l)."""
    N_l = tf.shape(F)[-1]
    F = tf.reshape(F, (-1, N_l))  # (1, H, W, N_l) -> (M_l, N_l)
    return tf.matmul(F, F, transpose_a=True)


def content_loss(F: tf.Tensor, P: tf.Tensor) -> tf.Tensor:
    """Return the content loss 1/2 * sum((F - P)^2) (paper, eq. 1)."""
    return 0.5 * tf.reduce_sum(tf.square(F - P))


def style_layer_loss(G: tf.Tensor, A: tf.Tensor, N_l: int, M_l: int) -> tf.Tensor:
    """Return E_l = sum((G - A)^2) / (4 N_l^2 M_l^2) (paper, eq. 4)."""
    return tf.reduce_sum(tf.square(G - A)) / (4.0 * float(N_l) ** 2 * float(M_l) ** 2)


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


# --- Settings ----------------------------------------------------------------------------


FLOAT32_MAX = float(np.finfo(np.float32).max)


def _positive(name: str, value, allow_zero: bool = True) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{name} must be a number, not {value!r}") from None
    if not math.isfinite(number) or number < 0 or (number == 0 and not allow_zero):
        need = "zero or more" if allow_zero else "more than zero"
        raise SettingsError(f"{name} must be a finite number {need}, not {value!r}")
    if number > FLOAT32_MAX:  # the loss is float32: such a weight makes it infinite at once
        raise SettingsError(f"{name} must be at most {FLOAT32_MAX:.3g} (float32), not {value!r}")
    return number


def as_style_list(style_image: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    """Return one style image or several as a list of style images."""
    return [style_image] if isinstance(style_image, np.ndarray) else list(style_image)


def blend_shares(count: int, blend: Sequence[float] | None) -> list[float]:
    """Return the style blend as shares summing to 1 (equal shares when `blend` is None)."""
    if blend is None:
        return [1.0 / count] * count
    if len(blend) != count:
        raise SettingsError(f"{len(blend)} blend weights given for {count} style images")
    blend = [_positive("style blend weight", b) for b in blend]
    if sum(blend) <= 0:
        raise SettingsError("the style blend weights must not all be zero")
    return [b / sum(blend) for b in blend]


@dataclass
class LossWeights:
    """The weights alpha (content), beta (style) and gamma (total variation) of the total loss."""

    alpha: float = 1.0
    beta: float = 1e3
    gamma: float = 1e-3

    def __post_init__(self):
        self.alpha = _positive("content weight (alpha)", self.alpha)
        self.beta = _positive("style weight (beta)", self.beta)
        self.gamma = _positive("total-variation weight (gamma)", self.gamma)


def style_layer_weights(layers: Sequence[str], weights: Sequence[float] | None) -> list[float]:
    """Return w_l for each style layer: equal weights 1/L by default."""
    if weights is None:
        return [1.0 / len(layers)] * len(layers)
    if len(weights) != len(layers):
        raise SettingsError(f"{len(weights)} style layer weights given for {len(layers)} layers")
    return [_positive(f"weight of {name}", w) for name, w in zip(layers, weights)]


# --- The loss with its targets -----------------------------------------------------------


class StyleTransferLoss:
    """The total loss alpha * L_content + beta * L_style + gamma * L_tv for one image size.

    The targets (P for the content layers, A for the style layers) are computed once
    here; `terms_and_gradient` runs in one `tf.function`. XLA (`jit_compile=True`) is off by
    default: on a 2-core CPU TensorFlow's oneDNN kernels were as fast per evaluation and
    need no compile time (see benchmarks/). `precision` ("float32" or "bfloat16", settable
    between evaluations) is the format of `terms_and_gradient`'s convolutions; the targets
    and `terms` are always float32.
    """

    def __init__(
        self,
        net: Vgg16,
        content_image: np.ndarray,
        style_images: np.ndarray | Sequence[np.ndarray],
        *,
        content_layers: Sequence[str] = DEFAULT_CONTENT_LAYERS,
        style_layers: Sequence[str] = DEFAULT_STYLE_LAYERS,
        layer_weights: Sequence[float] | None = None,
        style_blend: Sequence[float] | None = None,
        weights: LossWeights | None = None,
        jit_compile: bool = False,
        precision: str = "float32",
    ):
        self.content_layers = check_layer_names(content_layers)
        self.style_layers = check_layer_names(style_layers)
        self.w_l = style_layer_weights(self.style_layers, layer_weights)
        self.weights = weights or LossWeights()
        self.shape = tuple(content_image.shape)
        self._net = net
        self._layers = sorted(
            set(self.content_layers) | set(self.style_layers), key=LAYER_ORDER.index
        )
        smallest = minimum_image_side(self._layers)
        style_list = as_style_list(style_images)
        for name, image in [("content", content_image)] + [("style", s) for s in style_list]:
            if min(image.shape[:2]) < smallest:
                raise SettingsError(
                    f"the {name} image is {image.shape[1]}x{image.shape[0]} px; the layers "
                    f"{', '.join(self._layers)} need at least {smallest} px on each side"
                )
        # One pass of the content image gives P and the size of every style layer.
        content_features = net(content_image[None], self._layers)
        self.P = {name: tf.constant(content_features[name]) for name in self.content_layers}
        self.M_l = {
            name: int(np.prod(content_features[name].shape[1:3])) for name in self.style_layers
        }
        self.N_l = {name: int(content_features[name].shape[-1]) for name in self.style_layers}
        self.A = self._blended_style_targets(style_list, style_blend)
        self._spec = tf.TensorSpec((1, *self.shape), tf.float32)
        self._jit_compile = jit_compile
        self._traced: dict[str, Callable] = {}  # terms_and_gradient per precision, traced once
        self.precision = precision
        self._terms = tf.function(
            self.terms_eager, input_signature=[self._spec], jit_compile=jit_compile
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
                lambda image: self._terms_and_gradient_eager(image, tf.as_dtype(value)),
                input_signature=[self._spec],
                jit_compile=self._jit_compile,
            )
        self._precision = value

    @property
    def traced_terms_and_gradient(self) -> Callable:
        """The `tf.function` behind `terms_and_gradient` for the current precision."""
        return self._traced[self._precision]

    def _blended_style_targets(self, style_list, blend) -> dict[str, tf.Tensor]:
        blend = blend_shares(len(style_list), blend)
        A = {name: tf.zeros((self.N_l[name], self.N_l[name])) for name in self.style_layers}
        for image, share in zip(style_list, blend):
            features = self._net(image[None], self.style_layers)
            for name in self.style_layers:
                A[name] = A[name] + share * style_target(features[name], self.M_l[name])
        return {name: tf.constant(value) for name, value in A.items()}

    def terms_eager(
        self, image: tf.Tensor, compute_dtype: tf.DType = tf.float32
    ) -> dict[str, tf.Tensor]:
        """Return every loss term for a batch of one image (1, H, W, 3)."""
        features = self._net(image, self._layers, compute_dtype)
        content = tf.add_n([content_loss(features[n], self.P[n]) for n in self.content_layers])
        per_layer = {
            name: style_layer_loss(
                gram_matrix(features[name]), self.A[name], self.N_l[name], self.M_l[name]
            )
            for name in self.style_layers
        }
        style = tf.add_n([w * per_layer[name] for name, w in zip(self.style_layers, self.w_l)])
        tv = total_variation_loss(image)
        total = self.weights.alpha * content + self.weights.beta * style + self.weights.gamma * tv
        terms = {"total": total, "content": content, "style": style, "tv": tv}
        terms.update({f"style_{name}": value for name, value in per_layer.items()})
        return terms

    def _terms_and_gradient_eager(self, image: tf.Tensor, compute_dtype: tf.DType):
        with tf.GradientTape() as tape:
            tape.watch(image)
            terms = self.terms_eager(image, compute_dtype)
        return terms, tape.gradient(terms["total"], image)

    def terms_and_gradient(self, image: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
        """Return the loss terms as floats and d(total)/d(image) as (H, W, 3) float32."""
        image = tf.constant(image[None], tf.float32)
        terms, gradient = self.traced_terms_and_gradient(image)
        return {k: float(v) for k, v in terms.items()}, gradient.numpy()[0]

    def terms(self, image: np.ndarray) -> dict[str, float]:
        """Return the loss terms of an image (H, W, 3) as floats."""
        return {k: float(v) for k, v in self._terms(tf.constant(image[None], tf.float32)).items()}


# --- Optimisation ------------------------------------------------------------------------


@dataclass
class RunResult:
    """What a run returns: the best image, its loss terms and the per-iteration history."""

    image: np.ndarray
    terms: dict[str, float]
    history: list[dict[str, float]] = field(default_factory=list)
    stopped_because: str = "finished"


Callback = Callable[[int, dict[str, float], "np.ndarray | None"], None]


def initial_image(
    init: str,
    content_image: np.ndarray,
    style_image: np.ndarray | Sequence[np.ndarray],
    seed: int | None,
    style_blend: Sequence[float] | None = None,
) -> np.ndarray:
    """Return the starting image: white noise, the content image, it recoloured, or the style.

    "recolored" is the content image with the style images' colour mean and covariance
    (pooled with the blend's shares): the layout of the photo in the painting's palette,
    which the style loss would otherwise spend the first iterations on. "style" is the
    first style image.
    """
    styles = as_style_list(style_image)
    if init == "noise":
        rng = np.random.default_rng(seed)
        return rng.uniform(0.0, 1.0, content_image.shape).astype(np.float32)
    if init == "content":
        return content_image.astype(np.float32).copy()
    if init == "recolored":
        import color

        shares = blend_shares(len(styles), style_blend)
        return color.match_color_moments(content_image, *color.color_moments(styles, shares))
    if init == "style":
        import helper

        return helper.resize(styles[0], *content_image.shape[:2])
    raise SettingsError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")


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

    def forget_best(self) -> None:
        """Let the next image offered replace the best: losses in another precision do not compare."""
        self.best_terms = None  # the image stays, in case the run ends before the next offer

    def iteration_done(self, image: np.ndarray, terms: dict[str, float]) -> None:
        iteration = len(self.history) + 1
        self.history.append(
            {"iteration": iteration, "seconds": time.perf_counter() - self.start, **terms}
        )
        if self.callback is not None:
            wants_frame = self.frame_every > 0 and iteration % self.frame_every == 0
            self.callback(iteration, terms, np.clip(image, 0, 1) if wants_frame else None)


def _enter_phase(loss: StyleTransferLoss, tracker: _Tracker, evaluation_precision: str) -> None:
    """Switch the loss to `evaluation_precision`; losses from before no longer pick the best."""
    if evaluation_precision != loss.precision:
        loss.precision = evaluation_precision
        tracker.forget_best()


def _run_lbfgs(
    loss: StyleTransferLoss,
    x0: np.ndarray,
    phases: list[tuple[str, int]],
    tracker: _Tracker,
    memory: int | None,
):
    shape = x0.shape
    last = {}

    def loss_and_gradient(x: np.ndarray):
        image = x.reshape(shape)
        terms, gradient = loss.terms_and_gradient(image)
        tracker.offer(image, terms)
        last["terms"] = terms
        return terms["total"], gradient.ravel()

    def on_iteration(x: np.ndarray, total: float):
        tracker.iteration_done(x.reshape(shape), last["terms"])  # terms of the accepted x

    # One memory for every phase: the pairs from bfloat16 still describe the curvature.
    history = lbfgs.Memory(memory or lbfgs.pairs_for(x0.size))
    x = x0
    for evaluation_precision, count in phases:
        _enter_phase(loss, tracker, evaluation_precision)  # minimize re-evaluates x first
        x, _ = lbfgs.minimize(loss_and_gradient, x, count, on_iteration=on_iteration, history=history)  # fmt: skip


def _adam_step(loss: StyleTransferLoss, image: tf.Variable, optimizer) -> Callable:
    """Return one Adam step in a `tf.function`, evaluating in the loss's current precision."""
    evaluate = loss.traced_terms_and_gradient

    @tf.function
    def step():
        terms, gradient = evaluate(tf.convert_to_tensor(image))
        optimizer.apply_gradients([(gradient, image)])
        image.assign(tf.clip_by_value(image, 0.0, 1.0))
        return terms

    return step


def _run_adam(
    loss: StyleTransferLoss,
    x0: np.ndarray,
    phases: list[tuple[str, int]],
    tracker: _Tracker,
    learning_rate: float,
):
    image = tf.Variable(x0[None])
    optimizer = tf.keras.optimizers.Adam(learning_rate=learning_rate)
    for evaluation_precision, count in phases:
        _enter_phase(loss, tracker, evaluation_precision)  # the next step offers the image first
        step = _adam_step(loss, image, optimizer)
        for _ in range(count):
            before = image.numpy()[0]
            terms = {k: float(v) for k, v in step().items()}
            tracker.offer(before, terms)
            tracker.iteration_done(image.numpy()[0], terms)


def run_style_transfer(
    content_image: np.ndarray,
    style_image: np.ndarray | Sequence[np.ndarray],
    *,
    net: Vgg16 | None = None,
    iterations: int = 300,
    optimizer: str = "lbfgs",
    init: str = "recolored",
    seed: int | None = 0,
    weights: LossWeights | None = None,
    content_layers: Sequence[str] = DEFAULT_CONTENT_LAYERS,
    style_layers: Sequence[str] = DEFAULT_STYLE_LAYERS,
    layer_weights: Sequence[float] | None = None,
    style_blend: Sequence[float] | None = None,
    learning_rate: float = 0.02,
    lbfgs_memory: int | None = None,
    callback: Callback | None = None,
    frame_every: int = 0,
    initial: np.ndarray | None = None,
    jit_compile: bool = False,
    precision: str = "auto",
    iterations_done: int = 0,
) -> RunResult:
    """Optimise an image to match the content of one image and the style of another.

    Returns the lowest-loss image seen; Ctrl-C or a non-finite loss ends the run early
    and still returns it (`stopped_because` says why). `precision` is one of
    precisions.PRECISIONS; where evaluations run in bfloat16 the history holds the losses
    the optimiser saw, and `terms` is always the float32 loss of the returned image.
    A resumed run passes the image it stopped at as `initial` and the iterations it did as
    `iterations_done`; it then runs the remaining `iterations - iterations_done`.
    """
    if optimizer not in OPTIMIZERS:
        raise SettingsError(
            f"unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}"
        )
    if init not in INITS:
        raise SettingsError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
    if not isinstance(iterations, int) or iterations < 1:
        raise SettingsError(f"iterations must be a whole number of at least 1, not {iterations!r}")
    if not isinstance(iterations_done, int) or not 0 <= iterations_done < iterations:
        raise SettingsError(
            f"iterations_done must be a whole number from 0 to {iterations - 1}, "
            f"not {iterations_done!r}"
        )
    try:
        phases = precisions.phases(precisions.resolve(precision), iterations, iterations_done)
    except precisions.PrecisionError as error:
        raise SettingsError(str(error)) from None
    net = net or Vgg16()
    styles = as_style_list(style_image)
    loss = StyleTransferLoss(
        net, content_image, styles, content_layers=content_layers, style_layers=style_layers,
        layer_weights=layer_weights, style_blend=style_blend, weights=weights,
        jit_compile=jit_compile, precision=phases[0][0],
    )  # fmt: skip
    x0 = (
        initial
        if initial is not None
        else initial_image(init, content_image, styles, seed, style_blend)
    )
    tracker = _Tracker(callback, frame_every)
    stopped_because = "finished"
    try:
        if optimizer == "lbfgs":
            _run_lbfgs(loss, x0, phases, tracker, lbfgs_memory)
        else:
            _run_adam(loss, x0, phases, tracker, learning_rate)
    except KeyboardInterrupt:
        stopped_because = "interrupted"
    except FloatingPointError as error:
        stopped_because = f"stopped: {error}"
    if tracker.best_image is None:
        terms = loss.terms(x0)
        if not all(math.isfinite(value) for value in terms.values()):
            raise SettingsError(
                f"the loss is {terms['total']} at the starting image; lower the style weight "
                f"(beta = {loss.weights.beta:g}) or the content weight (alpha = {loss.weights.alpha:g})"
            )
        tracker.offer(x0, terms)
    image = np.clip(tracker.best_image, 0.0, 1.0)
    return RunResult(
        image=image,
        # The best image's terms are float32 only if the run ended in float32.
        terms=tracker.best_terms
        if loss.precision == "float32" and tracker.best_terms
        else loss.terms(image),
        history=tracker.history,
        stopped_because=stopped_because,
    )


def carry_to_finer_scale(
    coarse_result: np.ndarray, coarse_content: np.ndarray, fine_content: np.ndarray
) -> np.ndarray:
    """Return the fine content image plus the upsampled change the coarse run made to it.

    Upsampling the coarse result itself would start the finer scale blurred, far above
    the content image's loss; adding only the coarse change keeps the content's fine
    detail and carries over the colours and large shapes the style has painted.
    """
    change = tf.constant(coarse_result - coarse_content)  # (h, w, 3), values in [-1, 1]
    upsampled = tf.image.resize(change, fine_content.shape[:2], method="bicubic").numpy()
    return np.clip(fine_content + upsampled, 0.0, 1.0).astype(np.float32)


def run_coarse_to_fine(
    content_image: np.ndarray,
    style_image: np.ndarray | Sequence[np.ndarray],
    *,
    sizes: Sequence[int],
    iterations: Sequence[int],
    style_scale: float = 1.0,
    net: Vgg16 | None = None,
    init: str = "recolored",
    seed: int | None = 0,
    callback: Callback | None = None,
    frame_every: int = 0,
    **options,
) -> RunResult:
    """Optimise at growing sizes (longest sides), each scale starting from the one before.

    `content_image` is the full-size content; each scale resizes it, and the style image
    to the same pixel area times `style_scale`**2. The last size should be the content's.
    Iterations number on across scales; frames given to `callback` are full-size.
    """
    import helper

    if len(sizes) != len(iterations) or not sizes:
        raise SettingsError(f"{len(sizes)} sizes given with {len(iterations)} iteration counts")
    net = net or Vgg16()
    styles = as_style_list(style_image)
    full_shape = content_image.shape[:2]
    history: list[dict[str, float]] = []
    previous = None  # (result, content) of the last scale
    result = None
    initial = options.pop("initial", None)  # where the first scale starts (a resumed run)
    for size, count in zip(sizes, iterations):
        content = helper.resize_to_longest_side(content_image, size)
        scaled_styles = [helper.match_style_scale(s, content, style_scale) for s in styles]
        start = initial if previous is None else carry_to_finer_scale(*previous, content)
        done = len(history)

        def forward(iteration, terms, image, done=done):
            if image is not None and image.shape[:2] != full_shape:
                image = tf.image.resize(image, full_shape, method="bicubic").numpy()
            if callback is not None:
                callback(done + iteration, terms, image)

        result = run_style_transfer(
            content, scaled_styles, net=net, iterations=count, init=init, seed=seed,
            initial=start, callback=forward, frame_every=frame_every, **options,
        )  # fmt: skip
        elapsed = history[-1]["seconds"] if history else 0.0
        history += [
            {
                **row,
                "iteration": row["iteration"] + done,
                "seconds": row["seconds"] + elapsed,
                "size": size,
            }
            for row in result.history
        ]
        previous = (result.image, content)
        if result.stopped_because != "finished":
            break
    if result.image.shape[:2] != full_shape:  # stopped early at a coarser scale
        result.image = carry_to_finer_scale(*previous, content_image)
    result.history = history
    return result


def stylize(
    content_image: np.ndarray,
    style_image: np.ndarray | Sequence[np.ndarray],
    *,
    sizes: Sequence[int] | None = None,
    iterations: Sequence[int] | int = 300,
    preserve_colors: str | None = None,
    style_scale: float = 1.0,
    **options,
) -> RunResult:
    """Paint `content_image` (at its final size) in the style of one or more style images.

    `sizes` and `iterations` give the coarse-to-fine schedule (one size: single scale).
    `preserve_colors` = "luminance" transfers only luminance and keeps the content's
    colours; "histogram" first gives the style images the content's colour statistics.
    Other options go to `run_style_transfer` (weights, init, optimizer, callback, ...).
    """
    import color

    styles = as_style_list(style_image)
    style_scale = _positive("style scale", style_scale, allow_zero=False)
    if preserve_colors not in (None, *color.COLOR_MODES):
        raise SettingsError(
            f"unknown colour mode {preserve_colors!r}; choose one of {', '.join(color.COLOR_MODES)}"
        )
    target = content_image
    if preserve_colors == "histogram":
        styles = [color.match_color_histogram(s, content_image) for s in styles]
    elif preserve_colors == "luminance":
        target = color.luminance_image(content_image)
        styles = [color.match_luminance(s, content_image) for s in styles]
    longest = max(content_image.shape[:2])
    sizes = list(sizes) if sizes else [longest]
    counts = [iterations] * len(sizes) if isinstance(iterations, int) else list(iterations)
    result = run_coarse_to_fine(
        target, styles, sizes=sizes, iterations=counts, style_scale=style_scale, **options
    )
    if preserve_colors == "luminance":
        result.image = color.restore_content_colors(result.image, content_image)
    return result
