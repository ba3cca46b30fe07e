"""Colour preservation for style transfer (Gatys et al., 2016, "Preserving Color in Neural
Artistic Style Transfer"): luminance-only transfer and colour histogram matching.

NumPy only; images are float32 RGB (H, W, 3) in [0, 1].
"""

from __future__ import annotations

import numpy as np

# NTSC YIQ: Y carries luminance, I and Q the colour.
RGB_TO_YIQ = np.array(
    [[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]]
)
YIQ_TO_RGB = np.linalg.inv(RGB_TO_YIQ)
COLOR_MODES = ("luminance", "histogram")


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


def _matrix_sqrt(covariance: np.ndarray, inverse: bool = False) -> np.ndarray:
    values, vectors = np.linalg.eigh(covariance)
    values = np.maximum(values, 1e-10)
    power = -0.5 if inverse else 0.5
    return (vectors * values**power) @ vectors.T


def match_color_histogram(style: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Return the style image with the content's colour mean and covariance.

    x' = C_c^(1/2) C_s^(-1/2) (x - mu_s) + mu_c, with symmetric matrix square roots,
    so the transformed style pixels have exactly mean mu_c and covariance C_c (before
    clipping to [0, 1]).
    """
    pixels_s = style.reshape(-1, 3).astype(np.float64)
    pixels_c = content.reshape(-1, 3).astype(np.float64)
    mu_s, mu_c = pixels_s.mean(0), pixels_c.mean(0)
    C_s = np.cov(pixels_s, rowvar=False) + 1e-6 * np.eye(3)
    C_c = np.cov(pixels_c, rowvar=False) + 1e-6 * np.eye(3)
    transform = _matrix_sqrt(C_c) @ _matrix_sqrt(C_s, inverse=True)
    matched = (pixels_s - mu_s) @ transform.T + mu_c
    return matched.reshape(style.shape).clip(0.0, 1.0).astype(np.float32)
