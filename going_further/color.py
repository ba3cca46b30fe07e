"""Colour preservation (Gatys et al., 2016, "Preserving Color in Neural Artistic Style
Transfer"): luminance-only transfer and colour histogram matching.

NumPy only; images are float32 RGB (H, W, 3) in [0, 1]. going_further.stylize applies them.
"""

from __future__ import annotations

import numpy as np

from optimisation.starts import color_moments, match_color_moments

# NTSC YIQ: Y carries luminance, I and Q the colour.
RGB_TO_YIQ = np.array(
    [[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]]
)
YIQ_TO_RGB = np.linalg.inv(RGB_TO_YIQ)


def rgb_to_yiq(image: np.ndarray) -> np.ndarray:
    """Convert RGB (H, W, 3) to YIQ (H, W, 3)."""
    return image.astype(np.float64) @ RGB_TO_YIQ.T


def yiq_to_rgb(image: np.ndarray) -> np.ndarray:
    """Convert YIQ (H, W, 3) to RGB (H, W, 3), unclipped."""
    return image @ YIQ_TO_RGB.T


def luminance_image(image: np.ndarray) -> np.ndarray:
    """Return the luminance Y of an RGB image repeated into three grey channels."""
    Y = rgb_to_yiq(image)[..., 0]
    return np.repeat(Y[..., None], 3, axis=-1).clip(0.0, 1.0).astype(np.float32)


def match_luminance(style: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Return the style's grey luminance image shifted and scaled to the content's mean and std."""
    Y_s, Y_c = rgb_to_yiq(style)[..., 0], rgb_to_yiq(content)[..., 0]
    Y = (Y_s - Y_s.mean()) * (Y_c.std() / max(Y_s.std(), 1e-8)) + Y_c.mean()
    return np.repeat(Y[..., None], 3, axis=-1).clip(0.0, 1.0).astype(np.float32)


def restore_content_colors(result: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Combine the luminance of `result` with the colour channels (I, Q) of `content`."""
    yiq = rgb_to_yiq(content)
    yiq[..., 0] = rgb_to_yiq(result)[..., 0]
    return yiq_to_rgb(yiq).clip(0.0, 1.0).astype(np.float32)


def match_color_histogram(style: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Return the style image with the content's colour mean and covariance."""
    return match_color_moments(style, *color_moments([content]))
