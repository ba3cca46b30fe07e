"""The loss and its gradient over a picture too large for memory, evaluated in tiles.

Not in the paper. The style loss is global: every Gram matrix sums over the whole picture.
So one evaluation makes two passes over the tiles: the first gathers each layer's Gram
matrix G = sum over tiles of F_t^T F_t (no gradient kept), the second back-propagates
each tile against the whole picture's G, since dE_l/dF = F (G - A) / (N_l^2 M_l^2) (from
eq. 4), and adds the tiles' gradients up. The largest tile ends the first pass and starts
the second in a single forward pass (its Gram matrices complete G, then its backward pass
runs), so only the other tiles' forward passes are computed twice, and a picture that fits
in one tile costs what a whole evaluation does. Each tile is evaluated with a halo around the
part it owns (its core), wide enough that zero padding at the tile's edge never reaches
the core's features: they are the whole picture's, and so are the loss and gradient.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

import tf_helper
from going_further.tile_geometry import Tile, crops, tiles
from loss_interface import Loss
from loss_settings import LossSettings, as_style_list, blend_shares
from tensorflow_vgg.layers import layer_sizes
from tensorflow_vgg.vgg16_avg_pool import Vgg16


class TiledLoss(Loss):
    """The loss of equation 7 and its gradient, evaluated tile by tile (see the module's note).

    A loss_interface.Loss, as the whole picture's StyleTransferLoss is. `core` is the core
    side in px (with `exact`), or that of the square window whose area no tile's window
    exceeds (going_further.tile_geometry.tile_grid); memory grows with (core + 2 halo)^2.
    """

    def __init__(
        self,
        net: Vgg16,
        content_image: np.ndarray,
        style_images: np.ndarray | Sequence[np.ndarray],
        settings: LossSettings | None = None,
        precision: str = "float32",
        *,
        core: int = 512,
        exact: bool = True,
    ):
        super().__init__(content_image, settings)
        self.core, self.exact = core, exact
        self._net = net
        self.tiles = tiles(*self.shape[:2], core, self.layers, exact)
        sizes = {name: (h, w, c) for name, h, w, c in layer_sizes(*self.shape[:2], self.layers[-1])}
        self.M_l = {name: sizes[name][0] * sizes[name][1] for name in self.style_layers}
        self.N_l = {name: sizes[name][2] for name in self.style_layers}
        self._traced = {}
        self.precision = precision
        self.P = [self._core_features(content_image, tile) for tile in self.tiles]
        self.A = self._style_targets(as_style_list(style_images))

    def _functions(self, precision: str | None = None) -> tuple:
        """Return the traced (Gram pass, tile gradient, last tile gradient) of a precision
        (default: the current one)."""
        precision = precision or self.precision
        if precision not in self._traced:
            dtype = tf.as_dtype(precision)
            window = tf.TensorSpec((1, None, None, 3), tf.float32)
            crops = tf.TensorSpec((len(self.layers), 4), tf.int32)
            guides = [
                tf.TensorSpec((None, None, None, 1), tf.float32) for _ in self._guided_layers()
            ]
            self._traced[precision] = (
                tf.function(
                    lambda *arguments: self._grams(*arguments, dtype),
                    input_signature=[window, crops, guides],
                ),
                tf.function(lambda *arguments: self._tile_gradient(*arguments, dtype)),
                tf.function(lambda *arguments: self._last_tile_gradient(*arguments, dtype)),
            )
        return self._traced[precision]

    # --- What a subclass with guidance masks changes (going_further/masked_tiles.py) --------

    def _guided_layers(self) -> Sequence[str]:
        """Return the style layers whose Gram matrices are guided by masks (none here)."""
        return ()

    def _tile_guides(self, k: int) -> list[tf.Tensor]:
        """Return tile k's masks on the guided layers' core positions (none here)."""
        return []

    def _core_grams(self, cores: dict, guides: list) -> list[tf.Tensor]:
        """Return each style layer's Gram matrix over a tile's core features (eq. 3), formed in
        the features' dtype (in bfloat16 at its rate, as the whole picture's are) and float32."""
        return [tf.cast(tf_helper.gram_matrix(cores[n]), tf.float32) for n in self.style_layers]

    def _style_surrogate(self, cores: dict, guides: list, D: Sequence[tf.Tensor]) -> tf.Tensor:
        """Return sum_l w_l <stop_gradient(F D_l), F>, whose gradient in F is the style loss's,
        in the features' dtype (only its gradient is used)."""
        terms = []
        for n, w, d in zip(self.style_layers, self.w_l, D):
            F = _as_rows(cores[n])
            FD = tf.stop_gradient(F @ tf.cast(d, F.dtype))
            terms.append(w * tf.cast(tf.reduce_sum(FD * F), tf.float32))
        return tf.add_n(terms)

    def _style_cotangent(self, G, A, name: str) -> tf.Tensor:
        """Return (G - A) / (N_l^2 M_l^2), the factor of F in dE_l/dF (eq. 6 without its 4)."""
        return (G - A) / (float(self.N_l[name]) ** 2 * float(self.M_l[name]) ** 2)

    def _layer_loss(self, G, A, name: str) -> tf.Tensor:
        """Return E_l of the whole picture's G (eq. 4)."""
        return tf_helper.style_layer_loss(G, A, self.N_l[name], self.M_l[name])

    def _no_grams(self) -> list[tf.Tensor]:
        """Return zero Gram matrices of each style layer, to add tiles' Gram matrices to."""
        return [tf.zeros((n, n)) for n in (self.N_l[name] for name in self.style_layers)]

    # --- The two passes -------------------------------------------------------------------

    def _cores(self, features: dict, crops) -> dict[str, tf.Tensor]:
        return {
            name: _core(features[name], crops[i])
            for i, name in enumerate(self.layers)
            if name in features
        }

    def _grams(self, window: tf.Tensor, crops: tf.Tensor, guides: list, dtype) -> list[tf.Tensor]:
        """Return the Gram matrix of each style layer over a tile's core (eq. 3), the network
        run in `dtype`."""
        features = self._net(window, self.style_layers, dtype, self.settings.border, None)
        return self._core_grams(self._cores(features, crops), guides)

    def _tile_gradient(
        self, window, crops, tv_crop, P, guides, D, boost, dtype, cores=None, tape=None
    ):
        """Return a tile's content and TV terms, and d(objective)/d(window) against the global
        G; the objective is the total with the content term times `boost` (content_boost)."""
        if tape is None:
            with tf.GradientTape() as tape:
                tape.watch(window)
                cores = self._cores(
                    self._net(window, self.layers, dtype, self.settings.border, None), crops
                )
        with tape:
            content = tf.add_n(
                [
                    tf_helper.content_loss(tf.cast(cores[n], tf.float32), p)
                    for n, p in zip(self.content_layers, P)
                ]
            )
            # <stop_gradient(F (G - A) / (N^2 M^2)), F> has the style loss's gradient in F.
            style = self._style_surrogate(cores, guides, D)
            tv = _tile_total_variation(window, tv_crop)
            surrogate = tf_helper.total_loss(boost * content, style, tv, self.settings)
        return content, tv, tape.gradient(surrogate, window)

    def _last_tile_gradient(self, window, crops, tv_crop, P, guides, G_rest, boost, dtype):
        """Return the last tile's terms and gradient, and the whole picture's G, in one forward
        pass: its Gram matrices complete G_rest (the other tiles'), whose D the backward uses."""
        with tf.GradientTape() as tape:
            tape.watch(window)
            cores = self._cores(
                self._net(window, self.layers, dtype, self.settings.border, None), crops
            )
        G = [g + h for g, h in zip(G_rest, self._core_grams(cores, guides))]
        D = [tf.stop_gradient(self._style_cotangent(g, a, n)) for g, a, n in self._per_layer(G)]
        content, tv, gradient = self._tile_gradient(
            window, crops, tv_crop, P, guides, D, boost, dtype, cores=cores, tape=tape
        )
        return content, tv, gradient, G

    def _per_layer(self, G):
        return zip(G, self.A, self.style_layers)

    def _core_features(self, image: np.ndarray, tile: Tile) -> list[tf.Tensor]:
        top, bottom, left, right = tile.window
        window = tf.constant(image[None, top:bottom, left:right], tf.float32)
        cores = self._cores(
            # all the loss's layers, so that the mirrored margin is the loss's (see Vgg16)
            self._net(window, self.layers, border=self.settings.border),
            crops(tile, self.shape, self.layers),
        )
        return [tf.constant(cores[name]) for name in self.content_layers]

    def _style_targets(self, styles: list[np.ndarray]) -> list[tf.Tensor]:
        """Return A for each style layer: blended, rescaled to M_l positions, gathered in tiles."""
        shares = blend_shares(len(styles), self.settings.style_blend)
        A = [0.0] * len(self.style_layers)
        for image, share in zip(styles, shares):
            grams = self._gather(image)
            positions = {n: h * w for n, h, w, _ in layer_sizes(*image.shape[:2], self.layers[-1])}
            for i, name in enumerate(self.style_layers):
                A[i] = A[i] + share * tf_helper.style_target(
                    grams[i], positions[name], self.M_l[name]
                )
        return [tf.constant(a) for a in A]

    def _gather(
        self, image: np.ndarray, tile_list=None, guides=None, precision: str = "float32"
    ) -> list[tf.Tensor]:
        """Return each style layer's Gram matrix over a whole picture, summed over its tiles,
        evaluated in `precision`; `guides` holds each tile's masks where they are guided."""
        tile_list = tile_list or tiles(*image.shape[:2], self.core, self.layers, self.exact)
        gram_pass = self._functions(precision)[0]
        G = None
        for k, tile in enumerate(tile_list):
            top, bottom, left, right = tile.window
            window = tf.constant(image[None, top:bottom, left:right], tf.float32)
            on_tile = guides[k] if guides else []
            grams = gram_pass(window, crops(tile, image.shape, self.layers), on_tile)
            G = grams if G is None else [g + h for g, h in zip(G, grams)]
        return G

    # --- The loss ---------------------------------------------------------------------

    def terms_and_gradient(self, image: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
        """Return the loss terms as floats and d(objective)/d(image) as (H, W, 3) float32.

        The largest tile goes last in the first pass and first in the second, in one forward
        pass: only the other tiles' forward passes are computed twice.
        """
        _, tile_gradient, last_tile_gradient = self._functions()
        last = max(range(len(self.tiles)), key=lambda k: _area(self.tiles[k].window))
        others = [k for k in range(len(self.tiles)) if k != last]
        if others:
            G_rest = self._gather(
                image,
                [self.tiles[k] for k in others],
                [self._tile_guides(k) for k in others],
                self.precision,
            )
        else:
            G_rest = self._no_grams()
        gradient = np.zeros(self.shape, np.float32)
        boost = tf.constant(self.content_boost, tf.float32)
        c, t, g, G = last_tile_gradient(*self._tile_inputs(image, last), G_rest, boost)
        self._add(gradient, self.tiles[last], g)
        content, tv = float(c), float(t)
        D = [self._style_cotangent(g, a, n) for g, a, n in self._per_layer(G)]
        for k in others:
            c, t, g = tile_gradient(*self._tile_inputs(image, k), D, boost)
            self._add(gradient, self.tiles[k], g)
            content, tv = content + float(c), tv + float(t)
        E = [self._layer_loss(g, a, n) for g, a, n in self._per_layer(G)]
        style = float(tf_helper.style_loss(E, self.w_l))
        terms = tf_helper.weighted_terms(self, content, style, tv, [float(e) for e in E])
        return {name: float(value) for name, value in terms.items()}, gradient

    def _tile_inputs(self, image: np.ndarray, k: int) -> tuple:
        tile = self.tiles[k]
        top, bottom, left, right = tile.window
        window = tf.constant(image[None, top:bottom, left:right], tf.float32)
        return (
            window, crops(tile, self.shape, self.layers), self._tv_crop(tile), self.P[k],
            self._tile_guides(k),
        )  # fmt: skip

    @staticmethod
    def _add(gradient: np.ndarray, tile: Tile, g: tf.Tensor) -> None:
        top, bottom, left, right = tile.window
        gradient[top:bottom, left:right] += g.numpy()[0]

    def terms(self, image: np.ndarray) -> dict[str, float]:
        """Return the float32 loss terms of an image (H, W, 3) as floats."""
        precision, self.precision = self.precision, "float32"
        try:
            return self.terms_and_gradient(image)[0]
        finally:
            self.precision = precision

    def _tv_crop(self, tile: Tile) -> np.ndarray:
        """Rows and columns of the neighbour pairs a tile counts: those starting in its core."""
        top, bottom, left, right = tile.core
        window_top, _, window_left, _ = tile.window
        more_rows, more_columns = int(bottom < self.shape[0]), int(right < self.shape[1])
        return np.array(
            [top - window_top, bottom - window_top, left - window_left, right - window_left,
             more_rows, more_columns],
            np.int32,
        )  # fmt: skip


def _area(window: tuple[int, int, int, int]) -> int:
    top, bottom, left, right = window
    return (bottom - top) * (right - left)


def _core(F: tf.Tensor, crop: tf.Tensor) -> tf.Tensor:
    """Return the positions of a window's features F (1, H, W, N) in crop (top, bottom, left,
    right)."""
    top, bottom, left, right = (crop[i] for i in range(4))
    # tf.slice, not F[:, top:bottom, ...]: its gradient is a Pad, where a strided slice's is
    # StridedSliceGrad, several times slower on the large early layers.
    return tf.slice(F, tf.stack([0, top, left, 0]), tf.stack([-1, bottom - top, right - left, -1]))


def _as_rows(F: tf.Tensor) -> tf.Tensor:
    return tf.reshape(F, (-1, tf.shape(F)[-1]))  # (1, H, W, N) -> (M, N)


def _tile_total_variation(window: tf.Tensor, crop: tf.Tensor) -> tf.Tensor:
    """Return the TV of the neighbour pairs whose first pixel lies in the tile's core."""
    x = window * 255.0
    top, bottom, left, right, more_rows, more_columns = (crop[i] for i in range(6))
    rows = _core(x, tf.stack([top, bottom + more_rows, left, right]))
    columns = _core(x, tf.stack([top, bottom, left, right + more_columns]))
    return tf_helper.neighbour_differences(rows, columns)
