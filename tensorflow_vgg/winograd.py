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

import functools
from pathlib import Path

import numpy as np
import tensorflow as tf

from optimisation.precisions import cpu_flags
from tensorflow_vgg.quiet import onednn_limited_below_avx512, tensorflow_kernels

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


def _tile_positions(batch, padded_height, padded_width, rows, columns, m):
    """Return the index, in the padded image's (N * H' * W') pixels, of position (r, s) of every
    tile: ((m+2)^2, N * rows * columns), tiles m px apart, positions in row-major order."""
    a = m + 2
    r = tf.range(a)
    offsets = tf.reshape(r[:, None] * padded_width + r[None, :], (-1,))
    down = tf.range(rows) * m * padded_width
    across = tf.range(columns) * m
    images = tf.range(batch) * padded_height * padded_width
    corners = images[:, None, None] + down[None, :, None] + across[None, None, :]
    return offsets[:, None] + tf.reshape(corners, (-1,))[None, :]


# Both transforms are one gather or one transpose and one small matrix product, TensorFlow ops
# whose graph serves every image size. Compiled by XLA they were about as fast, but XLA compiles
# once per shape and keeps every compiled shape for the life of the process, tens of MB each:
# a batch of photos of many sizes grew without bound.
def input_transform(x: tf.Tensor, m: int, flipped: bool = False) -> tf.Tensor:
    """Return V = B^T d B of every (m+2)-px tile, m px apart, of x (N, H, W, C) zero-padded as
    SAME needs (1 px, and on the bottom and right up to whole tiles): ((m+2)^2, tiles, C).
    `flipped`: of each tile turned upside down and left to right."""
    with tf.name_scope("input_transform"):  # benchmarks/profile_evaluation.py counts it apart
        height, width = tf.shape(x)[1], tf.shape(x)[2]
        rows, columns = -(-height // m), -(-width // m)  # tiles down and across
        pad = [[0, 0], [1, rows * m - height + 1], [1, columns * m - width + 1], [0, 0]]
        return _padded_input_transform(tf.pad(x, pad), m, flipped)


def _padded_input_transform(
    x: tf.Tensor, m: int, flipped: bool, rows=None, first_row=0
) -> tf.Tensor:
    """Return V ((m+2)^2, tiles, C) of `rows` rows of tiles (default: all) from row `first_row`
    on, of x (N, H, W, C) padded already: 1 px around whole tiles, so H - 2 and W - 2 are
    multiples of m."""
    BT, _, _ = transform_matrices(m)
    BT = BT[:, ::-1] if flipped else BT
    a = m + 2
    shape = tf.shape(x)
    batch, height, width, channels = shape[0], shape[1], shape[2], shape[3]
    rows = (height - 2) // m if rows is None else rows
    positions = _tile_positions(batch, height, width, rows, (width - 2) // m, m)
    # Gathered from the whole image: a band's rows are an offset, not a copy of the band.
    positions = positions + first_row * m * width
    d = tf.gather(tf.reshape(x, (-1, channels)), positions)  # ((m+2)^2, tiles, C)
    # vec(B^T d B) = (B^T kron B^T) vec(d), for every tile and channel at once.
    V = tf.matmul(tf.constant(np.kron(BT, BT), x.dtype), tf.reshape(d, (a * a, -1)))
    return tf.reshape(V, (a * a, -1, channels))


def output_transform(M: tf.Tensor, m: int, shape: tf.Tensor, flipped: bool = False) -> tf.Tensor:
    """Return Y = A^T M A of the products M ((m+2)^2, tiles, C_out) as the image (N, H, W,
    C_out), `shape` holding the input's N, H and W; the tiles' overhang is cut off.
    `flipped`: each output tile turned upside down and left to right."""
    _, _, AT = transform_matrices(m)
    AT = AT[::-1] if flipped else AT
    a = m + 2
    with tf.name_scope("output_transform"):  # benchmarks/profile_evaluation.py counts it apart
        batch, height, width = shape[0], shape[1], shape[2]
        rows, columns = -(-height // m), -(-width // m)
        out = tf.shape(M)[-1]
        Y = tf.matmul(tf.constant(np.kron(AT, AT), M.dtype), tf.reshape(M, (a * a, -1)))
        Y = tf.reshape(Y, (m, m, batch, rows, columns, out))  # pixel (i, j) of every tile
        Y = tf.transpose(Y, (2, 3, 0, 4, 1, 5))  # (N, rows, m, columns, m, C_out)
        Y = tf.reshape(Y, (batch, rows * m, columns * m, out))
        return Y[:, :height, :width]


def convolution(
    x: tf.Tensor, U: tf.Tensor, m: int, adjoint: bool = False, bands: int = 1
) -> tf.Tensor:
    """Return the SAME, stride-1 3x3 convolution of x (N, H, W, C_in) whose kernel has the
    transform U = kernel_transform(kernel, m), as (N, H, W, C_out), by F(m x m, 3 x 3).

    `adjoint`: convolve x (N, H, W, C_out) with the adjoint kernel (flipped, channels
    swapped) instead, from the same U: correlating with a flipped kernel is correlating the
    flipped tile with the kernel and flipping the result, so B^T and A^T take their columns
    and rows in reverse, and U its channels swapped. No second transform is kept (4x the
    kernel's size for m = 4). `bands` > 1: in that many bands of tile rows (`band_count`).
    """
    if bands > 1:
        return _in_bands(x, U, m, adjoint, bands)
    V = input_transform(x, m, adjoint)  # ((m+2)^2, tiles, C_in)
    M = tf.matmul(V, U, transpose_b=adjoint)  # ((m+2)^2, tiles, C_out): by oneDNN
    return output_transform(M, m, tf.shape(x)[:3], adjoint)


# Above this many elements in the transformed tiles V or the products M of one convolution
# (each 2.25 times its image for m = 4), it runs in BANDS bands of tile rows, one after another:
# made whole at 1024 px and beyond, V and M raised a run's peak memory well above the direct
# convolution's (benchmarks/README.md gives the figures). Below the bound, bands only cost time;
# it leaves the Winograd layers of a 512 px picture whole.
BAND_ELEMENTS = 3 * 2**23
BANDS = 2


def band_count(shape, c_in: int, c_out: int, m: int) -> int:
    """Return the bands `convolution` should run an input of static shape (N, H, W, C) in, by
    F(m x m, 3 x 3) from c_in to c_out channels (either way): BANDS where V or M would hold
    more than BAND_ELEMENTS, else 1, and 1 where the shape is not known when traced."""
    batch, height, width = shape[:3]
    if None in (batch, height, width):
        return 1
    elements = (m + 2) ** 2 * batch * -(-height // m) * -(-width // m) * max(c_in, c_out)
    return BANDS if elements > BAND_ELEMENTS else 1


def _in_bands(x: tf.Tensor, U: tf.Tensor, m: int, adjoint: bool, bands: int) -> tf.Tensor:
    """Return `convolution(x, U, m, adjoint)` in `bands` bands of tile rows, one after another."""
    shape = tf.shape(x)
    batch, height, width = shape[0], shape[1], shape[2]
    columns = -(-width // m)
    band_rows = -(-height // (bands * m))  # of tiles
    band_height = band_rows * m
    pad = [[0, 0], [1, bands * band_height - height + 1], [1, columns * m - width + 1], [0, 0]]
    x = tf.pad(x, pad)
    out = []
    for i in range(bands):
        # Each band waits for the one before: run side by side they would hold as much as
        # the whole convolution.
        with tf.control_dependencies(out[-1:]):
            with tf.name_scope("input_transform"):
                V = _padded_input_transform(x, m, adjoint, band_rows, i * band_rows)
        M = tf.matmul(V, U, transpose_b=adjoint)
        out.append(output_transform(M, m, [batch, band_height, columns * m], adjoint))
    return tf.concat(out, axis=1)[:, :height, :width]


# The tile for each layer and compute dtype (absent: the direct convolution), measured with
# benchmarks/winograd.py on an AMD Zen 4: in float32 F(4x4, 3x3) took 0.34-0.56 of oneDNN's
# direct time from conv3_1 on at 512 px, and 0.71 on conv2_2 at both 256 and 512 px; it tied
# on conv2_1 at 512 px and lost on block 1 (few channels over many pixels: the transforms'
# memory traffic outweighs the products saved). In bfloat16 oneDNN's direct convolution runs
# at about twice the float32 rate, and Winograd lost or tied at every layer.
TILE_BY_LAYER = {
    tf.float32: {
        name: 4
        for name in ("conv2_2", "conv3_1", "conv3_2", "conv3_3", "conv4_1", "conv4_2", "conv4_3")
        + ("conv5_1", "conv5_2", "conv5_3")
    },
}
# Where oneDNN runs without AVX-512 its direct float32 convolution is a product over im2col
# patches ("gemm:jit" in ONEDNN_VERBOSE's log), and F(4x4, 3x3) won on conv1_2 and conv2_1
# too, but only while the layer's transforms are whole: in bands (a 1024 px picture) their
# memory outweighed the time saved (benchmarks/README.md). With Eigen's kernels it lost.
TILE_WHERE_WHOLE_WITHOUT_AVX512 = {tf.float32: {"conv1_2": 4, "conv2_1": 4}}
# The flags oneDNN's AVX-512 needs.
AVX512_CORE = ("avx512f", "avx512bw", "avx512vl", "avx512dq")


def tile_for(name: str, dtype: tf.DType, shape, c_in: int, c_out: int) -> int:
    """Return Winograd's tile for layer `name` (c_in -> c_out) in `dtype`, 0 for direct.

    That is TILE_BY_LAYER's; or, for an input of static shape (N, H, W, C) where oneDNN runs
    below AVX-512, TILE_WHERE_WHOLE_WITHOUT_AVX512's if `band_count` leaves it whole.
    """
    tile = TILE_BY_LAYER.get(dtype, {}).get(name, 0)
    if tile or shape is None or None in tuple(shape)[:3]:  # H or W unknown: so is "whole"
        return tile
    extra = TILE_WHERE_WHOLE_WITHOUT_AVX512.get(dtype, {}).get(name, 0)
    if extra and onednn_below_avx512() and tensorflow_kernels() == "oneDNN":
        return extra if band_count(shape, c_in, c_out, extra) == 1 else 0
    return 0


@functools.cache
def onednn_below_avx512(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Return whether oneDNN runs x86 code below AVX-512 here: the CPU flags (Linux's cpuinfo)
    lack AVX512_CORE or its ISA limit stops below it; False for no x86 flags line (not measured)."""
    flags = cpu_flags(cpuinfo)
    if not flags:  # not x86 (an ARM cpuinfo has "Features"), unreadable, or not Linux's format
        return False
    return onednn_limited_below_avx512() or not has_avx512_core(flags)


def has_avx512_core(flags: set[str]) -> bool:
    """Return whether CPU flags (precisions.cpu_flags) hold all AVX512_CORE, oneDNN's AVX-512."""
    return all(flag in flags for flag in AVX512_CORE)
