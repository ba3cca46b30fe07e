"""The paper in TensorFlow: the Gram matrix, the losses (equations 1 to 7) and the loss object.

Images are float32 RGB arrays (H, W, 3) in [0, 1]; files are helper.py's business, the
network tensorflow_vgg's, and the optimisation that minimises this loss tf_run.py's.
"""

from __future__ import annotations

import hashlib
import weakref
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from loss_interface import Loss, TracedLoss
from loss_settings import LossSettings, as_style_list, blend_shares, check_image_side
from tensorflow_vgg.vgg16_avg_pool import Vgg16

# Each new image shape or setting traces the loss again, so after five of them in one process
# TensorFlow warns of "retracing": expected here, and noise in a notebook or a batch.
tf.get_logger().setLevel("ERROR")

# --- The paper's quantities ------------------------------------------------------------------


def gram_matrix(F: tf.Tensor) -> tf.Tensor:
    """Return G = F^T F of a feature map (1, H, W, N_l) as (N_l, N_l) (paper, eq. 3)."""
    N_l = tf.shape(F)[-1]
    F = tf.reshape(F, (-1, N_l))  # (1, H, W, N_l) -> (M_l, N_l)
    return F_transpose_F(F)  # tf.matmul(F, F, transpose_a=True), its gradient in one product


# A tf.function of its own, as the network's convolution is: a custom gradient traced inside a
# caller's graph would keep that whole graph in TensorFlow's gradient registry.
@tf.function(reduce_retracing=True)
def F_transpose_F(F: tf.Tensor) -> tf.Tensor:
    """Return F^T F of F (M_l, N_l), whose gradient is one product, F (dG + dG^T) (M_l, N_l).

    TensorFlow differentiates a matmul by each operand in turn, two (M_l x N_l)(N_l x N_l)
    products, where F^T F's two operands are one: the Gram matrices' gradients then cost
    twice what they need to.
    """

    @tf.custom_gradient
    def product(F):
        def gradient(dG):
            return tf.matmul(F, dG + tf.transpose(dG))

        return tf.matmul(F, F, transpose_a=True), gradient

    return product(F)


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
    dy = next_minus_this(rows, axis=1)  # x[:, 1:] - x[:, :-1]
    dx = next_minus_this(columns, axis=2)  # x[:, :, 1:] - x[:, :, :-1]
    return tf.reduce_sum(tf.square(dy)) + tf.reduce_sum(tf.square(dx))


def next_minus_this(x: tf.Tensor, axis: int) -> tf.Tensor:
    """Return x[i+1] - x[i] along `axis` of x (batch, H, W, C): one position shorter there."""
    # tf.slice, not x[:, 1:] - x[:, :-1]: its gradient is a Pad, where a strided slice's is
    # StridedSliceGrad, several times slower on an image's 3 channels.
    next_one = [0, 0, 0, 0]
    next_one[axis] = 1
    size = tf.shape(x) - next_one
    return tf.slice(x, next_one, size) - tf.slice(x, [0, 0, 0, 0], size)


def style_target(A: tf.Tensor, M_s: int, M_l: int) -> tf.Tensor:
    """Return a painting's Gram matrix A of M_s positions rescaled to M_l positions.

    A Gram matrix sums over positions, so it grows with the image area. We use
    A * M_l / M_s: the Gram of an image with the style's feature statistics at the
    generated image's size. E_l then equals sum((G/M_l - A/M_s)^2) / (4 N_l^2),
    the paper's definition exactly when the two sizes agree.
    """
    return A * (M_l / M_s)


def weighted_terms(loss: Loss, content, style, tv, E: Sequence) -> dict:
    """Return the terms of equation 7 unweighted and weighted, with their sum `total`.

    E holds E_l of `loss.style_layers`; the weights are the loss's settings and w_l.
    """
    s = loss.settings
    terms = {"total": total_loss(content, style, tv, s), "content": content, "style": style}
    terms.update({"tv": tv, "weighted_content": s.alpha * content})
    terms.update({"weighted_style": s.beta * style, "weighted_tv": s.gamma * tv})
    for name, E_l, w_l in zip(loss.style_layers, E, loss.w_l):
        terms[f"style_{name}"] = E_l
        terms[f"weighted_style_{name}"] = s.beta * w_l * E_l
    return terms


# --- The loss with its targets ---------------------------------------------------------------

# A batch paints many photos in one painting, and a Ray worker keeps its process from one picture
# to the next: the painting's Gram matrices A are computed once per size and setting, and kept
# per network (their key holds the layers' M_l, and so the layers in use).
KEPT_TARGETS_PER_NETWORK = 8  # each holds about 2.5 MB at the default layers
_KEPT_TARGETS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class StyleTransferLoss(TracedLoss):
    """The loss of the whole picture, its targets P and A computed once (paper, section 2).

    Calling it gives every term of a batch of one image (1, H, W, 3) as tensors;
    `terms` and `terms_and_gradient` (a TracedLoss's) take and give NumPy. The targets
    and `terms` are always float32.
    """

    TARGETS = ("P", "A")  # passed to the traces, which losses of one shape and settings share

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
        self.A = self._style_targets_once(style_list)
        self.precision = precision

    def _style_targets_once(self, style_list) -> dict[str, tf.Tensor]:
        """Return A, computed once per painting, size and setting in the process (_KEPT_TARGETS)."""
        blend = blend_shares(len(style_list), self.settings.style_blend)
        digests = tuple(
            (hashlib.sha256(np.ascontiguousarray(s).tobytes()).hexdigest(), s.shape, str(s.dtype))
            for s in style_list
        )
        key = (digests, tuple(blend), self.settings.border, tuple(self.M_l.items()))
        kept = _KEPT_TARGETS.setdefault(self._net, OrderedDict())
        A = kept.pop(key, None)
        if A is None:
            A = self._blended_style_targets(style_list, self.settings.style_blend)
        kept[key] = A  # the most recently used last
        while len(kept) > KEPT_TARGETS_PER_NETWORK:
            kept.popitem(last=False)
        return A

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

    def trace_key(self) -> tuple:
        """Return what the call reads besides the image, P and A (N_l and M_l follow)."""
        return (*super().trace_key(), self._net)

    def __call__(
        self, image: tf.Tensor, compute_dtype: tf.DType = tf.float32
    ) -> dict[str, tf.Tensor]:
        """Return every loss term of a batch of one image (1, H, W, 3): equations 1, 4, 5, 7."""
        # F in the convolutions' format: in bfloat16 the Gram matrices' products run at its rate
        # too, and only G (N_l x N_l) is cast to float32, not F (M_l x N_l).
        F = self._net(image, self.layers, compute_dtype, self.settings.border, output_dtype=None)
        F32 = {n: tf.cast(F[n], tf.float32) for n in self.content_layers}
        content = tf.add_n([content_loss(F32[n], self.P[n]) for n in self.content_layers])
        G = {n: tf.cast(gram_matrix(F[n]), tf.float32) for n in self.style_layers}
        E = [style_layer_loss(G[n], self.A[n], self.N_l[n], self.M_l[n]) for n in self.style_layers]
        style = style_loss(E, self.w_l)
        return weighted_terms(self, content, style, total_variation_loss(image), E)
