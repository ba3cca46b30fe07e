"""Files in one call: load a photo and a painting at a size, paint, save; list a folder's images."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import helper
import machine
import tf_run
from going_further.settings import StylizeSettings
from going_further.style_scale import enlargement_note, match_style_scale
from going_further.stylize import stylize
from optimisation.settings import Settings


@dataclass
class Stylized:
    """What stylize_files() returns: the inputs as used, the RunResult, and where it was saved."""

    content: np.ndarray
    style: np.ndarray
    result: tf_run.RunResult
    saved_to: Path | None = None


def image_paths(folder: str | os.PathLike) -> list[Path]:
    """Return the image files in `folder`, sorted by name."""
    folder = machine.expand(folder)
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in helper.IMAGE_SUFFIXES)
    if not paths:
        raise helper.ImageError(f"{folder} holds no image files; add some .jpg or .png files")
    return paths


def load_pair(
    content_path: str | os.PathLike,
    style_path: str | os.PathLike,
    size: int,
    style_scale: float = StylizeSettings.style_scale,
) -> tuple[np.ndarray, np.ndarray]:
    """Load a content photo with longest side `size` and the style painting at the same area.

    Prints a note for a picture enlarged more than twice, which will come out blurred.
    """
    content = helper.resize_to_longest_side(helper.load_image(content_path, max_side=size), size)
    style = helper.load_image(style_path, max_side=4 * size)
    style = match_style_scale(style, content, style_scale)
    for what, path, image in (("photo", content_path, content), ("painting", style_path, style)):
        note = enlargement_note(
            f"the {what} ", helper.image_size(path), image.shape, "expect it blurred"
        )
        if note:
            print(f"note:{note}")
    return content, style


def stylize_files(
    content_path: str | os.PathLike,
    style_path: str | os.PathLike,
    settings: Settings,
    *,
    size: int,
    output_path: str | os.PathLike | None = None,
    **options,
) -> Stylized:
    """Paint the photo at `content_path` in the style of `style_path`; save it if asked.

    Every setting is honoured (colours, style scale, tiles): the run goes through
    going_further.stylize, with `options` (net, callback, ...).
    """
    settings = StylizeSettings.of(settings)  # a run's own Settings: every feature off
    content, style = load_pair(content_path, style_path, size, settings.style_scale)
    result = stylize(content, style, settings, **options)
    saved_to = None
    if output_path:  # the photo's transparency comes back where the format holds it
        alpha = helper.load_alpha(content_path, *result.image.shape[:2])
        saved_to = helper.save_image(result.image, output_path, alpha=alpha)
    return Stylized(content, style, result, saved_to)
