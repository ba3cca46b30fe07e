"""Checks before a run: output paths, input images, sizes for the layers in use, and memory.

Every refusal is told in one line before TensorFlow is loaded or the first iteration runs.
No TensorFlow here.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from pathlib import Path

import numpy as np

import helper
import sheets
from going_further import tile_geometry
from optimisation import memory
from optimisation.settings import SettingsError, check_image_side
from style_transfer import checkpoints
from style_transfer.errors import UsageError
from style_transfer.options import counts, settings_of, show_value
from tensorflow_vgg.layers import LayerError, check_layer_names, deepest, minimum_image_side


def _same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    a, b = Path(a), Path(b)
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)  # also catches hard links
    except OSError:
        return False


def check_writable(folder: Path, what: str, fix: str) -> None:
    """Refuse a folder in which no new file can be made: `cannot write WHAT (why); FIX`."""
    try:  # permissions alone do not tell (root, read-only mounts, /proc): try it
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as error:
        raise UsageError(f"cannot write {what} ({error.strerror}); {fix}") from None


def _check_output_path(path: Path, flag: str) -> None:
    """Refuse an output path that is a directory or whose directory cannot take a new file."""
    if path.is_dir():
        raise UsageError(f"{path} is a directory; give {flag} a file name inside it")
    ancestor = path.resolve().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    check_writable(ancestor, str(path), f"give {flag} a path in a writable directory")


def inputs(args: argparse.Namespace) -> list[tuple[str, str]]:
    """Return (name, path) of every input image: the content(s), then the style(s)."""
    contents = args.batch or [args.content]
    return [("content", path) for path in contents] + [("style", path) for path in args.styles]


def check_paths(args: argparse.Namespace) -> Path | None:
    """Refuse outputs that would overwrite an input or each other; return the checkpoint dir."""
    checkpoint_dir = None
    if args.checkpoint_every or args.checkpoint_minutes or args.resume:
        checkpoint_dir = Path(args.checkpoint_dir or checkpoints.default_directory(args.output))
    outputs = {"--gif": args.gif, "--stats": args.stats}
    if not args.batch:  # a batch's -o is a directory: batch.check_batch_outputs
        outputs["-o/--output"] = args.output
    outputs = {flag: Path(path) for flag, path in outputs.items() if path is not None}
    for flag, path in outputs.items():
        for name, source in inputs(args):
            if _same_file(path, source):
                raise UsageError(
                    f"{path} is the {name} image; {flag} would overwrite it, choose another path"
                )
        for other_flag, other in outputs.items():
            if flag < other_flag and _same_file(path, other):
                raise UsageError(f"{flag} and {other_flag} are both {path}; give each its own")
        _check_output_path(path, flag)
    output = outputs.get("-o/--output")
    if output is not None and output.suffix.lower() not in helper.IMAGE_SUFFIXES - {".gif"}:
        suffixes = ", ".join(sorted(helper.IMAGE_SUFFIXES - {".gif"}))
        if output.suffix.lower() == ".gif":
            suffixes += "; for an animation of the run add --gif"
        raise UsageError(f"{args.output}: unknown image suffix; use one of {suffixes}")
    if "--gif" in outputs and outputs["--gif"].suffix.lower() not in sheets.ANIMATION_SUFFIXES:
        raise UsageError(f"--gif {args.gif} must end in .gif (or .mp4, for a video)")
    if checkpoint_dir is not None and checkpoint_dir.exists() and not checkpoint_dir.is_dir():
        raise UsageError(f"{checkpoint_dir} is a file; give --checkpoint-dir a directory")
    if checkpoint_dir is not None:
        _check_output_path(checkpoint_dir / checkpoints.STATE_FILE, "--checkpoint-dir")
    return checkpoint_dir


def check_layers(args: argparse.Namespace) -> tuple[list[str], int, str]:
    """Refuse unknown layer names; return the layers, the smallest side they need, the deepest."""
    for flag, layers in (
        ("--content-layers", args.content_layers),
        ("--style-layers", args.style_layers),
    ):
        try:
            check_layer_names(layers)
        except LayerError as error:
            raise LayerError(f"{flag}: {error}") from None
    layers = list(args.content_layers) + list(args.style_layers)
    return layers, minimum_image_side(layers), deepest(layers)


def load_images(args: argparse.Namespace, minimum: int, deepest: str, content_path=None):
    """Load the content at --size and each style at the content's area times --style-scale^2.

    Returns (content, style): one style array, or a list of them for several style images,
    as tf_helper takes them. Images too small for the layers in use are refused.
    """
    content_path = content_path or args.content
    layers = [*args.content_layers, *args.style_layers]
    for path in (content_path, *args.styles):
        check_image_side(str(path), *helper.image_size(path), layers)
    content = _load_content(args, content_path, minimum, deepest)
    styles = [_load_style(args, path, content, minimum, deepest) for path in args.styles]
    return content, styles[0] if len(styles) == 1 else styles


def _load_content(args, path, minimum: int, deepest: str) -> np.ndarray:
    original_height, original_width = helper.image_size(path)
    content = helper.load_image(path, max_side=args.size)
    content = helper.resize_to_longest_side(content, args.size)
    aspect = max(original_height, original_width) / min(original_height, original_width)
    if min(content.shape[:2]) < minimum:
        raise SettingsError(
            f"at --size {args.size} the content {path} ({original_width}x{original_height} "
            f"px) becomes {content.shape[1]}x{content.shape[0]} px, under the {minimum} px "
            f"{deepest} needs on each side; use --size {math.ceil(minimum * aspect)} or more, "
            "or crop the image"
        )
    if args.scales:
        height, width = helper.size_for_longest_side(*content.shape[:2], args.scales[0])
        if min(height, width) < minimum:
            raise SettingsError(
                f"at the first of --scales, {args.scales[0]}, the content {path} becomes "
                f"{width}x{height} px, under the {minimum} px {deepest} needs on each side; "
                f"start --scales at {math.ceil(minimum * aspect)} or more"
            )
    return content


def _load_style(args, path, content: np.ndarray, minimum: int, deepest: str) -> np.ndarray:
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
    raise SettingsError(
        f"the style {path} ({style_width}x{style_height} px) scaled to {where} becomes "
        f"{smallest[1]}x{smallest[0]} px, under the {minimum} px {deepest} needs on each side; "
        + " or ".join(fixes)
    )


def _memory_options(args, layers, iterations: int) -> dict:
    return {
        "layers": layers,
        "optimizer": args.optimizer,
        "iterations": iterations,
        "gif_frames": args.gif_frames if args.gif else 0,
    }


def check_memory(args, content, style, layers, iterations: int) -> int:
    """Return the estimated peak memory (tiled where the plan says); refuse a run that would
    not fit in what is available even so."""
    styles = style if isinstance(style, list) else [style]
    largest_style = max((s.shape[:2] for s in styles), key=lambda shape: shape[0] * shape[1])
    options = _memory_options(args, layers, iterations)
    core = memory.plan_tiles(*content.shape[:2], settings_of(args), largest_style)
    if core is None:
        estimate = memory.estimate_peak_bytes(
            *content.shape[:2], style_shape=largest_style, **options
        )
    else:
        estimate = memory.tiled_peak_bytes(
            *content.shape[:2], core, content_layers=args.content_layers, **options
        )
    available = helper.available_bytes()
    skip = args.no_memory_check or os.environ.get(memory.MEMORY_CHECK_ENV_VAR, "") not in ("", "0")
    if available is None or skip or estimate <= available:
        return estimate
    largest = memory.largest_fitting_size(*content.shape[:2], available, True, **options)
    fix = f"use --size {largest} or less" if largest else "close other programs"
    raise memory.InsufficientMemoryError(
        f"a run at --size {args.size} ({content.shape[1]}x{content.shape[0]} px) needs about "
        f"{helper.format_bytes(estimate)} of memory, but {helper.format_bytes(available)} is "
        f"available; {fix}, or pass --no-memory-check (or set "
        f"{memory.MEMORY_CHECK_ENV_VAR}=1) to try anyway"
    )


def tiling_note(content: np.ndarray, style, args: argparse.Namespace) -> str:
    """Say which scales are evaluated in tiles, how many of what size, and why."""
    layers = [*args.content_layers, *args.style_layers]
    settings = settings_of(args)
    styles = style if isinstance(style, list) else [style]
    largest = max((s.shape[:2] for s in styles), key=lambda shape: shape[0] * shape[1])
    sizes = args.scales or [max(content.shape[:2])]
    tiled, whole = [], 0
    for size, iterations in zip(sizes, counts(args)):
        height, width = helper.size_for_longest_side(*content.shape[:2], size)
        factor = size / max(content.shape[:2])  # the styles follow the content's area
        style_shape = (round(largest[0] * factor), round(largest[1] * factor))
        scale_settings = settings.replace(iterations=iterations)
        core = memory.plan_tiles(height, width, scale_settings, style_shape)
        if core is not None:
            rows, columns = tile_geometry.tile_grid(
                height, width, core, layers, args.tile is not None
            )
            tiled.append((size, len(rows) * len(columns), core))
            options = _memory_options(args, layers, iterations)
            whole = memory.estimate_peak_bytes(height, width, style_shape=style_shape, **options)
    if not tiled:
        return ""
    where = f" at {' and '.join(str(size) for size, _, _ in tiled)} px" if args.scales else ""
    counted = " and ".join(str(count) for _, count, _ in tiled)
    if args.tile is not None:
        return f", evaluated{where} in {counted} tiles of {tiled[0][2]} px (--tile)"
    why = (
        f"the whole picture would need about {helper.format_bytes(whole)}, over the budget of "
        f"{helper.format_bytes(memory.budget_bytes(settings))}"
    )
    return f", evaluated{where} in {counted} tiles ({why})"


def prepare(args: argparse.Namespace, content_path=None, done: int = 0):
    """Check the layers, load the images and check memory; return (content, style, estimate)."""
    layers, minimum, deepest = check_layers(args)
    content, style = load_images(args, minimum, deepest, content_path)
    planned = counts(args)
    left = planned[-1] - max(0, done - sum(planned[:-1]))  # in the last scale, whose peak it is
    estimate = check_memory(args, content, style, layers, left)
    return content, style, estimate


def check_readable(paths) -> None:
    """Tell a missing or unreadable image before TensorFlow loads."""
    for path in paths:
        helper.image_size(path)


def describe(content: np.ndarray, style, args: argparse.Namespace) -> str:
    """Return how the run sees its images: the sizes used, what was enlarged, the arithmetic."""
    styles = style if isinstance(style, list) else [style]
    shown = " + ".join(
        f"{s.shape[1]}x{s.shape[0]} px{_style_enlarged(args, path, s)}"
        for path, s in zip(args.styles, styles)
    )
    content_note = helper.enlargement_note(
        "", helper.image_size(args.content), content.shape, "expect a blurry picture"
    )
    scales = ""
    if args.scales:
        scales = f", scales {show_value(args.scales)} px ({show_value(counts(args))} iterations)"
    arithmetic = " (bfloat16, then float32 for the last third)" if args.precision == "mixed" else ""
    return (
        f"content {content.shape[1]}x{content.shape[0]} px{content_note}, style {shown}{scales}, "
        f"precision {args.precision}{arithmetic}"
    )


def notes(content: np.ndarray, style, output, alpha=None) -> str:
    """Return what the first line adds after the sizes: a grey picture, transparency."""
    styles = style if isinstance(style, list) else [style]
    grey = all(helper.is_grey(image) for image in [content, *styles])
    return ("; photo and painting are grey, so the picture is grey" if grey else "") + (
        transparency_note(output, alpha)
    )


def _style_enlarged(args: argparse.Namespace, path, style: np.ndarray) -> str:
    """Say so when a painting was enlarged more than twice: its strokes will be soft."""
    expect = "expect soft, blurred brush strokes"
    if args.style_scale > 1:
        expect += f"; --style-scale {args.style_scale:g} enlarges it, a larger file keeps it sharp"
    return helper.enlargement_note(
        f"{Path(path).name} ", helper.image_size(path), style.shape, expect
    )


def transparency_note(output, alpha) -> str:
    """Say what happens to the photo's transparency in the output ('' for an opaque photo)."""
    if alpha is None:
        return ""
    if Path(output).suffix.lower() in helper.ALPHA_SUFFIXES:
        return f"; the photo's transparency is kept in {Path(output).name}"
    return (
        f"; the photo's transparency is flattened onto white ({Path(output).suffix} holds none: "
        "save as .png, .webp or .tif to keep it)"
    )
