"""Parameter sweeps: every combination, in order, with clear errors."""

import itertools

import numpy as np
import pytest

import helper
import sweeps


def test_sweep_gives_the_cartesian_product_in_order():
    actual = sweeps.parse_sweep(["style-weight=1e2,1e3,1e4", "content-layer=conv3_2,conv4_2"])
    expected = [
        {"style-weight": w, "content-layer": layer}
        for w, layer in itertools.product([100.0, 1000.0, 10000.0], ["conv3_2", "conv4_2"])
    ]
    assert actual == expected


def test_label_names_every_swept_value():
    assert (
        sweeps.label({"style-weight": 1000.0, "init": "noise"}) == "style-weight 1000, init noise"
    )


@pytest.mark.parametrize(
    "spec, message",
    [
        ("style-weight", "must look like name=value1,value2"),
        ("colour=red", "cannot sweep 'colour'"),
        ("style-weight=abc", "'abc' is not a number"),
        ("style-weight=inf", "'inf' must be a finite number"),
        ("iterations=2.5", "'2.5' is not a whole number"),
    ],
)
def test_bad_sweep_specifications_raise_clear_errors(spec, message):
    with pytest.raises(sweeps.SweepError, match=message):
        sweeps.parse_sweep([spec])


def test_the_same_setting_twice_is_refused():
    with pytest.raises(sweeps.SweepError, match="given twice"):
        sweeps.parse_sweep(["size=64", "size=128"])


def test_wrap_text_breaks_at_spaces_into_lines_that_fit():
    text = "style-weight 100, content-layer conv4_2"
    lines = helper.wrap_text(text, lambda line: len(line) <= 14)
    assert lines == ["style-weight", "100,", "content-layer", "conv4_2"]
    assert helper.wrap_text("short", lambda line: len(line) <= 14) == ["short"]


def _text_pixels(image: np.ndarray) -> int:
    return int((image.min(axis=-1) > 0.9).sum())  # white text on the dark band


def test_a_label_wider_than_its_tile_is_wrapped_not_cut():
    label = sweeps.label({"style-weight": 10000.0, "content-layer": "conv3_2"})
    wide = helper.annotate(np.full((192, 2000, 3), 0.5, np.float32), label)
    narrow = helper.annotate(np.full((192, 130, 3), 0.5, np.float32), label)
    # The same glyphs are drawn on two or more lines instead of running off the edge.
    assert _text_pixels(narrow) >= 0.95 * _text_pixels(wide)
    band_rows = (narrow[:, 0] < 0.1).all(axis=-1).sum()
    assert band_rows > 1.5 * (wide[:, 0] < 0.1).all(axis=-1).sum()  # more than one line


def test_labels_above_the_pictures_leave_every_pixel_of_them():
    rng = np.random.default_rng(0)
    pictures = [rng.random((60, 50, 3), dtype=np.float32) for _ in range(3)]
    label = sweeps.label({"style-weight": 10000.0, "content-layer": "conv3_2"})
    sheet = helper.image_grid(pictures, 2, [label, "short", label], gap=4, labels_above=True)
    strip = helper.caption(label, 50, 10)
    assert strip.shape[0] > 2 * helper.caption("short", 50, 10).shape[0]  # wrapped, not cut
    assert sheet.shape == (2 * strip.shape[0] + 2 * 60 + 4, 2 * 50 + 4, 3)
    for index, (top, left) in enumerate([(0, 0), (0, 54), (strip.shape[0] + 64, 0)]):
        below = top + strip.shape[0]
        np.testing.assert_allclose(sheet[below : below + 60, left : left + 50], pictures[index], atol=1e-6)  # fmt: skip
    np.testing.assert_array_equal(sheet[: strip.shape[0], :50], strip)  # the first label
    # On a 130 px strip the same glyphs as on one wide enough for one line: wrapped, none lost
    narrow, wide = helper.caption(label, 130, 10), helper.caption(label, 2000, 10)
    assert narrow.shape[0] > 1.5 * wide.shape[0]
    assert (narrow.max(axis=-1) < 0.5).sum() >= 0.95 * (wide.max(axis=-1) < 0.5).sum()
