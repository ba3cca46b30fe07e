"""Read the command line into one checked request: argv, with the run a --repeat manifest or a
--resume checkpoint records filled in, and options that must fit together checked together.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import helper
from optimisation import precisions
from optimisation.schedule import LARGE_SIZE, default_schedule
from optimisation.settings import SettingsError, blend_shares
from style_transfer import batch, checkpoints, repeat, sweep
from style_transfer.arguments import CHECKPOINT_MINUTES, DEFAULT_SIZE, DEFAULTS, build_parser
from style_transfer.errors import UsageError
from style_transfer.options import counts, show_value

# Options a resumed run takes from its checkpoint unless given again; those that define the
# loss must then agree with it, or the resumed run would optimise something else.
INHERITED = tuple(
    "content style styles size scales iterations seed init optimizer learning_rate "
    "content_weight style_weight tv_weight content_layers style_layers style_blend style_scale "
    "preserve_colors weights gif gif_frames stats checkpoint_every checkpoint_minutes precision "
    "tile memory_budget".split()
)
MUST_MATCH = tuple(
    "size scales content_weight style_weight tv_weight content_layers style_layers style_blend "
    "style_scale preserve_colors".split()
)


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
                "python -m style_transfer photo.jpg painting.jpg -o out.jpg"
            )
        parser.error("the following arguments are required: -o/--output")
    checkpoint = None
    if args.resume:
        directory = args.checkpoint_dir or checkpoints.default_directory(args.output)
        checkpoint = checkpoints.load_checkpoint(directory)
        saved = {**repeat.RECORDED_BEFORE, **checkpoint.parameters}
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
    _expand_paths(args)
    return args


# Every option that takes a path, or a list of paths.
PATH_OPTIONS = tuple(
    "content style styles output gif stats checkpoint_dir weights repeat batch".split()
)


def _expand_paths(args: argparse.Namespace) -> None:
    """Expand `~` and `~user` in every path given, also after `=` where the shell does not."""
    for name in PATH_OPTIONS:
        value = getattr(args, name)
        if isinstance(value, list):
            setattr(args, name, [str(helper.expand(path)) for path in value])
        elif value is not None:
            setattr(args, name, str(helper.expand(value)))


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
    manifest = repeat.read_manifest(args.repeat)
    repeat.check_repeatable(manifest, args.repeat)
    parser.set_defaults(**repeat.repeat_defaults(manifest, vars(args)))
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
    if args.style_blend is not None:
        try:
            blend_shares(len(styles), args.style_blend)
        except SettingsError as error:
            raise UsageError(f"--style-blend {show_value(args.style_blend)}: {error}") from None
    _finish_schedule(args)
    args.precision = precisions.resolve(args.precision)  # --stats records what ran
    _check_modes(args)
    if args.sweep:
        try:
            sweep.parse_sweep(args.sweep)
        except sweep.SweepError as error:
            raise UsageError(f"--sweep: {error}") from None
    if args.batch:
        args.batch = batch.expand_contents(args.batch)


def _finish_schedule(args: argparse.Namespace) -> None:
    """Settle --size, --scales and --iterations: one size, or growing scales ending at it."""
    if args.scales:
        if args.size is not None and args.size != args.scales[-1]:
            raise UsageError(
                f"--size {args.size} differs from the last of --scales {show_value(args.scales)}; the "
                "last scale is the output size, so drop --size or make them agree"
            )
        args.size = args.scales[-1]
        if len(args.scales) == 1:
            args.scales = None
    elif args.size is None:
        args.size = DEFAULT_SIZE
    if args.iterations is None:
        _default_iterations(args)
    single = not (args.batch or args.sweep)
    if args.checkpoint_minutes is None and single and args.size > LARGE_SIZE:
        if args.preserve_colors != "luminance":  # that run cannot be checkpointed
            args.checkpoint_minutes = CHECKPOINT_MINUTES
    scales = len(args.scales) if args.scales else 1
    if isinstance(args.iterations, list):
        if len(args.iterations) != scales:
            raise UsageError(
                f"--iterations {show_value(args.iterations)} gives {len(args.iterations)} counts for "
                f"{scales} scale(s); give one count for every scale, or one per scale of --scales"
            )
        if scales == 1:
            args.iterations = args.iterations[0]


def _default_iterations(args: argparse.Namespace) -> None:
    """Give a single run above LARGE_SIZE px the default coarse-to-fine schedule; any other run
    DEFAULTS.iterations at every scale."""
    single = not (args.batch or args.sweep or args.scales)
    if single and args.size > LARGE_SIZE:
        try:
            height, width = helper.image_size(args.content)
        except (OSError, helper.ImageError):  # told by the pre-flight checks, with the fix
            height = width = args.size
        args.scales, args.iterations = default_schedule(
            *helper.size_for_longest_side(height, width, args.size)
        )
    else:
        args.iterations = DEFAULTS.iterations


def _check_modes(args: argparse.Namespace) -> None:
    """Refuse modes and options that do not go together."""
    modes = [flag for flag in ("--batch", "--sweep", "--resume") if getattr(args, flag[2:])]
    if len(modes) > 1:
        raise UsageError(f"{modes[0]} and {modes[1]} cannot be combined; run them separately")
    if modes and modes[0] != "--resume":
        for flag in ("--gif", "--checkpoint-every", "--checkpoint-minutes"):
            if getattr(args, flag[2:].replace("-", "_")):
                raise UsageError(f"{flag} follows a single run; drop it from the {modes[0]} run")
    if args.checkpoint_every or args.checkpoint_minutes or args.resume:
        if args.preserve_colors == "luminance":
            raise UsageError(
                "checkpoints and --resume cannot be used with --preserve-colors "
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
                f"{flag} {show_value(getattr(args, key))} differs from {show_value(saved[key])} in the "
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
        if Path(path).is_file() and helper.file_digest(path) != digest:
            raise UsageError(
                f"{path} is not the {name} image the checkpoint {directory} was made from; "
                "give that image, or start a new run without --resume"
            )
    planned, saved_counts = counts(args), saved.get("iterations")
    if args.scales and isinstance(saved_counts, list) and planned[:-1] != saved_counts[:-1]:
        raise UsageError(
            f"--iterations {show_value(planned)} differs from {show_value(saved_counts)} in the "
            f"checkpoint {directory} before the last scale; change only the last count"
        )
    if checkpoint.iteration >= sum(planned):
        last = max(2 * planned[-1], checkpoint.iteration - sum(planned[:-1]) + planned[-1])
        more = show_value([*planned[:-1], last])
        raise UsageError(
            f"the checkpoint {directory} is at iteration {checkpoint.iteration} and --iterations "
            f"is {show_value(args.iterations)}; give more, e.g. --iterations {more}"
        )
