"""Masks for spatial control, each in one line: a rectangle, a brightness threshold, a file; and
a mask seen over its photo. A mask is (H, W) float32 in [0, 1]: white where a painting paints.
"""

from __future__ import annotations

import os

import numpy as np

import helper
from going_further.color import rgb_to_yiq


def rectangle(image: np.ndarray, top: float, left: float, bottom: float, right: float):
    """Return a mask of `image`'s size, 1 inside the rectangle (fractions of height and width
    from the top left corner, 0 to 1), 0 outside."""
    height, width = image.shape[:2]
    mask = np.zeros((height, width), np.float32)
    mask[
        round(top * height) : round(bottom * height), round(left * width) : round(right * width)
    ] = 1
    return mask


def brighter_than(image: np.ndarray, threshold: float) -> np.ndarray:
    """Return a mask of `image`'s size, 1 where its luminance Y (0 black, 1 white) exceeds
    `threshold`, 0 elsewhere."""
    return (rgb_to_yiq(image)[..., 0] > threshold).astype(np.float32)


def load(path: str | os.PathLike, like: np.ndarray) -> np.ndarray:
    """Return the mask in an image file (its grey level) at the size of the picture `like`,
    raising helper.ImageError if its shape is not the picture's (beyond 2% or a pixel)."""
    mask_height, mask_width = helper.image_size(path)
    height, width = like.shape[:2]
    if abs(mask_width * height / mask_height - width) > max(1.0, 0.02 * width):
        raise helper.ImageError(
            f"the mask {path} is {mask_width}x{mask_height} px, not the shape of the photo "
            f"({width}x{height} as used); make the mask from that photo"
        )
    grey = helper.load_image(path).mean(axis=-1, keepdims=True)  # (H', W', 3) -> (H', W', 1)
    return helper.resize(grey, height, width)[..., 0]


def shown_on(photo: np.ndarray, mask: np.ndarray, faded: float = 0.75) -> np.ndarray:
    """Return the photo (H, W, 3) where the mask is white, faded towards white where it is
    black (by `faded`), so that a mask is seen with what it covers."""
    T = mask[..., None]  # (H, W) -> (H, W, 1)
    return T * photo + (1 - T) * ((1 - faded) * photo + faded)
