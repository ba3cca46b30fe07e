"""Estimate the peak memory of a style-transfer run from its image size, before starting it.

Also reads how much memory the machine has free. Knows nothing of TensorFlow: the network's
shapes come from tensorflow_vgg.weights, so the command line can refuse a run in a second.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import lbfgs
from tensorflow_vgg.weights import CONV_SHAPES

# VGG16's layers in order: each block's convolutions, then its pooling.
_LAYER_CHANNELS: dict[str, int] = {}
for _name, _shape in CONV_SHAPES.items():
    _block = _name[4]
    _LAYER_CHANNELS[_name] = _shape[-1]
    if _name in ("conv1_2", "conv2_2", "conv3_3", "conv4_3", "conv5_3"):
        _LAYER_CHANNELS[f"pool{_block}"] = _shape[-1]

DEFAULT_LAYERS = ("conv4_2", "conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")

# --- What was measured ---------------------------------------------------------------------
# Peak resident memory (VmHWM of the child process) of
#   python style_transfer.py astronaut.jpg hokusai_great_wave.jpg --size S --iterations 3
# with the defaults (L-BFGS keeping 50 corrections, conv4_2 + conv1_1..conv5_1, no GIF, no
# XLA), on the project's machine (2 cores, 24 GiB, TensorFlow 2.21 CPU), measured once with
# `python memory.py --measure 256 512 1024` (then with SciPy's L-BFGS-B, whose work memory
# was taken off before fitting). Columns: size (content S x S, style of the same
# area), iterations, peak MiB. The estimate is within 5% of each (997, 1585 and 3942 MiB).
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


class InsufficientMemoryError(Exception):
    """A run whose estimated peak memory exceeds the memory available."""


def layer_sizes(height: int, width: int, deepest: str) -> list[tuple[str, int, int, int]]:
    """Return (name, H_l, W_l, C_l) for every layer up to `deepest` (SAME pooling rounds up)."""
    sizes = []
    for name, channels in _LAYER_CHANNELS.items():
        if name.startswith("pool"):
            height, width = math.ceil(height / 2), math.ceil(width / 2)
        sizes.append((name, height, width, channels))
        if name == deepest:
            return sizes
    raise ValueError(f"unknown layer {deepest!r}")


def activation_bytes(height: int, width: int, layers: Sequence[str] = DEFAULT_LAYERS) -> int:
    """Return the float32 bytes of every activation up to the deepest layer in use."""
    order = list(_LAYER_CHANNELS)
    deepest = max(layers, key=order.index)
    return sum(4 * h * w * c for _, h, w, c in layer_sizes(height, width, deepest))


def lbfgs_bytes(pixels: int, iterations: int, corrections: int | None = None) -> int:
    """Return lbfgs.minimize's float32 work memory: (2m + 8) n values, m the pairs kept.

    Each iteration stores one pair (s, y) until m are kept (default: lbfgs.pairs_for(n));
    the 8 are x, g, the direction and the trial step with their temporaries.
    """
    n = 3 * pixels
    kept = min(iterations, corrections or lbfgs.pairs_for(n))
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

    BASE_BYTES covers Python, TensorFlow and XLA, the weights and their TensorFlow copies.
    ACTIVATION_FACTOR times the activations up to the deepest layer covers what the backward
    pass keeps (conv outputs, ReLU masks, their gradients) and XLA's buffers. The style
    image's forward pass (no gradient) runs before the optimisation and frees its memory.
    Then L-BFGS's history, and the GIF frames (float32) kept until the end.
    """
    pixels = height * width
    peak = BASE_BYTES + ACTIVATION_FACTOR * activation_bytes(height, width, layers)
    if style_shape is not None:
        # The style targets are computed once, without gradient: only when the style is much
        # larger than the content does its forward pass come close to the backward pass.
        style_forward = 2 * activation_bytes(*style_shape, layers)
        peak = max(peak, BASE_BYTES + style_forward)
    if optimizer == "lbfgs":
        peak += lbfgs_bytes(pixels, iterations, lbfgs_corrections)
    peak += gif_frames * pixels * 3 * 4
    return int(peak)


def available_bytes(meminfo: str | os.PathLike = "/proc/meminfo") -> int | None:
    """Return MemAvailable from /proc/meminfo in bytes, or None where there is no such file."""
    try:
        text = Path(meminfo).read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return None


def format_bytes(count: float) -> str:
    """Return a byte count for people: '1.4 GiB', '730 MiB'."""
    if count >= 2**30:
        return f"{count / 2**30:.1f} GiB"
    return f"{count / 2**20:.0f} MiB"


def largest_fitting_size(height: int, width: int, budget: int, **estimate_options) -> int | None:
    """Return the largest --size (longest side) whose run fits in `budget` bytes, or None.

    The aspect ratio of height x width is kept; the style is assumed scaled to the same area.
    """

    def fits(size: int) -> bool:
        scale = size / max(height, width)
        h, w = max(1, round(height * scale)), max(1, round(width * scale))
        return estimate_peak_bytes(h, w, style_shape=(h, w), **estimate_options) <= budget

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


_PEAK_REPORTING_RUN = """
import atexit, runpy, sys
def report():
    status = open("/proc/self/status").read()
    print("peak-rss-kib", status.split("VmHWM:")[1].split()[0], file=sys.__stderr__, flush=True)
atexit.register(report)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def measure_peak_rss(arguments: Sequence[str], cwd: str | os.PathLike | None = None) -> float:
    """Run `python style_transfer.py ARGUMENTS` in a child process; return its peak RSS in MiB.

    The child reports its own high-water mark (VmHWM) as it exits. Its ru_maxrss would do on
    a small parent, but Linux carries the parent's peak over into a child through fork and
    exec, so under pytest (TensorFlow loaded) it would report the parent's size.
    """
    script = Path(__file__).resolve().parent / "style_transfer.py"
    command = [sys.executable, "-c", _PEAK_REPORTING_RUN, str(script), *arguments]
    done = subprocess.run([*command, "--no-memory-check"], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{script} {' '.join(arguments)} failed:\n{done.stderr[-3000:]}")
    line = [line for line in done.stderr.splitlines() if line.startswith("peak-rss-kib")][-1]
    return int(line.split()[1]) / 1024


def _measure(sizes: Sequence[int], iterations: int) -> None:
    """Measure the default run at each size and print it next to the estimate."""
    import tempfile

    root = Path(__file__).resolve().parent
    content = root / "image_resources/content/astronaut.jpg"  # square, 512x512
    style = root / "image_resources/style/hokusai_great_wave.jpg"
    for size in sizes:
        with tempfile.TemporaryDirectory() as scratch:
            output = Path(scratch) / "out.png"
            arguments = [str(content), str(style), "-o", str(output), "--size", str(size)]
            measured = measure_peak_rss([*arguments, "--iterations", str(iterations)])
        estimate = estimate_peak_bytes(size, size, iterations=iterations) / 2**20
        print(
            f"size {size}: measured {measured:.0f} MiB, estimate {estimate:.0f} MiB "
            f"({estimate / measured - 1:+.0%}), activations "
            f"{activation_bytes(size, size) / 2**20:.0f} MiB, L-BFGS "
            f"{lbfgs_bytes(size * size, iterations) / 2**20:.0f} MiB",
            flush=True,
        )


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Measure peak memory against the estimate.")
    parser.add_argument("--measure", type=int, nargs="+", default=[256], metavar="SIZE")
    parser.add_argument("--iterations", type=int, default=3)
    options = parser.parse_args()
    _measure(options.measure, options.iterations)
