"""The tutorial package's pure functions: GIF frame spacing, pictures fitted in squares, the
style loss shared out over its layers."""

import numpy as np
import pytest

from optimisation.settings import Settings
from tutorial import pictures, progress


def test_gif_frames_are_dense_early_and_end_at_the_last_iteration():
    actual = progress.frame_iterations(100, 5)
    expected = [1, 3, 10, 32, 100]  # 100 ** (k / 4) for k = 0..4, rounded
    assert actual == expected


def test_fit_in_square_centres_the_picture_on_white():
    black = np.zeros((10, 20, 3), np.float32)
    actual = pictures.fit_in_square(black, 20)
    assert actual.shape == (20, 20, 3)
    assert actual[5:15].max() == 0.0  # the picture, scaled to 20 x 10, in the middle
    assert actual[:5].min() == 1.0 and actual[15:].min() == 1.0  # white above and below


def test_style_layer_shares_are_beta_times_w_l_times_E_l():
    settings = Settings(beta=200.0, style_layers=["conv1_1", "conv3_1"], layer_weights=[0.25, 3])
    terms = {"style_conv1_1": 2.0, "style_conv3_1": 0.5, "style": 1.0}
    actual = pictures.style_layer_shares(terms, settings)
    assert actual == {"conv1_1": pytest.approx(200 * 0.25 * 2.0), "conv3_1": pytest.approx(300.0)}
