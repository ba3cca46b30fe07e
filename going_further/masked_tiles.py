"""Spatial control (going_further/spatial_control.py) over a picture evaluated in tiles
(going_further/tiling.py): each region's guided Gram matrix is summed over the tiles as the
plain one is, so a masked print-size picture has the loss and gradient of a whole evaluation.

Each tile's core sees the whole picture's layer masks T_r^l cut to its positions, so the masks
go down to each layer's grid once, over the whole picture, as they do in a whole evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

import tf_helper
from going_further.spatial_control import (
    HeldBeyondReach,
    StyleMasks,
    layer_masks,
    region_positions,
    region_weights,
    resized_masks,
    style_reach,
)
from going_further.tile_geometry import Tile, crops, tiles
from going_further.tiling import TiledLoss
from loss_settings import LossSettings, as_style_list, blend_shares
from tensorflow_vgg.layers import stride
from tensorflow_vgg.vgg16_avg_pool import Vgg16


class MaskedTiledLoss(HeldBeyondReach, TiledLoss):
    """TiledLoss with painting r's style held to its mask's region (Gatys et al. 2017, sec. 4.1).

    The same E_l as spatial_control.MaskedStyleTransferLoss: per region the Gram matrix of
    T_r^l o F, summed over the tiles, against A_r, weighed by lambda_r (region_weights).
    """

    def __init__(
        self,
        net: Vgg16,
        content_image: np.ndarray,
        style_images: np.ndarray | Sequence[np.ndarray],
        masks: StyleMasks,
        settings: LossSettings | None = None,
        precision: str = "float32",
        *,
        core: int = 512,
        exact: bool = True,
    ):
        masks.check_count(len(as_style_list(style_images)))
        self.masks = masks  # read by _style_targets, which the base class calls
        super().__init__(
            net, content_image, style_images, settings, precision, core=core, exact=exact
        )

    def _guided_layers(self) -> Sequence[str]:
        return self.style_layers

    def _style_targets(self, styles: list[np.ndarray]) -> list[tf.Tensor]:
        """Return A (R, N_l, N_l) per style layer, each A_r rescaled to M_r; set the picture's
        masks T_r^l on each tile's core, M_r and lambda_r."""
        T = layer_masks(resized_masks(self.masks.content, *self.shape[:2]), self.style_layers,
                        self.settings.border)  # fmt: skip
        self.M_r = {n: region_positions(T[n]) for n in self.style_layers}
        self.reach = style_reach(T, *self.shape[:2])
        shares = blend_shares(len(styles), self.settings.style_blend)
        self.lambda_r = {
            n: region_weights(self.M_r[n], self.M_l[n], shares) for n in self.style_layers
        }
        self._guides = [self._on_core(T, tile, self.shape) for tile in self.tiles]
        A = {n: [] for n in self.style_layers}
        for k, image in enumerate(styles):
            own = self.masks.on(k)
            if own is None:
                own = np.ones(image.shape[:2], np.float32)
            S = layer_masks(resized_masks([own], *image.shape[:2]), self.style_layers,
                            self.settings.border)  # fmt: skip
            painting_tiles = tiles(*image.shape[:2], self.core, self.layers, self.exact)
            on_tiles = [self._on_core(S, tile, image.shape) for tile in painting_tiles]
            grams = self._gather(image, painting_tiles, on_tiles)
            for i, n in enumerate(self.style_layers):
                M_s = region_positions(S[n])[0]
                A[n].append(tf_helper.style_target(grams[i][0], M_s, self.M_r[n][k]))
        return [tf.constant(tf.stack(A[n])) for n in self.style_layers]

    def _on_core(self, T: dict, tile: Tile, shape) -> list[tf.Tensor]:
        """Return masks T (R, H_l, W_l, 1) per style layer cut to a tile core's positions."""
        where = crops(tile, shape, self.layers)
        top, _, left, _ = tile.core  # on the tiles' grid, so a whole position in every layer
        out = []
        for n in self.style_layers:
            row, column = top // stride(n), left // stride(n)
            r0, r1, c0, c1 = where[self.layers.index(n)]
            out.append(tf.constant(T[n][:, row : row + r1 - r0, column : column + c1 - c0]))
        return out

    def _tile_guides(self, k: int) -> list[tf.Tensor]:
        return self._guides[k]

    def _core_grams(self, cores: dict, guides: list) -> list[tf.Tensor]:
        """Return (R, N_l, N_l) per style layer: G_r of T_r o F over a tile's core (sec. 4.1),
        formed in the features' dtype, as float32."""
        return [
            tf.cast(_guided_grams(cores[n], T), tf.float32)
            for n, T in zip(self.style_layers, guides)
        ]

    def _style_surrogate(self, cores: dict, guides: list, D: Sequence[tf.Tensor]) -> tf.Tensor:
        """Return sum_l w_l sum_r <stop_gradient(F_r D_r), F_r>, F_r = T_r o F: its gradient
        in F is the guided style loss's (D_r carries lambda_r), in the features' dtype (only its
        gradient is used)."""
        terms = []
        for n, w, T, d in zip(self.style_layers, self.w_l, guides, D):
            F_r = _region_rows(cores[n], T)  # (R, M, N_l)
            F_rD = tf.stop_gradient(F_r @ tf.cast(d, F_r.dtype))
            terms.append(w * tf.cast(tf.reduce_sum(F_rD * F_r), tf.float32))
        return tf.add_n(terms)

    def _style_cotangent(self, G, A, name: str) -> tf.Tensor:
        """Return lambda_r (G_r - A_r) / (N_l^2 M_r^2) (R, N_l, N_l); 0 for a region absent
        from the layer."""
        N = float(self.N_l[name])
        scale = [lam / (N**2 * M**2) if M > 0 else 0.0
                 for lam, M in zip(self.lambda_r[name], self.M_r[name])]  # fmt: skip
        return (G - A) * tf.constant(scale, tf.float32)[:, None, None]

    def _layer_loss(self, G, A, name: str) -> tf.Tensor:
        """Return E_l = sum_r lambda_r sum((G_r - A_r)^2) / (4 N_l^2 M_r^2) (sec. 4.1)."""
        E_r = [
            lam * tf_helper.style_layer_loss(G[r], A[r], self.N_l[name], M)
            for r, (lam, M) in enumerate(zip(self.lambda_r[name], self.M_r[name]))
            if M > 0
        ]
        return tf.add_n(E_r) if E_r else tf.constant(0.0)

    def _no_grams(self) -> list[tf.Tensor]:
        R = len(self.masks.content)
        return [tf.zeros((R, self.N_l[n], self.N_l[n])) for n in self.style_layers]


def _region_rows(F: tf.Tensor, T: tf.Tensor) -> tf.Tensor:
    """Return T_r o F of F (1, h, w, N) and T (R, h, w, 1) as rows (R, h w, N), in F's dtype."""
    return tf.reshape(tf.cast(T, F.dtype) * F, (tf.shape(T)[0], -1, tf.shape(F)[-1]))


def _guided_grams(F: tf.Tensor, T: tf.Tensor) -> tf.Tensor:
    """Return G_r = (T_r o F)^T (T_r o F) of F (1, h, w, N) for every mask of T (R, h, w, 1)."""
    rows = _region_rows(F, T)
    return tf.matmul(rows, rows, transpose_a=True)
