"""Estimate the peak memory of a style-transfer run from its image size, before starting it.

Knows nothing of TensorFlow: the network's shapes come from tensorflow_vgg.layers, so the
command line can refuse a run in a second.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import helper
from loss_settings import CONTENT_LAYERS, DEFAULT_LAYERS
from optimisation import lbfgs
from tensorflow_vgg.layers import (
    CHANNELS,
    CONV_SHAPES,
    alignment,
    deepest,
    halo,
    layer_sizes,
    layers_up_to,
)

# --- What was measured ---------------------------------------------------------------------
# Peak resident memory (VmHWM of the child process) of
#   python -m style_transfer astronaut.jpg hokusai_great_wave.jpg --size S --iterations 3
# with the defaults (L-BFGS keeping 50 corrections, conv4_2 + conv1_1..conv5_1, no GIF, no
# XLA), on the project's machine (2 cores, 24 GiB, TensorFlow 2.21 CPU), measured once with
# measure_peak_rss (then with SciPy's L-BFGS-B, whose work memory was taken off before
# fitting). Columns: size (content S x S, style of the same
# area), iterations, peak MiB. The estimate is within 9% of each (1064, 1629 and 3886 MiB,
# with `kept_kernel_bytes`, added later).
# (With XLA on, the peaks were 1261, 2298 and 6172 MiB: compiling costs memory too.)
MEASURED: tuple[tuple[int, int, float], ...] = (
    (256, 3, 976.0),  # activations to conv5_1:   74 MiB, L-BFGS work memory:  19 MiB
    (512, 3, 1666.0),  # activations to conv5_1:  296 MiB, L-BFGS work memory:  75 MiB
    (1024, 3, 3865.0),  # activations to conv5_1: 1184 MiB, L-BFGS work memory: 300 MiB
)

# The two constants of `estimate_peak_bytes`, fitted to MEASURED after taking off the L-BFGS
# work memory: 800 MiB (Python, TensorFlow, the weights) + 2.4 x the activations (kept for
# the backward pass, plus their gradients and oneDNN's buffers).
BASE_BYTES = 800 * 2**20
ACTIVATION_FACTOR = 2.4

MEMORY_CHECK_ENV_VAR = "STYLE_TRANSFER_NO_MEMORY_CHECK"

# A tiled run (going_further/tiling.py) keeps one tile's activations at a time: tiles are
# sized so that those take about TILE_BYTES, whatever the picture's size. Larger tiles waste
# less on halos; 1.5 GiB keeps a 4096 px run within 6 GB.
TILE_BYTES = 3 * 2**29
# A tiled evaluation takes about this many times as long as a whole one: the first pass
# repeats the forward pass, and each tile's halo is computed by its neighbours too.
TILED_COST = 1.6


class InsufficientMemoryError(Exception):
    """A run whose estimated peak memory exceeds the memory available."""


def activation_bytes(height: int, width: int, layers: Sequence[str] = DEFAULT_LAYERS) -> int:
    """Return the float32 bytes of every activation up to the deepest layer in use."""
    return sum(4 * h * w * c for _, h, w, c in layer_sizes(height, width, deepest(layers)))


def kept_kernel_bytes(layers: Sequence[str] = DEFAULT_LAYERS) -> int:
    """Return the float32 bytes of every kernel and its adjoint up to the deepest layer in use:
    what oneDNN keeps, reordered, where the command line tells it the weights are frozen."""
    in_use = layers_up_to(layers)
    return sum(2 * 4 * math.prod(CONV_SHAPES[name]) for name in in_use if name in CONV_SHAPES)


def lbfgs_bytes(pixels: int, iterations: int, corrections: int | None = None) -> int:
    """Return lbfgs.minimize's float32 work memory: (2m + 8) n values, m the pairs kept.

    Each iteration stores one pair (s, y) until m are kept (default: lbfgs.pairs_for(n));
    the 8 are x, g, the direction and the trial step with their temporaries.
    """
    n = 3 * pixels
    kept = max(0, min(iterations, corrections or lbfgs.pairs_for(n)))
    return (2 * kept + 8) * n * 4


def estimate_peak_bytes(
    height: int,
    width: int,
    *,
    style_shape: tuple[int, int] | None = None,
    layers: Sequence[str] = DEFAULT_LAYERS,
    optimizer: str = "lbfgs",
    iterations: int = 300,
    lbfgs_corrections: int | None = None,
    gif_frames: int = 0,
) -> int:
    """Return the estimated peak resident memory (bytes) of a run on a height x width image.

    BASE_BYTES covers Python, TensorFlow and XLA, the weights and their TensorFlow copies;
    `kept_kernel_bytes` the kernels oneDNN keeps where the weights are told frozen.
    ACTIVATION_FACTOR times the activations up to the deepest layer covers what the backward
    pass keeps (conv outputs, ReLU masks, their gradients) and XLA's buffers. The style
    image's forward pass (no gradient) runs before the optimisation and frees its memory.
    Then L-BFGS's history, and the GIF frames (float32) kept until the end.
    """
    pixels = height * width
    peak = BASE_BYTES + ACTIVATION_FACTOR * activation_bytes(height, width, layers)
    peak += kept_kernel_bytes(layers)
    if style_shape is not None:
        # The style targets are computed once, without gradient: only when the style is much
        # larger than the content does its forward pass come close to the backward pass.
        style_forward = 2 * activation_bytes(*style_shape, layers)
        peak = max(peak, BASE_BYTES + style_forward)
    if optimizer == "lbfgs":
        peak += lbfgs_bytes(pixels, iterations, lbfgs_corrections)
    peak += gif_frames * pixels * 3 * 4
    return int(peak)


def tiled_peak_bytes(
    height: int,
    width: int,
    core: int,
    *,
    layers: Sequence[str] = DEFAULT_LAYERS,
    content_layers: Sequence[str] = CONTENT_LAYERS,
    optimizer: str = "lbfgs",
    iterations: int = 300,
    lbfgs_corrections: int | None = None,
    gif_frames: int = 0,
) -> int:
    """Return the estimated peak resident memory (bytes) of a run evaluated in tiles of `core` px.

    One tile's window (core and halo) at a time takes the activations a whole picture would;
    the whole picture still has its content targets P, and the run holds the photo, the
    painting, the gradient and the best picture (four float32 pictures) besides L-BFGS's
    memory and the GIF frames.
    """
    margin = halo(layers)
    window = min(height, core + 2 * margin), min(width, core + 2 * margin)
    pixels = height * width
    targets = sum(
        4 * h * w * CHANNELS[name]
        for name, h, w, _ in layer_sizes(height, width, deepest(layers))
        if name in content_layers
    )
    peak = BASE_BYTES + ACTIVATION_FACTOR * activation_bytes(*window, layers) + targets
    peak += 4 * pixels * 3 * 4
    if optimizer == "lbfgs":
        peak += lbfgs_bytes(pixels, iterations, lbfgs_corrections)
    return int(peak + gif_frames * pixels * 3 * 4)


def tile_core(layers: Sequence[str] = DEFAULT_LAYERS) -> int:
    """Return the core side (px) of the tiles whose windows' activations take about TILE_BYTES."""
    grid, margin = alignment(layers), halo(layers)
    side = 2 * margin + grid
    while ACTIVATION_FACTOR * activation_bytes(side + grid, side + grid, layers) <= TILE_BYTES:
        side += grid
    return side - 2 * margin


def largest_fitting_size(
    height: int, width: int, budget: int, tiled: bool = False, **estimate_options
) -> int | None:
    """Return the largest --size (longest side) whose run fits in `budget` bytes, or None.

    The aspect ratio of height x width is kept; the style is assumed scaled to the same area.
    With `tiled`, a run evaluated in tiles counts as well, with the smallest tiles
    plan_tiles would choose.
    """
    layers = estimate_options.get("layers", DEFAULT_LAYERS)
    tiled_options = {key: value for key, value in estimate_options.items() if key != "layers"}

    def fits(size: int) -> bool:
        h, w = helper.size_for_longest_side(height, width, size)
        if estimate_peak_bytes(h, w, style_shape=(h, w), **estimate_options) <= budget:
            return True
        core = 2 * halo(layers)
        return tiled and tiled_peak_bytes(h, w, core, layers=layers, **tiled_options) <= budget

    low, high = 16, 1 << 15  # --size may upscale, so search beyond the image's own size
    if not fits(low):
        return None
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low
