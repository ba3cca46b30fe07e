"""Files in one call: load a photo and a painting at a size, paint, save; list a folder's images;
run the command line from the notebook."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import helper
import tf_helper
from optimisation.settings import Settings


@dataclass
class Stylized:
    """What stylize_files() returns: the inputs as used, the RunResult, and where it was saved."""

    content: np.ndarray
    style: np.ndarray
    result: tf_helper.RunResult
    saved_to: Path | None = None


def image_paths(folder: str | os.PathLike) -> list[Path]:
    """Return the image files in `folder`, sorted by name."""
    folder = helper.expand(folder)
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in helper.IMAGE_SUFFIXES)
    if not paths:
        raise helper.ImageError(f"{folder} holds no image files; add some .jpg or .png files")
    return paths


def load_pair(
    content_path: str | os.PathLike,
    style_path: str | os.PathLike,
    size: int,
    style_scale: float = Settings.style_scale,
) -> tuple[np.ndarray, np.ndarray]:
    """Load a content photo with longest side `size` and the style painting at the same area.

    Prints a note for a picture enlarged more than twice, which will come out blurred.
    """
    content = helper.resize_to_longest_side(helper.load_image(content_path, max_side=size), size)
    style = helper.load_image(style_path, max_side=4 * size)
    style = helper.match_style_scale(style, content, style_scale)
    for what, path, image in (("photo", content_path, content), ("painting", style_path, style)):
        note = helper.enlargement_note(
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

    `options` (net, callback, ...) go to tf_helper.run_style_transfer with `settings`.
    """
    content, style = load_pair(content_path, style_path, size, settings.style_scale)
    result = tf_helper.run_style_transfer(content, style, settings, **options)
    saved_to = None
    if output_path:  # the photo's transparency comes back where the format holds it
        alpha = helper.load_alpha(content_path, *result.image.shape[:2])
        saved_to = helper.save_image(result.image, output_path, alpha=alpha)
    return Stylized(content, style, result, saved_to)


def run_cli(*arguments: str | os.PathLike, allowed_exit_codes: Sequence[int] = (0,)):
    """Run `python -m style_transfer ARGUMENTS` in a new process and print what it reported.

    The per-iteration lines are left out. Raises RuntimeError with the command's error
    output if it exits with a code not in `allowed_exit_codes`.
    """
    root = Path(__file__).resolve().parents[1]
    command = [sys.executable, "-m", "style_transfer", *map(str, arguments)]
    finished = subprocess.run(command, capture_output=True, text=True, cwd=root)
    if finished.returncode not in allowed_exit_codes:
        raise RuntimeError(
            f"style_transfer exited with {finished.returncode}:\n{finished.stderr.strip()}"
        )
    for line in (finished.stdout + finished.stderr).splitlines():
        if not line.startswith("iteration "):
            print(line)
    return finished
