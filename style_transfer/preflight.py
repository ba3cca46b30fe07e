"""Checks before a run: output paths, input images, sizes for the layers in use, and memory.

Every refusal is told in one line before TensorFlow is loaded or the first iteration runs.
No TensorFlow here.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

import helper
import machine
import sheets
from going_further import tile_geometry
from going_further.style_scale import enlargement_note, match_style_scale
from loss_settings import SettingsError, check_image_side, layer_list
from optimisation import memory
from optimisation.starts import is_grey
from style_transfer import checkpoints
from style_transfer.arguments import show_value
from style_transfer.errors import UsageError
from tensorflow_vgg.layers import LayerError, deepest, minimum_image_side

if TYPE_CHECKING:
    from style_transfer.request import Request

Shape = tuple[int, int]  # (height, width) of an image file as it loads, EXIF rotation applied


@dataclass(frozen=True)
class Images:
    """A run's images as loaded, with the (height, width) of the files they came from."""

    content: np.ndarray  # (H, W, 3) at --size
    styles: list[np.ndarray]  # each at the content's area times --style-scale squared
    content_file: Shape
    style_files: list[Shape]
    frames: dict[str, int]  # the frames of each file that holds more than one (frame 1 is used)
    masks: list[np.ndarray] | None = None  # --style-masks, (H', W') in [0, 1], as in their files
    image_masks: list[np.ndarray] | None = None  # --style-image-masks

    @property
    def style(self):
        """The style as tf_helper takes it: one array, or a list of several."""
        return self.styles[0] if len(self.styles) == 1 else self.styles


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


def check_paths(request: Request, own: set[Path] = frozenset()) -> Path | None:
    """Refuse outputs that would overwrite an input, each other, or an earlier run's files (but
    the files `own` of the run a resume continues); return the checkpoint dir."""
    checkpoint_dir = None
    if request.checkpointed:
        checkpoint_dir = Path(
            request.checkpoint_dir or checkpoints.default_directory(request.output)
        )
    # A batch's -o is a directory: batch.check_batch_outputs
    outputs = {"-o/--output": None if request.batch else request.output}
    outputs |= {"--gif": request.gif, "--stats": request.stats}
    outputs = {flag: Path(path) for flag, path in outputs.items() if path is not None}
    for flag, path in outputs.items():
        for name, source in request.inputs():
            if _same_file(path, source):
                raise UsageError(
                    f"{path} is the {name} image; {flag} would overwrite it, choose another path"
                )
        for other_flag, other in outputs.items():
            if flag < other_flag and _same_file(path, other):
                raise UsageError(f"{flag} and {other_flag} are both {path}; give each its own")
        _check_output_path(path, flag)
    _check_suffixes(outputs, request)
    if checkpoint_dir is not None and checkpoint_dir.exists() and not checkpoint_dir.is_dir():
        raise UsageError(f"{checkpoint_dir} is a file; give --checkpoint-dir a directory")
    if checkpoint_dir is not None:
        _check_output_path(checkpoint_dir / checkpoints.STATE_FILE, "--checkpoint-dir")
        _check_earlier_checkpoint(checkpoint_dir, request)
    _check_earlier_outputs(outputs, request, own)
    return checkpoint_dir


def _check_earlier_checkpoint(checkpoint_dir: Path, request: Request) -> None:
    """Refuse a new run that would replace an earlier run's checkpoint, unless told to."""
    if request.resume or request.overwrite:
        return
    iteration = checkpoints.saved_iteration(checkpoint_dir)
    if iteration is not None:
        at = f" at iteration {iteration}" if iteration >= 0 else ""
        raise UsageError(
            f"{checkpoint_dir} holds the checkpoint of an earlier run{at}; "
            f"continue it with --resume -o {request.output}, or start afresh with --overwrite"
        )


def _check_earlier_outputs(outputs: dict[str, Path], request: Request, own) -> None:
    """Refuse a run that would replace files already there (an earlier run's picture, GIF or
    stats), unless --overwrite; a resume replaces its own. Names --resume where a checkpoint
    of the picture waits to be continued."""
    if request.overwrite:
        return
    there = [
        (flag, path)
        for flag, path in outputs.items()
        if path.is_file() and path.resolve() not in own
    ]
    if not there:
        return
    flags = [flag.removesuffix("/--output") for flag, _ in there]
    paths = [str(path) for _, path in there]
    what = f"{paths[0]} exists" if len(paths) == 1 else f"{', '.join(paths)} exist"
    directory = Path(request.checkpoint_dir or checkpoints.default_directory(request.output))
    iteration = None if request.resume else checkpoints.saved_iteration(directory)
    if "-o" in flags and iteration is not None:
        at = f" at iteration {iteration}" if iteration >= 0 else ""
        raise UsageError(
            f"{what}, with the checkpoint of an earlier run{at} in {directory}; continue it with "
            f"--resume -o {request.output}, or start afresh with --overwrite"
        )
    raise UsageError(
        f"{what}; give {' and '.join(flags)} another path, or pass --overwrite to replace "
        f"{'it' if len(paths) == 1 else 'them'}"
    )


def _check_suffixes(outputs: dict[str, Path], request: Request) -> None:
    """Refuse an image or animation output whose suffix names no format that can be written."""
    output = outputs.get("-o/--output")
    if output is not None and output.suffix.lower() not in helper.IMAGE_SUFFIXES - {".gif"}:
        suffixes = ", ".join(sorted(helper.IMAGE_SUFFIXES - {".gif"}))
        if output.suffix.lower() == ".gif":
            suffixes += "; for an animation of the run add --gif"
        raise UsageError(f"{request.output}: unknown image suffix; use one of {suffixes}")
    if "--gif" in outputs and outputs["--gif"].suffix.lower() not in sheets.ANIMATION_SUFFIXES:
        raise UsageError(f"--gif {request.gif} must end in .gif (or .mp4, for a video)")


def check_layers(request: Request) -> tuple[list[str], int, str]:
    """Refuse unknown layer names; return the layers, the smallest side they need, the deepest."""
    for flag, layers in (
        ("--content-layers", request.content_layers),
        ("--style-layers", request.style_layers),
    ):
        try:
            layer_list(layers)
        except LayerError as error:
            raise LayerError(f"{flag}: {error}") from None
    layers = list(request.content_layers) + list(request.style_layers)
    return layers, minimum_image_side(layers), deepest(layers)


def read_headers(paths) -> dict[str, Shape]:
    """Return {path: (height, width)} of image files, read from their headers once for the run;
    a missing or unreadable image is told here, before TensorFlow loads."""
    return {str(path): helper.image_size(path) for path in paths}


def load_images(
    request: Request, minimum: int, deepest: str, content_path=None, headers=None
) -> Images:
    """Load the content at --size and each style at the content's area times --style-scale^2.

    `headers` are the read_headers of the files, where already read. Images too small for the
    layers in use are refused.
    """
    content_path = str(content_path or request.content)
    headers = headers or {}
    unread = [path for path in (content_path, *request.styles) if path not in headers]
    files = {**headers, **read_headers(unread)}
    layers = [*request.content_layers, *request.style_layers]
    for path in (content_path, *request.styles):
        check_image_side(path, *files[path], layers)
    content = _load_content(request, content_path, files[content_path], minimum, deepest)
    styles = [
        _load_style(request, path, files[path], content, minimum, deepest)
        for path in request.styles
    ]
    frames = {path: helper.frame_count(path) for path in (content_path, *request.styles)}
    frames = {path: count for path, count in frames.items() if count > 1}
    style_files = [files[path] for path in request.styles]
    masks = _load_masks(request.style_masks, [(content_path, files[content_path])] * len(styles))
    image_masks = _load_masks(request.style_image_masks, [(p, files[p]) for p in request.styles])
    return Images(content, styles, files[content_path], style_files, frames, masks, image_masks)


# A mask whose width / height differs from its image's by more than this share (or more than a
# pixel's rounding) is not of that image: resizing it would stretch it.
MASK_ASPECT_TOLERANCE = 0.02


def _load_masks(paths, images: list[tuple[str, Shape]]) -> list[np.ndarray] | None:
    """Load masks as grey (H', W') in [0, 1], refusing one of another shape than its image (path,
    file shape) or black everywhere; None where no masks were given."""
    if not paths:
        return None
    masks = []
    for path, (image, (height, width)) in zip(paths, images):
        mask_height, mask_width = helper.image_size(path)
        stretch = (mask_width / mask_height) / (width / height) - 1
        rounded = min(abs(mask_width - mask_height * width / height),
                      abs(mask_height - mask_width * height / width))  # fmt: skip
        if abs(stretch) > MASK_ASPECT_TOLERANCE and rounded > 1:
            raise UsageError(
                f"the mask {path} is {mask_width}x{mask_height} px, not the shape of {image} "
                f"({width}x{height} px): resizing it would stretch it {abs(stretch):.0%}; make "
                "the mask from that image, or crop it to the image's shape"
            )
        mask = helper.load_image(path).mean(axis=-1)
        if mask.max() == 0:
            raise UsageError(
                f"the mask {path} is black everywhere, so its painting would paint nothing; "
                "make white the region its style goes to"
            )
        masks.append(mask)
    return masks


def _load_content(request: Request, path, file: Shape, minimum: int, deepest: str) -> np.ndarray:
    original_height, original_width = file
    content = helper.load_image(path, max_side=request.size)
    content = helper.resize_to_longest_side(content, request.size)
    aspect = max(file) / min(file)
    if min(content.shape[:2]) < minimum:
        raise SettingsError(
            f"at --size {request.size} the content {path} ({original_width}x{original_height} "
            f"px) becomes {content.shape[1]}x{content.shape[0]} px, under the {minimum} px "
            f"{deepest} needs on each side; use --size {math.ceil(minimum * aspect)} or more, "
            "or crop the image"
        )
    if request.scales:
        height, width = request.shapes(*content.shape[:2])[0]
        if min(height, width) < minimum:
            raise SettingsError(
                f"at the first of --scales, {request.scales[0]}, the content {path} becomes "
                f"{width}x{height} px, under the {minimum} px {deepest} needs on each side; "
                f"start --scales at {math.ceil(minimum * aspect)} or more"
            )
    return content


def _load_style(
    request: Request, path, file: Shape, content: np.ndarray, minimum: int, deepest: str
) -> np.ndarray:
    style_height, style_width = file
    scale = request.style_scale
    factor = scale * math.sqrt(content.shape[0] * content.shape[1] / (style_height * style_width))
    # Decode a large style image straight at about the size it will be used at.
    max_side = math.ceil(max(style_height, style_width) * factor) + 1 if factor < 1 else None
    style = helper.load_image(path, max_side=max_side)
    style = match_style_scale(style, content, scale)
    first = request.sizes[0]
    smallest = [round(side * first / request.size) for side in style.shape[:2]]
    if min(smallest) >= minimum:
        return style
    where = "the content's area"
    if scale != 1:
        where += f" times {scale:g} squared (--style-scale)"
    if request.scales:
        where += f" at the first of --scales, {first}"
    needed = math.ceil(10 * scale * minimum / min(smallest)) / 10  # sides grow with the scale
    fixes = [f"use --style-scale {needed:g}"]
    fixes += ["start --scales higher"] if request.scales else []
    fixes.append("crop it to a less elongated shape")
    raise SettingsError(
        f"the style {path} ({style_width}x{style_height} px) scaled to {where} becomes "
        f"{smallest[1]}x{smallest[0]} px, under the {minimum} px {deepest} needs on each side; "
        + " or ".join(fixes)
    )


def _memory_options(request: Request, layers, iterations: int) -> dict:
    return {
        "layers": layers,
        "optimizer": request.optimizer,
        "iterations": iterations,
        "gif_frames": request.gif_frames if request.gif else 0,
    }


def _largest_shape(style) -> Shape:
    styles = style if isinstance(style, list) else [style]
    return max((s.shape[:2] for s in styles), key=lambda shape: shape[0] * shape[1])


def check_memory(request: Request, content, style, layers, iterations: int) -> int:
    """Return the estimated peak memory (tiled where the plan says); refuse a run that would
    not fit in what is available even so."""
    largest_style = _largest_shape(style)
    options = _memory_options(request, layers, iterations)
    core = tile_geometry.plan_tiles(*content.shape[:2], request.settings(), largest_style)
    if core is None:
        estimate = memory.estimate_peak_bytes(
            *content.shape[:2], style_shape=largest_style, **options
        )
    else:
        estimate = memory.tiled_peak_bytes(
            *content.shape[:2], core, content_layers=request.content_layers, **options
        )
    available = machine.available_bytes()
    switched_off = os.environ.get(memory.MEMORY_CHECK_ENV_VAR, "") not in ("", "0")
    skip = request.no_memory_check or switched_off
    if available is None or skip or estimate <= available:
        return estimate
    largest = memory.largest_fitting_size(*content.shape[:2], available, True, **options)
    fix = f"use --size {largest} or less" if largest else "close other programs"
    raise memory.InsufficientMemoryError(
        f"a run at --size {request.size} ({content.shape[1]}x{content.shape[0]} px) needs about "
        f"{machine.format_bytes(estimate)} of memory, but {machine.format_bytes(available)} is "
        f"available; {fix}, or pass --no-memory-check (or set "
        f"{memory.MEMORY_CHECK_ENV_VAR}=1) to try anyway"
    )


def tiling_note(content: np.ndarray, style, request: Request) -> str:
    """Say which scales are evaluated in tiles, how many of what size, and why."""
    layers = [*request.content_layers, *request.style_layers]
    settings = request.settings()
    largest = _largest_shape(style)
    tiled, whole = [], 0
    scales = zip(request.sizes, request.shapes(*content.shape[:2]), request.counts)
    for size, (height, width), iterations in scales:
        factor = size / max(content.shape[:2])  # the styles follow the content's area
        style_shape = (round(largest[0] * factor), round(largest[1] * factor))
        scale_settings = settings.replace(iterations=iterations)
        core = tile_geometry.plan_tiles(height, width, scale_settings, style_shape)
        if core is not None:
            rows, columns = tile_geometry.tile_grid(
                height, width, core, layers, request.tile is not None
            )
            tiled.append((size, len(rows) * len(columns), core))
            options = _memory_options(request, layers, iterations)
            whole = memory.estimate_peak_bytes(height, width, style_shape=style_shape, **options)
    if not tiled:
        return ""
    where = f" at {' and '.join(str(size) for size, _, _ in tiled)} px" if request.scales else ""
    counted = " and ".join(str(count) for _, count, _ in tiled)
    if request.tile is not None:
        return f", evaluated{where} in {counted} tiles of {tiled[0][2]} px (--tile)"
    why = (
        f"the whole picture would need about {machine.format_bytes(whole)}, over the budget of "
        f"{machine.format_bytes(tile_geometry.budget_bytes(settings))}"
    )
    return f", evaluated{where} in {counted} tiles ({why})"


def prepare(request: Request, content_path=None, done: int = 0, headers=None):
    """Check the layers, load the images and check memory; return (Images, estimate)."""
    layers, minimum, deepest = check_layers(request)
    images = load_images(request, minimum, deepest, content_path, headers)
    planned = request.counts
    left = planned[-1] - max(0, done - sum(planned[:-1]))  # in the last scale, whose peak it is
    estimate = check_memory(request, images.content, images.style, layers, left)
    return images, estimate


def describe(images: Images, request: Request) -> str:
    """Return how the run sees its images: the sizes used, what was enlarged, the arithmetic."""
    shown = " + ".join(
        f"{s.shape[1]}x{s.shape[0]} px{_style_enlarged(request, path, file, s)}"
        f"{_style_too_thin(request, s, images.content)}"
        for path, file, s in zip(request.styles, images.style_files, images.styles)
    )
    content = images.content
    content_note = enlargement_note(
        "", images.content_file, content.shape, "expect a blurry picture"
    )
    scales = ""
    if request.scales:
        scales = (
            f", scales {show_value(request.scales)} px ({show_value(request.counts)} iterations)"
        )
    mixed = request.precision == "mixed"
    arithmetic = " (bfloat16, then float32 for the last third)" if mixed else ""
    return (
        f"content {content.shape[1]}x{content.shape[0]} px{content_note}, style {shown}{scales}, "
        f"precision {request.precision}{arithmetic}"
    )


def notes(images: Images, output, alpha=None) -> str:
    """Return what the first line adds after the sizes: a grey picture, transparency."""
    grey = all(is_grey(image) for image in [images.content, *images.styles])
    frames = "".join(
        f"; {Path(path).name} holds {count} frames: the first is used"
        for path, count in images.frames.items()
    )
    return ("; photo and painting are grey, so the picture is grey" if grey else "") + (
        frames + transparency_note(output, alpha)
    )


# A painting narrower than this share of the photo's shorter side, once brought to the photo's
# area, keeps too few rows of its strokes for the deeper style layers to see them.
THIN_STYLE_SHARE = 1 / 3


def _style_too_thin(request: Request, style: np.ndarray, content: np.ndarray) -> str:
    """Say so when an elongated painting becomes too thin, with the --style-scale that keeps it."""
    wanted = THIN_STYLE_SHARE * min(content.shape[:2])
    if min(style.shape[:2]) >= wanted:
        return ""
    scale = math.ceil(10 * request.style_scale * wanted / min(style.shape[:2])) / 10
    return f" (too thin to keep its strokes: --style-scale {scale:g} keeps them)"


def _style_enlarged(request: Request, path, file: Shape, style: np.ndarray) -> str:
    """Say so when a painting was enlarged more than twice: its strokes will be soft."""
    expect = "expect soft, blurred brush strokes"
    if request.style_scale > 1:
        expect += (
            f"; --style-scale {request.style_scale:g} enlarges it, a larger file keeps it sharp"
        )
    return enlargement_note(f"{Path(path).name} ", file, style.shape, expect)


def transparency_note(output, alpha) -> str:
    """Say what happens to the photo's transparency in the output ('' for an opaque photo)."""
    if alpha is None:
        return ""
    if Path(output).suffix.lower() in helper.ALPHA_SUFFIXES:
        return f"; the photo's transparency is kept in {Path(output).name}"
    return (
        f"; the photo's transparency is not kept ({Path(output).suffix} holds none), so its "
        "transparent parts are painted like the rest: save as .png, .webp or .tif to keep it"
    )
