"""Colour preservation: luminance-only transfer and colour histogram matching."""

import numpy as np

import color

# NTSC YIQ chrominance rows, written out independently of color.py.
I_ROW = np.array([0.596, -0.274, -0.322])
Q_ROW = np.array([0.211, -0.523, 0.312])
Y_ROW = np.array([0.299, 0.587, 0.114])


def _smooth_image(seed: int, shape=(24, 32)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.3, 0.7, (1, 1, 3))
    noise = rng.normal(0, 0.05, (*shape, 3))
    return np.clip(base + noise, 0, 1).astype(np.float32)


def test_restore_content_colors_keeps_content_chrominance_and_result_luminance():
    content, result = _smooth_image(0), _smooth_image(1)
    actual = color.restore_content_colors(result, content).astype(np.float64)
    for row in (I_ROW, Q_ROW):
        np.testing.assert_allclose(actual @ row, content @ row, atol=2e-3)
    np.testing.assert_allclose(actual @ Y_ROW, result @ Y_ROW, atol=2e-3)


def test_luminance_image_is_grey_with_the_rgb_luminance():
    image = _smooth_image(2)
    actual = color.luminance_image(image)
    np.testing.assert_allclose(actual[..., 0], actual[..., 2])
    np.testing.assert_allclose(actual[..., 1], image @ Y_ROW, atol=1e-3)


def test_match_luminance_gives_the_content_luminance_mean_and_std():
    style, content = _smooth_image(3), _smooth_image(4) * 0.5 + 0.2
    actual = color.match_luminance(style, content)[..., 0]
    expected = content @ Y_ROW
    np.testing.assert_allclose(actual.mean(), expected.mean(), atol=1e-3)
    np.testing.assert_allclose(actual.std(), expected.std(), rtol=1e-2)


def test_histogram_matching_gives_style_the_content_colour_mean_and_covariance():
    rng = np.random.default_rng(5)
    # Correlated colours, kept well inside [0, 1] so clipping does not bend the statistics.
    mixing = np.array([[0.08, 0.02, 0.0], [0.01, 0.05, 0.03], [0.0, 0.02, 0.06]])
    style = (rng.normal(size=(40, 40, 3)) @ mixing + [0.6, 0.4, 0.3]).astype(np.float32)
    content = (rng.normal(size=(30, 50, 3)) @ mixing.T + [0.4, 0.5, 0.55]).astype(np.float32)
    assert style.min() > 0 and style.max() < 1 and content.min() > 0 and content.max() < 1
    actual = color.match_color_histogram(style, content).reshape(-1, 3)
    expected = content.reshape(-1, 3).astype(np.float64)
    np.testing.assert_allclose(actual.mean(0), expected.mean(0), atol=1e-4)
    np.testing.assert_allclose(
        np.cov(actual, rowvar=False), np.cov(expected, rowvar=False), atol=1e-5
    )
    assert actual.shape[0] == style.shape[0] * style.shape[1]


def test_recolored_start_is_the_photo_in_the_style_colour_moments():
    import tf_helper

    content = _smooth_image(5, shape=(40, 48))
    style = (_smooth_image(6, shape=(30, 20)) * 0.8 + 0.1)[..., ::-1].copy()
    start = tf_helper.initial_image("recolored", content, style, seed=None)
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
    import tf_helper

    content = _smooth_image(7, shape=(36, 40))
    warm = _smooth_image(8, shape=(30, 20)) * [0.9, 0.7, 0.5] + [0.1, 0.1, 0.1]
    cool = _smooth_image(9, shape=(50, 44))[..., ::-1] * 0.6 + [0.1, 0.15, 0.0]
    shares = [0.7, 0.3]
    start = tf_helper.initial_image("recolored", content, [warm, cool], None, [7, 3])
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
    # color.py pools unbiased (ddof 1) per-image covariances: within ~1/n of the biased one
    np.testing.assert_allclose(np.cov(pixels, rowvar=False), desired_cov, rtol=5e-3, atol=1e-6)
    first_only = tf_helper.initial_image("recolored", content, warm, None)
    assert np.abs(first_only.mean((0, 1)) - desired_mean).max() > 0.03


def test_blend_shares_normalise_and_reject_bad_blends():
    import pytest

    import tf_helper

    assert tf_helper.blend_shares(4, None) == [0.25] * 4
    np.testing.assert_allclose(tf_helper.blend_shares(2, [3, 1]), [0.75, 0.25])
    for blend, message in [([1.0], "1 blend weights given for 2 style images"),
                           ([0, 0], "must not all be zero"),
                           ([1, -1], "style blend weight must be a finite number")]:  # fmt: skip
        with pytest.raises(tf_helper.SettingsError, match=message):
            tf_helper.blend_shares(2, blend)
