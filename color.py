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


def color_moments(
    images: list[np.ndarray], shares: list[float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return the colour mean and covariance of the images' pixels pooled with these shares.

    Each image counts with its share w_i whatever its size: the moments of the mixture
    sum_i w_i p_i of the images' pixel distributions, mu = sum_i w_i mu_i and
    C = sum_i w_i (C_i + mu_i mu_i^T) - mu mu^T.
    """
    shares = [1.0 / len(images)] * len(images) if shares is None else shares
    mu = np.zeros(3)
    second = np.zeros((3, 3))
    for image, share in zip(images, shares):
        pixels = image.reshape(-1, 3).astype(np.float64)
        mu_i, C_i = pixels.mean(0), np.cov(pixels, rowvar=False)
        mu += share * mu_i
        second += share * (C_i + np.outer(mu_i, mu_i))
    return mu, second - np.outer(mu, mu)


def match_color_moments(image: np.ndarray, mu: np.ndarray, C: np.ndarray) -> np.ndarray:
    """Return the image affinely recoloured to colour mean `mu` and covariance `C`.

    x' = C^(1/2) C_x^(-1/2) (x - mu_x) + mu, with symmetric matrix square roots, so the
    pixels have exactly mean mu and covariance C (before clipping to [0, 1]).
    """
    pixels = image.reshape(-1, 3).astype(np.float64)
    mu_x = pixels.mean(0)
    C_x = np.cov(pixels, rowvar=False) + 1e-6 * np.eye(3)
    transform = _matrix_sqrt(C + 1e-6 * np.eye(3)) @ _matrix_sqrt(C_x, inverse=True)
    matched = (pixels - mu_x) @ transform.T + mu
    return matched.reshape(image.shape).clip(0.0, 1.0).astype(np.float32)


def match_color_histogram(style: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Return the style image with the content's colour mean and covariance."""
    return match_color_moments(style, *color_moments([content]))
