"""Print-size pictures: a tiled iteration against a whole one at 1024 px, peak memory at 1024,
2048 and 4096 px, a 4096 px picture with the default schedule, and how visible tile borders are.

Run from the repository root: `.venv/bin/python benchmarks/large_pictures.py` (about 70
minutes on 2 cores; `--no-4096` stops before the long run). The photo is
image_resources/content/chelsea.jpg (451x300 px), enlarged by the command line itself to the
size asked: the repository ships no larger photo. Peak memory is the child process's own
high-water mark (VmHWM). Prints each figure as it is measured and writes
`benchmarks/results/large_pictures.json` and the pictures beside it.
"""

from __future__ import annotations

import argparse
import json
import time

import benchmark  # first: sets TensorFlow's start-up environment, puts the repo on sys.path
import numpy as np
import peak
from peak_memory import measure_peak_rss

ROOT, RESULTS = benchmark.ROOT, benchmark.RESULTS

CONTENT = ROOT / "image_resources/content/chelsea.jpg"
STYLE = ROOT / "image_resources/style/van_gogh_village_street_auvers.jpg"
GOALS = {"peak_2048_gib": 4.0, "peak_4096_gib": 6.0, "tiled_slowdown": 1.25, "minutes_4096": 75}


def tiled_against_whole(size: int = 1024, repeats: int = 3) -> dict:
    """Return median seconds of one loss-and-gradient evaluation, whole and in tiles, at `size`,
    in float32 and, where the CPU has bfloat16 instructions, in bfloat16."""
    import helper
    import tf_helper
    from going_further.style_scale import match_style_scale
    from going_further.tiling import TiledLoss
    from optimisation import memory, precisions
    from optimisation.settings import Settings
    from tensorflow_vgg.layers import halo
    from tensorflow_vgg.vgg16_avg_pool import network

    content = helper.resize_to_longest_side(helper.load_image(CONTENT), size)
    style = match_style_scale(helper.load_image(STYLE), content)
    net = network()
    core, settings = memory.tile_core(), Settings()
    side = core + 2 * halo(settings.layers)
    kinds = ["float32", "bfloat16"] if precisions.cpu_has_native_bfloat16() else ["float32"]
    report = {"size": size, "core": core, "seconds": {}, "ratio": {}}
    for precision in kinds:
        losses = {
            "whole": tf_helper.StyleTransferLoss(net, content, style, settings, precision),
            "tiles": TiledLoss(net, content, style, settings, precision, core=core, exact=False),
        }
        seconds = {
            label: benchmark.median_seconds(
                lambda loss=loss: loss.terms_and_gradient(content), repeats
            )
            for label, loss in losses.items()
        }
        whole, tiled = seconds.values()
        report["tiles"] = len(losses["tiles"].tiles)
        report["seconds"][precision], report["ratio"][precision] = seconds, tiled / whole
        print(
            f"one {precision} evaluation at {content.shape[1]}x{content.shape[0]} px: whole "
            f"{whole:.1f} s, in {report['tiles']} tiles (no window over {side}x{side} px) "
            f"{tiled:.1f} s ({tiled / whole:.2f}x; goal at most {GOALS['tiled_slowdown']:.2f}x)",
            flush=True,
        )
    return report


def cli_run(label: str, *options: str) -> dict:
    """Run the command line on the photo and painting in a child; return wall time, peak, stats."""

    output, stats = RESULTS / f"{label}.png", RESULTS / f"{label}.json"
    arguments = [str(CONTENT), str(STYLE), "-o", str(output), "--stats", str(stats), *options]
    arguments.append("--overwrite")  # the benchmark's own results, made again at each run
    start = time.perf_counter()
    peak_mib = measure_peak_rss(arguments, cwd=ROOT)
    wall = time.perf_counter() - start
    manifest = json.loads(stats.read_text())
    print(
        f"{label}: python -m style_transfer chelsea.jpg van_gogh_village_street_auvers.jpg "
        f"{' '.join(options)}: {wall / 60:.1f} min, peak {peak_mib / 1024:.2f} GiB, final loss "
        f"{manifest['final']['total']:.4g} ({manifest['stopped_because']})",
        flush=True,
    )
    return {
        "options": list(options),
        "wall_seconds": wall,
        "peak_gib": peak_mib / 1024,
        "final": manifest["final"],
        "history": manifest["history"],
        "output": str(output),
    }


def border_ratio(image: np.ndarray, borders: tuple[list[int], list[int]], grid: int = 1) -> float:
    """Return the mean |difference| of neighbouring pixels across tile borders over that elsewhere.

    `borders` holds, per axis (rows, columns), the first pixel of each tile after the first:
    a border lies between pixel b - 1 and b, with b a multiple of `grid`. "Elsewhere" is every
    other pair of rows or columns (b - 1, b) with b a multiple of `grid` (1: all). 1.0: no seam.
    """
    image = image.astype(np.float32)
    across, elsewhere = [], []
    for axis in (0, 1):
        differences = np.abs(np.diff(image, axis=axis)).mean(axis=(1 - axis, 2))
        mask = np.zeros(differences.shape, bool)
        mask[[b - 1 for b in borders[axis]]] = True  # pair (b - 1, b) is difference b - 1
        same_place = (np.arange(differences.size) + 1) % grid == 0  # tiles start on the lattice
        across.append(differences[mask])
        elsewhere.append(differences[~mask & same_place])
    return float(np.concatenate(across).mean() / np.concatenate(elsewhere).mean())


def seams(run: dict, sizes: list[int]) -> dict:
    """Return the border ratio of a run's picture for the tiles of each tiled scale in `sizes`."""
    from PIL import Image

    import helper
    from going_further import tile_geometry
    from optimisation import memory
    from optimisation.settings import Settings
    from tensorflow_vgg.layers import alignment

    with Image.open(run["output"]) as file:
        image = np.asarray(file.convert("RGB"))
    grid = alignment(Settings().layers)  # where tiles start: one position of conv5_1
    ratios = {}
    for size in sizes:
        height, width = helper.size_for_longest_side(*image.shape[:2], size)
        rows, columns = tile_geometry.tile_grid(height, width, memory.tile_core())
        factor = max(image.shape[:2]) / size  # a coarser scale's borders, enlarged
        borders = tuple(
            [round(start * factor) for start, _ in spans[1:]] for spans in (rows, columns)
        )
        ratios[size] = border_ratio(image, borders)
        # The network's poolings leave a faint lattice, one line per position of the deepest
        # layer, in any stylised picture, and tiles start on it: the fair "elsewhere" is the
        # lattice's other lines.
        lattice = f"{size} against the {grid} px lattice"
        ratios[lattice] = border_ratio(image, borders, grid)
        print(
            f"  tile borders of the {size} px scale (rows {borders[0]}, columns {borders[1]}): "
            f"neighbour difference {ratios[size]:.3f}x that elsewhere (goal at most 1.1), "
            f"{ratios[lattice]:.3f}x that on the other lines of the network's {grid} px lattice",
            flush=True,
        )
    return ratios


def main() -> None:
    """Measure in order, printing as it goes; write the JSON after each step."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-4096", action="store_true", help="skip the 4096 px picture")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    from optimisation.schedule import default_schedule

    report = {"gemm": peak.measure(), "goals": GOALS}
    path = RESULTS / "large_pictures.json"

    def save():
        path.write_text(json.dumps(report, indent=1))

    report["tiled_against_whole"] = tiled_against_whole()
    save()
    report["runs"] = {}
    report["runs"]["1024"] = cli_run("size_1024", "--size", "1024", "--iterations", "3")
    report["runs"]["2048"] = cli_run("size_2048", "--size", "2048", "--iterations", "3")
    save()
    if not args.no_4096:
        sizes, iterations = default_schedule(2724, 4096)
        print(f"4096 px, default schedule: scales {sizes} px, iterations {iterations}", flush=True)
        run = cli_run("size_4096_default", "--size", "4096")
        run["border_ratio"] = seams(run, [4096, 2048])
        report["runs"]["4096"] = run
        minutes = run["wall_seconds"] / 60
        print(
            f"4096 px: {minutes:.1f} min (goal {GOALS['minutes_4096']}), peak "
            f"{run['peak_gib']:.2f} GiB (goal {GOALS['peak_4096_gib']})"
        )
        save()
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
