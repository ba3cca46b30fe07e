"""The same loss and gradient written in PyTorch, timed beside the engine, when PyTorch is installed.

PyTorch is not a dependency: `.venv/bin/pip install torch==2.13.0` adds it. The network is
the same average-pool VGG16 (tensorflow_vgg/vgg16.npy, Caffe's BGR input), the loss the same
equation 7 with content conv4_2, five Gram layers and total variation, in channels_last, in
float32 and under bfloat16 autocast. The loss values are compared first, so that both sides
time the same computation, and in each precision the two sides are timed in turn, one call of
each per round, so that a machine whose speed drifts during the run slows both alike. Each
time is also given as an effective rate: the FLOPs of the direct computation
(`benchmark.evaluation_gflop`) over the time, as a share of the float32 matrix-multiply peak
measured first in the same run (above 100% is possible with Winograd's convolutions, which
make fewer multiplications than they are credited with). Run from the
repository root: `.venv/bin/python benchmarks/peer_pytorch.py` (a few minutes).

`--avx2` stands in for an AVX2-only CPU such as an AMD Zen 3 on one with AVX-512: it limits
oneDNN, MKL, PyTorch's kernels and XLA to AVX2. TensorFlow runs oneDNN's kernels, as the
engine starts it everywhere on x86 (tensorflow_vgg/quiet.py); `TF_ENABLE_ONEDNN_OPTS=0` in the
environment shows what TensorFlow would run on such a CPU by itself, Eigen's kernels.
"""

from __future__ import annotations

import argparse
import json
import os

import benchmark  # first: sets TensorFlow's start-up environment, puts the repo on sys.path
import numpy as np
import peak

from tensorflow_vgg.quiet import tensorflow_kernels, weights_frozen

ROOT, RESULTS = benchmark.ROOT, benchmark.RESULTS
# What each library reads to stay within AVX2: oneDNN (TensorFlow's and PyTorch's convolutions
# and matmuls), MKL (PyTorch's BLAS), PyTorch's own vectorised kernels, XLA's code generation.
AVX2_ONLY = {
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "ATEN_CPU_CAPABILITY": "avx2",
    "XLA_FLAGS": "--xla_cpu_max_isa=AVX2",
}
CONTENT = ROOT / "image_resources/content/grace_hopper.jpg"
STYLE = ROOT / "image_resources/style/hokusai_great_wave.jpg"


def torch_loss(content: np.ndarray, style: np.ndarray):
    """Return f(image (1, 3, H, W) tensor) -> total loss, built in PyTorch from vgg16.npy."""
    import torch
    import torch.nn.functional as F

    from loss_settings import CONTENT_LAYERS, STYLE_LAYERS
    from optimisation.settings import Settings
    from tensorflow_vgg.layers import LAYER_ORDER, deepest
    from tensorflow_vgg.vgg16_avg_pool import BGR_MEAN
    from tensorflow_vgg.weights import load_weights

    settings = Settings()
    weights = {
        name: (
            torch.from_numpy(kernel).permute(3, 2, 0, 1).contiguous(),  # (out, in, 3, 3)
            torch.from_numpy(bias),
        )
        for name, (kernel, bias) in load_weights().items()
    }
    weights = {
        name: (kernel.to(memory_format=torch.channels_last), bias)
        for name, (kernel, bias) in weights.items()
    }
    mean = torch.tensor(BGR_MEAN).view(1, 3, 1, 1)
    wanted = [*CONTENT_LAYERS, *STYLE_LAYERS]
    last = LAYER_ORDER.index(deepest(wanted))

    def features(rgb):
        x = rgb.flip(1) * 255.0 - mean  # RGB in [0, 1] -> Caffe's BGR minus the mean
        found = {}
        for name in LAYER_ORDER[: last + 1]:
            if name.startswith("pool"):
                x = F.avg_pool2d(x, 2, 2, ceil_mode=True, count_include_pad=False)
            else:
                kernel, bias = weights[name]
                x = F.relu(F.conv2d(x, kernel, bias, padding=1))
            if name in wanted:
                found[name] = x.float()
        return found

    def as_tensor(image):
        tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]
        return tensor.to(memory_format=torch.channels_last)

    def gram(F_l):
        rows = F_l.permute(0, 2, 3, 1).reshape(-1, F_l.shape[1])  # (M_l, N_l)
        return rows.T @ rows

    with torch.no_grad():
        P = {name: features(as_tensor(content))[name] for name in CONTENT_LAYERS}
        style_features = features(as_tensor(style))
        A = {name: gram(style_features[name]) for name in STYLE_LAYERS}

    def total(image):
        found = features(image)
        content_term = sum(0.5 * ((found[n] - P[n]) ** 2).sum() for n in CONTENT_LAYERS)
        style_term = 0
        for name in STYLE_LAYERS:
            N_l, M_l = found[name].shape[1], found[name].shape[2] * found[name].shape[3]
            E_l = ((gram(found[name]) - A[name]) ** 2).sum() / (4.0 * N_l**2 * M_l**2)
            style_term = style_term + E_l / len(STYLE_LAYERS)
        x = image.float() * 255.0
        tv = ((x[:, :, 1:] - x[:, :, :-1]) ** 2).sum() + ((x[..., 1:] - x[..., :-1]) ** 2).sum()
        return settings.alpha * content_term + settings.beta * style_term + settings.gamma * tv

    return total, as_tensor


def rate(size: int, seconds: float, peak_gflops: float) -> str:
    """Return the effective GFLOP/s of one evaluation at size x size in `seconds`, and its % of
    the float32 matrix-multiply peak, as text."""
    gflops = benchmark.evaluation_gflop(size, size) / seconds
    return f"{gflops:.0f} GFLOP/s effective, {100 * gflops / peak_gflops:.0f}% of peak"


def kernels_in_use(net, precision: str, size: int) -> str:
    """Return which convolution each layer of `net` runs in `precision` at size x size, as text."""
    import tensorflow as tf

    from loss_settings import CONTENT_LAYERS, STYLE_LAYERS
    from tensorflow_vgg.layers import CONV_LAYERS, CONV_SHAPES, LAYER_ORDER, deepest, layer_sizes

    direct = f"{tensorflow_kernels()}'s direct convolution"

    last = LAYER_ORDER.index(deepest([*CONTENT_LAYERS, *STYLE_LAYERS]))
    used = [name for name in CONV_LAYERS if LAYER_ORDER.index(name) <= last]
    inputs = {
        name: (1, h, w, CONV_SHAPES[name][2])
        for name, h, w, _ in layer_sizes(size, size, used[-1])
        if name in CONV_SHAPES
    }
    tiles = {name: net.tile(name, tf.as_dtype(precision), inputs[name]) for name in used}
    fast = [name for name in used if tiles[name]]
    if not fast:
        return f"{direct} on every layer"
    return (
        f"Winograd F({tiles[fast[0]]}x{tiles[fast[0]]}, 3x3) on {fast[0]}-{fast[-1]}, "
        f"{direct} on {', '.join(n for n in used if not tiles[n])}"
    )


def compare(
    size: int,
    repeats: int,
    precisions: tuple[str, ...],
    convolutions: tuple[str, ...],
    peak_gflops: float,
) -> dict:
    """Return seconds per loss-and-gradient at size x size: PyTorch and the engine, each
    precision, the engine with each of `convolutions` (where it differs from the direct one)."""
    import tensorflow as tf
    import torch

    import helper
    import tf_helper
    from optimisation.settings import Settings
    from optimisation.starts import initial_image
    from tensorflow_vgg.layers import CONV_LAYERS
    from tensorflow_vgg.vgg16_avg_pool import network

    content = helper.resize(helper.load_image(CONTENT), size, size)
    style = helper.resize(helper.load_image(STYLE), size, size)
    image = initial_image("noise", content, [style], 0)
    total, as_tensor = torch_loss(content, style)

    def torch_step(bfloat16: bool):
        x = as_tensor(image).clone().requires_grad_(True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bfloat16):
            loss = total(x)
        loss.backward()
        return float(loss.detach()), x.grad

    # PyTorch's VGG pads with zeros: the engine computes that same loss here, not its default
    # mirrored border, so values and times compare like with like.
    like_torch = Settings(border="zero")
    engine = tf_helper.StyleTransferLoss(network(), content, style, like_torch)
    torch_value = torch_step(False)[0]
    engine_value = engine.terms(image)["total"]
    print(
        f"{size} px: loss PyTorch {torch_value:.6g}, engine {engine_value:.6g} (relative "
        f"difference {abs(torch_value - engine_value) / engine_value:.1e})",
        flush=True,
    )
    # Each precision's contenders are timed in turn, one call of each per round: the machine's
    # speed drifts during a run (other tenants), and timed one after another they would not
    # see the same machine.
    seconds = {}
    for precision in precisions:
        engines = {}  # key: (network, float32 loss) of each engine timed in this precision
        contenders = {f"PyTorch {precision}": lambda b=precision == "bfloat16": torch_step(b)}
        for convolution in convolutions:
            net = network(convolution=convolution)
            if convolution != "direct" and not any(
                net.tile(name, tf.as_dtype(precision)) for name in CONV_LAYERS
            ):
                print(f"  {precision}: {convolution} convolves directly in {precision}")
                continue
            key = f"engine {precision}" + ("" if convolution == "direct" else f", {convolution}")
            engine = tf_helper.StyleTransferLoss(net, content, style, like_torch, precision)
            engines[key] = (net, engine.terms(image)["total"])
            contenders[key] = lambda engine=engine: engine.terms_and_gradient(image)
        if precision == "float32":
            xla_settings = Settings(border="zero", jit_compile=True)
            xla = tf_helper.StyleTransferLoss(network(), content, style, xla_settings)
            contenders["engine float32, XLA"] = lambda xla=xla: xla.terms_and_gradient(image)
        seconds.update(benchmark.interleaved_median_seconds(contenders, repeats, warm_ups=2))
        torch_seconds = seconds[f"PyTorch {precision}"]
        print(
            f"  {precision}, PyTorch: {torch_seconds:.3f} s, "
            f"{rate(size, torch_seconds, peak_gflops)}",
            flush=True,
        )
        for key, (net, value) in engines.items():
            print(
                f"  {precision}, engine ({kernels_in_use(net, precision, size)}): "
                f"{seconds[key]:.3f} s, {rate(size, seconds[key], peak_gflops)}; PyTorch "
                f"takes {torch_seconds / seconds[key]:.2f}x the engine's time (engine's "
                f"float32 loss {value:.7g})",
                flush=True,
            )
        if "engine float32, XLA" in contenders:
            xla_seconds = seconds["engine float32, XLA"]
            print(
                f"  float32 with XLA (jit_compile=True): engine {xla_seconds:.3f} s, "
                f"{rate(size, xla_seconds, peak_gflops)}: PyTorch takes "
                f"{torch_seconds / xla_seconds:.2f}x the engine's time",
                flush=True,
            )
    return {
        "size": size,
        "seconds": seconds,
        "loss": {"torch": torch_value, "engine": engine_value},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[512])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--bfloat16", action="store_true", help="time bfloat16 on any CPU")
    parser.add_argument(
        "--avx2", action="store_true", help="limit every library to AVX2 (see the docstring)"
    )
    parser.add_argument(
        "--convolutions",
        nargs="+",
        default=["direct"],
        choices=["direct", "winograd"],
        help="the engine's convolutions to time (tensorflow_vgg.vgg16_avg_pool.CONVOLUTIONS)",
    )
    args = parser.parse_args()
    if args.avx2:  # read when each library first runs a kernel, so before any import of them
        os.environ.update(AVX2_ONLY)
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: .venv/bin/pip install torch==2.13.0 adds it")
        return
    torch.set_num_threads(os.cpu_count() or 1)
    info = peak.cpu()
    print(f"PyTorch {torch.__version__} on {info.get('model')} (family {info.get('family')})")
    limits = {key: os.environ[key] for key in AVX2_ONLY if key in os.environ}
    if limits:
        print("instruction sets limited by " + " ".join(f"{k}={v}" for k, v in limits.items()))
    kernels, frozen = tensorflow_kernels(), weights_frozen()
    kept = ", weights frozen (each convolution reorders its kernel once)"
    kept = kept if frozen and kernels == "oneDNN" else ""
    print(f"TensorFlow's convolutions and products: {kernels}'s kernels{kept}")
    report = {"cpu": info, "torch": torch.__version__, "limits": limits, "peak": peak.measure()}
    report["tensorflow_kernels"], report["weights_frozen"] = kernels, frozen
    precisions = ("float32", "bfloat16")
    from optimisation import precisions as engine_precisions

    if args.avx2 or not (engine_precisions.resolve("auto") == "mixed" or args.bfloat16):
        precisions = ("float32",)
        print("no bfloat16 instructions here: both sides would emulate it (--bfloat16 times it)")
    report["sizes"] = [
        compare(
            size, args.repeats, precisions, tuple(args.convolutions), report["peak"]["peak_gflops"]
        )
        for size in args.sizes
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "peer_pytorch.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
