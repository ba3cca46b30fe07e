"""The loss interface: what a run (tf_run.py) needs of a loss, whatever evaluates it.

The whole picture's loss (tf_helper.StyleTransferLoss, a TracedLoss) and the tiled one
(going_further/tiling.py) both satisfy it. TracedLoss evaluates a loss written as a
TensorFlow function of the image: traced once per precision, its gradient by a tape.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from loss_settings import LossSettings, choice, layer_weights
from optimisation import precisions


class Loss:
    """The loss of equation 7 for one image shape: what a run (tf_run.py) needs of it.

    `terms(image)` gives every term as floats (float32 arithmetic); `terms_and_gradient`
    gives them with d(total)/d(image) (H, W, 3), its convolutions in `precision`
    ("float32" or "bfloat16", settable between evaluations). Terms: `total`, `content`,
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

    @property
    def precision(self) -> str:
        """The format of the convolutions in `terms_and_gradient`: "float32" or "bfloat16"."""
        return self._precision

    @precision.setter
    def precision(self, value: str) -> None:
        choice("evaluation precision", value, precisions.EVALUATION_PRECISIONS)
        self._precision = value

    def terms(self, image: np.ndarray) -> dict[str, float]:
        """Return the float32 loss terms of an image (H, W, 3) as floats."""
        raise NotImplementedError

    def terms_and_gradient(self, image: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
        """Return the loss terms as floats and d(total)/d(image) as (H, W, 3) float32."""
        raise NotImplementedError


class TracedLoss(Loss):
    """A Loss that calling on a batch of one image (1, H, W, 3) gives every term as tensors.

    `terms` and `terms_and_gradient` take and give NumPy, each one traced `tf.function` of
    that call (one per precision, made when the precision is set); `terms` is always float32.
    """

    def __init__(self, content_image: np.ndarray, settings: LossSettings | None):
        super().__init__(content_image, settings)
        self._spec = tf.TensorSpec((1, *self.shape), tf.float32)
        self._traced: dict[str, tf.types.experimental.PolymorphicFunction] = {}
        self._terms = tf.function(
            self.__call__, input_signature=[self._spec], jit_compile=self.settings.jit_compile
        )

    def __call__(self, image: tf.Tensor, compute_dtype: tf.DType = tf.float32) -> dict:
        """Return every loss term of a batch of one image (1, H, W, 3), `total` among them."""
        raise NotImplementedError

    @Loss.precision.setter
    def precision(self, value: str) -> None:
        Loss.precision.fset(self, value)
        if value not in self._traced:  # the terms and gradient of each precision, traced once
            self._traced[value] = tf.function(
                lambda image: self._terms_and_gradient(image, tf.as_dtype(value)),
                input_signature=[self._spec],
                jit_compile=self.settings.jit_compile,
            )

    def _terms_and_gradient(self, image: tf.Tensor, compute_dtype: tf.DType):
        with tf.GradientTape() as tape:
            tape.watch(image)
            terms = self(image, compute_dtype)
        return terms, tape.gradient(terms["total"], image)

    def terms_and_gradient(self, image: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
        """Return the loss terms as floats and d(total)/d(image) as (H, W, 3) float32."""
        terms, gradient = self._traced[self.precision](tf.constant(image[None], tf.float32))
        return {k: float(v) for k, v in terms.items()}, gradient.numpy()[0]

    def terms(self, image: np.ndarray) -> dict[str, float]:
        """Return the float32 loss terms of an image (H, W, 3) as floats."""
        return {k: float(v) for k, v in self._terms(tf.constant(image[None], tf.float32)).items()}
