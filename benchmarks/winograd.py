"""Each VGG16 convolution shape timed with TensorFlow's direct convolution and with Winograd's.

For every 3x3 layer up to conv5_1 at each size: seconds of one forward convolution (a random
input, the layer's real shape), with `tf.nn.conv2d` (oneDNN) and with
`tensorflow_vgg/winograd.py`'s F(2x2, 3x3) and F(4x4, 3x3), in float32 and bfloat16, and the
effective rate (the direct convolution's FLOPs over the time). Winograd's time is split into
its input transform, its matrix products and its output transform. Run from the repository
root: `.venv/bin/python benchmarks/winograd.py --sizes 256 512` (a few minutes).
"""

from __future__ import annotations

import argparse
import json

import benchmark  # first: sets TensorFlow's start-up environment, puts the repo on sys.path
import numpy as np
import tensorflow as tf

from tensorflow_vgg import winograd
from tensorflow_vgg.layers import CONV_SHAPES, layer_sizes

RESULTS = benchmark.RESULTS
LAST = "conv5_1"  # the deepest layer the default loss uses


def layer_times(size: int, name: str, dtype: tf.DType, repeats: int) -> dict[str, float]:
    """Return seconds of one convolution of layer `name` at size x size px, by each method."""
    height = width = next(h for layer, h, w, _ in layer_sizes(size, size, LAST) if layer == name)
    _, _, c_in, c_out = CONV_SHAPES[name]
    rng = np.random.default_rng(0)
    x = tf.cast(tf.constant(rng.standard_normal((1, height, width, c_in), np.float32)), dtype)
    kernel = tf.constant(rng.standard_normal((3, 3, c_in, c_out), np.float32) / 30)
    kernel = tf.cast(kernel, dtype)
    direct = tf.function(lambda: tf.nn.conv2d(x, kernel, 1, "SAME"))
    times = {"direct": benchmark.median_seconds(lambda: direct().numpy(), repeats)}
    for m in winograd.TILES:
        U = winograd.kernel_transform(kernel, m)
        V = tf.function(lambda m=m: winograd.input_transform(x, m))()
        M = tf.matmul(V, U)
        steps = {
            "": tf.function(lambda m=m, U=U: winograd.convolution(x, U, m)),
            " input": tf.function(lambda m=m: winograd.input_transform(x, m)),
            " products": tf.function(lambda V=V, U=U: tf.matmul(V, U)),
            " output": tf.function(
                lambda m=m, M=M: winograd.output_transform(M, m, tf.shape(x)[:3])
            ),
        }
        for step, function in steps.items():
            times[f"F({m},3){step}"] = benchmark.median_seconds(
                lambda function=function: function().numpy(), repeats
            )
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    args = parser.parse_args()
    report = []
    for size in args.sizes:
        for dtype in args.dtypes:
            print(f"{size} px, {dtype}: ms per convolution (GFLOP/s of the direct FLOPs)")
            total: dict[str, float] = {}
            for name, height, width, _ in layer_sizes(size, size, LAST):
                if name.startswith("pool"):
                    continue
                times = layer_times(size, name, tf.as_dtype(dtype), args.repeats)
                _, _, c_in, c_out = CONV_SHAPES[name]
                flop = 2 * 9 * height * width * c_in * c_out
                for method, seconds in times.items():
                    total[method] = total.get(method, 0.0) + seconds
                cells = "  ".join(
                    f"{method} {1e3 * seconds:.1f} ({flop / seconds / 1e9:.0f})"
                    for method, seconds in times.items()
                )
                print(f"  {name} {height}x{width}x{c_in}->{c_out}: {cells}", flush=True)
                report.append({"size": size, "dtype": dtype, "layer": name, "seconds": times})
            summary = "  ".join(f"{method} {1e3 * s:.0f}" for method, s in total.items())
            print(f"  all layers, ms: {summary}", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "winograd.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
