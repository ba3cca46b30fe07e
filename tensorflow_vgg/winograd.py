"""Winograd's minimal filtering for VGG16's 3x3, stride-1, SAME convolutions, in TensorFlow ops.

Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016, section 4.
F(m x m, 3 x 3) gives an m x m output tile from an (m + 2) x (m + 2) input tile d as

    Y = A^T [ (G g G^T) * (B^T d B) ] A        (* elementwise, per channel pair)

where g is the 3x3 kernel. The kernel transform U = G g G^T is made once per weights; the
input tiles overlap by 2 px and each becomes V = B^T d B; summing U * V over the input channels
is, for each of the (m + 2)^2 positions of a tile, one matrix product (tiles x C_in) @
(C_in x C_out); the output transform A^T M A turns the products back into m x m pixels. So
F(2x2, 3x3) needs 16 multiplications per 4 outputs instead of 36 (2.25x fewer), F(4x4, 3x3)
36 per 16 instead of 144 (4x fewer), at the cost of the memory-bound transforms and some
float32 rounding (more for the larger tile, whose matrices hold 4s, 5s, 8s and 1/24s).
Only the convolution: no bias, no gradient of its own (the network writes the input gradient
as another forward convolution, with the adjoint kernel).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

# The transform matrices (B^T, G, A^T) of Lavin & Gray, eq. 7 (m = 2) and eq. 11 (m = 4).
_MATRICES = {
    2: (
        [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
        [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]],
        [[1, 1, 1, 0], [0, 1, -1, -1]],
    ),
    4: (
        [
            [4, 0, -5, 0, 1, 0],
            [0, -4, -4, 1, 1, 0],
            [0, 4, -4, -1, 1, 0],
            [0, -2, -1, 2, 1, 0],
            [0, 2, -1, -2, 1, 0],
            [0, 4, 0, -5, 0, 1],
        ],
        [
            [1 / 4, 0, 0],
            [-1 / 6, -1 / 6, -1 / 6],
            [-1 / 6, 1 / 6, -1 / 6],
            [1 / 24, 1 / 12, 1 / 6],
            [1 / 24, -1 / 12, 1 / 6],
            [0, 0, 1],
        ],
        [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
    ),
}
TILES = tuple(_MATRICES)


def transform_matrices(m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return B^T (m+2, m+2), G (m+2, 3) and A^T (m, m+2) of F(m x m, 3 x 3), float64."""
    if m not in _MATRICES:
        raise ValueError(f"Winograd tile must be one of {TILES}, not {m!r}")
    return tuple(np.array(matrix, dtype=np.float64) for matrix in _MATRICES[m])


def kernel_transform(kernel: tf.Tensor, m: int) -> tf.Tensor:
    """Return U = G g G^T of a (3, 3, in, out) kernel as ((m+2)^2, in, out), in float64 then
    cast back to the kernel's dtype (once per weights, so its rounding is the cast's alone)."""
    _, G, _ = transform_matrices(m)
    g = tf.cast(kernel, tf.float64)
    U = tf.einsum("ir,rsco,js->ijco", G, g, G)  # (m+2, m+2, in, out)
    return tf.cast(tf.reshape(U, (-1, *U.shape[2:])), kernel.dtype)


def _combine(matrix_row: np.ndarray, parts: list[tf.Tensor]) -> tf.Tensor:
    """Return sum_j matrix_row[j] * parts[j], skipping zeros and multiplying only where needed."""
    total = None
    for weight, part in zip(matrix_row, parts):
        if weight == 0:
            continue
        term = part if abs(weight) == 1 else part * tf.constant(abs(weight), part.dtype)
        if total is None:
            total = term if weight > 0 else -term
        else:
            total = total + term if weight > 0 else total - term
    return total


# XLA fuses each transform's slices, sums and stacking into one pass over memory; written as
# TensorFlow ops each would be a pass of its own, and the transforms would cost more than the
# products they save (measured: 45 ms against 5 ms for 128x128x64). One compilation per shape.
@tf.function(jit_compile=True)
def input_transform(x: tf.Tensor, m: int, flipped: bool = False) -> tf.Tensor:
    """Return V = B^T d B of every (m+2)-px tile, m px apart, of x (N, H, W, C) zero-padded as
    SAME needs (1 px, and on the bottom and right up to whole tiles): ((m+2)^2, tiles, C).
    `flipped`: of each tile turned upside down and left to right."""
    BT, _, _ = transform_matrices(m)
    BT = BT[:, ::-1] if flipped else BT
    height, width, channels = tf.shape(x)[1], tf.shape(x)[2], tf.shape(x)[3]
    rows, columns = -(-height // m), -(-width // m)  # tiles down and across
    pad = [[0, 0], [1, rows * m - height + 1], [1, columns * m - width + 1], [0, 0]]
    x = tf.pad(x, pad)  # (N, rows*m + 2, columns*m + 2, C)
    # Tile row r of every tile: (N, rows, columns*m + 2, C); B^T over them, then over columns.
    d = [x[:, r : r + rows * m : m] for r in range(m + 2)]
    d = [_combine(row, d) for row in BT]
    V = []
    for part in d:
        columns_of = [part[:, :, s : s + columns * m : m] for s in range(m + 2)]
        V += [_combine(row, columns_of) for row in BT]  # each (N, rows, columns, C)
    return tf.reshape(tf.stack(V), ((m + 2) ** 2, -1, channels))


@tf.function(jit_compile=True)
def output_transform(M: tf.Tensor, m: int, shape: tf.Tensor, flipped: bool = False) -> tf.Tensor:
    """Return Y = A^T M A of the products M ((m+2)^2, tiles, C_out) as the image (N, H, W,
    C_out), `shape` holding the input's N, H and W; the tiles' overhang is cut off.
    `flipped`: each output tile turned upside down and left to right."""
    _, _, AT = transform_matrices(m)
    AT = AT[::-1] if flipped else AT
    a = m + 2
    batch, height, width = shape[0], shape[1], shape[2]
    rows, columns = -(-height // m), -(-width // m)
    out = tf.shape(M)[-1]
    M = tf.reshape(M, (a, a, batch, rows, columns, out))
    rows_done = [_combine(row, [M[i] for i in range(a)]) for row in AT]  # m x (a, N, r, c, C)
    Y = [[_combine(row, [part[j] for j in range(a)]) for row in AT] for part in rows_done]
    Y = tf.stack([tf.stack(row, axis=3) for row in Y], axis=2)  # (N, rows, m, columns, m, C)
    Y = tf.reshape(Y, (batch, rows * m, columns * m, out))
    return Y[:, :height, :width]


def convolution(x: tf.Tensor, U: tf.Tensor, m: int, adjoint: bool = False) -> tf.Tensor:
    """Return the SAME, stride-1 3x3 convolution of x (N, H, W, C_in) whose kernel has the
    transform U = kernel_transform(kernel, m), as (N, H, W, C_out), by F(m x m, 3 x 3).

    `adjoint`: convolve x (N, H, W, C_out) with the adjoint kernel (flipped, channels
    swapped) instead, from the same U: correlating with a flipped kernel is correlating the
    flipped tile with the kernel and flipping the result, so B^T and A^T take their columns
    and rows in reverse, and U its channels swapped. No second transform is kept (4x the
    kernel's size for m = 4).
    """
    V = input_transform(x, m, adjoint)  # ((m+2)^2, tiles, C_in)
    M = tf.matmul(V, U, transpose_b=adjoint)  # ((m+2)^2, tiles, C_out): by oneDNN
    return output_transform(M, m, tf.shape(x)[:3], adjoint)


# The tile for each layer and compute dtype (absent: the direct convolution), measured with
# benchmarks/winograd.py on an AMD Zen 4: in float32 F(4x4, 3x3) took 0.33-0.64 of oneDNN's
# direct time from conv3_1 on at 512 px (0.56-0.92 at 256 px), tied on block 2 and lost on
# block 1 (few channels, large pictures: the transforms' memory traffic outweighs the
# products); in bfloat16 oneDNN's direct convolution runs at about twice the float32 rate,
# and Winograd lost or tied at every layer.
TILE_BY_LAYER = {
    tf.float32: {
        name: 4
        for name in ("conv3_1", "conv3_2", "conv3_3", "conv4_1", "conv4_2", "conv4_3")
        + ("conv5_1", "conv5_2", "conv5_3")
    },
}
