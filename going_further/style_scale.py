"""The painting's size, which sets the size of its brush strokes (the notebook's step 8.4).

The painting is brought to the photo's area times style_scale squared; a note says when an
input had to be enlarged so far that it will blur. NumPy only.
"""

from __future__ import annotations

import numpy as np

import helper


def match_style_scale(style: np.ndarray, content: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Resize the style image to the content image's pixel count times scale**2, undistorted.

    Equal areas make brush strokes appear at the same size relative to the picture;
    `scale` > 1 gives larger strokes, < 1 smaller ones.
    """
    content_area = content.shape[0] * content.shape[1]
    factor = scale * np.sqrt(content_area / (style.shape[0] * style.shape[1]))
    height = max(1, round(style.shape[0] * factor))
    width = max(1, round(style.shape[1] * factor))
    return helper.resize(style, height, width)


def enlargement_note(what: str, file_shape, used_shape, expect: str) -> str:
    """Return ' (WHAT enlarged 5.3x from 40x28 px: EXPECT)' when over twice, else ''."""
    factor = max(used_shape[:2]) / max(file_shape[:2])
    if factor <= 2:
        return ""
    size = f"{file_shape[1]}x{file_shape[0]} px"
    return f" ({what}enlarged {factor:.1f}x from {size}: {expect})"
