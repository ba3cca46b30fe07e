"""Read the command line into a Request: argv parsed, filled in with the run a --repeat manifest
or a --resume checkpoint records, and a resume checked against its checkpoint.

The argparse namespace lives only here; everything after parse_arguments takes the Request.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import helper
import machine
from style_transfer import checkpoints, repeat
from style_transfer.arguments import (
    BY_NAME,
    INHERITED,
    MUST_MATCH,
    PATH_OPTIONS,
    build_parser,
    show_value,
)
from style_transfer.errors import GrammarError, UsageError
from style_transfer.request import Request


def parse_arguments(argv: list[str] | None = None) -> tuple[Request, checkpoints.Checkpoint | None]:
    """Return the Request of argv (and the checkpoint it resumes from, if any)."""
    parser = build_parser()
    args = _parse(parser, argv)
    if args.repeat is not None:
        args = _merge_manifest(parser, argv, args)
    if args.output is None:
        if not (
            args.content or args.style or args.styles or args.batch or args.resume or args.video
        ):
            parser.error(
                "give the CONTENT and STYLE images and -o OUTPUT, e.g. "
                "python -m style_transfer photo.jpg painting.jpg -o out.jpg"
            )
        parser.error("the following arguments are required: -o/--output")
    checkpoint = None
    if args.resume and not args.video:  # a video resumes from its frames (style_transfer/video.py)
        directory = args.checkpoint_dir or checkpoints.default_directory(args.output)
        checkpoint = checkpoints.load_checkpoint(directory)
        saved = repeat.as_run(checkpoint.parameters)
        inherited = {key: saved[key] for key in INHERITED if key in saved}
        if args.style or args.styles:  # given again: checked against the checkpoint's below
            for key in ("style", "styles"):
                inherited.pop(key, None)
        parser.set_defaults(**inherited)
        args = _parse(parser, argv)
    try:
        request = Request.from_arguments(args)
    except GrammarError as error:
        parser.error(str(error))
    if checkpoint is not None:
        _check_checkpoint_fits(request, checkpoint, directory)
    return request, checkpoint


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
    for name in PATH_OPTIONS:  # `~` and `~user`, also after `=` where the shell does not
        value = getattr(args, name)
        if isinstance(value, list):
            setattr(args, name, [str(machine.expand(path)) for path in value])
        elif value is not None:
            setattr(args, name, str(machine.expand(value)))
    return args


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


def _check_checkpoint_fits(request: Request, checkpoint: checkpoints.Checkpoint, directory) -> None:
    """Refuse a resume whose options or input images differ from the checkpointed run."""
    saved = repeat.as_run(checkpoint.parameters)
    for key in MUST_MATCH:
        value, flag = getattr(request, key), BY_NAME[key].flag
        if key in saved and value != saved[key]:
            raise UsageError(
                f"{flag} {show_value(value)} differs from {show_value(saved[key])} in the "
                f"checkpoint {directory}; drop {flag} to continue that run, or start a new run "
                "without --resume"
            )
    _check_same_images(request, saved, directory)
    planned, saved_counts = request.counts, saved.get("iterations")
    if request.scales and isinstance(saved_counts, list) and planned[:-1] != saved_counts[:-1]:
        raise UsageError(
            f"--iterations {show_value(planned)} differs from {show_value(saved_counts)} in the "
            f"checkpoint {directory} before the last scale; change only the last count"
        )
    if checkpoint.iteration >= sum(planned):
        last = max(2 * planned[-1], checkpoint.iteration - sum(planned[:-1]) + planned[-1])
        more = show_value([*planned[:-1], last])
        raise UsageError(
            f"the checkpoint {directory} is at iteration {checkpoint.iteration} and --iterations "
            f"is {show_value(request.iterations)}; give more, e.g. --iterations {more}"
        )


def _check_same_images(request: Request, saved: dict, directory) -> None:
    """Refuse a resume with other images than the checkpointed run's (by their sha256)."""
    style_digests = saved.get("styles_sha256") or [saved.get("style_sha256")]
    if len(style_digests) != len(request.styles):
        raise UsageError(
            f"the checkpoint {directory} was made with {len(style_digests)} style image(s), not "
            f"{len(request.styles)}; give the same style images, or start a new run without "
            "--resume"
        )
    named = [("content", request.content, saved.get("content_sha256"))] + [
        ("style", path, digest) for path, digest in zip(request.styles, style_digests)
    ]
    for name, what in (("style_masks", "style mask"), ("style_image_masks", "style image mask")):
        paths, digests = getattr(request, name) or [], saved.get(f"{name}_sha256") or []
        if len(paths) != len(digests):
            raise UsageError(
                f"the checkpoint {directory} was made with {len(digests)} {what}(s), not "
                f"{len(paths)}; give the same masks, or start a new run without --resume"
            )
        named += [(what, path, digest) for path, digest in zip(paths, digests)]
    for name, path, digest in named:
        if Path(path).is_file() and machine.file_digest(path) != digest:
            raise UsageError(
                f"{path} is not the {name} image the checkpoint {directory} was made from; "
                "give that image, or start a new run without --resume"
            )
