"""The picture's edge: no coloured frame at the defaults, as there is with zero padding."""

from __future__ import annotations

import numpy as np
import pytest

import helper
import tf_run
from benchmarks.border import PAIRS, border_figures
from going_further.style_scale import match_style_scale
from optimisation.settings import Settings


@pytest.fixture(scope="module")
def pictures(net):
    """Chelsea x Van Gogh's street at 128 px, 300 iterations, with each border."""
    content_path, style_path = PAIRS[1]
    content = helper.resize_to_longest_side(helper.load_image(content_path), 128)
    style = match_style_scale(helper.load_image(style_path), content)
    return {
        border: tf_run.run_style_transfer(content, style, Settings(border=border), net=net).image
        for border in ("zero", "mirror")
    }


@pytest.mark.slow
def test_the_default_picture_has_no_frame(pictures):
    # The outermost 4 px against the 8 px just inside them, which hold the same part of the
    # photo: as saturated, and clipped to 0 or 255 far less often than zero padding's frame is.
    # Only a few percent of the edge is clipped, so that ratio moves with any change to the
    # optimiser (README.md, "The picture's edge"): it is judged against the zero-padded
    # picture's, not against a fixed bound.
    assert Settings().border == "mirror"
    mirror, zero = border_figures(pictures["mirror"]), border_figures(pictures["zero"])
    assert mirror["spread_ratio_band"] <= 1.2, mirror
    assert mirror["clipped_ratio_band"] <= 0.5 * zero["clipped_ratio_band"], (mirror, zero)


@pytest.mark.slow
def test_zero_padding_leaves_a_frame_the_figures_see(pictures):
    figures = border_figures(pictures["zero"])
    assert figures["clipped_ratio_band"] > 2.0, figures


def test_border_figures_of_a_painted_frame():
    # A grey picture with a saturated 4 px frame: spread 255 against 0, all clipped against none.
    picture = np.full((40, 48, 3), 0.5, np.float32)
    picture[:4], picture[-4:], picture[:, :4], picture[:, -4:] = (
        [1, 0, 1],
        [1, 1, 0],
        [0, 0, 1],
        [1, 0, 0],
    )
    figures = border_figures(picture)
    assert figures["spread_edge"] == 255 and figures["spread_band"] == 0
    assert figures["clipped_edge"] == 1 and figures["clipped_inside"] == 0
