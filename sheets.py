"""Pictures made of pictures: labels written on them, labelled contact sheets, animations.

Knows nothing of TensorFlow; images are float32 RGB (H, W, 3) in [0, 1], as helper.py gives them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from helper import ImageError, resize, to_uint8
from machine import atomic_write, expand


def wrap_text(text: str, fits) -> list[str]:
    """Split text at spaces into the fewest lines for which `fits(line)` holds, greedily."""
    if fits(text):
        return [text]
    lines: list[str] = []
    for word in text.split():
        if lines and fits(f"{lines[-1]} {word}"):
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)  # a word too long for a line stands alone
    return lines


def _fitted_lines(draw: ImageDraw.ImageDraw, text: str, room: int, size: int):
    """Return (font, lines): text wrapped to `room` px, the font shrunk (to 8 px) till words fit."""

    def lines_in(font) -> list[str]:
        return wrap_text(text, lambda line: draw.textlength(line, font=font) <= room)

    font = ImageFont.load_default(size=size)
    lines = lines_in(font)
    while font.size > 8 and max(draw.textlength(line, font=font) for line in lines) > room:
        font = ImageFont.load_default(size=font.size - 1)
        lines = lines_in(font)
    return font, lines


def label_font_size(height: int) -> int:
    """Return the font size of a label for a picture `height` px high: 1/24 of it, 10 at least."""
    return max(10, height // 24)


def annotate(image: np.ndarray, text: str) -> np.ndarray:
    """Return a copy of the image with `text` written at its top left on a dark band, wrapped to fit."""
    picture = Image.fromarray(to_uint8(image))
    draw = ImageDraw.Draw(picture)
    font, lines = _fitted_lines(draw, text, picture.width - 8, label_font_size(picture.height))
    # The band may take half the picture; what does not fit runs off the edge as one line.
    line_height = draw.textbbox((0, 0), "Ag", font=font)[3] + 4
    most = max(1, picture.height // 2 // line_height)
    lines = lines[: most - 1] + [" ".join(lines[most - 1 :])]
    left, top, right, bottom = draw.multiline_textbbox((4, 2), "\n".join(lines), font=font)
    draw.rectangle((0, 0, right + 4, bottom + 4), fill=(0, 0, 0))
    draw.multiline_text((4, 2), "\n".join(lines), fill=(255, 255, 255), font=font)
    return np.asarray(picture, dtype=np.float32) / 255.0


def caption(text: str, width: int, size: int) -> np.ndarray:
    """Return a white strip `width` px wide with `text` in black, wrapped to fit (a label above)."""
    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    font, lines = _fitted_lines(draw, text, width - 8, size)
    bottom = draw.multiline_textbbox((4, 2), "\n".join(lines), font=font)[3]
    strip = Image.new("RGB", (width, bottom + 4), (255, 255, 255))
    ImageDraw.Draw(strip).multiline_text((4, 2), "\n".join(lines), fill=(0, 0, 0), font=font)
    return np.asarray(strip, dtype=np.float32) / 255.0


ANIMATION_SUFFIXES = (".gif", ".mp4")


def save_animation(
    frames: Sequence[np.ndarray], path: str | os.PathLike, frame_ms: int = 120, final_ms: int = 1500
) -> Path:
    """Write frames (float RGB in [0, 1], or uint8) as a looping GIF, or an H.264 .mp4, atomically.

    The last frame lingers. A GIF has 256 colours, which band a painting's gradients; an MP4
    (imageio-ffmpeg) keeps them.
    """
    import imageio.v2 as imageio

    path = expand(path)
    if not frames:
        raise ValueError("save_animation needs at least one frame")
    if path.suffix.lower() not in ANIMATION_SUFFIXES:
        raise ImageError(f"{path}: unknown animation suffix; use .gif or .mp4")
    pictures = [to_uint8(frame) for frame in frames]
    if path.suffix.lower() == ".gif":
        # One frame takes one duration, several a list of them.
        durations = [frame_ms] * (len(pictures) - 1) + [final_ms] if len(pictures) > 1 else final_ms
        return atomic_write(
            path,
            lambda name: imageio.mimwrite(name, pictures, format="GIF", duration=durations, loop=0),
        )
    # A video has one frame rate: the last frame is repeated to linger; sides made even (yuv420p).
    height, width = (side + side % 2 for side in pictures[0].shape[:2])
    pictures = [
        np.pad(p, ((0, height - p.shape[0]), (0, width - p.shape[1]), (0, 0)), mode="edge")
        for p in pictures
    ]
    pictures += pictures[-1:] * max(0, round(final_ms / frame_ms) - 1)
    return atomic_write(
        path,
        lambda name: imageio.mimwrite(
            name,
            pictures,
            format="FFMPEG",
            fps=1000 / frame_ms,
            codec="libx264",
            quality=8,
            macro_block_size=2,
        ),
    )


def image_grid(
    images: Sequence[np.ndarray],
    columns: int,
    labels: Sequence[str] | None = None,
    gap: int = 4,
    min_height: int = 0,
    labels_above: bool = False,
) -> np.ndarray:
    """Tile images (resized to the first one's height, or `min_height`) into rows, with labels.

    The labels are written on the pictures, or with `labels_above` in a white strip above
    each one, which covers nothing (for long labels on small pictures).
    """
    height = max(images[0].shape[0], min_height)
    tiles = []
    for index, image in enumerate(images):
        width = max(1, round(image.shape[1] * height / image.shape[0]))
        tile = resize(image, height, width)
        if labels is not None and not labels_above:
            tile = annotate(tile, labels[index])
        tiles.append(tile)
    rows = [tiles[i : i + columns] for i in range(0, len(tiles), columns)]
    if labels is not None and labels_above:
        texts = [labels[i : i + columns] for i in range(0, len(labels), columns)]
        size = label_font_size(height)
        rows = [_under_captions(row, row_texts, size) for row, row_texts in zip(rows, texts)]
    row_width = max(sum(t.shape[1] for t in row) + gap * (len(row) - 1) for row in rows)
    row_heights = [row[0].shape[0] for row in rows]
    sheet = np.ones((sum(row_heights) + gap * (len(rows) - 1), row_width, 3), np.float32)
    top = 0
    for row, row_height in zip(rows, row_heights):
        x = 0
        for tile in row:
            sheet[top : top + row_height, x : x + tile.shape[1]] = tile
            x += tile.shape[1] + gap
        top += row_height + gap
    return sheet


def _under_captions(row: list[np.ndarray], texts: Sequence[str], size: int) -> list[np.ndarray]:
    """Put each picture of a row under its caption; the captions share the tallest's height."""
    strips = [caption(text, tile.shape[1], size) for tile, text in zip(row, texts)]
    tallest = max(strip.shape[0] for strip in strips)
    white = [np.ones((tallest - s.shape[0], s.shape[1], 3), np.float32) for s in strips]
    return [np.concatenate([strip, below, tile]) for strip, below, tile in zip(strips, white, row)]
