"""The paper in TensorFlow: the Gram matrix, the losses (equations 1 to 7) and the loss object.

Images are float32 RGB arrays (H, W, 3) in [0, 1]; files are helper.py's business, the
network tensorflow_vgg's, and the optimisation that minimises this loss tf_run.py's.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from loss_settings import LossSettings, blend_shares, check_image_side, choice
from loss_settings import layer_weights as style_layer_weights
from optimisation import precisions
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


def total_loss(content, style, tv, settings: LossSettings):
    """Return alpha L_content + beta L_style (paper, eq. 7) + gamma L_tv."""
    return settings.alpha * content + settings.beta * style + settings.gamma * tv


def total_variation_loss(image: tf.Tensor) -> tf.Tensor:
    """Return L_tv, the squared differences of all neighbouring pixels of (1, H, W, 3), in 0..255.

    Not in the paper: a small multiple of it removes the high-frequency noise that
    L-BFGS otherwise leaves in flat regions ("denoising").
    """
    x = image * 255.0  # in 0..255 units, so that gamma does not depend on the pixel range
    return neighbour_differences(x, x)


def neighbour_differences(rows: tf.Tensor, columns: tf.Tensor) -> tf.Tensor:
    """Return sum (x[i+1, j] - x[i, j])^2 over `rows` plus sum (x[i, j+1] - x[i, j])^2 over
    `columns` (each (1, H, W, C)); a tile passes the parts of its window that it counts."""
    dy = rows[:, 1:, :, :] - rows[:, :-1, :, :]
    dx = columns[:, :, 1:, :] - columns[:, :, :-1, :]
    return tf.reduce_sum(tf.square(dy)) + tf.reduce_sum(tf.square(dx))


def style_target(A: tf.Tensor, M_s: int, M_l: int) -> tf.Tensor:
    """Return a painting's Gram matrix A of M_s positions rescaled to M_l positions.

    A Gram matrix sums over positions, so it grows with the image area. We use
    A * M_l / M_s: the Gram of an image with the style's feature statistics at the
    generated image's size. E_l then equals sum((G/M_l - A/M_s)^2) / (4 N_l^2),
    the paper's definition exactly when the two sizes agree.
    """
    return A * (M_l / M_s)


def as_style_list(style_image: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    """Return one style image or several as a list of style images."""
    return [style_image] if isinstance(style_image, np.ndarray) else list(style_image)


@functools.lru_cache(maxsize=2)
def network(weights_path: str | None = None) -> Vgg16:
    """Return the average-pool VGG16 for a weights file, built once per process."""
    return Vgg16(weights_path)


# --- The loss with its targets ---------------------------------------------------------------


class Loss:
    """The loss of equation 7 for one image shape: what a run (tf_run.py) needs of it.

    `terms(image)` gives every term as floats (float32 arithmetic); `terms_and_gradient`
    gives them with d(total)/d(image) (H, W, 3), its convolutions in `precision`
    ("float32" or "bfloat16", settable between evaluations). Terms: `total`, `content`,
    `style`, `tv`, `style_<layer>` (E_l), and each weighted: `weighted_content` (alpha
    L_content), `weighted_style`, `weighted_tv`, `weighted_style_<layer>` (beta w_l E_l).
    """

    def __init__(self, content_image: np.ndarray, settings: LossSettings | None):
        self.settings = settings or LossSettings()
        self.content_layers = list(self.settings.content_layers)
        self.style_layers = list(self.settings.style_layers)
        self.layers = self.settings.layers
        self.w_l = style_layer_weights(self.style_layers, self.settings.layer_weights)
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

    def weighted_terms(self, content, style, tv, E: Sequence) -> dict:
        """Return the terms of equation 7 unweighted and weighted, with their sum `total`."""
        s = self.settings
        terms = {"total": total_loss(content, style, tv, s), "content": content, "style": style}
        terms.update({"tv": tv, "weighted_content": s.alpha * content})
        terms.update({"weighted_style": s.beta * style, "weighted_tv": s.gamma * tv})
        for name, E_l, w_l in zip(self.style_layers, E, self.w_l):
            terms[f"style_{name}"] = E_l
            terms[f"weighted_style_{name}"] = s.beta * w_l * E_l
        return terms

    def terms(self, image: np.ndarray) -> dict[str, float]:
        """Return the float32 loss terms of an image (H, W, 3) as floats."""
        raise NotImplementedError

    def terms_and_gradient(self, image: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
        """Return the loss terms as floats and d(total)/d(image) as (H, W, 3) float32."""
        raise NotImplementedError


class StyleTransferLoss(Loss):
    """The loss of the whole picture, its targets P and A computed once (paper, section 2).

    Calling it gives every term of a batch of one image (1, H, W, 3) as tensors;
    `terms` and `terms_and_gradient` take and give NumPy, each one traced `tf.function`.
    The targets and `terms` are always float32.
    """

    def __init__(
        self,
        net: Vgg16,
        content_image: np.ndarray,
        style_images: np.ndarray | Sequence[np.ndarray],
        settings: LossSettings | None = None,
        precision: str = "float32",
    ):
        super().__init__(content_image, settings)
        self._net = net
        style_list = as_style_list(style_images)
        for name, image in [("content", content_image)] + [("style", s) for s in style_list]:
            check_image_side(f"the {name} image", *image.shape[:2], self.layers)
        # One pass of the content image gives P and the size of every style layer.
        content_features = net(content_image[None], self.layers, border=self.settings.border)
        self.P = {name: tf.constant(content_features[name]) for name in self.content_layers}
        self.M_l = {
            name: int(np.prod(content_features[name].shape[1:3])) for name in self.style_layers
        }
        self.N_l = {name: int(content_features[name].shape[-1]) for name in self.style_layers}
        self.A = self._blended_style_targets(style_list, self.settings.style_blend)
        self._spec = tf.TensorSpec((1, *self.shape), tf.float32)
        self._traced: dict[str, tf.types.experimental.PolymorphicFunction] = {}
        self.precision = precision
        self._terms = tf.function(
            self.__call__, input_signature=[self._spec], jit_compile=self.settings.jit_compile
        )

    @Loss.precision.setter
    def precision(self, value: str) -> None:
        Loss.precision.fset(self, value)
        if value not in self._traced:  # the terms and gradient of each precision, traced once
            self._traced[value] = tf.function(
                lambda image: self._terms_and_gradient(image, tf.as_dtype(value)),
                input_signature=[self._spec],
                jit_compile=self.settings.jit_compile,
            )

    def _blended_style_targets(self, style_list, blend) -> dict[str, tf.Tensor]:
        blend = blend_shares(len(style_list), blend)
        A = {name: tf.zeros((self.N_l[name], self.N_l[name])) for name in self.style_layers}
        for image, share in zip(style_list, blend):
            features = self._net(image[None], self.style_layers, border=self.settings.border)
            for name in self.style_layers:
                M_s = int(np.prod(features[name].shape[1:3]))
                A_s = style_target(gram_matrix(features[name]), M_s, self.M_l[name])
                A[name] = A[name] + share * A_s
        return {name: tf.constant(value) for name, value in A.items()}

    def __call__(
        self, image: tf.Tensor, compute_dtype: tf.DType = tf.float32
    ) -> dict[str, tf.Tensor]:
        """Return every loss term of a batch of one image (1, H, W, 3): equations 1, 4, 5, 7."""
        features = self._net(image, self.layers, compute_dtype, self.settings.border)
        content = tf.add_n([content_loss(features[n], self.P[n]) for n in self.content_layers])
        E = [
            style_layer_loss(gram_matrix(features[n]), self.A[n], self.N_l[n], self.M_l[n])
            for n in self.style_layers
        ]
        style = style_loss(E, self.w_l)
        return self.weighted_terms(content, style, total_variation_loss(image), E)

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
