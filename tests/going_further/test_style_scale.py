"""The painting brought to the photo's area (the brush-stroke size), and the note for an input
enlarged more than twice."""

from __future__ import annotations

import numpy as np
import pytest

from going_further.style_scale import enlargement_note, match_style_scale


@pytest.mark.parametrize("scale", [1.0, 2.0, 0.5])
@pytest.mark.parametrize(
    ("style_shape", "content_shape"), [((40, 100), (50, 50)), ((90, 30), (64, 48))]
)
def test_match_style_scale_gives_equal_area_without_distortion(
    rng, style_shape, content_shape, scale
):
    style = rng.uniform(size=(*style_shape, 3)).astype(np.float32)
    content = np.zeros((*content_shape, 3), np.float32)
    height, width, _ = match_style_scale(style, content, scale).shape
    expected_area = content_shape[0] * content_shape[1] * scale**2
    assert abs(height * width - expected_area) <= height + width  # rounding of either side
    assert abs(width / height - style_shape[1] / style_shape[0]) <= 1.0 / min(height, width)


def test_enlargement_note_only_over_twice():
    assert enlargement_note("", (24, 32), (48, 64), "expect blur") == ""  # twice exactly
    assert enlargement_note("", (18, 24), (48, 64), "expect blur").endswith("blur)")
    note = enlargement_note("the photo ", (18, 24), (54, 72), "expect blur")
    assert note == " (the photo enlarged 3.0x from 24x18 px: expect blur)"
