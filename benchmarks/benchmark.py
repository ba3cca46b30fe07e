"""Measure the engine on this machine: GEMM rate, s/iteration, time to a good picture, memory.

Run from the repo root: `.venv/bin/python benchmarks/benchmark.py` (about 5 minutes on
2 cores; `--quality` adds four full 512 px runs of the command line from a cold process, about
25 minutes more: where a run evaluates in bfloat16 its curve holds the bfloat16 losses its
optimiser saw, its final loss is float32 like the others'). Prints tables and writes
`benchmarks/results/benchmark.json` (and, with `--quality`, `benchmarks/results/loss_vs_time.png`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tensorflow_vgg.quiet import set_engine_environment  # noqa: E402

set_engine_environment()  # as the command line starts TensorFlow

import numpy as np  # noqa: E402
import peak  # noqa: E402  (benchmarks/, the folder of this script)
from peak_memory import measure_peak_rss  # noqa: E402

CONTENT = ROOT / "image_resources/content/grace_hopper.jpg"
STYLE = ROOT / "image_resources/style/hokusai_great_wave.jpg"
RESULTS = ROOT / "benchmarks/results"
# The best total loss a long run reached at 512 px, measured once on the project's machine:
#   python -m style_transfer grace_hopper.jpg hokusai_great_wave.jpg --size 512 --iterations 1000
# (default loss, content init, SciPy's L-BFGS-B with 50 pairs; 55 minutes on one core).
REFERENCE_LOSS_512 = 1.520e9  # within 5% after 385 iterations, within 2% after 626
TIME_BUDGET_SECONDS = 180


def _timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def median_seconds(function, repeats: int, warm_ups: int = 1) -> float:
    """Return the median seconds of `repeats` calls of `function`, after `warm_ups` untimed ones
    (the first traces)."""
    for _ in range(warm_ups):
        function()
    return float(np.median([_timed(function) for _ in range(repeats)]))


def interleaved_median_seconds(functions: dict, repeats: int, warm_ups: int = 1) -> dict:
    """Return {name: median seconds} of `repeats` timed calls of each function, taken in turn
    (one of each per round, after `warm_ups` untimed rounds), so that a machine whose speed
    drifts during the run slows each of them alike and their ratios hold. Each timed call
    comes right after an untimed one of the same function, so that, as in a run of its own,
    it finds its data in the caches and the threads of the function before it idle (a
    library's threads spin a while after their work)."""
    for _ in range(warm_ups):
        for function in functions.values():
            function()
    times: dict = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            function()
            times[name].append(_timed(function))
    return {name: float(np.median(values)) for name, values in times.items()}


def evaluation_gflop(height: int, width: int) -> float:
    """Count the GFLOP of one loss-and-gradient evaluation through conv5_1, analytically.

    Forward: 2*9*C_in*C_out multiply-adds per output position of each convolution.
    Backward to the image only (no weight gradients): the same again. Gram matrices:
    2*M*N^2 forward and as much backward (one product, F (dG + dG^T)).
    """
    from loss_settings import STYLE_LAYERS
    from tensorflow_vgg.layers import CONV_SHAPES, layer_sizes

    flops = 0.0
    for name, h, w, c_out in layer_sizes(height, width, "conv5_1"):
        if name in CONV_SHAPES:
            c_in = CONV_SHAPES[name][2]
            flops += 2 * (2 * 9 * c_in * c_out * h * w)  # forward + backward-to-input
        if name in STYLE_LAYERS:
            flops += 2 * (2 * h * w * c_out * c_out)
    return flops / 1e9


def _images(size: int):
    import helper
    from going_further.style_scale import match_style_scale

    content = helper.resize(helper.load_image(CONTENT), size, size)
    style = match_style_scale(helper.load_image(STYLE), content)
    return content, style


def time_evaluations(size: int, repeats: int) -> dict[str, float]:
    """Return median seconds per loss-and-gradient for the engine's paths and eager TF."""
    import tensorflow as tf

    import tf_helper
    from optimisation.settings import Settings
    from optimisation.starts import initial_image
    from tensorflow_vgg.vgg16_avg_pool import network

    content, style = _images(size)
    net = network()
    image = initial_image("noise", content, [style], 0)
    timings = {}
    paths = (
        ("tf.function", False, "float32"),
        ("tf.function + XLA", True, "float32"),
        ("tf.function bfloat16", False, "bfloat16"),
    )
    for label, jit, precision in paths:
        loss = tf_helper.StyleTransferLoss(
            net, content, style, Settings(jit_compile=jit), precision
        )
        loss.terms_and_gradient(image)  # trace and compile
        loss.terms_and_gradient(image)
        timings[label] = float(
            np.median(
                [_timed(lambda loss=loss: loss.terms_and_gradient(image)) for _ in range(repeats)]
            )
        )
    batch = tf.constant(image[None])

    def eager():
        with tf.GradientTape() as tape:
            tape.watch(batch)
            total = loss(batch)["total"]  # float32, whatever `loss` was built with
        return tape.gradient(total, batch).numpy()

    eager()
    timings["eager GradientTape"] = float(np.median([_timed(eager) for _ in range(repeats)]))
    return timings


def time_lbfgs_iterations(size: int, iterations: int) -> dict[str, float]:
    """Return median wall seconds per L-BFGS iteration: the engine's and SciPy's L-BFGS-B.

    Both run the same loss from the content image with the same number of pairs; the
    difference is the optimiser's own work between two network passes.
    """
    import scipy.optimize

    import tf_helper
    from optimisation import lbfgs
    from tensorflow_vgg.vgg16_avg_pool import network

    content, style = _images(size)
    loss = tf_helper.StyleTransferLoss(network(), content, style)
    loss.terms_and_gradient(content)  # trace
    stamps = {"engine (lbfgs.py)": [], "SciPy L-BFGS-B": []}

    def engine_loss(x):
        terms, gradient = loss.terms_and_gradient(x.reshape(content.shape))
        return terms["total"], gradient.ravel()

    def scipy_loss(x):
        total, gradient = engine_loss(x.astype(np.float32))
        return total, gradient.astype(np.float64)

    clock = stamps["engine (lbfgs.py)"]
    lbfgs.minimize(
        engine_loss,
        content.ravel(),
        iterations,
        on_iteration=lambda x, f: clock.append(time.perf_counter()),
    )
    clock = stamps["SciPy L-BFGS-B"]
    scipy.optimize.minimize(
        scipy_loss,
        content.ravel().astype(np.float64),
        jac=True,
        method="L-BFGS-B",
        bounds=scipy.optimize.Bounds(0.0, 1.0),
        callback=lambda _: clock.append(time.perf_counter()),
        options={
            "maxiter": iterations,
            "maxcor": lbfgs.pairs_for(content.size),
            "ftol": 0,
            "gtol": 0,
        },
    )
    # The first iterations search for a step length; the median is of the rest.
    return {label: float(np.median(np.diff(times[5:]))) for label, times in stamps.items()}


def peak_memory_mb(size: int) -> float:
    """Return the peak resident memory (MiB) of a CLI run at `size` px, in a fresh process.

    The run is long enough for L-BFGS to fill its memory of (s, y) pairs.
    """
    import helper
    from optimisation import lbfgs

    height, width = helper.size_for_longest_side(*helper.image_size(CONTENT), size)
    iterations = lbfgs.pairs_for(3 * height * width) + 2
    output = RESULTS / f"memory_{size}.jpg"
    arguments = [str(CONTENT), str(STYLE), "-o", str(output), "--overwrite", "--size", str(size)]
    return measure_peak_rss([*arguments, "--iterations", str(iterations)], cwd=ROOT)


def time_to_quality(extra: list[str], label: str) -> dict:
    """Run the CLI from a cold process; return its wall time, final loss and loss curve."""
    stats = RESULTS / f"quality_{label}.json"
    output = RESULTS / f"quality_{label}.jpg"
    command = [
        sys.executable,
        "-m",
        "style_transfer",
        str(CONTENT),
        str(STYLE),
        "-o",
        str(output),
        "--overwrite",  # the benchmark's own results, made again at each run
        "--size",
        "512",
        "--stats",
        str(stats),
        *extra,
    ]
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
    wall = time.perf_counter() - start
    manifest = json.loads(stats.read_text())
    startup = wall - manifest["seconds"]
    history = manifest["history"]
    final_size = history[-1].get("size")  # coarse-to-fine: only the last scale's loss compares
    curve = [
        (startup + row["seconds"], row["total"]) for row in history if row.get("size") == final_size
    ]
    return {
        "command": " ".join(extra) or "(defaults)",
        "wall_seconds": wall,
        "final_total": manifest["final"]["total"],
        "curve": curve,
    }


def measure_speed(report: dict, repeats: int) -> None:
    """Time evaluations, L-BFGS iterations and peak memory; print them and add them to `report`."""
    report["gemm"] = peak.measure()
    rate = report["gemm"]["peak_gflops"]
    print(f"\n{'size':>6} {'path':<22} {'s/iter':>7} {'GFLOP/s':>8} {'% peak':>7}")
    report["evaluation"] = {}
    for size in (256, 512):
        gflop = evaluation_gflop(size, size)
        for label, seconds in time_evaluations(size, repeats).items():
            print(
                f"{size:>6} {label:<22} {seconds:7.2f} {gflop / seconds:8.0f} {100 * gflop / seconds / rate:6.0f}%"
            )
            report["evaluation"][f"{size} {label}"] = {"seconds": seconds, "gflop": gflop}
    print()
    report["peak_memory_mb"] = {}
    for size in (512, 1024):
        megabytes = peak_memory_mb(size)
        report["peak_memory_mb"][size] = megabytes
        print(f"peak resident memory at {size} px: {megabytes:.0f} MB")
    report["lbfgs_iteration_seconds"] = {}
    for size in (256, 512):
        for label, seconds in time_lbfgs_iterations(size, 25).items():
            print(f"{size:>6} one L-BFGS iteration, {label:<18} {seconds:6.2f} s")
            report["lbfgs_iteration_seconds"][f"{size} {label}"] = seconds
    print()


def main() -> None:
    """Run every measurement, print the tables and write the JSON and the plot."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--quality", action="store_true", help="also time the CLI to a good picture"
    )
    parser.add_argument(
        "--quality-only", action="store_true", help="only the --quality runs (skip the timings)"
    )
    parser.add_argument(
        "--reference-loss",
        type=float,
        default=REFERENCE_LOSS_512,
        help="best total loss of a long run at 512 px (default: %(default).4g)",
    )
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "cpu": peak.cpu()}
    }
    if not args.quality_only:
        measure_speed(report, args.repeats)
    if args.quality or args.quality_only:
        runs = [
            time_to_quality([], "default"),
            time_to_quality(["--precision", "float32"], "float32"),
            time_to_quality(["--precision", "bfloat16"], "bfloat16"),
            time_to_quality(["--scales", "256,512", "--iterations", "150,60"], "coarse_to_fine"),
        ]
        report["time_to_quality"] = runs
        _report_quality(runs, args.reference_loss)
    (RESULTS / "benchmark.json").write_text(json.dumps(report, indent=1))
    print(f"\nwrote {RESULTS / 'benchmark.json'}")


def _report_quality(runs: list[dict], reference: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    print(f"\ntime to quality at 512 px (reference loss {reference:.4g}):")
    figure, axis = plt.subplots(figsize=(7, 4))
    for run in runs:
        times, losses = zip(*run["curve"])
        ratio = np.array(losses) / reference
        axis.plot(times, ratio, label=run["command"])
        within = {
            p: next((t for t, r in zip(times, ratio) if r <= 1 + p / 100), None) for p in (5, 2)
        }
        in_budget = [r for t, r in zip(times, ratio) if t <= TIME_BUDGET_SECONDS]
        at_budget = f"{min(in_budget):.3f}" if in_budget else "-"
        print(
            f"  {run['command']:<32} wall {run['wall_seconds']:6.1f} s, final/ref {run['final_total'] / reference:.3f}, "
            f"best/ref within {TIME_BUDGET_SECONDS} s {at_budget}, "
            + ", ".join(
                f"within {p}% at {t:.0f} s" if t else f"never within {p}%"
                for p, t in within.items()
            )
        )
    axis.set(
        xlabel="wall seconds from a cold process",
        ylabel="total loss / reference",
        yscale="log",
        ylim=(0.95, 3),
    )
    axis.axhline(1.05, color="grey", linestyle=":")
    axis.axvline(TIME_BUDGET_SECONDS, color="grey", linestyle=":")
    axis.legend()
    figure.savefig(RESULTS / "loss_vs_time.png", dpi=100, bbox_inches="tight")


if __name__ == "__main__":
    main()
