"""Where a run starts: the photo recoloured to the painting's colour moments, one or a blend."""

import numpy as np

from optimisation.starts import initial_image, is_grey


def _smooth_image(seed: int, shape=(24, 32)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.3, 0.7, (1, 1, 3))
    noise = rng.normal(0, 0.05, (*shape, 3))
    return np.clip(base + noise, 0, 1).astype(np.float32)


def test_recolored_start_is_the_photo_in_the_style_colour_moments():
    content = _smooth_image(5, shape=(40, 48))
    style = (_smooth_image(6, shape=(30, 20)) * 0.8 + 0.1)[..., ::-1].copy()
    start = initial_image("recolored", content, [style], seed=None)
    assert start.shape == content.shape and start.dtype == np.float32
    actual = start.astype(np.float64)
    pixels, style_pixels = actual.reshape(-1, 3), style.reshape(-1, 3).astype(np.float64)
    np.testing.assert_allclose(pixels.mean(0), style_pixels.mean(0), atol=1e-4)
    np.testing.assert_allclose(
        np.cov(pixels, rowvar=False), np.cov(style_pixels, rowvar=False), atol=1e-5
    )
    # Each pixel is the same affine map of the photo's pixel: the photo's layout is kept.
    photo = np.hstack([content.reshape(-1, 3), np.ones((pixels.shape[0], 1))]).astype(np.float64)
    fit, *_ = np.linalg.lstsq(photo, pixels, rcond=None)
    np.testing.assert_allclose(photo @ fit, pixels, atol=1e-5)


def test_recolored_start_for_a_blend_has_the_blended_colour_moments():
    content = _smooth_image(7, shape=(36, 40))
    warm = _smooth_image(8, shape=(30, 20)) * [0.9, 0.7, 0.5] + [0.1, 0.1, 0.1]
    cool = _smooth_image(9, shape=(50, 44))[..., ::-1] * 0.6 + [0.1, 0.15, 0.0]
    shares = [0.7, 0.3]
    start = initial_image("recolored", content, [warm, cool], None, [7, 3])
    # Independently: the moments of all style pixels pooled, each image weighted by its
    # share spread over its pixels (np.cov's aweights), against the start's own moments.
    pooled = np.vstack([warm.reshape(-1, 3), cool.reshape(-1, 3)]).astype(np.float64)
    weights = np.concatenate([np.full(warm.size // 3, s / (warm.size // 3)) for s in shares[:1]]
                             + [np.full(cool.size // 3, shares[1] / (cool.size // 3))])  # fmt: skip
    desired_mean = np.average(pooled, axis=0, weights=weights)
    desired_cov = np.cov(pooled, rowvar=False, aweights=weights, bias=True)
    pixels = start.reshape(-1, 3).astype(np.float64)
    np.testing.assert_allclose(pixels.mean(0), desired_mean, atol=1e-4)
    assert start.min() > 0 and start.max() < 1  # no clipping to bend the moments
    # starts.py pools unbiased (ddof 1) per-image covariances: within ~1/n of the biased one
    np.testing.assert_allclose(np.cov(pixels, rowvar=False), desired_cov, rtol=5e-3, atol=1e-6)
    first_only = initial_image("recolored", content, [warm], None)
    assert np.abs(first_only.mean((0, 1)) - desired_mean).max() > 0.03


def test_is_grey_allows_jpeg_noise_but_not_colour():
    grey = np.repeat(np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8, 1), 3, axis=-1)
    assert is_grey(grey)
    noisy = grey.copy()
    noisy[..., 0] += 1 / 255  # a level of chroma noise, as a JPEG of a grey photo has
    assert is_grey(noisy)
    noisy[0, 0, 2] += 5 / 255
    assert not is_grey(noisy)
