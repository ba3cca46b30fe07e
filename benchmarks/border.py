"""The picture's edge against its inside, with the network's zero padding and with the mirror.

A run at the defaults, once per border ("zero": the network's own padding, "mirror": the
default), on the sample pairs and on any CONTENT:STYLE pairs given. For each picture, its
outermost RING px against the band just inside it and against all its inside:

* channel spread: the mean over pixels of (largest - smallest channel), in 0..255, a frame
  of saturated stripes shows as a higher spread at the edge;
* clipped share: the share of channel values at 0 or 255;
* fine detail: the mean squared difference of neighbouring pixels (grey, 0..1), the speckle,
  beside the photo's own.

Example: `.venv/bin/python benchmarks/border.py --size 192 --pair photo.jpg:painting.jpg`.
Writes benchmarks/results/border_<size>.json and the pictures beside it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tensorflow_vgg.quiet import set_engine_environment, set_environment  # noqa: E402

# Run, as the command line starts TensorFlow; imported (by the tests), as the notebook does.
set_engine_environment() if __name__ == "__main__" else set_environment()

import helper  # noqa: E402
import tf_run  # noqa: E402
from going_further.style_scale import match_style_scale  # noqa: E402
from optimisation.settings import Settings  # noqa: E402
from tensorflow_vgg.layers import BORDERS  # noqa: E402

RING = 4  # px: the width of the frame seen on pictures made with zero padding
SAMPLES = ROOT / "image_resources"
PAIRS = [
    (SAMPLES / "content/grace_hopper.jpg", SAMPLES / "style/hokusai_great_wave.jpg"),
    (SAMPLES / "content/chelsea.jpg", SAMPLES / "style/van_gogh_village_street_auvers.jpg"),
    (SAMPLES / "content/astronaut.jpg", SAMPLES / "style/hokusai_poppies.jpg"),
]


def border_figures(picture: np.ndarray, ring: int = RING) -> dict[str, float]:
    """Return the channel spread (0..255) and clipped share of a picture's (H, W, 3) in [0, 1]
    outermost `ring` px, of the band of 2 `ring` px just inside it, and of all its inside,
    with the ratios edge / band and edge / inside.

    The band holds what lies near the edge in the photo (a bright sky, a dark floor), so
    edge / band isolates a frame; edge / inside also counts where the painting's whites and
    blacks fall in the composition.
    """
    pixels = helper.to_uint8(picture).astype(np.int32)
    spread = pixels.max(axis=-1) - pixels.min(axis=-1)
    clipped = ((pixels == 0) | (pixels == 255)).mean(axis=-1)
    edge = np.ones(spread.shape, bool)
    edge[ring:-ring, ring:-ring] = False
    near = np.ones(spread.shape, bool)
    near[3 * ring : -3 * ring, 3 * ring : -3 * ring] = False
    regions = {"edge": edge, "band": near & ~edge, "inside": ~edge}
    figures = {}
    for name, values in (("spread", spread), ("clipped", clipped)):
        means = {region: float(values[mask].mean()) for region, mask in regions.items()}
        figures.update({f"{name}_{region}": mean for region, mean in means.items()})
        for region in ("band", "inside"):
            figures[f"{name}_ratio_{region}"] = means["edge"] / max(means[region], 1e-6)
    return figures


def fine_detail(image: np.ndarray) -> float:
    """Return the mean squared difference of neighbouring grey pixels of (H, W, 3) in [0, 1]."""
    grey = image.mean(axis=-1)
    return float((np.diff(grey, axis=0) ** 2).mean() + (np.diff(grey, axis=1) ** 2).mean())


def run_pair(content_path: Path, style_path: Path, size: int, border: str, out: Path) -> dict:
    """Run the defaults on one pair with one border; save the picture; return its figures."""
    content = helper.resize_to_longest_side(helper.load_image(content_path), size)
    style = match_style_scale(helper.load_image(style_path), content)
    start = time.perf_counter()
    result = tf_run.run_style_transfer(content, style, Settings(border=border))
    seconds = time.perf_counter() - start
    name = f"{content_path.stem}_x_{style_path.stem}_{border}"
    helper.save_image(result.image, out / f"{name}.png")
    figures = border_figures(result.image)
    figures.update(
        fine_detail=fine_detail(result.image),
        fine_detail_photo=fine_detail(content),
        loss=result.terms["total"],
        seconds=seconds,
    )
    return {"pair": name, "border": border, **figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--pair", action="append", default=[], metavar="CONTENT:STYLE")
    parser.add_argument("--samples", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    pairs = (PAIRS if args.samples else []) + [
        tuple(Path(part) for part in pair.split(":")) for pair in args.pair
    ]
    out = ROOT / "benchmarks/results" / f"border_{args.size}"
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    print("edge: the outermost 4 px; band: the 8 px inside it; inside: all but the edge")
    print(
        f"{'pair':56} {'border':6} spread edge/band, /inside  clipped edge/band, /inside  "
        "fine detail (photo's)"
    )
    for content_path, style_path in pairs:
        for border in BORDERS:
            row = run_pair(content_path, style_path, args.size, border, out)
            rows.append(row)
            print(
                f"{row['pair']:56} {border:6} {row['spread_ratio_band']:5.2f} "
                f"{row['spread_ratio_inside']:5.2f} ({row['spread_edge']:.0f}/"
                f"{row['spread_band']:.0f}/{row['spread_inside']:.0f})  "
                f"{row['clipped_ratio_band']:5.2f} {row['clipped_ratio_inside']:5.2f} "
                f"({row['clipped_edge']:.3f}/{row['clipped_band']:.3f}/"
                f"{row['clipped_inside']:.3f})  {row['fine_detail']:.4f} "
                f"({row['fine_detail_photo']:.4f})",
                flush=True,
            )
    (out.parent / f"border_{args.size}.json").write_text(json.dumps(rows, indent=1))
    print(f"pictures in {out}")


if __name__ == "__main__":
    main()
