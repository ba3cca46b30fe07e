"""Command line: paint a content photo in the style of a painting (Gatys et al., 2015).

Exit codes: 0 finished; 1 stopped because the loss became NaN or infinite, an output could
not go where asked (the image is kept all the same, stderr says where), or some images of a
--batch failed; 2 a bad input, told in one line `error: ...` on stderr; 130 interrupted with
Ctrl-C (the best image so far is saved).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out

try:
    import numpy as np
    import PIL  # noqa: F401
except ModuleNotFoundError as missing:  # a Python outside the project's environment
    print(
        f"error: this Python ({sys.executable}) has no {missing.name}; run the project's own, "
        ".venv/bin/python style_transfer.py ..., after `bash scripts/setup.sh` has made it",
        file=sys.stderr,
    )
    sys.exit(2)

import checkpoints  # noqa: E402
import cli_modes  # noqa: E402
import helper  # noqa: E402
import memory  # noqa: E402
import precisions  # noqa: E402  (no TF)
import sweeps  # noqa: E402
from cli_modes import (  # noqa: E402, F401  (style_transfer.UsageError and EXIT_* as before)
    EXIT_BAD_INPUT,
    EXIT_FINISHED,
    EXIT_INTERRUPTED,
    EXIT_NOT_FINITE,
    UsageError,
)
from tensorflow_vgg.weights import WeightsError, resolve_weights_path  # noqa: E402  (no TF)

DEFAULT_SIZE = 512
DEFAULT_CONTENT_LAYERS = "conv4_2"
DEFAULT_STYLE_LAYERS = "conv1_1,conv2_1,conv3_1,conv4_1,conv5_1"
NO_COLOR_PRESERVATION = "none"

# Options a resumed run takes from its checkpoint unless given again; those that define the
# loss must then agree with it, or the resumed run would optimise something else.
INHERITED = (
    "content", "style", "styles", "size", "iterations", "seed", "init", "optimizer",
    "learning_rate", "content_weight", "style_weight", "tv_weight", "content_layers",
    "style_layers", "style_blend", "style_scale", "preserve_colors", "weights", "gif",
    "gif_frames", "stats", "checkpoint_every", "precision",
)  # fmt: skip
MUST_MATCH = (
    "size", "content_weight", "style_weight", "tv_weight", "content_layers", "style_layers",
    "style_blend", "style_scale", "preserve_colors",
)  # fmt: skip


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like every other error of this command."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"error: {message}; see: python {self.prog} --help\n")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show defaults in --help, except where there is none to show."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def _whole_number(what: str, example: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < 1:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {what}; give a whole number of 1 or more, e.g. {example}"
            )
        return value

    return parse


def _number(what: str, example: str, zero_allowed: bool):
    need = "zero or more" if zero_allowed else "more than zero"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a number; give {what} as a finite number {need}, e.g. {example}"
            ) from None
        if not math.isfinite(value) or value < 0 or (value == 0 and not zero_allowed):
            raise argparse.ArgumentTypeError(
                f"{text!r} cannot be used; give {what} as a finite number {need}, e.g. {example}"
            )
        return value

    return parse


def _layer_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(
            f"{text!r} has an empty layer name; give names separated by commas, e.g. conv4_2"
        )
    return names


def _iteration_counts(text: str) -> int | list[int]:
    """Read --iterations: one count for every scale, or a comma list with one per scale."""
    count = _whole_number("a count", 300)
    if "," not in text:
        return count(text)
    try:
        return [count(part.strip()) for part in text.split(",")]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of counts; give whole numbers of 1 or more, one per scale "
            "of --scales, e.g. 200,100,50"
        ) from None


def _scale_list(text: str) -> list[int]:
    """Read --scales: longest sides in pixels, growing, e.g. 128,256,512."""
    size = _whole_number("a size", 512)
    try:
        sizes = [size(part.strip()) for part in text.split(",")]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of sizes; give longest sides in pixels, whole numbers of 1 "
            "or more, e.g. 128,256,512"
        ) from None
    if any(later <= earlier for earlier, later in zip(sizes, sizes[1:])):
        raise argparse.ArgumentTypeError(
            f"{text!r} does not grow; give the longest sides from small to large, e.g. 128,256,512"
        )
    return sizes


def _blend_list(text: str) -> list[float]:
    """Read --style-blend: one weight of zero or more per style image, not all zero."""
    weight = _number("a blend weight", "0.7", zero_allowed=True)
    try:
        weights = [weight(part.strip()) for part in text.split(",")]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of blend weights; give one finite number of zero or more "
            "per style image, e.g. 0.7,0.3"
        ) from None
    if sum(weights) == 0:
        raise argparse.ArgumentTypeError(
            f"{text!r} weighs every style image zero; give at least one weight above zero"
        )
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
        prog="style_transfer.py",
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
    parser.add_argument(
        "--style-scale",
        type=_number("the style scale", "1.5", zero_allowed=False),
        default=1.0,
        help="size the style image to the content's area times this squared: above 1 paints "
        "larger brush strokes, below 1 smaller ones",
    )
    parser.add_argument(
        "--preserve-colors",
        choices=(NO_COLOR_PRESERVATION, "luminance", "histogram"),
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
        default=300,
        help="optimiser iterations: one count for every scale, or one per scale of --scales "
        "(e.g. 200,100,50)",
    )
    parser.add_argument(
        "--seed",
        type=_seed,
        default=0,
        help="random seed (for --init noise); TensorFlow's ops run deterministically, so a seed "
        "repeats a run bit for bit on the same machine",
    )
    parser.add_argument(
        "--init",
        choices=("noise", "content", "recolored", "style"),  # tf_helper.INITS, without importing TF
        default="recolored",
        help="where the optimisation starts: white noise (as in the paper), the photo, the photo "
        "in the style's colours (its colour mean and covariance, pooled over a blend's styles: "
        "1-8%% lower loss than the photo after 100 iterations), or the (first) style image",
    )
    parser.add_argument(
        "--precision",
        choices=precisions.PRECISIONS,
        default="auto",
        help="arithmetic of the network's convolutions (the reported loss is always float32): "
        "bfloat16 is about 1.75 times as fast per iteration on CPUs with AVX512_BF16 or AMX (AMD "
        "Zen 4, Intel Xeon since Cooper Lake), slower on others; mixed runs the first two thirds "
        "of the iterations in bfloat16 and the rest in float32, for float32's loss in about three "
        "quarters of its time; auto is mixed where the CPU has bfloat16, else float32. --stats records "
        "which one ran",
    )
    parser.add_argument(
        "--optimizer",
        choices=("lbfgs", "adam"),
        default="lbfgs",
        help="lbfgs: box-constrained L-BFGS, as in the paper; adam: first-order, needs far "
        "more iterations (see --learning-rate)",
    )
    parser.add_argument(
        "--learning-rate",
        type=_number("Adam's step size", "0.02", zero_allowed=False),
        default=0.02,
        help="Adam's step size",
    )
    parser.add_argument(
        "--content-weight",
        type=_number("the content weight", "1", zero_allowed=True),
        default=1.0,
        help="alpha (0 synthesises the style's texture alone)",
    )
    parser.add_argument(
        "--style-weight",
        type=_number("the style weight", "1000", zero_allowed=False),
        default=1e3,
        help="beta",
    )
    parser.add_argument(
        "--tv-weight",
        type=_number("the total-variation weight", "0.001", zero_allowed=True),
        default=1e-3,
        help="gamma (denoising)",
    )
    parser.add_argument(
        "--content-layers",
        type=_layer_list,
        default=DEFAULT_CONTENT_LAYERS,
        help="VGG16 layers of the content loss, comma-separated",
    )
    parser.add_argument(
        "--style-layers",
        type=_layer_list,
        default=DEFAULT_STYLE_LAYERS,
        help="VGG16 layers of the style loss (equal weights), comma-separated",
    )
    parser.add_argument(
        "--weights",
        default=None,
        help="vgg16.npy to use (default: $VGG16_NPY or tensorflow_vgg/vgg16.npy)",
    )


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--gif", default=None, help="also write the optimisation as an animated GIF"
    )
    parser.add_argument(
        "--gif-frames",
        type=_whole_number("a count", 30),
        default=30,
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
        "and the run state, so that --resume can continue a long run (single-scale runs)",
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
        f"one of {', '.join(sweeps.SWEEPABLE)}. Put CONTENT and STYLE before it",
    )
    parser.add_argument(
        "--repeat",
        metavar="MANIFEST",
        default=None,
        help="run again the run a --stats manifest records, with the same parameters (options "
        "given again override them); refused if an input file changed. Writes the image to -o, "
        "or where the run wrote it",
    )


# --- Reading the command line ----------------------------------------------------------------


def parse_arguments(
    argv: list[str] | None = None,
) -> tuple[argparse.Namespace, checkpoints.Checkpoint | None]:
    """Parse the command line; fill it in from --repeat's manifest or --resume's checkpoint."""
    parser = build_parser()
    args = _parse(parser, argv)
    if args.repeat is not None:
        args = _merge_manifest(parser, argv, args)
    if args.output is None:
        if not (args.content or args.style or args.styles or args.batch or args.resume):
            parser.error(
                "give the CONTENT and STYLE images and -o OUTPUT, e.g. "
                "python style_transfer.py photo.jpg painting.jpg -o out.jpg"
            )
        parser.error("the following arguments are required: -o/--output")
    checkpoint = None
    if args.resume:
        directory = args.checkpoint_dir or checkpoints.default_directory(args.output)
        checkpoint = checkpoints.load_checkpoint(directory)
        saved = {**cli_modes.RECORDED_BEFORE, **checkpoint.parameters}
        inherited = {key: saved[key] for key in INHERITED if key in saved}
        if args.style or args.styles:  # given again: checked against the checkpoint's below
            for key in ("style", "styles"):
                inherited.pop(key, None)
        parser.set_defaults(**inherited)
        args = _parse(parser, argv)
    finish_arguments(parser, args)
    if checkpoint is not None:
        _check_checkpoint_fits(args, checkpoint, directory)
    return args, checkpoint


def _parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse argv as parse_args does; an image path left over gets a hint where it belongs."""
    args, extras = parser.parse_known_args(argv)
    if extras:
        images = [extra for extra in extras if Path(extra).suffix.lower() in helper.IMAGE_SUFFIXES]
        hint = ""
        if len(images) == 1 and args.output is None:
            hint = f" (to save the result there, put -o before it: -o {images[0]})"
        elif images:
            hint = " (several style images go after --style, several photos after --batch)"
        parser.error(f"unrecognized arguments: {' '.join(extras)}{hint}")
    return args


def _taken_by_a_list(args: argparse.Namespace) -> str:
    """Say which option took the image paths after it, when CONTENT or STYLE is missing."""
    taken = [value for value in args.sweep or [] if "=" not in value]
    if taken:
        return f"; --sweep took {' '.join(taken)}: put the images before --sweep"
    if args.styles and args.content is None:
        return (
            f"; --style took every path after it ({' '.join(args.styles)}): put CONTENT before "
            "--style"
        )
    return ""


def _merge_manifest(parser, argv, args: argparse.Namespace) -> argparse.Namespace:
    """Take the parameters of the run a --repeat manifest records as the defaults."""
    if args.resume:
        raise UsageError("--repeat and --resume cannot be combined; give one of them")
    if args.content or args.style or args.styles or args.batch:
        raise UsageError(
            f"--repeat takes the images from {args.repeat}; drop the image paths to repeat it"
        )
    manifest = cli_modes.read_manifest(args.repeat)
    cli_modes.check_repeatable(manifest, args.repeat)
    parser.set_defaults(**cli_modes.repeat_defaults(manifest, vars(args)))
    return _parse(parser, argv)


def finish_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Check that the options fit together; fill in what follows from them (styles, size)."""
    if args.styles and args.style:
        raise UsageError(f"give the style image as STYLE ({args.style}) or with --style, not both")
    styles = list(args.styles or ([args.style] if args.style else []))
    if args.batch:
        if args.content or args.style:
            raise UsageError(
                "with --batch, the content images follow --batch and the style images --style; "
                f"drop the positional image {args.content}"
            )
        if not styles:
            parser.error("with --batch, give the style image(s) with --style")
    elif args.content is None or not styles:
        parser.error(
            "give the CONTENT and STYLE images (or --resume a checkpointed run)"
            + _taken_by_a_list(args)
        )
    args.style, args.styles = None, styles
    if args.style_blend is not None and len(args.style_blend) != len(styles):
        raise UsageError(
            f"--style-blend {_show(args.style_blend)} has {len(args.style_blend)} weight(s) for "
            f"{len(styles)} style image(s); give one weight per --style image"
        )
    _finish_schedule(args)
    args.precision = precisions.resolve(args.precision)  # --stats records what ran
    _check_modes(args)
    if args.sweep:
        try:
            sweeps.parse_sweep(args.sweep)
        except sweeps.SweepError as error:
            raise UsageError(f"--sweep: {error}") from None
    if args.batch:
        args.batch = cli_modes.expand_contents(args.batch)


def _finish_schedule(args: argparse.Namespace) -> None:
    """Settle --size, --scales and --iterations: one size, or growing scales ending at it."""
    if args.scales:
        if args.size is not None and args.size != args.scales[-1]:
            raise UsageError(
                f"--size {args.size} differs from the last of --scales {_show(args.scales)}; the "
                "last scale is the output size, so drop --size or make them agree"
            )
        args.size = args.scales[-1]
        if len(args.scales) == 1:
            args.scales = None
    elif args.size is None:
        args.size = DEFAULT_SIZE
    scales = len(args.scales) if args.scales else 1
    if isinstance(args.iterations, list):
        if len(args.iterations) != scales:
            raise UsageError(
                f"--iterations {_show(args.iterations)} gives {len(args.iterations)} counts for "
                f"{scales} scale(s); give one count for every scale, or one per scale of --scales"
            )
        if scales == 1:
            args.iterations = args.iterations[0]


def _check_modes(args: argparse.Namespace) -> None:
    """Refuse modes and options that do not go together."""
    modes = [flag for flag in ("--batch", "--sweep", "--resume") if getattr(args, flag[2:])]
    if len(modes) > 1:
        raise UsageError(f"{modes[0]} and {modes[1]} cannot be combined; run them separately")
    if modes and modes[0] != "--resume":
        for flag in ("--gif", "--checkpoint-every"):
            if getattr(args, flag[2:].replace("-", "_")):
                raise UsageError(f"{flag} follows a single run; drop it from the {modes[0]} run")
    if args.checkpoint_every or args.resume:
        if args.scales:
            raise UsageError(
                "--checkpoint-every and --resume work for single-scale runs only; drop --scales "
                "(or the checkpoints)"
            )
        if args.preserve_colors == "luminance":
            raise UsageError(
                "--checkpoint-every and --resume cannot be used with --preserve-colors "
                "luminance (that run optimises a grey image and colours it at the end); use "
                "--preserve-colors histogram, or run without checkpoints"
            )


def _check_checkpoint_fits(args, checkpoint: checkpoints.Checkpoint, directory) -> None:
    """Refuse a resume whose options or input images differ from the checkpointed run."""
    saved = checkpoint.parameters
    for key in MUST_MATCH:
        if key in saved and getattr(args, key) != saved[key]:
            flag = "--" + key.replace("_", "-")
            raise UsageError(
                f"{flag} {_show(getattr(args, key))} differs from {_show(saved[key])} in the "
                f"checkpoint {directory}; drop {flag} to continue that run, or start a new run "
                "without --resume"
            )
    style_digests = saved.get("styles_sha256") or [saved.get("style_sha256")]
    if len(style_digests) != len(args.styles):
        raise UsageError(
            f"the checkpoint {directory} was made with {len(style_digests)} style image(s), not "
            f"{len(args.styles)}; give the same style images, or start a new run without --resume"
        )
    named = [("content", args.content, saved.get("content_sha256"))] + [
        ("style", path, digest) for path, digest in zip(args.styles, style_digests)
    ]
    for name, path, digest in named:
        if Path(path).is_file() and checkpoints.file_digest(path) != digest:
            raise UsageError(
                f"{path} is not the {name} image the checkpoint {directory} was made from; "
                "give that image, or start a new run without --resume"
            )
    if checkpoint.iteration >= args.iterations:
        raise UsageError(
            f"the checkpoint {directory} is at iteration {checkpoint.iteration} and --iterations "
            f"is {args.iterations}; give a larger --iterations to continue"
        )


def _show(value) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(_show(item) for item in value)
    if isinstance(value, (int, float)):
        return f"{value:g}"
    return "none" if value is None else str(value)


def _counts(args: argparse.Namespace) -> list[int]:
    """Return the iterations of each scale (one entry for a single-scale run)."""
    scales = len(args.scales) if args.scales else 1
    return (
        list(args.iterations) if isinstance(args.iterations, list) else [args.iterations] * scales
    )


# --- Paths -----------------------------------------------------------------------------------


def _same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    a, b = Path(a), Path(b)
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)  # also catches hard links
    except OSError:
        return False


def _check_writable(path: Path, flag: str) -> None:
    """Refuse an output path that is a directory or whose directory cannot take a new file."""
    if path.is_dir():
        raise UsageError(f"{path} is a directory; give {flag} a file name inside it")
    ancestor = path.resolve().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    try:  # permissions alone do not tell (root, read-only mounts, /proc): try it
        tempfile.TemporaryFile(dir=ancestor).close()
    except OSError as error:
        raise UsageError(
            f"cannot write {path} ({error.strerror}); give {flag} a path in a writable directory"
        ) from None


def _inputs(args: argparse.Namespace) -> list[tuple[str, str]]:
    """Return (name, path) of every input image: the content(s), then the style(s)."""
    contents = args.batch or [args.content]
    return [("content", path) for path in contents] + [("style", path) for path in args.styles]


def check_paths(args: argparse.Namespace) -> Path | None:
    """Refuse outputs that would overwrite an input or each other; return the checkpoint dir."""
    checkpoint_dir = None
    if args.checkpoint_every or args.resume:
        checkpoint_dir = Path(args.checkpoint_dir or checkpoints.default_directory(args.output))
    outputs = {"--gif": args.gif, "--stats": args.stats}
    if not args.batch:  # a batch's -o is a directory: cli_modes.check_batch_outputs
        outputs["-o/--output"] = args.output
    outputs = {flag: Path(path) for flag, path in outputs.items() if path is not None}
    for flag, path in outputs.items():
        for name, source in _inputs(args):
            if _same_file(path, source):
                raise UsageError(
                    f"{path} is the {name} image; {flag} would overwrite it, choose another path"
                )
        for other_flag, other in outputs.items():
            if flag < other_flag and _same_file(path, other):
                raise UsageError(f"{flag} and {other_flag} are both {path}; give each its own")
        _check_writable(path, flag)
    output = outputs.get("-o/--output")
    if output is not None and output.suffix.lower() not in helper.IMAGE_SUFFIXES - {".gif"}:
        suffixes = ", ".join(sorted(helper.IMAGE_SUFFIXES - {".gif"}))
        if output.suffix.lower() == ".gif":
            suffixes += "; for an animation of the run add --gif"
        raise UsageError(f"{args.output}: unknown image suffix; use one of {suffixes}")
    if "--gif" in outputs and outputs["--gif"].suffix.lower() != ".gif":
        raise UsageError(f"--gif {args.gif} must end in .gif")
    if checkpoint_dir is not None and checkpoint_dir.exists() and not checkpoint_dir.is_dir():
        raise UsageError(f"{checkpoint_dir} is a file; give --checkpoint-dir a directory")
    if checkpoint_dir is not None:
        _check_writable(checkpoint_dir / checkpoints.STATE_FILE, "--checkpoint-dir")
    return checkpoint_dir


# --- The engine ------------------------------------------------------------------------------


def _import_engine():
    """Import tf_helper (so TensorFlow) with TensorFlow's start-up log lines kept off stderr.

    TensorFlow prints a few lines at import time whatever TF_CPP_MIN_LOG_LEVEL says; they
    would bury a one-line error. They are replayed if the import itself fails.
    """
    if "tf_helper" in sys.modules:
        return sys.modules["tf_helper"]
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            import tf_helper
        except BaseException:
            os.dup2(saved, 2)
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return tf_helper


def start_engine(args: argparse.Namespace):
    """Import the engine and make TensorFlow deterministic and seeded: a seed repeats a run."""
    tf_helper = _import_engine()
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()
    tf.random.set_seed(args.seed)
    # A batch or sweep builds one loss per run, so TensorFlow warns of "retracing" after five:
    # expected here, and it would break the one-line messages.
    tf.get_logger().setLevel("ERROR")
    return tf_helper


def check_layers(args: argparse.Namespace) -> tuple[list[str], int, str]:
    """Refuse unknown layer names; return the layers, the smallest side they need, the deepest."""
    from tensorflow_vgg.vgg16_avg_pool import (
        LAYER_ORDER,
        LayerError,
        check_layer_names,
        minimum_image_side,
    )

    for flag, layers in (
        ("--content-layers", args.content_layers),
        ("--style-layers", args.style_layers),
    ):
        try:
            check_layer_names(layers)
        except LayerError as error:
            raise LayerError(f"{flag}: {error}") from None
    layers = list(args.content_layers) + list(args.style_layers)
    return layers, minimum_image_side(layers), max(layers, key=LAYER_ORDER.index)


def load_images(args: argparse.Namespace, minimum: int, deepest: str, content_path=None):
    """Load the content at --size and each style at the content's area times --style-scale^2.

    Returns (content, style): one style array, or a list of them for several style images,
    as tf_helper takes them. Images too small for the layers in use are refused.
    """
    import tf_helper

    content_path = content_path or args.content
    for path in (content_path, *args.styles):
        height, width = helper.image_size(path)
        if min(height, width) < minimum:
            raise tf_helper.SettingsError(
                f"{path} is {width}x{height} px; the deepest layer in use, {deepest}, needs at "
                f"least {minimum} px on each side; use a larger image"
            )
    content = _load_content(args, content_path, minimum, deepest)
    styles = [_load_style(args, path, content, minimum, deepest) for path in args.styles]
    return content, styles[0] if len(styles) == 1 else styles


def _load_content(args, path, minimum: int, deepest: str) -> np.ndarray:
    import tf_helper

    original_height, original_width = helper.image_size(path)
    content = helper.load_image(path, max_side=args.size)
    content = helper.resize_to_longest_side(content, args.size)
    aspect = max(original_height, original_width) / min(original_height, original_width)
    if min(content.shape[:2]) < minimum:
        raise tf_helper.SettingsError(
            f"at --size {args.size} the content {path} ({original_width}x{original_height} "
            f"px) becomes {content.shape[1]}x{content.shape[0]} px, under the {minimum} px "
            f"{deepest} needs on each side; use --size {math.ceil(minimum * aspect)} or more, "
            "or crop the image"
        )
    if args.scales:
        height, width = helper.size_for_longest_side(*content.shape[:2], args.scales[0])
        if min(height, width) < minimum:
            raise tf_helper.SettingsError(
                f"at the first of --scales, {args.scales[0]}, the content {path} becomes "
                f"{width}x{height} px, under the {minimum} px {deepest} needs on each side; "
                f"start --scales at {math.ceil(minimum * aspect)} or more"
            )
    return content


def _load_style(args, path, content: np.ndarray, minimum: int, deepest: str) -> np.ndarray:
    import tf_helper

    style_height, style_width = helper.image_size(path)
    factor = args.style_scale * math.sqrt(
        content.shape[0] * content.shape[1] / (style_height * style_width)
    )
    # Decode a large style image straight at about the size it will be used at.
    max_side = math.ceil(max(style_height, style_width) * factor) + 1 if factor < 1 else None
    style = helper.load_image(path, max_side=max_side)
    style = helper.match_style_scale(style, content, args.style_scale)
    first = args.scales[0] if args.scales else args.size
    smallest = [round(side * first / args.size) for side in style.shape[:2]]
    if min(smallest) >= minimum:
        return style
    where = "the content's area"
    if args.style_scale != 1:
        where += f" times {args.style_scale:g} squared (--style-scale)"
    if args.scales:
        where += f" at the first of --scales, {first}"
    fixes = ["use a larger --style-scale"] if args.style_scale < 1 else []
    fixes += ["start --scales higher"] if args.scales else []
    fixes.append("crop it to a less elongated shape")
    raise tf_helper.SettingsError(
        f"the style {path} ({style_width}x{style_height} px) scaled to {where} becomes "
        f"{smallest[1]}x{smallest[0]} px, under the {minimum} px {deepest} needs on each side; "
        + " or ".join(fixes)
    )


def check_memory(args, content, style, layers, iterations: int) -> int:
    """Return the estimated peak memory; refuse the run if it exceeds what is available."""
    styles = style if isinstance(style, list) else [style]
    largest_style = max((s.shape[:2] for s in styles), key=lambda shape: shape[0] * shape[1])
    options = {
        "layers": layers,
        "optimizer": args.optimizer,
        "iterations": iterations,
        "gif_frames": args.gif_frames if args.gif else 0,
    }
    estimate = memory.estimate_peak_bytes(*content.shape[:2], style_shape=largest_style, **options)
    available = memory.available_bytes()
    skip = args.no_memory_check or os.environ.get(memory.MEMORY_CHECK_ENV_VAR, "") not in ("", "0")
    if available is None or skip or estimate <= available:
        return estimate
    largest = memory.largest_fitting_size(*content.shape[:2], available, **options)
    fix = f"use --size {largest} or less" if largest else "close other programs"
    if args.style_scale > 1:  # the enlarged style may be what does not fit
        shape = content.shape[:2]
        if memory.estimate_peak_bytes(*shape, style_shape=shape, **options) <= available:
            fix = (
                f"lower --style-scale (now {args.style_scale:g}, which makes the style "
                f"{largest_style[1]}x{largest_style[0]} px)"
            )
    raise memory.InsufficientMemoryError(
        f"a run at --size {args.size} ({content.shape[1]}x{content.shape[0]} px) needs about "
        f"{memory.format_bytes(estimate)} of memory, but {memory.format_bytes(available)} is "
        f"available; {fix}, or pass --no-memory-check (or set "
        f"{memory.MEMORY_CHECK_ENV_VAR}=1) to try anyway"
    )


def prepare(args: argparse.Namespace, content_path=None, done: int = 0):
    """Check the layers, load the images and check memory; return (content, style, estimate)."""
    layers, minimum, deepest = check_layers(args)
    content, style = load_images(args, minimum, deepest, content_path)
    estimate = check_memory(args, content, style, layers, _counts(args)[-1] - done)
    return content, style, estimate


# --- Following a run -------------------------------------------------------------------------


class _Recorder:
    """Follows one run through the callback: history, progress, GIF frames, checkpoints.

    It keeps (image, loss terms of that image, iterations done) as the resume point. L-BFGS
    reports each iterate with its own loss; tf_helper's Adam reports the image after step k
    with the loss of the image before it, so for Adam the pair is the previous image.
    """

    def __init__(self, args, progress: cli_modes.Progress, content: np.ndarray, *, offset: int = 0,
                 parameters=None, checkpoint_dir=None, checkpoint=None):  # fmt: skip
        self.args = args
        self.progress = progress
        self.offset = offset  # iterations of the runs before this one (batch, sweep)
        self.content = content
        self.parameters = parameters
        self.checkpoint_dir = checkpoint_dir
        self.done = checkpoint.iteration if checkpoint else 0
        self.history = list(checkpoint.history) if checkpoint else []
        self.seconds_before = checkpoint.seconds if checkpoint else 0.0
        self.frames = (
            list(checkpoint.frames) if checkpoint and checkpoint.frames is not None else []
        )
        total = sum(_counts(args))
        # min(frames, total) iterations, evenly spaced, the last one included
        self.gif_at = (
            {math.ceil(k * total / args.gif_frames) for k in range(1, args.gif_frames + 1)}
            if args.gif
            else set()
        )
        self.frame_every = 1 if (args.gif or checkpoint_dir) else 0
        self.previous_image = checkpoint.image if checkpoint else None
        self.started = time.perf_counter()
        self.checkpoints_written = 0

    def seconds(self) -> float:
        return self.seconds_before + time.perf_counter() - self.started

    def __call__(self, local_iteration: int, terms: dict[str, float], image) -> None:
        iteration = self.done + local_iteration
        self.history.append({"iteration": iteration, "seconds": self.seconds(), **terms})
        self.progress.update(self.offset + iteration, terms["total"])
        if image is None:
            return
        if self.args.optimizer == "adam":
            resume_point = (self.previous_image, iteration - 1)
            self.previous_image = image
        else:
            resume_point = (image, iteration)
        if iteration in self.gif_at:
            self.add_frame(image, f"iteration {iteration}  loss {terms['total']:.3g}")
        every = self.args.checkpoint_every
        if every and iteration % every == 0 and resume_point[0] is not None:
            try:
                self.save_checkpoint(*resume_point, terms)
            except OSError as error:  # a full disk must not end the run itself
                self.progress.write(f"warning: could not write a checkpoint ({error})", True)

    def add_frame(self, image: np.ndarray, text: str) -> None:
        """Add a GIF frame (in the content's colours when only luminance is optimised)."""
        if self.args.preserve_colors == "luminance" and image.shape == self.content.shape:
            import color

            image = color.restore_content_colors(image, self.content)
        self.frames.append(helper.to_uint8(helper.annotate(image, text)))

    def save_checkpoint(self, image, iteration: int, terms) -> None:
        entries = [entry for entry in self.history if entry["iteration"] <= iteration]
        checkpoints.save_checkpoint(
            self.checkpoint_dir,
            checkpoints.Checkpoint(
                image=np.asarray(image, dtype=np.float32),
                iteration=iteration,
                terms=dict(terms),
                parameters=self.parameters,
                history=entries,
                seconds=self.seconds(),
                frames=np.stack(self.frames) if self.frames else None,
            ),
        )
        self.checkpoints_written += 1


def optimise(args, content, style, net, recorder: _Recorder, checkpoint=None):
    """Run the engine on the prepared images as the arguments say; return its RunResult."""
    import tf_helper

    options = dict(
        net=net, optimizer=args.optimizer, init=args.init, seed=args.seed,
        learning_rate=args.learning_rate,
        weights=tf_helper.LossWeights(args.content_weight, args.style_weight, args.tv_weight),
        content_layers=args.content_layers, style_layers=args.style_layers,
        style_blend=args.style_blend, callback=recorder, frame_every=recorder.frame_every,
        precision=args.precision,
    )  # fmt: skip
    colors = None if args.preserve_colors == NO_COLOR_PRESERVATION else args.preserve_colors
    try:
        if checkpoint is not None:
            result = _continue_run(args, content, style, checkpoint, colors, options)
        else:
            result = tf_helper.stylize(
                content, style, sizes=args.scales, iterations=args.iterations,
                preserve_colors=colors, style_scale=args.style_scale, **options,
            )  # fmt: skip
    except FloatingPointError as error:
        raise tf_helper.SettingsError(
            f"{error} at the starting image; lower --style-weight (now {args.style_weight:g}) "
            f"or --content-weight (now {args.content_weight:g})"
        ) from None
    if result.image.shape != content.shape:  # a coarse-to-fine run stopped at a coarser scale
        coarse_content = helper.resize(content, *result.image.shape[:2])
        result.image = tf_helper.carry_to_finer_scale(result.image, coarse_content, content)
    return result


def _continue_run(args, content, style, checkpoint, colors, options):
    """Continue a single-scale run from its checkpoint's image.

    tf_helper.stylize cannot start from a given image (run_coarse_to_fine sets `initial`
    itself), so the styles are prepared as stylize prepares them and run_style_transfer
    continues from the checkpoint. Luminance-only runs are not checkpointed.
    """
    import color
    import tf_helper

    styles = style if isinstance(style, list) else [style]
    if colors == "histogram":
        styles = [color.match_color_histogram(s, content) for s in styles]
    styles = [helper.match_style_scale(s, content, args.style_scale) for s in styles]
    return tf_helper.run_style_transfer(
        content, styles, iterations=args.iterations, iterations_done=checkpoint.iteration,
        initial=checkpoint.image, **options,
    )  # fmt: skip


def _build_net(args):
    from tensorflow_vgg.vgg16_avg_pool import Vgg16

    return Vgg16(args.weights)


# --- Outputs ---------------------------------------------------------------------------------


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


def manifest(args: argparse.Namespace, checkpoint_dir=None, **results) -> dict:
    """Return the --stats manifest: all parameters, input checksums, versions, then `results`.

    It holds everything --repeat needs, with absolute paths so that a repeat works from any
    directory, and the weights file as the one used.
    """
    absolute = cli_modes.absolute_path
    parameters = {
        **vars(args),
        "content": absolute(args.content),
        "styles": [absolute(path) for path in args.styles],
        "batch": [absolute(path) for path in args.batch] if args.batch else None,
        "output": absolute(args.output),
        "weights": absolute(resolve_weights_path(args.weights)),
        "checkpoint_dir": str(checkpoint_dir or ""),
    }
    inputs = [absolute(path) for _, path in _inputs(args)] + [parameters["weights"]]
    return {
        "parameters": parameters,
        "inputs": cli_modes.input_digests(inputs),
        "versions": _versions(),
        "deterministic": True,
        "repeat_with": f"python style_transfer.py --repeat {args.stats}",
        **results,
    }


def _save(write, path: str, what: str, say=print) -> bool:
    """Write an output; if that fails (disk full, say), keep it in the temp dir and say so.

    Return whether it went where it was asked to.
    """
    try:
        write(path)
        say(f"saved {path}")
        return True
    except OSError as error:
        fallback = Path(tempfile.gettempdir()) / f"style_transfer-{os.getpid()}-{Path(path).name}"
        write(str(fallback))
        print(
            f"error: could not write {what} to {path} ({error}); saved it to {fallback} instead",
            file=sys.stderr,
        )
        return False


def _save_stats(args: argparse.Namespace, contents: dict) -> bool:
    text = json.dumps(contents, indent=1)
    return _save(lambda path: helper.write_text(text, path), args.stats, "the stats")


def _note_repeat(args: argparse.Namespace) -> None:
    """Say which run is repeated, and warn when library versions differ from the recorded ones."""
    if args.repeat is None:
        return
    recorded = cli_modes.read_manifest(args.repeat).get("versions", {})
    print(f"repeating the run recorded in {args.repeat}", flush=True)
    differences = cli_modes.version_differences(recorded, _versions())
    if differences:
        print(
            "note: versions differ from the recorded run (" + "; ".join(differences) + "), so the "
            "output may differ in its last bits",
            file=sys.stderr,
        )


# --- Running ---------------------------------------------------------------------------------


def run(args: argparse.Namespace, checkpoint: checkpoints.Checkpoint | None = None) -> int:
    """Run what the parsed arguments ask for (one run, a batch or a sweep); return the exit code."""
    if args.batch:
        directory = cli_modes.check_batch_outputs(args.output, args.batch, args.styles)
        check_paths(args)
        _check_readable(args.styles)
        session = _Session(args)
        check_layers(args)
        return cli_modes.run_batch(args, session, directory)
    if args.sweep:
        sweep = cli_modes.sweep_runs(build_parser(), args)
        check_paths(args)
        _check_readable([args.content, *args.styles])
        return cli_modes.run_sweep(args, _Session(args), sweep)
    return run_single(args, checkpoint)


class _Session:
    """The engine side of a batch or sweep: TensorFlow started, one network, one picture a call."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        tf_helper = start_engine(args)
        _note_repeat(args)
        self.net = None
        # A content image that fails these is skipped by a batch; anything else stops it.
        self.file_errors = (
            helper.ImageError,
            tf_helper.SettingsError,
            memory.InsufficientMemoryError,
        )

    @staticmethod
    def iterations(args: argparse.Namespace) -> int:
        """Return the iterations of one run, over all its scales."""
        return sum(_counts(args))

    @staticmethod
    def prepare(args: argparse.Namespace, content_path=None):
        """Return (content, style, estimated peak memory) of one run, or raise a bad input."""
        return prepare(args, content_path)

    def paint(self, args, content, style, progress: cli_modes.Progress, offset: int):
        """Run one style transfer; return its RunResult and the seconds it took."""
        self.net = self.net or _build_net(self.args)
        recorder = _Recorder(args, progress, content, offset=offset)
        return optimise(args, content, style, self.net, recorder), recorder.seconds()

    @staticmethod
    def save_image(image: np.ndarray, path, what: str, say=print) -> bool:
        """Save an image; return whether it went where asked."""
        return _save(lambda name: helper.save_image(image, name), str(path), what, say)

    def save_stats(self, **results) -> bool:
        """Write the --stats manifest with these results; return whether it went where asked."""
        return _save_stats(self.args, manifest(self.args, **results))


def _check_readable(paths) -> None:
    """Tell a missing or unreadable image before TensorFlow loads."""
    for path in paths:
        helper.image_size(path)


def _describe(content: np.ndarray, style, args: argparse.Namespace) -> str:
    styles = style if isinstance(style, list) else [style]
    shown = " + ".join(f"{s.shape[1]}x{s.shape[0]}" for s in styles)
    scales = f", scales {_show(args.scales)}" if args.scales else ""
    arithmetic = " (bfloat16, then float32 for the last third)" if args.precision == "mixed" else ""
    return (
        f"content {content.shape[1]}x{content.shape[0]} px{_enlarged(args.content, content)}, "
        f"style {shown} px{scales}, precision {args.precision}{arithmetic}"
    )


def _enlarged(path, content: np.ndarray) -> str:
    """Say so when the photo was enlarged more than twice: its result will look blurry."""
    height, width = helper.image_size(path)
    factor = max(content.shape[:2]) / max(height, width)
    if factor <= 2:
        return ""
    return f" (enlarged {factor:.1f}x from {width}x{height} px: expect a blurry picture)"


def run_single(args: argparse.Namespace, checkpoint: checkpoints.Checkpoint | None = None) -> int:
    """Run one style transfer (fresh or resumed) and save its outputs; return the exit code."""
    checkpoint_dir = check_paths(args)
    _check_readable([args.content, *args.styles])
    start_engine(args)
    _note_repeat(args)
    done = checkpoint.iteration if checkpoint else 0
    content, style, estimate = prepare(args, done=done)
    if checkpoint is not None and checkpoint.image.shape != content.shape:
        raise UsageError(
            f"the checkpoint image is {checkpoint.image.shape[1]}x{checkpoint.image.shape[0]} "
            f"px but the content at --size {args.size} is {content.shape[1]}x{content.shape[0]}; "
            "resume with the same --size"
        )
    net = _build_net(args)
    parameters = None
    if checkpoint_dir is not None:
        parameters = {key: getattr(args, key) for key in INHERITED}
        parameters["content_sha256"] = checkpoints.file_digest(args.content)
        parameters["styles_sha256"] = [checkpoints.file_digest(path) for path in args.styles]
    print(
        f"{_describe(content, style, args)}, peak memory about {memory.format_bytes(estimate)}"
        + (
            f"; resuming at iteration {done} (loss {checkpoint.terms['total']:.4g})" if done else ""
        ),
        flush=True,
    )
    progress = cli_modes.Progress(sum(_counts(args)), done)
    recorder = _Recorder(
        args, progress, content, parameters=parameters, checkpoint_dir=checkpoint_dir,
        checkpoint=checkpoint,
    )  # fmt: skip
    try:
        result = optimise(args, content, style, net, recorder, checkpoint)
    finally:
        progress.close()
    seconds = recorder.seconds()
    done_now = done + len(result.history)
    gif_frames = list(recorder.frames)
    if args.gif and (result.stopped_because != "finished" or not recorder.frames):
        # The GIF so far ends on the image that is saved, so even an early stop has one. The
        # checkpoint keeps only the planned frames: a resumed run's GIF has --gif-frames.
        text = f"iteration {done_now} ({result.stopped_because.split(':')[0]})"
        gif_frames.append(helper.to_uint8(helper.annotate(result.image, text)))
    try:
        all_saved = _save_outputs(
            args, result, recorder, checkpoint_dir, estimate, done_now, gif_frames
        )
    except KeyboardInterrupt:
        print("interrupted again while saving; outputs not yet written are lost", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"{result.stopped_because}: {done_now} iterations in {seconds:.1f} s; {_loss_line(args, result.terms)}")  # fmt: skip
    if result.stopped_because == "interrupted":
        print(
            f"interrupted after {done_now} iterations; saved the best image so far "
            f"(loss {result.terms['total']:.4g}) to {args.output}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    if result.stopped_because != "finished":
        print(
            f"error: {result.stopped_because.removeprefix('stopped: ')} after {done_now} "
            f"iterations; kept the last good image (loss {result.terms['total']:.4g}) in "
            f"{args.output}; lower --learning-rate (now {args.learning_rate:g}) or "
            f"--style-weight (now {args.style_weight:g})",
            file=sys.stderr,
        )
        return EXIT_NOT_FINITE
    return EXIT_FINISHED if all_saved else EXIT_NOT_FINITE


def _loss_line(args, terms: dict[str, float]) -> str:
    """Return the loss as the sum of its weighted terms, then the unweighted terms."""
    weighted = {
        "content": args.content_weight * terms["content"],
        "style": args.style_weight * terms["style"],
        "tv": args.tv_weight * terms["tv"],
    }
    # The command line weighs every style layer alike: L_style = (1/L) sum_l E_l.
    E = {name[len("style_") :]: value for name, value in terms.items() if name.startswith("style_")}
    layers = f" = (1/{len(E)}) x (" + " + ".join(f"E_{n} {v:.4g}" for n, v in E.items()) + ")"
    return (
        f"loss {terms['total']:.4g} = "
        + " + ".join(f"{name} {value:.4g}" for name, value in weighted.items())
        + f"; loss terms before weighting: content {terms['content']:.4g}, "
        + f"style {terms['style']:.4g}{layers if E else ''}, tv {terms['tv']:.4g}"
    )


def _save_outputs(args, result, recorder, checkpoint_dir, estimate, done_now, gif_frames) -> bool:
    """Write the image, GIF, stats and last checkpoint; return whether all went where asked."""
    all_saved = _save(lambda path: helper.save_image(result.image, path), args.output, "the image")
    if args.gif and gif_frames:
        all_saved &= _save(lambda path: helper.save_gif(gif_frames, path), args.gif, "the GIF")
    if args.stats:
        # A coarse-to-fine run's own history says at which size each iteration ran.
        history = result.history if args.scales else recorder.history
        contents = manifest(
            args, checkpoint_dir, seconds=recorder.seconds(),
            stopped_because=result.stopped_because, resumed_from_iteration=recorder.done,
            estimated_peak_memory_bytes=estimate, final=result.terms, history=history,
        )  # fmt: skip
        all_saved &= _save_stats(args, contents)
    if checkpoint_dir is not None:
        try:
            recorder.save_checkpoint(result.image, done_now, result.terms)
            # A finished run goes on only with more iterations than it has done.
            more = f" --iterations {2 * done_now}" if done_now >= args.iterations else ""
            print(f"saved checkpoint {checkpoint_dir} (continue with: --resume -o {args.output}{more})")  # fmt: skip
        except OSError as error:
            print(
                f"error: could not write the checkpoint {checkpoint_dir} ({error})", file=sys.stderr
            )
            all_saved = False
    return all_saved


def _bad_input_errors() -> tuple[type[Exception], ...]:
    """Return the exception classes that mean a bad input (the engine's once it is imported)."""
    errors = [
        helper.ImageError, WeightsError, UsageError, checkpoints.CheckpointError,
        memory.InsufficientMemoryError,
    ]  # fmt: skip
    if "tf_helper" in sys.modules:
        errors.append(sys.modules["tf_helper"].SettingsError)
    if "tensorflow_vgg.vgg16_avg_pool" in sys.modules:
        errors.append(sys.modules["tensorflow_vgg.vgg16_avg_pool"].LayerError)
    return tuple(errors)


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and run; errors become one line on stderr and exit code 2."""
    try:
        args, checkpoint = parse_arguments(argv)
        return run(args, checkpoint)
    except KeyboardInterrupt:
        print("interrupted before the first iteration; nothing was saved", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:
        if isinstance(error, _bad_input_errors()):
            print(f"error: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
        raise


if __name__ == "__main__":
    sys.exit(main())
