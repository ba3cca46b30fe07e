"""Time to quality: L-BFGS evaluations until the loss is within 5% of a long run's final loss.

One run of the engine (tf_run.run_style_transfer) at 512 px on the astronaut and van Gogh's
"Village Street in Auvers", a pair the tests do not use, with the default start and loss
settings, every evaluation's total loss recorded. Without `--reference` the run is the long
one: its own final float32 loss is the reference, and it is written to
`benchmarks/results/time_to_quality.json` (and its picture beside it) for shorter runs of
other settings to be judged by; a run with other settings names them in its file's name.
Evaluations run in float32 (`--precision`), so the curve is the loss the reference is in.
Run from the repository root, e.g. `.venv/bin/python benchmarks/time_to_quality.py
--iterations 1000` (about 20 minutes on 2 cores), then `... --iterations 400
--no-content-boost --reference benchmarks/results/time_to_quality.json`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import benchmark  # first: sets TensorFlow's start-up environment, puts the repo on sys.path

import helper
import tf_helper
import tf_run
from going_further.style_scale import match_style_scale
from optimisation.settings import INITS, Settings
from tensorflow_vgg.layers import CONVOLUTIONS, DEFAULT_CONVOLUTION
from tensorflow_vgg.vgg16_avg_pool import network

CONTENT = benchmark.ROOT / "image_resources/content/astronaut.jpg"
STYLE = benchmark.ROOT / "image_resources/style/van_gogh_village_street_auvers.jpg"
WITHIN = (0.05, 0.02)  # report the evaluations to come within these of the reference


class CountedLoss(tf_run.WrappedLoss):
    """A loss that records the total of every evaluation with its gradient, in order."""

    def __init__(self, loss):
        super().__init__(loss)
        self.totals: list[float] = []

    def terms_and_gradient(self, image):
        terms, gradient = self.loss.terms_and_gradient(image)
        self.totals.append(terms["total"])
        return terms, gradient


def evaluations_to_reach(totals: list[float], target: float) -> int | None:
    """Return how many evaluations it took for the lowest total so far to reach `target`."""
    best = float("inf")
    for count, total in enumerate(totals, start=1):
        best = min(best, total)
        if best <= target:
            return count
    return None


def result_name_parts(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[str]:
    """Return the settings this run changed from the defaults, as parts of a file name."""
    changed = []
    for name, value in sorted(vars(args).items()):
        if name != "reference" and value != parser.get_default(name):
            changed.append(f"{name}-{value}".replace("_", "-"))
    return changed + (["judged"] if args.reference else [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--convolution", default=DEFAULT_CONVOLUTION, choices=CONVOLUTIONS)
    parser.add_argument("--init", default=Settings.init, choices=INITS)
    parser.add_argument("--lbfgs-memory", type=int, default=None)
    parser.add_argument(
        "--no-content-boost", dest="content_boost", action="store_false",
        help="weigh the content as equation 7 does from the first iteration on",
    )  # fmt: skip
    parser.add_argument(
        "--no-preconditioner", dest="preconditioner", action="store_false",
        help="L-BFGS's usual first curvature, gamma I (optimisation/preconditioner.py)",
    )  # fmt: skip
    parser.add_argument("--reference", help="a long run's JSON: judge this run by its loss")
    args = parser.parse_args()
    height, width = helper.size_for_longest_side(*helper.image_size(CONTENT), args.size)
    content = helper.resize(helper.load_image(CONTENT), height, width)
    style = match_style_scale(helper.load_image(STYLE), content)  # as the command line does
    settings = Settings(
        iterations=args.iterations,
        precision=args.precision,
        init=args.init,
        lbfgs_memory=args.lbfgs_memory,
        content_boost=args.content_boost,
        preconditioner=args.preconditioner,
    )
    net = network(convolution=args.convolution)
    loss = CountedLoss(tf_helper.StyleTransferLoss(net, content, [style], settings))
    start = time.perf_counter()
    result = tf_run.run_style_transfer(content, style, settings, net=net, loss=loss)
    seconds = time.perf_counter() - start
    final = result.terms["total"]
    reference = json.loads(Path(args.reference).read_text())["final"] if args.reference else final
    report = {
        "content": CONTENT.name,
        "style": STYLE.name,
        "size": [height, width],
        "settings": vars(args),
        "seconds": seconds,
        "evaluations": len(loss.totals),
        "iterations": len(result.history),
        "final": final,
        "reference": reference,
        "totals": loss.totals,
    }
    print(
        f"{CONTENT.name} x {STYLE.name} at {width}x{height} px, {vars(args)}: "
        f"{len(result.history)} iterations, {len(loss.totals)} evaluations in {seconds:.0f} s; "
        f"final loss {final:.5g} ({final / reference:.3f} of the reference {reference:.5g})"
    )
    for within in WITHIN:
        count = evaluations_to_reach(loss.totals, (1 + within) * reference)
        report[f"evaluations_within_{within:g}"] = count
        print(f"  within {within:.0%} of the reference after {count} evaluations")
    name = "_".join(["time_to_quality", *result_name_parts(args, parser)])
    benchmark.RESULTS.mkdir(parents=True, exist_ok=True)
    (benchmark.RESULTS / f"{name}.json").write_text(json.dumps(report, indent=1))
    helper.save_image(result.image, benchmark.RESULTS / f"{name}.jpg")


if __name__ == "__main__":
    main()
