"""Where the optimisation starts: white noise (as in the paper), the photo, the photo in the
painting's colours, or the painting; on one channel when the inputs are grey (`is_grey`).
NumPy only; images are float32 RGB (H, W, 3) in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import helper
from loss_settings import blend_shares, choice
from optimisation.settings import INITS

# Channels that differ by no more than this (in 0..1) count as grey (JPEG keeps some noise).
GREY_TOLERANCE = 2 / 255


def initial_image(
    init: str,
    content_image: np.ndarray,
    style_images: Sequence[np.ndarray],
    seed: int | None,
    style_blend: Sequence[float] | None = None,
) -> np.ndarray:
    """Return the starting image (H, W, 3) of a run; `init` is one of settings.INITS.

    "recolored" is the content image with the style images' colour mean and covariance
    (pooled with the blend's shares): the layout of the photo in the painting's palette,
    which the style loss would otherwise spend the first iterations on. "style" is the
    first style image, resized to the content's shape.
    """
    choice("init", init, INITS)
    if init == "noise":
        rng = np.random.default_rng(seed)
        return rng.uniform(0.0, 1.0, content_image.shape).astype(np.float32)
    if init == "content":
        return content_image.astype(np.float32).copy()
    if init == "recolored":
        shares = blend_shares(len(style_images), style_blend)
        return match_color_moments(content_image, *color_moments(style_images, shares))
    return helper.resize(style_images[0], *content_image.shape[:2])


def is_grey(image: np.ndarray) -> bool:
    """Return whether R, G and B agree in every pixel of (H, W, 3), within GREY_TOLERANCE."""
    return bool(np.ptp(image, axis=-1).max() <= GREY_TOLERANCE)


def color_moments(
    images: Sequence[np.ndarray], shares: Sequence[float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return the colour mean (3,) and covariance (3, 3) of the images' pixels, pooled.

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
    transform = _matrix_power(C + 1e-6 * np.eye(3), 0.5) @ _matrix_power(C_x, -0.5)
    matched = (pixels - mu_x) @ transform.T + mu
    return matched.reshape(image.shape).clip(0.0, 1.0).astype(np.float32)


def _matrix_power(covariance: np.ndarray, power: float) -> np.ndarray:
    """Return a symmetric positive semi-definite matrix to the power `power` (eigenvalues >= 1e-10)."""
    values, vectors = np.linalg.eigh(covariance)
    return (vectors * np.maximum(values, 1e-10) ** power) @ vectors.T
