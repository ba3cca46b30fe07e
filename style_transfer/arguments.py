"""The command line's grammar: every option with its type, default and help.

Defaults and choices come from optimisation.settings, numbers are checked by its rules, so
the command line and the engine agree. No TensorFlow here: --help and a bad option answer at once.
"""

from __future__ import annotations

import argparse

from optimisation import memory, precisions
from optimisation.schedule import FIRST_SIZE, LARGE_SIZE
from optimisation.settings import (
    COLOR_MODES,
    INITS,
    OPTIMIZERS,
    Settings,
    SettingsError,
    blend_shares,
    number,
    whole_number,
)
from style_transfer.errors import EXIT_BAD_INPUT

DEFAULT_SIZE = 512  # longest side of the output
CHECKPOINT_MINUTES = 3.0  # a crash or Ctrl-C in a large run loses at most this much
DEFAULT_GIF_FRAMES = 30
NO_COLOR_PRESERVATION = "none"
DEFAULTS = Settings()

# Sweepable settings: the command line's option name -> how to read one value.
SWEEPABLE = {
    "style-weight": float,
    "content-weight": float,
    "tv-weight": float,
    "style-scale": float,
    "iterations": int,
    "size": int,
    "init": str,
    "content-layer": str,
    "preserve-colors": str,
}


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like every other error of this command."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"error: {message}; see: {self.prog} --help\n")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show defaults in --help, except where there is none to show."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def _whole_number(what: str, example: int):
    def parse(text: str) -> int:
        try:
            return whole_number(what, text, example)
        except SettingsError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def _number(what: str, example: str, zero_allowed: bool):
    def parse(text: str) -> float:
        try:
            return number(what, text, zero_allowed, example)
        except SettingsError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def _add_number(parser, flag, what, example, default, zero_allowed=False, help=None) -> None:
    """Add an option that takes a finite number (of zero or more, or more than zero)."""
    parser.add_argument(
        flag, type=_number(what, example, zero_allowed), default=default, help=help or what
    )


def _layer_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(
            f"{text!r} has an empty layer name; give names separated by commas, e.g. conv4_2"
        )
    return names


def _comma_list(text: str, parse_one, what: str) -> list:
    """Parse comma-separated values; any bad one makes it `TEXT is not a list of WHAT`."""
    try:
        return [parse_one(part.strip()) for part in text.split(",")]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of {what}") from None


def _iteration_counts(text: str) -> int | list[int]:
    """Read --iterations: one count for every scale, or a comma list with one per scale."""
    count = _whole_number("a count", 300)
    if "," not in text:
        return count(text)
    return _comma_list(
        text,
        count,
        "counts; give whole numbers of 1 or more, one per scale of --scales, e.g. 200,100,50",
    )


def _scale_list(text: str) -> list[int]:
    """Read --scales: longest sides in pixels, growing, e.g. 128,256,512."""
    size = _whole_number("a size", 512)
    sizes = _comma_list(
        text,
        size,
        "sizes; give longest sides in pixels, whole numbers of 1 or more, e.g. 128,256,512",
    )
    if any(later <= earlier for earlier, later in zip(sizes, sizes[1:])):
        raise argparse.ArgumentTypeError(
            f"{text!r} does not grow; give the longest sides from small to large, e.g. 128,256,512"
        )
    return sizes


def _blend_list(text: str) -> list[float]:
    """Read --style-blend: one weight of zero or more per style image, not all zero."""
    weight = _number("a blend weight", "0.7", zero_allowed=True)
    weights = _comma_list(
        text,
        weight,
        "blend weights; give one finite number of zero or more per style image, e.g. 0.7,0.3",
    )
    try:
        blend_shares(len(weights), weights)
    except SettingsError as error:
        raise argparse.ArgumentTypeError(f"{text!r} {error}") from None
    return weights


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a seed; give a whole number from 0 to 4294967295, e.g. 0"
        )
    return value


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the command line."""
    parser = _Parser(
        prog="python -m style_transfer",
        description="Neural style transfer (Gatys, Ecker & Bethge) on an average-pool VGG16.",
        formatter_class=_HelpFormatter,
        epilog="Exit codes: 0 finished, 1 the loss became NaN/infinite during the run, an "
        "output could not be written where asked after it (the image is kept; see stderr) or "
        "some images of a --batch failed, 2 bad input or settings (told before the run "
        "starts), 130 interrupted by Ctrl-C (best image so far saved).",
    )
    parser.add_argument("content", nargs="?", help="the content photo (several: see --batch)")
    parser.add_argument("style", nargs="?", help="the style painting (several: see --style)")
    parser.add_argument(
        "-o",
        "--output",
        help="where to save the result (.jpg, .png, .webp, .tif or .bmp); with --batch a "
        "directory, with --sweep the contact sheet (required unless --repeat)",
    )
    _add_style_options(parser)
    _add_run_options(parser)
    _add_output_options(parser)
    _add_mode_options(parser)
    return parser


def _add_style_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--style",
        dest="styles",
        nargs="+",
        metavar="STYLE",
        help="one or more style paintings, instead of the positional STYLE; their Gram "
        "matrices are blended (see --style-blend). Put them after CONTENT",
    )
    parser.add_argument(
        "--style-blend",
        type=_blend_list,
        default=None,
        metavar="W1,W2,...",
        help="blend weights of the --style images, one each, e.g. 0.7,0.3 (default: equal)",
    )
    _add_number(
        parser,
        "--style-scale",
        "the style scale",
        "1.5",
        DEFAULTS.style_scale,
        help="size the style image to the content's area times this squared: above 1 paints "
        "larger brush strokes, below 1 smaller ones",
    )
    parser.add_argument(
        "--preserve-colors",
        choices=(NO_COLOR_PRESERVATION, *COLOR_MODES),
        default=NO_COLOR_PRESERVATION,
        help="keep the content's colours (Gatys et al. 2016): 'luminance' transfers only "
        "luminance and puts the content's colours back; 'histogram' first gives the style "
        "image the content's colour mean and covariance",
    )


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    size = _whole_number("a size in pixels", 512)
    parser.add_argument(
        "--size",
        type=size,
        default=None,
        help=f"longest side of the output in pixels (default: {DEFAULT_SIZE}, or the last of "
        "--scales)",
    )
    parser.add_argument(
        "--scales",
        type=_scale_list,
        default=None,
        metavar="S1,S2,...",
        help="coarse-to-fine: optimise at these growing longest sides, each scale starting from "
        "the one before, e.g. 128,256,512 (the last is the output size)",
    )
    parser.add_argument(
        "--iterations",
        type=_iteration_counts,
        default=None,
        help=f"optimiser iterations: one count for every scale, or one per scale of --scales "
        f"(e.g. 200,100,50). Default: {DEFAULTS.iterations}; for a single run above "
        f"{LARGE_SIZE} px with no --scales, a coarse-to-fine schedule from {FIRST_SIZE} px up "
        "that takes about the same time at every scale (--batch and --sweep keep "
        f"{DEFAULTS.iterations})",
    )
    parser.add_argument(
        "--seed",
        type=_seed,
        default=DEFAULTS.seed,
        help="random seed (for --init noise); TensorFlow's ops run deterministically, so a seed "
        "repeats a run bit for bit on the same machine",
    )
    parser.add_argument(
        "--init",
        choices=INITS,
        default=DEFAULTS.init,
        help="where the optimisation starts: white noise (as in the paper), the photo, the photo "
        "in the style's colours (its colour mean and covariance, pooled over a blend's styles: "
        "1-8%% lower loss than the photo after 100 iterations), or the (first) style image",
    )
    parser.add_argument(
        "--precision",
        choices=precisions.PRECISIONS,
        default=DEFAULTS.precision,
        help="arithmetic of the network's convolutions (the reported loss is always float32): "
        "bfloat16 is about 1.75 times as fast per iteration on CPUs with AVX512_BF16 or AMX (AMD "
        "Zen 4, Intel Xeon since Cooper Lake), slower on others; mixed runs the first two thirds "
        "of the iterations in bfloat16 and the rest in float32, for float32's loss in about three "
        "quarters of its time; auto is mixed where the CPU has bfloat16, else float32. --stats records "
        "which one ran",
    )
    parser.add_argument(
        "--optimizer",
        choices=OPTIMIZERS,
        default=DEFAULTS.optimizer,
        help="lbfgs: box-constrained L-BFGS, as in the paper; adam: first-order, needs far "
        "more iterations (see --learning-rate)",
    )
    _add_number(parser, "--learning-rate", "Adam's step size", "0.02", DEFAULTS.learning_rate)
    _add_number(
        parser,
        "--content-weight",
        "the content weight",
        "1",
        DEFAULTS.alpha,
        zero_allowed=True,
        help="alpha (0 synthesises the style's texture alone)",
    )
    _add_number(parser, "--style-weight", "the style weight", "1000", DEFAULTS.beta, help="beta")
    _add_number(
        parser,
        "--tv-weight",
        "the total-variation weight",
        "0.001",
        DEFAULTS.gamma,
        zero_allowed=True,
        help="gamma (denoising)",
    )
    parser.add_argument(
        "--content-layers",
        type=_layer_list,
        default=",".join(DEFAULTS.content_layers),
        help="VGG16 layers of the content loss, comma-separated",
    )
    parser.add_argument(
        "--style-layers",
        type=_layer_list,
        default=",".join(DEFAULTS.style_layers),
        help="VGG16 layers of the style loss (equal weights), comma-separated",
    )
    parser.add_argument(
        "--tile",
        type=_whole_number("a tile size in px", 512),
        default=None,
        metavar="PX",
        help="evaluate the loss in tiles of PX px, each with the margin that keeps it exact "
        "(by default only a picture whose run would need more than --memory-budget is tiled)",
    )
    _add_number(
        parser,
        "--memory-budget",
        "the memory budget in GiB",
        "4",
        DEFAULTS.memory_budget,
        help="GiB a run may take before it is evaluated in tiles (less if less is free); tiles "
        "cost time, since each is computed with a margin and most forward passes run twice",
    )
    parser.add_argument(
        "--weights",
        default=None,
        help="vgg16.npy to use (default: $VGG16_NPY or tensorflow_vgg/vgg16.npy)",
    )


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--gif",
        default=None,
        help="also write the optimisation as an animated GIF (or as an H.264 video, if the name ends in .mp4)",
    )
    parser.add_argument(
        "--gif-frames",
        type=_whole_number("a count", DEFAULT_GIF_FRAMES),
        default=DEFAULT_GIF_FRAMES,
        help="frames in the GIF, evenly spaced over the run and ending at its last iteration",
    )
    parser.add_argument(
        "--stats",
        default=None,
        help="write a JSON manifest of the run here: every parameter, the sha256 of each input "
        "file, library versions and the loss history (repeat it with --repeat)",
    )
    parser.add_argument(
        "--checkpoint-every",
        type=_whole_number("a count", 50),
        default=None,
        metavar="N",
        help="every N iterations (and when the run stops) save the image as exact float32 "
        "and the run state, so that --resume can continue a long run",
    )
    parser.add_argument(
        "--checkpoint-minutes",
        type=_number("minutes", "3", True),
        default=None,
        metavar="M",
        help=f"save a checkpoint at least every M minutes (default: {CHECKPOINT_MINUTES:g} for "
        f"a single run above {LARGE_SIZE} px, else none; 0 turns them off)",
    )
    parser.add_argument(
        "--checkpoint-dir",
        default=None,
        help="where checkpoints go (default: OUTPUT.checkpoint/ next to the output)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue from the checkpoint: the image and its loss continue exactly, and the "
        "checkpoint's options apply unless given again. L-BFGS's curvature pairs and Adam's "
        "moments are not saved (they are as large as many images), so they are rebuilt",
    )
    parser.add_argument(
        "--no-memory-check",
        action="store_true",
        help=f"run even when the estimated peak memory exceeds what is free (or set "
        f"{memory.MEMORY_CHECK_ENV_VAR}=1)",
    )


def _add_mode_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--batch",
        nargs="+",
        metavar="CONTENT",
        help="style several content images (paths, or quoted glob patterns such as "
        "'photos/*.jpg') with the --style image(s), one after another; -o is then a directory "
        "that gets <content>_<style>.jpg for each. A file that fails is reported and the others "
        "still run",
    )
    parser.add_argument(
        "--sweep",
        nargs="+",
        metavar="NAME=V1,V2",
        help="run every combination of these settings and save one labelled contact sheet to "
        f"-o (a row per combination of the others, a column per value of the last); NAME is "
        f"one of {', '.join(SWEEPABLE)}. Put CONTENT and STYLE before it",
    )
    parser.add_argument(
        "--repeat",
        metavar="MANIFEST",
        default=None,
        help="run again the run a --stats manifest records, with the same parameters (options "
        "given again override them); refused if an input file changed. Writes the image to -o, "
        "or where the run wrote it",
    )
