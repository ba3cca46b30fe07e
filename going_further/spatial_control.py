"""Spatial control (Gatys, Ecker, Bethge, Hertzmann & Shechtman, "Controlling Perceptual Factors
in Neural Style Transfer", CVPR 2017, section 4): each painting paints the part of the photo its
mask covers, through guided Gram matrices. Pixels that no mask covers get the content loss alone
and are held to the photo beyond the style's reach: past one position of the deepest style
layer from the masks (16 px with the paper's layers), their gradient is zero (style_reach).

A picture too large to evaluate whole is evaluated in tiles by going_further/masked_tiles.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

import helper
import tf_helper
from loss_settings import LossSettings, SettingsError, as_style_list, blend_shares
from optimisation.starts import initial_image
from tensorflow_vgg.layers import layers_up_to, mirror_margin, stride
from tensorflow_vgg.vgg16_avg_pool import Vgg16, mirrored, without_margin


@dataclass(frozen=True)
class StyleMasks:
    """Where each painting goes: `content` holds one mask T_r over the photo per painting,
    (H, W) in [0, 1] at any size of the photo's aspect; `style`, where given, one mask per
    painting of the part to take its style from (None: all of that painting)."""

    content: tuple[np.ndarray, ...]
    style: tuple[np.ndarray | None, ...] | None = None

    def __post_init__(self):
        object.__setattr__(self, "content", tuple(_checked(m, "a photo") for m in self.content))
        if self.style is not None:
            if len(self.style) != len(self.content):
                raise SettingsError(
                    f"{len(self.style)} painting mask(s) for {len(self.content)} photo mask(s); "
                    "give one painting mask (or None) per painting"
                )
            style = tuple(None if m is None else _checked(m, "a painting") for m in self.style)
            object.__setattr__(self, "style", style)

    def check_count(self, paintings: int) -> None:
        """Raise SettingsError unless there is one mask per painting."""
        if len(self.content) != paintings:
            raise SettingsError(
                f"{len(self.content)} mask(s) for {paintings} style image(s); give one mask "
                "per style image"
            )

    def on(self, k: int) -> np.ndarray | None:
        """Return painting k's own mask, or None where its whole painting is used."""
        return None if self.style is None else self.style[k]


def _checked(mask: np.ndarray, what: str) -> np.ndarray:
    """Return a mask as float32 (H, W), refusing values outside [0, 1] and an empty mask."""
    mask = np.asarray(mask, np.float32)
    if mask.ndim == 3 and mask.shape[-1] == 1:
        mask = mask[..., 0]
    if mask.ndim != 2 or not np.isfinite(mask).all() or mask.min() < 0 or mask.max() > 1:
        raise SettingsError(f"a mask over {what} must be (H, W) with values in [0, 1]")
    if mask.max() == 0:
        raise SettingsError(f"a mask over {what} is zero everywhere; give it a region")
    return mask


def resized_masks(masks: Sequence[np.ndarray], height: int, width: int) -> np.ndarray:
    """Return masks (H', W') resized to (R, height, width) float32 in [0, 1]."""
    return np.stack([helper.resize(m[..., None], height, width)[..., 0] for m in masks])


# --- The paper's quantities --------------------------------------------------------------------


def layer_masks(T: np.ndarray, layers: Sequence[str], border: str) -> dict[str, tf.Tensor]:
    """Return T_r^l (R, H_l, W_l, 1) of masks T (R, H, W) on each layer's grid (sec. 4.1).

    The masks go down as the picture does: mirrored like it (border="mirror"), through the
    network's own 2x2 average poolings, cut back to the positions over the picture, so that
    T_r^l lies on exactly the positions of F^l. (Measured against eroding them to the
    positions that see their region only: benchmarks/masks.py.)
    """
    x = tf.constant(np.asarray(T, np.float32)[..., None])  # (R, H, W) -> (R, H, W, 1)
    margin = mirror_margin(layers) if border == "mirror" else 0
    if margin:
        x = mirrored(x, margin)
    out = {}
    for name in layers_up_to(layers):
        if name.startswith("pool"):
            x = tf.nn.avg_pool2d(x, ksize=2, strides=2, padding="SAME")
        if name in layers:
            out[name] = without_margin(x, name, margin) if margin else x
    return out


def guided_gram_matrix(F: tf.Tensor, T_r: tf.Tensor) -> tf.Tensor:
    """Return G_r = F_r^T F_r, F_r = T_r^l o F, of F (1, H, W, N_l) and T_r (1, H, W, 1) as
    (N_l, N_l): the Gram matrix (eq. 3) of the features weighted by the mask (sec. 4.1)."""
    return tf_helper.gram_matrix(T_r * F)


def region_positions(T: tf.Tensor) -> list[float]:
    """Return M_r = sum_i T_r^l(i)^2 of masks T (R, H, W, 1): the positions region r counts."""
    return [float(m) for m in tf.reduce_sum(tf.square(T), axis=(1, 2, 3)).numpy()]


def guided_style_layer_loss(F, T, A, N_l: int, M_r, lambda_r) -> tf.Tensor:
    """Return E_l = sum_r lambda_r sum((G_r - A_r)^2) / (4 N_l^2 M_r^2) of features F
    (1, H, W, N_l) under masks T (R, H, W, 1) (sec. 4.1: eq. 4 per region); A (R, N_l, N_l)
    holds each A_r rescaled to its M_r positions (tf_helper.style_target). G_r is formed in
    F's dtype (in bfloat16 at its rate, as the unmasked loss's are), E_l in float32."""
    T = tf.cast(T, F.dtype)
    E_r = [
        lambda_r[r]
        * tf_helper.style_layer_loss(
            tf.cast(guided_gram_matrix(F, T[r : r + 1]), tf.float32), A[r], N_l, M_r[r]
        )
        for r in range(len(M_r))
        if M_r[r] > 0  # a region too small to reach this layer has no style here
    ]
    return tf.add_n(E_r) if E_r else tf.constant(0.0)


def style_reach(T: dict[str, tf.Tensor], height: int, width: int) -> np.ndarray:
    """Return (height, width, 1) float32: 1 at the pixels under a position of some style layer
    that lies in a region (T_r^l > 0, masks from layer_masks), 0 at the others.

    The guided style loss counts those positions, and their features need the pixels under
    them free; beyond, within one position of the deepest layer, the picture is the photo.
    """
    reach = np.zeros((height, width), bool)
    for name, T_l in T.items():
        s = stride(name)
        counted = np.asarray(T_l).sum(axis=(0, 3)) > 0  # (R, h, w, 1) -> (h, w)
        reach |= np.repeat(np.repeat(counted, s, axis=0), s, axis=1)[:height, :width]
    return reach[..., None].astype(np.float32)


class HeldBeyondReach:
    """Mixin for a masked loss with `reach` (style_reach): pixels beyond it stay the photo,
    since their gradient is zero and every start puts the photo there (`held`)."""

    reach: np.ndarray

    def terms_and_gradient(self, image: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
        """Return the loss terms and d(total)/d(image) (H, W, 3), zero beyond the style's reach."""
        terms, gradient = super().terms_and_gradient(image)
        return terms, gradient * self.reach

    def held(self, image: np.ndarray, content_image: np.ndarray) -> np.ndarray:
        """Return a start (H, W, 3) with the photo at the pixels beyond the style's reach."""
        return np.where(self.reach > 0, image, content_image).astype(np.float32)


def region_weights(M_r: Sequence[float], M_l: int, shares: Sequence[float]) -> list[float]:
    """Return lambda_r = R s_r M_r / M_l: each region's E_l counts with its share of the picture.

    The paper leaves lambda_r free. Weighed by area, the style's pull on a pixel is the
    unmasked loss's whatever its region's size (so beta keeps its meaning), one all-ones mask
    gives exactly equation 4, and the blend shares s_r (equal by default) scale the regions.
    """
    return [len(shares) * s_r * M / M_l for s_r, M in zip(shares, M_r)]


# --- The loss ----------------------------------------------------------------------------------


class MaskedStyleTransferLoss(HeldBeyondReach, tf_helper.StyleTransferLoss):
    """StyleTransferLoss with painting r's style held to the region of its mask (sec. 4.1).

    E_l = sum_r lambda_r sum((G_r - A_r)^2) / (4 N_l^2 M_r^2): G_r the guided Gram matrix of
    the picture under T_r, A_r its painting's (under its own mask, if given) rescaled to M_r
    positions; lambda_r from region_weights. The content loss is the paper's, everywhere.
    """

    TARGETS = ("P", "A", "T")  # the masks too: losses with other masks may share a trace

    def __init__(
        self,
        net: Vgg16,
        content_image: np.ndarray,
        style_images: np.ndarray | Sequence[np.ndarray],
        masks: StyleMasks,
        settings: LossSettings | None = None,
        precision: str = "float32",
    ):
        masks.check_count(len(as_style_list(style_images)))
        self.masks = masks  # read by _blended_style_targets, which the base class calls
        super().__init__(net, content_image, style_images, settings, precision)

    def _style_targets_once(self, style_list) -> dict[str, tf.Tensor]:
        """Return A computed afresh: its regions are this loss's masks, which no other shares."""
        return self._blended_style_targets(style_list, self.settings.style_blend)

    def _blended_style_targets(self, style_list, blend) -> dict[str, tf.Tensor]:
        """Return A (R, N_l, N_l) per style layer; set T_r^l and lambda_r of the picture."""
        border = self.settings.border
        T = resized_masks(self.masks.content, *self.shape[:2])
        on_layers = layer_masks(T, self.layers, border)
        self.T = {name: on_layers[name] for name in self.style_layers}
        self.reach = style_reach(self.T, *self.shape[:2])
        self.M_r = {name: region_positions(self.T[name]) for name in self.style_layers}
        shares = blend_shares(len(style_list), blend)
        self.lambda_r = {
            name: region_weights(self.M_r[name], self.M_l[name], shares)
            for name in self.style_layers
        }
        A = {name: [] for name in self.style_layers}
        for k, image in enumerate(style_list):
            features = self._net(image[None], self.style_layers, border=border)
            own = self.masks.on(k)
            S = None
            if own is not None:
                S = layer_masks(resized_masks([own], *image.shape[:2]), self.style_layers, border)
            for name in self.style_layers:
                if S is None:
                    A_s, M_s = (
                        tf_helper.gram_matrix(features[name]),
                        np.prod(features[name].shape[1:3]),
                    )
                else:
                    A_s = guided_gram_matrix(features[name], S[name])
                    M_s = region_positions(S[name])[0]
                A[name].append(tf_helper.style_target(A_s, float(M_s), self.M_r[name][k]))
        return {name: tf.constant(tf.stack(value)) for name, value in A.items()}

    def trace_key(self) -> tuple:
        """Return what the call reads besides the image and TARGETS: M_r and lambda_r too."""
        per_layer = [(tuple(self.M_r[n]), tuple(self.lambda_r[n])) for n in self.style_layers]
        return (*super().trace_key(), tuple(per_layer))

    def __call__(
        self, image: tf.Tensor, compute_dtype: tf.DType = tf.float32
    ) -> dict[str, tf.Tensor]:
        """Return every loss term of a batch of one image (1, H, W, 3), E_l guided (sec. 4.1)."""
        # F in the convolutions' format, as the unmasked loss's: see StyleTransferLoss.__call__
        F = self._net(image, self.layers, compute_dtype, self.settings.border, output_dtype=None)
        F32 = {n: tf.cast(F[n], tf.float32) for n in self.content_layers}
        content = tf.add_n([tf_helper.content_loss(F32[n], self.P[n]) for n in self.content_layers])
        E = [
            guided_style_layer_loss(
                F[n], self.T[n], self.A[n], self.N_l[n], self.M_r[n], self.lambda_r[n]
            )
            for n in self.style_layers
        ]  # fmt: skip
        style = tf_helper.style_loss(E, self.w_l)
        return tf_helper.weighted_terms(
            self, content, style, tf_helper.total_variation_loss(image), E
        )


def masked_start(
    init: str,
    content_image: np.ndarray,
    style_images: Sequence[np.ndarray],
    masks: StyleMasks,
    seed: int | None,
) -> np.ndarray:
    """Return the start of a masked run: each painting's start (optimisation.starts) under its
    mask, the photo where no mask reaches, so that the uncovered pixels start as they end."""
    T = resized_masks(masks.content, *content_image.shape[:2])[..., None]  # (R, H, W, 1)
    starts = [initial_image(init, content_image, [s], seed) for s in style_images]
    covered = T.sum(axis=0)
    shares = T / np.maximum(covered, 1.0)  # overlapping masks share a pixel
    start = (1.0 - np.minimum(covered, 1.0)) * content_image
    start = start + sum(w * s for w, s in zip(shares, starts))
    return np.clip(start, 0.0, 1.0).astype(np.float32)
