"""Colour preservation: luminance-only transfer and colour histogram matching."""

import numpy as np

from going_further import color

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
