"""The loss interface: what a run (tf_run.py) needs of a loss, whatever evaluates it.

The whole picture's loss (tf_helper.StyleTransferLoss, a TracedLoss) and the tiled one
(going_further/tiling.py) both satisfy it. TracedLoss evaluates a loss written as a
TensorFlow function of the image: traced once per precision for all the losses that trace
alike, its gradient by a tape.
"""

from __future__ import annotations

import copy
import math
from collections import OrderedDict

import numpy as np
import tensorflow as tf

from loss_settings import LossSettings, SettingsError, choice, layer_weights
from optimisation import precisions
from tensorflow_vgg.vgg16_avg_pool import check_bfloat16


def boosted_total(terms: dict, boost):
    """Return the total of equation 7 with its content term weighed `boost` times (floats or
    tensors alike): the total itself at 1."""
    return terms["total"] + (boost - 1.0) * terms["weighted_content"]


class Loss:
    """The loss of equation 7 for one image shape: what a run (tf_run.py) needs of it.

    `terms(image)` gives every term as floats (float32 arithmetic); `terms_and_gradient`
    gives them with d(objective)/d(image) (H, W, 3), its convolutions in `precision`
    ("float32" or "bfloat16", settable between evaluations); the objective is the total
    unless `content_boost` is set above 1. Terms: `total`, `content`,
    `style`, `tv`, `style_<layer>` (E_l), and each weighted: `weighted_content` (alpha
    L_content), `weighted_style`, `weighted_tv`, `weighted_style_<layer>` (beta w_l E_l),
    as tf_helper.weighted_terms gives them.
    """

    def __init__(self, content_image: np.ndarray, settings: LossSettings | None):
        self.settings = settings or LossSettings()
        self.content_layers = list(self.settings.content_layers)
        self.style_layers = list(self.settings.style_layers)
        self.layers = self.settings.layers
        self.w_l = layer_weights(self.style_layers, self.settings.layer_weights)
        self.shape = tuple(content_image.shape)
        self._precision = "float32"
        self._content_boost = 1.0

    @property
    def precision(self) -> str:
        """The format of the convolutions in `terms_and_gradient`: "float32" or "bfloat16"."""
        return self._precision

    @precision.setter
    def precision(self, value: str) -> None:
        choice("evaluation precision", value, precisions.EVALUATION_PRECISIONS)
        if value == "bfloat16":
            check_bfloat16()  # here, before a trace, which would wrap its error in its own
        self._precision = value

    @property
    def content_boost(self) -> float:
        """How many times alpha the gradient weighs the content term: 1 (equation 7) but in a
        run's first iterations (optimisation/content_boost.py); settable between evaluations."""
        return self._content_boost

    @content_boost.setter
    def content_boost(self, value: float) -> None:
        if not (isinstance(value, (int, float)) and 1 <= value < math.inf):
            raise SettingsError(f"the content boost must be a number of at least 1, not {value!r}")
        self._content_boost = float(value)

    def objective(self, terms: dict[str, float]) -> float:
        """Return the loss that `terms_and_gradient`'s gradient is of (`boosted_total`)."""
        return boosted_total(terms, self.content_boost)

    def terms(self, image: np.ndarray) -> dict[str, float]:
        """Return the float32 loss terms of an image (H, W, 3) as floats."""
        raise NotImplementedError

    def terms_and_gradient(self, image: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
        """Return the loss terms as floats and d(objective)/d(image) as (H, W, 3) float32."""
        raise NotImplementedError


# The traced evaluations of every TracedLoss, shared by the losses that trace alike; the
# KEPT_TRACES used last stay (a run uses up to three: one per precision, and float32 `terms`).
# A trace takes about 0.4 s and holds about 8 MiB at 64 px, and one let go is freed only by
# Python's rare full garbage collection (a graph is a web of references), so a trace per run
# made runs slower and memory grow run after run.
KEPT_TRACES = 8
_TRACES: OrderedDict[tuple, tf.types.experimental.PolymorphicFunction] = OrderedDict()


class TracedLoss(Loss):
    """A Loss that calling on a batch of one image (1, H, W, 3) gives every term as tensors.

    `terms` and `terms_and_gradient` take and give NumPy, each a traced `tf.function` of
    that call; `terms` is always float32. The attributes named in TARGETS (the loss's own
    tensors, as dicts of tensors) are the function's arguments, not constants, so all losses
    with the same `trace_key` share one trace per precision.
    """

    TARGETS: tuple[str, ...] = ()

    def __init__(self, content_image: np.ndarray, settings: LossSettings | None):
        super().__init__(content_image, settings)
        self._trace_key: tuple | None = None  # trace_key(), once the subclass is made

    def __call__(self, image: tf.Tensor, compute_dtype: tf.DType = tf.float32) -> dict:
        """Return every loss term of a batch of one image (1, H, W, 3), `total` among them."""
        raise NotImplementedError

    def trace_key(self) -> tuple:
        """Return all that the call reads besides the image and TARGETS, as a hashable tuple:
        the kind of loss, the image shape and the settings. A subclass adds what else it reads."""
        return (type(self), self.shape, self.settings.as_kind(LossSettings))

    def _terms_and_gradient(self, image: tf.Tensor, compute_dtype: tf.DType, boost: tf.Tensor):
        with tf.GradientTape() as tape:
            tape.watch(image)
            terms = self(image, compute_dtype)
            objective = boosted_total(terms, boost)
        return terms, tape.gradient(objective, image)

    def terms_and_gradient(self, image: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
        """Return the loss terms as floats and d(objective)/d(image) as (H, W, 3) float32."""
        traced = self._traced(self.precision)
        # The boost is an argument of the trace, not a constant in it: changing it retraces nothing.
        boost = tf.constant(self.content_boost, tf.float32)
        terms, gradient = traced(tf.constant(image[None], tf.float32), self._targets(), boost)
        return {k: float(v) for k, v in terms.items()}, gradient.numpy()[0]

    def terms(self, image: np.ndarray) -> dict[str, float]:
        """Return the float32 loss terms of an image (H, W, 3) as floats."""
        terms = self._traced("terms")(tf.constant(image[None], tf.float32), self._targets())
        return {k: float(v) for k, v in terms.items()}

    def _traced(self, evaluation: str) -> tf.types.experimental.PolymorphicFunction:
        """Return `evaluation` ("terms", or a precision's terms and gradient) as a tf.function
        of the image and the targets, traced once for all losses with this trace key."""
        if self._trace_key is None:
            self._trace_key = self.trace_key()
        key = (*self._trace_key, evaluation)
        if key not in _TRACES:
            _TRACES[key] = self._trace(evaluation)
            if len(_TRACES) > KEPT_TRACES:
                _TRACES.popitem(last=False)  # the least recently used
        _TRACES.move_to_end(key)
        return _TRACES[key]

    def _trace(self, evaluation: str) -> tf.types.experimental.PolymorphicFunction:
        without_targets = self._with_targets(None)  # the trace keeps no loss's tensors alive

        def evaluate(image: tf.Tensor, targets: dict, boost: tf.Tensor | None = None):
            loss = without_targets._with_targets(targets)
            if evaluation == "terms":
                return loss(image)
            return loss._terms_and_gradient(image, tf.as_dtype(evaluation), boost)

        signature = [
            tf.TensorSpec((1, *self.shape), tf.float32),
            tf.nest.map_structure(tf.TensorSpec.from_tensor, self._targets()),
        ]
        if evaluation != "terms":
            signature.append(tf.TensorSpec((), tf.float32))  # content_boost
        return tf.function(
            evaluate, input_signature=signature, jit_compile=self.settings.jit_compile
        )

    def _targets(self) -> dict:
        return {name: getattr(self, name) for name in self.TARGETS}

    def _with_targets(self, targets: dict | None) -> TracedLoss:
        """Return a copy of this loss with other TARGETS (None: without them)."""
        loss = copy.copy(self)
        for name in self.TARGETS:
            setattr(loss, name, None if targets is None else targets[name])
        return loss
