"""stylize(): colour preservation and the brush-stroke size around the single run."""

import numpy as np
import pytest

from going_further import color
from going_further.settings import StylizeSettings
from going_further.stylize import stylize
from loss_settings import SettingsError


def test_luminance_mode_keeps_the_content_colours(net, small_photo, small_painting):
    content, style = small_photo(32, 32), small_painting(32, 32)
    settings = StylizeSettings(iterations=5, preserve_colors="luminance")
    result = stylize(content, style, settings, net=net)
    chroma_actual = color.rgb_to_yiq(result.image)[..., 1:]
    chroma_expected = color.rgb_to_yiq(content)[..., 1:]
    unclipped = (result.image > 0.01).all(-1) & (result.image < 0.99).all(-1)
    assert unclipped.mean() > 0.8
    np.testing.assert_allclose(chroma_actual[unclipped], chroma_expected[unclipped], atol=2e-3)


def test_unknown_colour_mode_and_bad_style_scale_are_refused(net, small_photo):
    image = small_photo(32, 32)
    with pytest.raises(SettingsError, match="unknown colour mode 'sepia'"):
        stylize(image, image, StylizeSettings(preserve_colors="sepia"), net=net)
    with pytest.raises(SettingsError, match="style scale"):
        stylize(image, image, StylizeSettings(style_scale=0), net=net)
