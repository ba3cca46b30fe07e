"""Images in and out: load any picture as float32 RGB in [0, 1], resize, save.

Knows nothing of TensorFlow; labelled sheets and animations are sheets.py's.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

import machine
from machine import expand

# Never return half an image: a truncated file is an error, not a grey stripe.
ImageFile.LOAD_TRUNCATED_IMAGES = False
# Pillow refuses images over a fixed pixel count, whatever the memory; _check_decodable
# refuses by the memory the machine has instead.
Image.MAX_IMAGE_PIXELS = None

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
# Decoding takes up to this many bytes per pixel (8-bit RGBA, and a reduced copy of it).
DECODE_BYTES_PER_PIXEL = 8


class ImageError(ValueError):
    """An image file that cannot be used: missing, a directory, unreadable, or too small."""


def _check_decodable(path: Path, image: Image.Image) -> None:
    """Refuse an image whose decoding would not fit in the memory available (not Pillow's limit)."""
    width, height = image.size
    needed, available = width * height * DECODE_BYTES_PER_PIXEL, machine.available_bytes()
    if available is not None and needed > available:
        raise ImageError(
            f"{path} is {width}x{height} px ({width * height / 1e6:.0f} Mpx); decoding it needs "
            f"about {machine.format_bytes(needed)} but {machine.format_bytes(available)} is available; "
            "shrink it with an image editor first, or close other programs"
        )


def _open(path: Path) -> Image.Image:
    if not path.exists():
        raise ImageError(f"{path} does not exist; check the path")
    if path.is_dir():
        raise ImageError(f"{path} is a directory; give the path of an image file inside it")
    if path.stat().st_size == 0:
        raise ImageError(f"{path} is empty (0 bytes); use another copy of the image")
    try:
        image = Image.open(path)
    except UnidentifiedImageError as error:
        raise ImageError(
            f"{path} is not an image Pillow can read; use a JPEG, PNG, WebP, BMP or TIFF file"
        ) from error
    except OSError as error:
        raise ImageError(f"{path} cannot be read ({error})") from error
    _check_decodable(path, image)
    return image


def _to_rgb_float(image: Image.Image) -> np.ndarray:
    """Convert any Pillow mode to float32 RGB in [0, 1]; transparency is composited on white."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16- and 32-bit greyscale: keep the precision instead of clipping at 255.
        values = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
        grey = np.clip(values / peak, 0.0, 1.0).astype(np.float32)
        return np.repeat(grey[..., None], 3, axis=-1)
    if image.mode == "F":
        grey = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
        return np.repeat(grey[..., None], 3, axis=-1)
    if image.mode == "P" or image.mode == "PA":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "La", "RGBa") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)  # CMYK, RGBX, ... as well
    rgb /= 255.0  # in place: a large image is not held twice as floats
    return rgb


# Modes whose pixels Pillow can box-average in place (Image.reduce) before we convert to float.
_REDUCIBLE_MODES = ("L", "RGB", "CMYK", "I", "F")


def _reduce_towards(image: Image.Image, max_side: int) -> Image.Image:
    """Shrink by a whole factor that keeps at least twice `max_side` (cheap, in 8-bit)."""
    factor = max(image.size) // (2 * max_side)
    if factor < 2 or image.mode not in _REDUCIBLE_MODES:
        return image
    return image.reduce(factor)


def frame_count(path: str | os.PathLike) -> int:
    """Return how many frames an image file holds (an animated GIF, a multi-page TIFF); 1 mostly."""
    return int(getattr(_open(expand(path)), "n_frames", 1))


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """Return (height, width) of an image file as it will load (EXIF rotation applied), unread."""
    image = _open(expand(path))
    width, height = image.size
    try:
        orientation = image.getexif().get(0x0112, 1)
    except Exception:  # a broken EXIF block: load_image will ignore it as well
        orientation = 1
    if orientation in (5, 6, 7, 8):  # the orientations that rotate by 90 or 270 degrees
        width, height = height, width
    return height, width


def load_image(path: str | os.PathLike, max_side: int | None = None) -> np.ndarray:
    """Load an image file as float32 RGB (H, W, 3) in [0, 1], optionally shrunk to `max_side`.

    A large image asked for at a small `max_side` is never held at full resolution as
    floats: JPEGs decode at 1/2, 1/4 or 1/8 scale (draft mode) and other formats are
    box-reduced in 8-bit before the final Lanczos resize.
    """
    rgb = _to_rgb_float(_decoded(expand(path), max_side))
    if max_side is not None and max(rgb.shape[:2]) > max_side:
        rgb = resize_to_longest_side(rgb, max_side)
    return rgb


def _decoded(path: Path, max_side: int | None) -> Image.Image:
    """Open and decode an image upright, shrunk cheaply towards `max_side` where given."""
    image = _open(path)
    try:
        if max_side is not None and image.format == "JPEG":
            # Decode JPEGs at a reduced scale straight away: a 10000 px photo asked
            # for at 256 px never needs its full-resolution pixels in memory.
            image.draft("RGB", (max_side, max_side))
        ImageOps.exif_transpose(image, in_place=True)  # no copy when already upright
        image.load()
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageError(
            f"{path} is truncated or corrupt ({error}); re-download or re-export the image"
        ) from error
    return image if max_side is None else _reduce_towards(image, max_side)


def load_alpha(path: str | os.PathLike, height: int, width: int) -> np.ndarray | None:
    """Return the image's transparency as float32 (height, width) in [0, 1], None if opaque."""
    image = _decoded(expand(path), max(height, width))
    if not (image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info):
        return None
    alpha = image.convert("RGBA").getchannel("A")
    if alpha.getextrema()[0] == 255:
        return None
    # Box filtering averages without ringing: a hard edge stays 0 and 255 on its two sides.
    alpha = alpha.resize((width, height), Image.Resampling.BOX)
    return np.asarray(alpha, dtype=np.float32) / 255.0


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize float RGB (H, W, 3) to (height, width, 3) with Lanczos filtering, values kept float."""
    if image.shape[:2] == (height, width):
        return image.astype(np.float32, copy=False)

    def resized(c: int) -> np.ndarray:  # one channel as a Pillow float image ("F")
        plane = Image.fromarray(np.ascontiguousarray(image[..., c], dtype=np.float32), mode="F")
        return np.asarray(plane.resize((width, height), Image.Resampling.LANCZOS))

    channels = [resized(c) for c in range(image.shape[-1])]
    return np.clip(np.stack(channels, axis=-1), 0.0, 1.0).astype(np.float32)


def size_for_longest_side(height: int, width: int, longest: int) -> tuple[int, int]:
    """Return (height, width) scaled so the longer side is `longest`, keeping the aspect ratio."""
    scale = longest / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize_to_longest_side(image: np.ndarray, longest: int) -> np.ndarray:
    """Resize so the longer side is `longest` pixels, keeping the aspect ratio."""
    return resize(image, *size_for_longest_side(*image.shape[:2], longest))


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Clip float RGB to [0, 1] and quantise to uint8 (never min-max stretched); uint8 passes."""
    if isinstance(image, np.ndarray) and image.dtype == np.uint8:
        return image
    return np.round(np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)


# Output formats that can hold an alpha channel.
ALPHA_SUFFIXES = {".png", ".webp", ".tif", ".tiff"}


def save_image(
    image: np.ndarray, path: str | os.PathLike, quality: int = 92, alpha: np.ndarray | None = None
) -> Path:
    """Save float RGB in [0, 1] (clipped) to `path` atomically; the suffix picks the format.

    `alpha` (H, W) in [0, 1] is kept where the format holds it (ALPHA_SUFFIXES), else dropped.
    """
    path = expand(path)
    if path.suffix.lower() not in IMAGE_SUFFIXES - {".gif"}:
        raise ImageError(f"{path}: unknown image suffix; use .jpg, .png, .webp, .bmp or .tiff")
    picture = Image.fromarray(to_uint8(image))
    if alpha is not None and path.suffix.lower() in ALPHA_SUFFIXES:
        picture.putalpha(Image.fromarray(to_uint8(alpha)))
    return machine.atomic_write(path, lambda name: picture.save(name, quality=quality))
