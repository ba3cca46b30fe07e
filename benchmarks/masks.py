"""Two ways to bring a style mask down to a layer's grid (Gatys et al. 2017, sec. 4), measured.

"downsample": the network's own 2x2 average poolings (going_further.spatial_control.layer_masks,
what the engine uses). "inside": the mask thresholded at 0.5 and eroded through every 3x3
convolution and 2x2 pooling, so that a position counts only if its whole receptive field lies in
the region (the authors' "inside" guidance).

The photo is painted on its left 45% (an edge off the 16 px grid); the right stays the photo.
For each way, at --size px:

* coverage: each style layer's M_r / M_l (the share of the layer the region counts) beside the
  region's share of the pixels;
* leak: the style loss's gradient at the photo's pixels no mask covers, by distance from the
  mask's edge, as a share of its mean over the painted pixels (the start of the run);
* after --iterations of L-BFGS: how far the uncovered pixels moved from the photo (mean
  |difference| in 0..255, by distance), and the style loss E of the painted part cut out and
  evaluated as a picture of its own against the painting (lower: more of the painting's style).

Example: `.venv/bin/python benchmarks/masks.py --size 128 --iterations 60`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tensorflow_vgg.quiet import set_engine_environment  # noqa: E402

set_engine_environment()  # as the command line starts TensorFlow

import tensorflow as tf  # noqa: E402

import helper  # noqa: E402
import tf_helper  # noqa: E402
import tf_run  # noqa: E402
from going_further import spatial_control  # noqa: E402
from going_further.style_scale import match_style_scale  # noqa: E402
from optimisation.settings import Settings  # noqa: E402
from tensorflow_vgg.layers import layers_up_to, mirror_margin  # noqa: E402
from tensorflow_vgg.vgg16_avg_pool import mirrored, network, without_margin  # noqa: E402

SAMPLES = ROOT / "image_resources"
CONTENT = SAMPLES / "content/grace_hopper.jpg"
STYLE = SAMPLES / "style/hokusai_great_wave.jpg"
BANDS = [(0, 4), (4, 8), (8, 16), (16, 32), (32, 64), (64, 10_000)]  # px from the mask's edge
DOWNSAMPLE = spatial_control.layer_masks


def inside_layer_masks(T, layers, border):
    """Return the masks eroded to the positions whose whole receptive field lies inside."""
    x = tf.constant((np.asarray(T) >= 0.5).astype(np.float32)[..., None])
    margin = mirror_margin(layers) if border == "mirror" else 0
    if margin:
        x = mirrored(x, margin)
    out = {}
    for name in layers_up_to(layers):
        size = 2 if name.startswith("pool") else 3
        stride = 2 if name.startswith("pool") else 1
        # A minimum over the window; beyond the array counts as inside (no pixel there).
        x = -tf.nn.max_pool2d(-x, ksize=size, strides=stride, padding="SAME")
        if name in layers:
            out[name] = without_margin(x, name, margin) if margin else x
    return out


def distance_bands(distance: np.ndarray, values: np.ndarray) -> dict[str, float]:
    """Return the mean of `values` over the pixels in each band of distance."""
    return {
        f"{low}-{high if high < 10_000 else 'end'}": float(values[(distance >= low) & (distance < high)].mean())
        for low, high in BANDS
        if ((distance >= low) & (distance < high)).any()
    }  # fmt: skip


def measure(way: str, content, style, mask, iterations: int, net) -> dict:
    spatial_control.layer_masks = DOWNSAMPLE if way == "downsample" else inside_layer_masks
    masks = spatial_control.StyleMasks((mask,))
    settings = Settings(iterations=iterations, precision="float32")
    loss = spatial_control.MaskedStyleTransferLoss(net, content, style, masks, settings)
    share = float(mask.mean())
    coverage = {n: loss.M_r[n][0] / loss.M_l[n] for n in loss.style_layers}
    edge = int(mask[0].sum())  # the mask is the left `edge` columns
    distance = np.broadcast_to(np.arange(mask.shape[1]) - edge + 1, mask.shape)
    start = spatial_control.masked_start("recolored", content, [style], masks, 0)
    style_only = spatial_control.MaskedStyleTransferLoss(
        net, content, style, masks, settings.replace(alpha=0.0, gamma=0.0)
    )
    gradient = np.abs(style_only.terms_and_gradient(start)[1]).mean(axis=-1)
    painted = gradient[mask > 0.5].mean()
    leak = distance_bands(distance[mask < 0.5], gradient[mask < 0.5] / painted)
    result = tf_run.run_style_transfer(content, style, settings, net=net, loss=loss, initial=start)
    moved = np.abs(result.image - content).mean(axis=-1) * 255
    part = result.image[:, :edge]
    cut = tf_helper.StyleTransferLoss(net, part, match_style_scale(style, part), settings)
    return {
        "pixel share": share,
        "coverage": coverage,
        "leak (gradient / painted mean)": leak,
        "moved from the photo (0..255)": distance_bands(distance[mask < 0.5], moved[mask < 0.5]),
        "style loss of the painted part cut out": cut.terms(part)["style"],
        "loss": result.terms["total"],
    }, result.image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--iterations", type=int, default=60)
    args = parser.parse_args()
    tf.config.experimental.enable_op_determinism()
    net = network()
    content = helper.resize_to_longest_side(helper.load_image(CONTENT), args.size)
    style = match_style_scale(helper.load_image(STYLE), content)
    mask = np.zeros(content.shape[:2], np.float32)
    mask[:, : round(0.45 * content.shape[1])] = 1.0
    results, pictures = {}, []
    for way in ("downsample", "inside"):
        results[way], picture = measure(way, content, style, mask, args.iterations, net)
        pictures.append(picture)
        print(way, json.dumps(results[way], indent=1), flush=True)
    folder = ROOT / "benchmarks" / "results"
    folder.mkdir(exist_ok=True)
    (folder / f"masks_{args.size}.json").write_text(json.dumps(results, indent=1))
    helper.save_image(np.concatenate(pictures, axis=1), str(folder / f"masks_{args.size}.png"))


if __name__ == "__main__":
    main()
