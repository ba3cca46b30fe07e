"""Command line: paint a content photo in the style of a painting (Gatys et al., 2015)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out

import helper  # noqa: E402


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be 1 or more")
    return value


def _weight(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number, zero or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the command line."""
    parser = argparse.ArgumentParser(
        description="Neural style transfer (Gatys, Ecker & Bethge) on an average-pool VGG16.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("content", help="the content photo")
    parser.add_argument("style", help="the style painting")
    parser.add_argument(
        "-o", "--output", required=True, help="where to save the result (.jpg/.png)"
    )
    parser.add_argument("--size", type=_positive_int, default=512, help="longest side in pixels")
    parser.add_argument(
        "--iterations", type=_positive_int, default=300, help="optimiser iterations"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed for the noise init")
    parser.add_argument("--init", choices=("noise", "content", "style"), default="content")
    parser.add_argument("--optimizer", choices=("lbfgs", "adam"), default="lbfgs")
    parser.add_argument("--learning-rate", type=_weight, default=0.02, help="Adam's step size")
    parser.add_argument("--content-weight", type=_weight, default=1.0, help="alpha")
    parser.add_argument("--style-weight", type=_weight, default=1e3, help="beta")
    parser.add_argument("--tv-weight", type=_weight, default=1e-3, help="gamma (denoising)")
    parser.add_argument(
        "--weights",
        default=None,
        help="vgg16.npy to use (default: $VGG16_NPY or tensorflow_vgg/vgg16.npy)",
    )
    parser.add_argument(
        "--gif", default=None, help="also write the optimisation as an animated GIF"
    )
    parser.add_argument("--gif-frames", type=_positive_int, default=30, help="frames in the GIF")
    parser.add_argument("--stats", default=None, help="write a JSON manifest of the run here")
    return parser


def _versions() -> dict[str, str]:
    import numpy
    import PIL
    import scipy
    import tensorflow

    return {
        "python": platform.python_version(),
        "tensorflow": tensorflow.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "pillow": PIL.__version__,
        "platform": platform.platform(),
    }


def _check_paths(args: argparse.Namespace) -> None:
    output = Path(args.output).resolve()
    for name in ("content", "style"):
        if Path(getattr(args, name)).resolve() == output:
            raise helper.ImageError(
                f"{args.output} is the {name} image; choose another output path"
            )
    if output.suffix.lower() not in helper.IMAGE_SUFFIXES - {".gif"}:
        raise helper.ImageError(f"{args.output}: unknown image suffix; use .jpg, .png or .webp")


def run(args: argparse.Namespace) -> int:
    """Run one style transfer as the parsed arguments say; return the exit code."""
    from tqdm import tqdm

    import tf_helper
    from tensorflow_vgg.vgg16_avg_pool import Vgg16

    _check_paths(args)
    content = helper.load_image(args.content, max_side=args.size)
    content = helper.resize_to_longest_side(content, args.size)
    style = helper.match_style_scale(helper.load_image(args.style), content)
    net = Vgg16(args.weights)
    frame_every = max(1, args.iterations // args.gif_frames) if args.gif else 0
    frames = []
    bar = tqdm(total=args.iterations, unit="it", desc="style transfer", dynamic_ncols=True)

    def on_iteration(iteration, terms, image):
        bar.update(1)
        bar.set_postfix_str(f"loss {terms['total']:.4g}")
        if image is not None:
            frames.append(
                helper.annotate(image, f"iteration {iteration}  loss {terms['total']:.3g}")
            )

    started = time.perf_counter()
    result = tf_helper.run_style_transfer(
        content, style, net=net, iterations=args.iterations, optimizer=args.optimizer,
        init=args.init, seed=args.seed, learning_rate=args.learning_rate,
        weights=tf_helper.LossWeights(args.content_weight, args.style_weight, args.tv_weight),
        callback=on_iteration, frame_every=frame_every,
    )  # fmt: skip
    bar.close()
    seconds = time.perf_counter() - started
    helper.save_image(result.image, args.output)
    print(
        f"saved {args.output} ({result.stopped_because}, {len(result.history)} iterations, {seconds:.1f} s)"
    )
    print("loss terms: " + ", ".join(f"{k} {v:.4g}" for k, v in result.terms.items()))
    if args.gif and frames:
        helper.save_gif(frames, args.gif)
        print(f"saved {args.gif} ({len(frames)} frames)")
    if args.stats:
        manifest = {
            "parameters": vars(args),
            "versions": _versions(),
            "seconds": seconds,
            "stopped_because": result.stopped_because,
            "final": result.terms,
            "history": result.history,
        }
        Path(args.stats).write_text(json.dumps(manifest, indent=1))
        print(f"saved {args.stats}")
    return 0 if result.stopped_because == "finished" else 130


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and run; errors become one line on stderr and exit code 2."""
    args = build_parser().parse_args(argv)
    import tf_helper
    from tensorflow_vgg.vgg16_avg_pool import LayerError
    from tensorflow_vgg.weights import WeightsError

    try:
        return run(args)
    except (helper.ImageError, WeightsError, tf_helper.SettingsError, LayerError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
