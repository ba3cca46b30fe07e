"""Command line: paint a content photo in the style of a painting (Gatys et al., 2015).

Exit codes: 0 finished; 1 stopped because the loss became NaN or infinite, or an output
could not go where asked (the image is kept all the same, stderr says where); 2 a bad input,
told in one line `error: ...` on stderr; 130 interrupted with Ctrl-C (the best image so far
is saved).
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

import numpy as np  # noqa: E402

import checkpoints  # noqa: E402
import helper  # noqa: E402
import memory  # noqa: E402
from tensorflow_vgg.weights import WeightsError  # noqa: E402  (no TensorFlow in there)

EXIT_FINISHED, EXIT_NOT_FINITE, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130

DEFAULT_CONTENT_LAYERS = "conv4_2"
DEFAULT_STYLE_LAYERS = "conv1_1,conv2_1,conv3_1,conv4_1,conv5_1"

# Options a resumed run takes from its checkpoint unless given again; those that define the
# loss must then agree with it, or the resumed run would optimise something else.
INHERITED = (
    "content", "style", "size", "iterations", "seed", "init", "optimizer", "learning_rate",
    "content_weight", "style_weight", "tv_weight", "content_layers", "style_layers",
    "weights", "gif", "gif_frames", "stats", "checkpoint_every",
)  # fmt: skip
MUST_MATCH = (
    "size", "content_weight", "style_weight", "tv_weight", "content_layers", "style_layers",
)  # fmt: skip


class UsageError(ValueError):
    """A request the command line cannot carry out: clashing paths, a resume that does not fit."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like every other error of this command."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"error: {message}; see: python {self.prog} --help\n")


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


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the command line."""
    parser = _Parser(
        prog="style_transfer.py",
        description="Neural style transfer (Gatys, Ecker & Bethge) on an average-pool VGG16.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog="Exit codes: 0 finished, 1 the loss became NaN/infinite or an output could not be "
        "written where asked (the image is kept; see stderr), "
        "2 bad input, 130 interrupted by Ctrl-C (best image so far saved).",
    )
    parser.add_argument("content", nargs="?", help="the content photo")
    parser.add_argument("style", nargs="?", help="the style painting")
    parser.add_argument(
        "-o", "--output", required=True, help="where to save the result (.jpg/.png/.webp)"
    )
    size = _whole_number("a size in pixels", 512)
    count = _whole_number("a count", 300)
    parser.add_argument("--size", type=size, default=512, help="longest side in pixels")
    parser.add_argument("--iterations", type=count, default=300, help="optimiser iterations")
    parser.add_argument("--seed", type=int, default=0, help="random seed for the noise init")
    parser.add_argument("--init", choices=("noise", "content", "style"), default="content")
    parser.add_argument("--optimizer", choices=("lbfgs", "adam"), default="lbfgs")
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
    parser.add_argument(
        "--gif", default=None, help="also write the optimisation as an animated GIF"
    )
    parser.add_argument("--gif-frames", type=count, default=30, help="frames in the GIF")
    parser.add_argument("--stats", default=None, help="write a JSON manifest of the run here")
    parser.add_argument(
        "--checkpoint-every",
        type=count,
        default=None,
        metavar="N",
        help="every N iterations (and when the run stops) save the image as exact float32 "
        "and the run state, so that --resume can continue a long run",
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
        "checkpoint's options apply unless given again. SciPy's L-BFGS does not expose its "
        "curvature memory (nor Keras its Adam moments), so the optimiser's memory restarts",
    )
    parser.add_argument(
        "--no-memory-check",
        action="store_true",
        help=f"run even when the estimated peak memory exceeds what is free (or set "
        f"{memory.MEMORY_CHECK_ENV_VAR}=1)",
    )
    return parser


def parse_arguments(
    argv: list[str] | None = None,
) -> tuple[argparse.Namespace, checkpoints.Checkpoint | None]:
    """Parse the command line; with --resume, fill it in from the checkpoint and check it fits."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.resume:
        if args.content is None or args.style is None:
            parser.error("give the CONTENT and STYLE images (or --resume a checkpointed run)")
        return args, None
    directory = args.checkpoint_dir or checkpoints.default_directory(args.output)
    checkpoint = checkpoints.load_checkpoint(directory)
    saved = checkpoint.parameters
    parser.set_defaults(**{key: saved[key] for key in INHERITED if key in saved})
    args = parser.parse_args(argv)
    for key in MUST_MATCH:
        if key in saved and getattr(args, key) != saved[key]:
            flag = "--" + key.replace("_", "-")
            raise UsageError(
                f"{flag} {_show(getattr(args, key))} differs from {_show(saved[key])} in the "
                f"checkpoint {directory}; drop {flag} to continue that run, or start a new run "
                "without --resume"
            )
    for name in ("content", "style"):
        path = getattr(args, name)
        if Path(path).is_file() and checkpoints.file_digest(path) != saved.get(f"{name}_sha256"):
            raise UsageError(
                f"{path} is not the {name} image the checkpoint {directory} was made from; "
                "give that image, or start a new run without --resume"
            )
    if checkpoint.iteration >= args.iterations:
        raise UsageError(
            f"the checkpoint {directory} is at iteration {checkpoint.iteration} and --iterations "
            f"is {args.iterations}; give a larger --iterations to continue"
        )
    return args, checkpoint


def _show(value) -> str:
    return ",".join(value) if isinstance(value, (list, tuple)) else f"{value:g}"


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


def check_paths(args: argparse.Namespace) -> Path | None:
    """Refuse outputs that would overwrite an input or each other; return the checkpoint dir."""
    checkpoint_dir = None
    if args.checkpoint_every or args.resume:
        checkpoint_dir = Path(args.checkpoint_dir or checkpoints.default_directory(args.output))
    outputs = {"-o/--output": args.output, "--gif": args.gif, "--stats": args.stats}
    outputs = {flag: Path(path) for flag, path in outputs.items() if path is not None}
    for flag, path in outputs.items():
        for name in ("content", "style"):
            if _same_file(path, getattr(args, name)):
                raise UsageError(
                    f"{path} is the {name} image; {flag} would overwrite it, choose another path"
                )
        for other_flag, other in outputs.items():
            if flag < other_flag and _same_file(path, other):
                raise UsageError(f"{flag} and {other_flag} are both {path}; give each its own")
        _check_writable(path, flag)
    if outputs["-o/--output"].suffix.lower() not in helper.IMAGE_SUFFIXES - {".gif"}:
        raise UsageError(f"{args.output}: unknown image suffix; use .jpg, .png or .webp")
    if "--gif" in outputs and outputs["--gif"].suffix.lower() != ".gif":
        raise UsageError(f"--gif {args.gif} must end in .gif")
    if checkpoint_dir is not None and checkpoint_dir.exists() and not checkpoint_dir.is_dir():
        raise UsageError(f"{checkpoint_dir} is a file; give --checkpoint-dir a directory")
    return checkpoint_dir


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


def load_images(args: argparse.Namespace, minimum: int, deepest: str):
    """Load content (at --size) and style (at the content's area); refuse images too small."""
    import tf_helper

    for name in ("content", "style"):
        path = getattr(args, name)
        height, width = helper.image_size(path)
        if min(height, width) < minimum:
            raise tf_helper.SettingsError(
                f"{path} is {width}x{height} px; the deepest layer in use, {deepest}, needs at "
                f"least {minimum} px on each side; use a larger image"
            )
    content_height, content_width = helper.image_size(args.content)
    content = helper.load_image(args.content, max_side=args.size)
    content = helper.resize_to_longest_side(content, args.size)
    if min(content.shape[:2]) < minimum:
        needed = math.ceil(
            minimum * max(content_height, content_width) / min(content_height, content_width)
        )
        raise tf_helper.SettingsError(
            f"at --size {args.size} the content {args.content} ({content_width}x{content_height} "
            f"px) becomes {content.shape[1]}x{content.shape[0]} px, under the {minimum} px "
            f"{deepest} needs on each side; use --size {needed} or more, or crop the image"
        )
    style_height, style_width = helper.image_size(args.style)
    factor = math.sqrt(content.shape[0] * content.shape[1] / (style_height * style_width))
    # Decode a large style image straight at about the size it will be used at.
    max_side = math.ceil(max(style_height, style_width) * factor) + 1 if factor < 1 else None
    style = helper.match_style_scale(helper.load_image(args.style, max_side=max_side), content)
    if min(style.shape[:2]) < minimum:
        raise tf_helper.SettingsError(
            f"the style {args.style} ({style_width}x{style_height} px) scaled to the content's "
            f"area becomes {style.shape[1]}x{style.shape[0]} px, under the {minimum} px "
            f"{deepest} needs on each side; crop it to a less elongated shape"
        )
    return content, style


def check_memory(args, content, style, layers, iterations: int) -> int:
    """Return the estimated peak memory; refuse the run if it exceeds what is available."""
    options = {
        "layers": layers,
        "optimizer": args.optimizer,
        "iterations": iterations,
        "gif_frames": args.gif_frames if args.gif else 0,
    }
    estimate = memory.estimate_peak_bytes(
        *content.shape[:2], style_shape=style.shape[:2], **options
    )
    available = memory.available_bytes()
    skip = args.no_memory_check or os.environ.get(memory.MEMORY_CHECK_ENV_VAR, "") not in ("", "0")
    if available is None or skip or estimate <= available:
        return estimate
    largest = memory.largest_fitting_size(*content.shape[:2], available, **options)
    fix = f"use --size {largest} or less" if largest else "close other programs"
    raise memory.InsufficientMemoryError(
        f"a run at --size {args.size} ({content.shape[1]}x{content.shape[0]} px) needs about "
        f"{memory.format_bytes(estimate)} of memory, but {memory.format_bytes(available)} is "
        f"available; {fix}, or pass --no-memory-check (or set "
        f"{memory.MEMORY_CHECK_ENV_VAR}=1) to try anyway"
    )


class _Progress:
    """A progress bar on a terminal; plain lines on stdout otherwise (logs, tests)."""

    def __init__(self, total: int, done: int):
        self.total = total
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(
                total=total, initial=done, unit="it", desc="style transfer", dynamic_ncols=True
            )

    def update(self, iteration: int, loss: float) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(f"loss {loss:.4g}")
        else:
            print(f"iteration {iteration}/{self.total}: loss {loss:.4g}", flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _Recorder:
    """Follows the run through the callback: history, GIF frames, checkpoints.

    It keeps (image, loss terms of that image, iterations done) as the resume point. L-BFGS
    reports each iterate with its own loss; tf_helper's Adam reports the image after step k
    with the loss of the image before it, so for Adam the pair is the previous image.
    """

    def __init__(self, args, parameters, checkpoint_dir, checkpoint, initial_image, started):
        self.args = args
        self.parameters = parameters
        self.checkpoint_dir = checkpoint_dir
        self.done = checkpoint.iteration if checkpoint else 0
        self.history = list(checkpoint.history) if checkpoint else []
        self.seconds_before = checkpoint.seconds if checkpoint else 0.0
        self.frames = (
            list(checkpoint.frames) if checkpoint and checkpoint.frames is not None else []
        )
        self.gif_every = max(1, args.iterations // args.gif_frames) if args.gif else 0
        self.previous_image = initial_image
        self.started = started
        self.progress = _Progress(args.iterations, self.done)
        self.checkpoints_written = 0

    def seconds(self) -> float:
        return self.seconds_before + time.perf_counter() - self.started

    def __call__(self, local_iteration: int, terms: dict[str, float], image) -> None:
        iteration = self.done + local_iteration
        self.history.append({"iteration": iteration, "seconds": self.seconds(), **terms})
        self.progress.update(iteration, terms["total"])
        if image is None:
            return
        if self.args.optimizer == "adam":
            resume_point = (self.previous_image, iteration - 1)
            self.previous_image = image
        else:
            resume_point = (image, iteration)
        if self.gif_every and iteration % self.gif_every == 0:
            text = f"iteration {iteration}  loss {terms['total']:.3g}"
            self.frames.append(helper.to_uint8(helper.annotate(image, text)))
        every = self.args.checkpoint_every
        if every and iteration % every == 0:
            try:
                self.save_checkpoint(*resume_point, terms)
            except OSError as error:  # a full disk must not end the run itself
                print(f"warning: could not write a checkpoint ({error})", file=sys.stderr)

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


def _save(write, path: str, what: str) -> bool:
    """Write an output; if that fails (disk full, say), keep it in the temp dir and say so.

    Return whether it went where it was asked to.
    """
    try:
        write(path)
        print(f"saved {path}")
        return True
    except OSError as error:
        fallback = Path(tempfile.gettempdir()) / f"style_transfer-{os.getpid()}-{Path(path).name}"
        write(str(fallback))
        print(
            f"error: could not write {what} to {path} ({error}); saved it to {fallback} instead",
            file=sys.stderr,
        )
        return False


def run(args: argparse.Namespace, checkpoint: checkpoints.Checkpoint | None = None) -> int:
    """Run one style transfer as the parsed arguments say; return the exit code."""
    checkpoint_dir = check_paths(args)
    for path in (args.content, args.style):
        helper.image_size(path)  # a missing or unreadable file is told before TensorFlow loads
    tf_helper = _import_engine()
    from tensorflow_vgg.vgg16_avg_pool import (
        LAYER_ORDER,
        LayerError,
        Vgg16,
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
    minimum = minimum_image_side(layers)
    deepest = max(layers, key=LAYER_ORDER.index)
    content, style = load_images(args, minimum, deepest)
    done = checkpoint.iteration if checkpoint else 0
    iterations = args.iterations - done
    estimate = check_memory(args, content, style, layers, iterations)
    if checkpoint is not None and checkpoint.image.shape != content.shape:
        raise UsageError(
            f"the checkpoint image is {checkpoint.image.shape[1]}x{checkpoint.image.shape[0]} "
            f"px but the content at --size {args.size} is {content.shape[1]}x{content.shape[0]}; "
            "resume with the same --size"
        )
    net = Vgg16(args.weights)
    weights = tf_helper.LossWeights(args.content_weight, args.style_weight, args.tv_weight)
    parameters = {key: getattr(args, key) for key in INHERITED}
    if checkpoint_dir is not None:
        parameters["content_sha256"] = checkpoints.file_digest(args.content)
        parameters["style_sha256"] = checkpoints.file_digest(args.style)
    initial = checkpoint.image if checkpoint else None
    if initial is None:
        initial = tf_helper.initial_image(args.init, content, style, args.seed)
    print(
        f"content {content.shape[1]}x{content.shape[0]} px, style {style.shape[1]}x"
        f"{style.shape[0]} px, peak memory about {memory.format_bytes(estimate)}"
        + (
            f"; resuming at iteration {done} (loss {checkpoint.terms['total']:.4g})" if done else ""
        ),
        flush=True,
    )
    started = time.perf_counter()
    recorder = _Recorder(args, parameters, checkpoint_dir, checkpoint, initial, started)
    try:
        result = tf_helper.run_style_transfer(
            content, style, net=net, iterations=iterations, optimizer=args.optimizer,
            init=args.init, seed=args.seed, learning_rate=args.learning_rate, weights=weights,
            content_layers=args.content_layers, style_layers=args.style_layers,
            callback=recorder, frame_every=1 if (args.gif or checkpoint_dir) else 0,
            initial=initial,
        )  # fmt: skip
    except FloatingPointError as error:
        raise tf_helper.SettingsError(
            f"{error} at the starting image; lower --style-weight (now {args.style_weight:g}) "
            f"or --content-weight (now {args.content_weight:g})"
        ) from None
    finally:
        recorder.progress.close()
    seconds = recorder.seconds()
    done_now = done + len(result.history)
    if args.gif and (result.stopped_because != "finished" or not recorder.frames):
        # The GIF so far ends on the image that is saved, so even an early stop has one.
        text = f"iteration {done_now} ({result.stopped_because.split(':')[0]})"
        recorder.frames.append(helper.to_uint8(helper.annotate(result.image, text)))
    try:
        all_saved = _save_outputs(args, result, recorder, checkpoint_dir, estimate, done_now)
    except KeyboardInterrupt:
        print("interrupted again while saving; outputs not yet written are lost", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(
        f"{result.stopped_because}: {done_now} iterations in {seconds:.1f} s; loss terms: "
        + ", ".join(f"{k} {v:.4g}" for k, v in result.terms.items())
    )
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


def _save_outputs(args, result, recorder, checkpoint_dir, estimate, done_now) -> bool:
    """Write the image, GIF, stats and last checkpoint; return whether all went where asked."""
    all_saved = _save(lambda path: helper.save_image(result.image, path), args.output, "the image")
    if args.gif and recorder.frames:
        frames = recorder.frames
        all_saved &= _save(lambda path: helper.save_gif(frames, path), args.gif, "the GIF")
    if args.stats:
        manifest = {
            "parameters": {**vars(args), "checkpoint_dir": str(checkpoint_dir or "")},
            "versions": _versions(),
            "seconds": recorder.seconds(),
            "stopped_because": result.stopped_because,
            "resumed_from_iteration": recorder.done,
            "estimated_peak_memory_bytes": estimate,
            "final": result.terms,
            "history": recorder.history,
        }
        text = json.dumps(manifest, indent=1)
        all_saved &= _save(lambda path: helper.write_text(text, path), args.stats, "the stats")
    if checkpoint_dir is not None:
        try:
            recorder.save_checkpoint(result.image, done_now, result.terms)
            print(f"saved checkpoint {checkpoint_dir} (continue with: --resume -o {args.output})")
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
