"""Compare coarse-to-fine schedules with single-scale L-BFGS by loss against cost.

Cost is counted in evaluations at the final size (an evaluation at half the side costs
a quarter), so the comparison does not depend on what else the machine is doing.
Example: `.venv/bin/python benchmarks/coarse_to_fine.py --size 256 --schedule 128:60,256:150
--schedule 256:300`. Writes benchmarks/results/coarse_to_fine_<size>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tensorflow_vgg.quiet import set_engine_environment  # noqa: E402

set_engine_environment()  # as the command line starts TensorFlow

import helper  # noqa: E402
import tf_helper  # noqa: E402
from going_further.stylize import stylize  # noqa: E402
from tensorflow_vgg.vgg16_avg_pool import network  # noqa: E402

CONTENT = ROOT / "image_resources/content/grace_hopper.jpg"
STYLE = ROOT / "image_resources/style/hokusai_great_wave.jpg"


def parse_schedule(text: str) -> tuple[list[int], list[int]]:
    """Read 'size:iterations,size:iterations' into (sizes, iterations)."""
    pairs = [part.split(":") for part in text.split(",")]
    return [int(size) for size, _ in pairs], [int(count) for _, count in pairs]


def run_schedule(net, content, style, sizes, iterations) -> list[dict]:
    """Run one schedule; return per iteration its cost in final-size evaluations and loss."""
    final_pixels = content.shape[0] * content.shape[1]
    spent = {"cost": 0.0}
    original = tf_helper.StyleTransferLoss.terms_and_gradient

    def counted(loss, image):
        spent["cost"] += image.shape[0] * image.shape[1] / final_pixels
        return original(loss, image)

    rows = []
    tf_helper.StyleTransferLoss.terms_and_gradient = counted
    try:
        stylize(
            content,
            style,
            sizes=sizes,
            iterations=iterations,
            net=net,
            callback=lambda i, terms, image: rows.append(
                {"iteration": i, "cost": spent["cost"], "total": terms["total"]}
            ),
        )
    finally:
        tf_helper.StyleTransferLoss.terms_and_gradient = original
    return rows


def main() -> None:
    """Run each schedule and print the loss each reached at equal costs."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--schedule", action="append", required=True, help="e.g. 128:60,256:150")
    args = parser.parse_args()
    content = helper.load_image(CONTENT, args.size)
    style = helper.load_image(STYLE)
    net = network()
    report = {}
    for text in args.schedule:
        sizes, iterations = parse_schedule(text)
        rows = run_schedule(net, content, style, sizes, iterations)
        report[text] = rows
        print(
            f"{text}: final loss {rows[-1]['total']:.4g} after a cost of {rows[-1]['cost']:.0f} evaluations"
        )
    for cost in (50, 100, 150, 200, 300):
        line = []
        for text, rows in report.items():
            reached = [row["total"] for row in rows if row["cost"] <= cost]
            line.append(f"{text} {min(reached):.4g}" if reached else f"{text} -")
        print(f"best loss within a cost of {cost}: " + "; ".join(line))
    out = ROOT / "benchmarks/results" / f"coarse_to_fine_{args.size}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
