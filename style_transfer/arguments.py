"""The command line's grammar: one table of options, from which the parser and every fact
about an option (sweepable, a Settings field, inherited on --resume, ...) are derived.

Defaults and choices come from the settings (loss_settings, optimisation.settings,
going_further.settings), numbers are checked by their rules, so
the command line and the engine agree. No TensorFlow here: --help and a bad option answer at once.
"""

from __future__ import annotations

import argparse
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

from going_further.settings import COLOR_MODES, DEFAULT_TEMPORAL_WEIGHT, StylizeSettings
from loss_settings import SettingsError, blend_shares, number, whole_number
from optimisation import content_boost, memory, precisions, preconditioner
from optimisation.schedule import FIRST_SIZE, LARGE_SIZE
from optimisation.settings import INITS, OPTIMIZERS, learning_rate
from style_transfer.errors import EXIT_BAD_INPUT
from tensorflow_vgg.layers import BORDERS, CONVOLUTIONS, DEFAULT_CONVOLUTION

DEFAULT_SIZE = 512  # longest side of the output
CHECKPOINT_MINUTES = 3.0  # a crash or Ctrl-C in a large run loses at most this much
DEFAULT_GIF_FRAMES = 30
NO_COLOR_PRESERVATION = "none"
DEFAULTS = StylizeSettings()


@dataclass(frozen=True)
class Option:
    """One option of the command line: how it is typed and read, and what it means elsewhere."""

    name: str  # the attribute of the parsed arguments and of the Request
    flags: tuple[str, ...]  # () for a positional argument
    help: str
    default: object = None
    parse: Callable | None = None  # text -> value, raising argparse.ArgumentTypeError
    choices: tuple[str, ...] | None = None
    metavar: str | None = None
    nargs: str | None = None
    switch: bool = False  # a flag without a value (store_true)
    path: bool = False  # a path, or a list of paths: `~` is expanded
    setting: str | None = None  # the going_further.settings.StylizeSettings field
    sweep: tuple[str, type] | None = None  # its --sweep name and how one value is read
    inherited: bool = False  # a --resume takes it from the checkpoint unless given again
    must_match: bool = False  # ... and refuses a value other than the checkpoint's
    repeated: bool = True  # a --repeat takes it from the manifest unless given again

    @property
    def flag(self) -> str:
        """Return the option's name as messages give it: --style-weight, or CONTENT's name."""
        return self.flags[-1] if self.flags else self.name

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        """Add this option to an argument parser."""
        if not self.flags:
            parser.add_argument(self.name, nargs=self.nargs, help=self.help)
        elif self.switch:
            parser.add_argument(*self.flags, dest=self.name, action="store_true", help=self.help)
        else:
            parser.add_argument(
                *self.flags,
                dest=self.name,
                type=self.parse,
                default=self.default,
                choices=self.choices,
                metavar=self.metavar,
                nargs=self.nargs,
                help=self.help,
            )


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

    def _fill_text(self, text, width, indent):  # the epilog's paragraphs stay apart
        fill = super()._fill_text
        return "\n\n".join(fill(part, width, indent) for part in text.split("\n\n"))


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


def _rule(rule: Callable):
    """Return a parse function that applies one of the settings' rules (loss_settings)."""

    def parse(text: str):
        try:
            return rule(text)
        except SettingsError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def _layer_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(
            f"{text!r} has an empty layer name; give names separated by commas, e.g. conv4_2"
        )
    return names


def _layer_weights(text: str) -> dict[str, float]:
    """Parse LAYER=W,LAYER=W into {layer: w_l}, refusing a layer named twice."""
    weights: dict[str, float] = {}
    for part in text.split(","):
        name, equals, value = (piece.strip() for piece in part.partition("="))
        if not (name and equals):
            raise argparse.ArgumentTypeError(
                f"{part.strip()!r} is not LAYER=WEIGHT; give e.g. conv1_1=0.4,conv5_1=0.1"
            )
        if name in weights:
            raise argparse.ArgumentTypeError(f"{name} is given twice; give each layer once")
        weights[name] = _number(f"the weight of {name}", "0.2", True)(value)
    return weights


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


def _number_option(name, flag, what, example, default, zero_allowed=False, help=None, **facts):
    """Return an option that takes a finite number (of zero or more, or more than zero)."""
    parse = _number(what, example, zero_allowed)
    return Option(name, (flag,), help or what, default=default, parse=parse, **facts)


# Facts shared by many options, as keyword arguments of Option.
_LOSS = {"inherited": True, "must_match": True}  # defines what a resumed run optimises
_OUTPUT = {"path": True, "repeated": False}  # a second file the repeat would overwrite

# The options in the order --help lists them.
STYLE_OPTIONS = (
    Option("content", (), "the content photo (several: see --batch)", nargs="?", path=True,
           inherited=True),
    Option("style", (), "the style painting (several: see --style)", nargs="?", path=True,
           inherited=True),
    Option("output", ("-o", "--output"), "where to save the result (.jpg, .png, .webp, .tif "
           "or .bmp); with --batch a directory, with --sweep the contact sheet (required unless "
           "--repeat)", path=True),
    Option("styles", ("--style",), "one or more style paintings, instead of the positional "
           "STYLE; their Gram matrices are blended (see --style-blend). Put them after CONTENT",
           nargs="+", metavar="STYLE", path=True, inherited=True),
    Option("style_blend", ("--style-blend",), "blend weights of the --style images, one each, "
           "e.g. 0.7,0.3 (default: equal)", parse=_blend_list, metavar="W1,W2,...",
           setting="style_blend", **_LOSS),
    Option("style_masks", ("--style-masks",), "spatial control (Gatys et al. 2017): one mask "
           "image per --style painting, over the photo (any size of its shape), white where "
           "that painting's style goes; pixels no mask covers keep the photo",
           nargs="+", metavar="MASK", path=True, inherited=True),
    Option("style_image_masks", ("--style-image-masks",), "with --style-masks: one mask per "
           "painting over the painting itself, white where its style is taken from (default: "
           "all of it)", nargs="+", metavar="MASK", path=True, inherited=True),
    _number_option("style_scale", "--style-scale", "the style scale", "1.5",
                   DEFAULTS.style_scale, help="size the style image to the content's area "
                   "times this squared: above 1 paints larger brush strokes, below 1 smaller "
                   "ones", setting="style_scale", sweep=("style-scale", float), **_LOSS),
    Option("preserve_colors", ("--preserve-colors",), "keep the content's colours (Gatys et "
           "al. 2016): 'luminance' transfers only luminance and puts the content's colours "
           "back; 'histogram' first gives the style image the content's colour mean and "
           "covariance", default=NO_COLOR_PRESERVATION,
           choices=(NO_COLOR_PRESERVATION, *COLOR_MODES), setting="preserve_colors",
           sweep=("preserve-colors", str), **_LOSS),
)  # fmt: skip

RUN_OPTIONS = (
    Option("size", ("--size",), f"longest side of the output in pixels (default: "
           f"{DEFAULT_SIZE}, or the last of --scales)", parse=_whole_number("a size in pixels",
           512), sweep=("size", int), **_LOSS),
    Option("scales", ("--scales",), "coarse-to-fine: optimise at these growing longest sides, "
           "each scale starting from the one before, e.g. 128,256,512 (the last is the output "
           "size)", parse=_scale_list, metavar="S1,S2,...", **_LOSS),
    Option("iterations", ("--iterations",), f"optimiser iterations: one count for every "
           f"scale, or one per scale of --scales (e.g. 200,100,50). Default: "
           f"{DEFAULTS.iterations}; for a single run above {LARGE_SIZE} px with no --scales, a "
           f"coarse-to-fine schedule from {FIRST_SIZE} px up that takes about the same time at "
           f"every scale (--batch and --sweep keep {DEFAULTS.iterations})",
           parse=_iteration_counts, setting="iterations", sweep=("iterations", int),
           inherited=True),
    Option("seed", ("--seed",), "random seed (for --init noise); TensorFlow's ops run "
           "deterministically, so a seed repeats a run bit for bit on the same machine",
           default=DEFAULTS.seed, parse=_seed, setting="seed", inherited=True),
    Option("init", ("--init",), "where the optimisation starts: white noise (as in the "
           "paper), the photo, the photo in the style's colours (its colour mean and "
           "covariance, pooled over a blend's styles: 1-8%% lower loss than the photo after "
           "100 iterations), or the (first) style image", default=DEFAULTS.init,
           choices=INITS, setting="init", sweep=("init", str), inherited=True),
    Option("no_content_boost", ("--no-content-boost",), f"weigh the content as equation 7 does "
           f"from the first iteration on. By default an L-BFGS run of "
           f"{content_boost.MIN_ITERATIONS} iterations or more from the photo or the recoloured "
           f"photo weighs it more in its first iterations, which keeps the photo's layout while "
           f"the textures form and reaches a good picture in fewer iterations (the loss "
           f"reported and the picture kept are equation 7's either way)", switch=True),
    Option("no_preconditioner", ("--no-preconditioner",), "start L-BFGS's guess at the "
           "inverse curvature from the identity, every pixel alike, at the usual scale. By "
           "default it is fitted to the last step, moves smooth changes of the picture "
           "further where the steps call for it, and makes steps "
           f"{preconditioner.GAMMA_FACTOR:g} times as long where the curvature pairs say "
           "nothing, which reached a given loss in up to a sixth fewer iterations at 512 px "
           "(the loss minimised is the same)", switch=True, inherited=True),
    Option("precision", ("--precision",), "arithmetic of the network's convolutions (the "
           "reported loss is always float32): bfloat16 is about 1.1-1.2 times as fast per "
           "iteration as float32's Winograd convolutions on CPUs with AVX512_BF16 (AMD Zen 4, "
           "Intel Xeon since Cooper Lake) and 2.5-3 times with AMX (Intel Xeon since Sapphire "
           "Rapids), slower on others; mixed runs the first two thirds of the iterations in "
           "bfloat16 and the rest in float32, for float32's loss in 60-95%% of its time; "
           "auto is mixed where the CPU has bfloat16, else float32. --stats records which one "
           "ran", default=DEFAULTS.precision, choices=precisions.PRECISIONS,
           setting="precision", inherited=True),
    Option("optimizer", ("--optimizer",), "lbfgs: box-constrained L-BFGS, as in the paper; "
           "adam: first-order, needs far more iterations (see --learning-rate)",
           default=DEFAULTS.optimizer, choices=OPTIMIZERS, setting="optimizer", inherited=True),
    Option("learning_rate", ("--learning-rate",), "Adam's step size, in pixel values of 0 to 1 "
           "(less than 1)", default=DEFAULTS.learning_rate, parse=_rule(learning_rate),
           setting="learning_rate", inherited=True),
    _number_option("content_weight", "--content-weight", "the content weight", "1",
                   DEFAULTS.alpha, zero_allowed=True, help="alpha (0 synthesises the style's "
                   "texture alone)", setting="alpha", sweep=("content-weight", float), **_LOSS),
    _number_option("style_weight", "--style-weight", "the style weight", "1000", DEFAULTS.beta,
                   help="beta", setting="beta", sweep=("style-weight", float), **_LOSS),
    _number_option("tv_weight", "--tv-weight", "the total-variation weight", "0.001",
                   DEFAULTS.gamma, zero_allowed=True, help="gamma (denoising)", setting="gamma",
                   sweep=("tv-weight", float), **_LOSS),
    Option("content_layers", ("--content-layers",), "VGG16 layers of the content loss, "
           "comma-separated", default=",".join(DEFAULTS.content_layers), parse=_layer_list,
           setting="content_layers", sweep=("content-layer", str), **_LOSS),
    Option("style_layers", ("--style-layers",), "VGG16 layers of the style loss, "
           "comma-separated", default=",".join(DEFAULTS.style_layers),
           parse=_layer_list, setting="style_layers", **_LOSS),
    Option("style_layer_weights", ("--style-layer-weights",), "w_l of some style layers "
           "(paper, eq. 5), e.g. conv1_1=0.4,conv5_1=0.1; the layers not named keep 1/L, L the "
           "number of style layers", parse=_layer_weights, metavar="LAYER=W,...", **_LOSS),
    Option("border", ("--border",), "what the network sees beyond the picture's edge: "
           "mirror, the picture mirrored (no coloured frame at the edge), or zero, the "
           "network's own zero padding, which the optimiser answers with saturated stripes "
           "along the edge", default=DEFAULTS.border, choices=BORDERS, setting="border",
           sweep=("border", str), **_LOSS),
    Option("tile", ("--tile",), "evaluate the loss in tiles of PX px, each with the margin "
           "that keeps it exact (by default only a picture whose run would need more than "
           "--memory-budget is tiled)", parse=_whole_number("a tile size in px", 512),
           metavar="PX", setting="tile", inherited=True),
    _number_option("memory_budget", "--memory-budget", "the memory budget in GiB", "4",
                   DEFAULTS.memory_budget, help="GiB a run may take before it is evaluated in "
                   "tiles (less if less is free); tiles cost time, since each is computed with a "
                   "margin and most forward passes run twice", setting="memory_budget",
                   inherited=True),
    Option("weights", ("--weights",), "vgg16.npy to use (default: $VGG16_NPY or "
           "tensorflow_vgg/vgg16.npy)", path=True, inherited=True),
    Option("convolution", ("--convolution",), "how the network convolves: winograd uses "
           "Winograd's F(4x4, 3x3) from conv2_2 on in float32 iterations (from conv1_2 on "
           "at small sizes on CPUs without AVX-512; a third less time per float32 iteration "
           "than direct, the same loss to 1e-6, about 12%% more memory); "
           "direct uses oneDNN's convolutions on every layer. bfloat16 iterations convolve "
           "directly either way", default=DEFAULT_CONVOLUTION, choices=CONVOLUTIONS,
           inherited=True),
)  # fmt: skip

OUTPUT_OPTIONS = (
    Option("gif", ("--gif",), "also write the optimisation as an animated GIF (or as an H.264 "
           "video, if the name ends in .mp4)", inherited=True, **_OUTPUT),
    Option("gif_frames", ("--gif-frames",), "frames in the GIF, evenly spaced over the run "
           "and ending at its last iteration", default=DEFAULT_GIF_FRAMES,
           parse=_whole_number("a count", DEFAULT_GIF_FRAMES), inherited=True),
    Option("stats", ("--stats",), "write a JSON manifest of the run here: every parameter, the "
           "sha256 of each input file, library versions and the loss history (repeat it with "
           "--repeat)", inherited=True, **_OUTPUT),
    Option("checkpoint_every", ("--checkpoint-every",), "every N iterations (and when the run "
           "stops) save the image as exact float32 and the run state, so that --resume can "
           "continue a long run", parse=_whole_number("a count", 50), metavar="N",
           inherited=True, repeated=False),
    Option("checkpoint_minutes", ("--checkpoint-minutes",), f"save a checkpoint at least "
           f"every M minutes (default: {CHECKPOINT_MINUTES:g} for a single run above "
           f"{LARGE_SIZE} px, else none; 0 turns them off)", parse=_number("minutes", "3", True),
           metavar="M", inherited=True, repeated=False),
    Option("checkpoint_dir", ("--checkpoint-dir",), "where checkpoints go (default: "
           "OUTPUT.checkpoint/ next to the output)", **_OUTPUT),
    Option("resume", ("--resume",), "continue from the checkpoint: the image and its loss "
           "continue exactly, and the checkpoint's options apply unless given again. L-BFGS's "
           "curvature pairs and Adam's moments are not saved (they are as large as many "
           "images), so they are rebuilt", switch=True, repeated=False),
    Option("overwrite", ("--overwrite",), "replace what an earlier run left where this one "
           "writes: the picture (-o, a --batch's pictures, a --sweep's sheet), --gif, --stats "
           "and the checkpoint, which a fresh run starts afresh. Without it such a run is "
           "refused before it starts (--resume continues a checkpointed run, and replaces its "
           "own files)", switch=True, repeated=False),
    Option("no_memory_check", ("--no-memory-check",), f"run even when the estimated peak "
           f"memory exceeds what is free (or set {memory.MEMORY_CHECK_ENV_VAR}=1)", switch=True),
)  # fmt: skip

# Sweepable settings: the name --sweep knows each by -> how to read one value.
SWEEPABLE = {
    option.sweep[0]: option.sweep[1]
    for option in STYLE_OPTIONS + RUN_OPTIONS + OUTPUT_OPTIONS
    if option.sweep
}

MODE_OPTIONS = (
    Option("batch", ("--batch",), "style several content images (paths, or quoted glob "
           "patterns such as 'photos/*.jpg') with the --style image(s), one after another; -o "
           "is then a directory that gets <content>_<style>.jpg for each. A file that fails is "
           "reported and the others still run", nargs="+", metavar="CONTENT", path=True),
    Option("sweep", ("--sweep",), f"run every combination of these settings and save one "
           f"labelled contact sheet to -o (a row per combination of the others, a column per "
           f"value of the last); NAME is one of {', '.join(SWEEPABLE)}. Put CONTENT and STYLE "
           f"before it", nargs="+", metavar="NAME=V1,V2"),
    Option("repeat", ("--repeat",), "run again the run a --stats manifest records, with the "
           "same parameters (options given again override them); refused if an input file "
           "changed. Writes the image to -o, or where the run wrote it", metavar="MANIFEST",
           path=True, repeated=False),
)  # fmt: skip

# Video (Ruder, Dosovitskiy & Brox 2016): going_further/video.py, style_transfer/video.py.
VIDEO_OPTIONS = (
    Option("video", ("--video",), "style a video clip (imageio-ffmpeg: MP4, MOV, MKV, WebM, "
           "AVI) frame by frame with --style; -o is an .mp4, which keeps the frame rate and "
           "the audio. Each frame starts from the previous styled frame warped by the optical "
           "flow (OpenCV's DIS) and is saved at once in OUTPUT.frames/; --iterations is per "
           "frame. Several clips: -o is a directory that gets <clip>_<style>.mp4 for each",
           nargs="+", metavar="CLIP", path=True),
    _number_option("temporal_weight", "--temporal-weight", "the temporal weight", "1e7",
                   DEFAULT_TEMPORAL_WEIGHT, zero_allowed=True, help="with --video: the weight "
                   "of the temporal loss (1/D) sum c (x - warped)^2 in 0..255 units, c = 0 where "
                   "the flow is not consistent; 0 styles each frame on its own. Like the "
                   "content loss, scale it with the number of pixels"),
    Option("first_frame_iterations", ("--first-frame-iterations",), "with --video: iterations "
           "of the first frame, which starts from nothing styled (default: twice "
           "--iterations)", parse=_whole_number("a count", 600), metavar="N"),
)  # fmt: skip

CLUSTER_OPTIONS = (
    Option("workers", ("--workers",), "with --batch, --sweep or --video: paint N pictures (or "
           "clips, each on one worker, its frames in order) at a time on "
           "a Ray cluster that the command starts on this machine (127.0.0.1 only) and stops "
           "when done, the machine's CPUs shared among them; with --ray-address, N workers "
           "across that cluster (default: one per node)", parse=_whole_number("a count", 2),
           metavar="N", repeated=False),
    Option("ray_address", ("--ray-address",), "with --batch, --sweep or --video: join the "
           "Ray cluster "
           "at this address (HOST:PORT of `ray start --head`, or auto) instead of starting one; "
           "every node needs this project and its weights at the same path",
           metavar="ADDRESS", repeated=False),
)  # fmt: skip

OPTIONS = (
    STYLE_OPTIONS + RUN_OPTIONS + OUTPUT_OPTIONS + MODE_OPTIONS + VIDEO_OPTIONS + CLUSTER_OPTIONS
)
BY_NAME = {option.name: option for option in OPTIONS}
BY_SWEEP_NAME = {option.sweep[0]: option for option in OPTIONS if option.sweep}

# The facts about options, as the table gives them.
SETTINGS = {option.name: option.setting for option in OPTIONS if option.setting}
INHERITED = tuple(option.name for option in OPTIONS if option.inherited)
MUST_MATCH = tuple(option.name for option in OPTIONS if option.must_match)
NOT_REPEATED = tuple(option.name for option in OPTIONS if not option.repeated)
PATH_OPTIONS = tuple(option.name for option in OPTIONS if option.path)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the command line, one argument per row of OPTIONS."""
    parser = _Parser(
        prog="python -m style_transfer",
        description="Neural style transfer (Gatys, Ecker & Bethge) on an average-pool VGG16.",
        formatter_class=_HelpFormatter,
        epilog="Weights and sizes: --content-weight and --style-weight act differently at "
        "different sizes. The content loss sums over every position of its layer, so it grows "
        "with the number of pixels, while each style layer's E_l divides its sum by M_l^2 "
        "(paper, eq. 4), so it does not. A picture twice as large on each side weighs the "
        "content about four times as much: raise --style-weight about four times to keep "
        "the same balance.\n\n"
        "Exit codes: 0 finished, 1 the loss became NaN/infinite during the run, the "
        "optimiser diverged (its loss ended far above the start's, the picture kept no better "
        "than the start: lower --learning-rate), an output could not be written where asked "
        "after it (the image is kept; see stderr) or some images of a --batch failed, 2 bad "
        "input or settings, or an earlier run's output in the way (told before the run "
        "starts), 130 interrupted by Ctrl-C (best image so far saved).",
    )
    for option in OPTIONS:
        option.add_to(parser)
    return parser


def show_value(value) -> str:
    """Return an option's value as it would be typed: 0.7,0.3 / 1000 / none."""
    if isinstance(value, (list, tuple)):
        return ",".join(show_value(item) for item in value)
    if isinstance(value, (int, float)):
        return f"{value:g}"
    return "none" if value is None else str(value)


class SweepError(ValueError):
    """A sweep specification that cannot be read."""


def _parse_value(name: str, text: str):
    kind = SWEEPABLE[name]
    try:
        value = kind(text)
    except ValueError:
        what = "whole number" if kind is int else "number"
        raise SweepError(f"sweep {name}: {text!r} is not a {what}") from None
    if kind is float and not math.isfinite(value):
        raise SweepError(f"sweep {name}: {text!r} must be a finite number")
    return value  # the range is checked as the setting's own flag checks it


def parse_sweep(specs: list[str]) -> list[dict[str, object]]:
    """Return one {name: value} dict per combination of `name=v1,v2,...` specifications."""
    axes: dict[str, list] = {}
    for spec in specs:
        name, sep, values = spec.partition("=")
        name = name.strip()
        if not sep or not values.strip():
            raise SweepError(f"sweep {spec!r} must look like name=value1,value2")
        if name not in SWEEPABLE:
            raise SweepError(f"cannot sweep {name!r}; choose from {', '.join(SWEEPABLE)}")
        if name in axes:
            raise SweepError(f"sweep {name!r} is given twice")
        axes[name] = [_parse_value(name, v.strip()) for v in values.split(",")]
    return [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())]
