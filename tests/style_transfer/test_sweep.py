"""--sweep: every combination, in order, with clear errors, on one contact sheet whose labels
cover nothing."""

import itertools
import subprocess
import sys

import numpy as np
import pytest
from conftest import SMALL_HEIGHT as HEIGHT
from conftest import SMALL_WIDTH as WIDTH
from conftest import pixels, run_cli

import sheets
from style_transfer import arguments, sweep


def test_sweep_gives_the_cartesian_product_in_order():
    actual = arguments.parse_sweep(["style-weight=1e2,1e3,1e4", "content-layer=conv3_2,conv4_2"])
    expected = [
        {"style-weight": w, "content-layer": layer}
        for w, layer in itertools.product([100.0, 1000.0, 10000.0], ["conv3_2", "conv4_2"])
    ]
    assert actual == expected


def test_label_names_every_swept_value():
    assert sweep.label({"style-weight": 1000.0, "init": "noise"}) == "style-weight 1000, init noise"


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
    with pytest.raises(arguments.SweepError, match=message):
        arguments.parse_sweep([spec])


def test_the_same_setting_twice_is_refused():
    with pytest.raises(arguments.SweepError, match="given twice"):
        arguments.parse_sweep(["size=64", "size=128"])


def _text_pixels(image: np.ndarray) -> int:
    return int((image.min(axis=-1) > 0.9).sum())  # white text on the dark band


def test_a_label_wider_than_its_tile_is_wrapped_not_cut():
    label = sweep.label({"style-weight": 10000.0, "content-layer": "conv3_2"})
    wide = sheets.annotate(np.full((192, 2000, 3), 0.5, np.float32), label)
    narrow = sheets.annotate(np.full((192, 130, 3), 0.5, np.float32), label)
    # The same glyphs are drawn on two or more lines instead of running off the edge.
    assert _text_pixels(narrow) >= 0.95 * _text_pixels(wide)
    band_rows = (narrow[:, 0] < 0.1).all(axis=-1).sum()
    assert band_rows > 1.5 * (wide[:, 0] < 0.1).all(axis=-1).sum()  # more than one line


def test_labels_above_the_pictures_leave_every_pixel_of_them():
    rng = np.random.default_rng(0)
    pictures = [rng.random((60, 50, 3), dtype=np.float32) for _ in range(3)]
    label = sweep.label({"style-weight": 10000.0, "content-layer": "conv3_2"})
    sheet = sheets.image_grid(pictures, 2, [label, "short", label], gap=4, labels_above=True)
    strip = sheets.caption(label, 50, 10)
    assert strip.shape[0] > 2 * sheets.caption("short", 50, 10).shape[0]  # wrapped, not cut
    assert sheet.shape == (2 * strip.shape[0] + 2 * 60 + 4, 2 * 50 + 4, 3)
    for index, (top, left) in enumerate([(0, 0), (0, 54), (strip.shape[0] + 64, 0)]):
        below = top + strip.shape[0]
        np.testing.assert_allclose(sheet[below : below + 60, left : left + 50], pictures[index], atol=1e-6)  # fmt: skip
    np.testing.assert_array_equal(sheet[: strip.shape[0], :50], strip)  # the first label
    # On a 130 px strip the same glyphs as on one wide enough for one line: wrapped, none lost
    narrow, wide = sheets.caption(label, 130, 10), sheets.caption(label, 2000, 10)
    assert narrow.shape[0] > 1.5 * wide.shape[0]
    assert (narrow.max(axis=-1) < 0.5).sum() >= 0.95 * (wide.max(axis=-1) < 0.5).sum()


# --- Runs ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_sweep_writes_a_sheet_with_one_tile_per_combination(small_files, tmp_path, capsys):
    """Every tile holds its picture under its label: the README's sweep, at 32 px."""
    specs = ["style-weight=1e2,1e4", "content-layer=conv3_2,conv4_2"]
    sheet = tmp_path / "sheet.png"
    code, out, error = run_cli(
        capsys, small_files["content"], small_files["style"], "-o", sheet, "--size", WIDTH,
        "--iterations", 2, "--sweep", *specs,
    )  # fmt: skip
    assert code == 0, error
    assert "sweep: 4 of 4 combinations" in out
    picture = pixels(sheet)
    gap = 4
    # 32x28 px pictures are enlarged to tiles 144 px high, each under a strip with its label
    height = sweep.SHEET_MIN_TILE_HEIGHT
    width = round(WIDTH * height / HEIGHT)
    labels = [sweep.label(combination) for combination in arguments.parse_sweep(specs)]
    strips = [
        max(sheets.caption(label, width, max(10, height // 24)).shape[0] for label in row)
        for row in (labels[:2], labels[2:])
    ]
    assert strips[0] > 16  # the label wraps to two lines at this width
    assert picture.shape == (sum(strips) + 2 * height + gap, 2 * width + gap, 3)
    white = np.ones(3)
    np.testing.assert_allclose(picture[:, width : width + gap].reshape(-1, 3).mean(0), white)
    second = strips[0] + height + gap
    np.testing.assert_allclose(picture[second - gap : second].reshape(-1, 3).mean(0), white)
    for top, strip in ((0, strips[0]), (second, strips[1])):
        for left in (0, width + gap):
            label = picture[top : top + strip, left : left + width]
            tile = picture[top + strip : top + strip + height, left : left + width]
            assert np.median(label) > 0.95 and label.min() < 0.2  # black letters on white
            assert tile[:8].std() > 0.02 and tile[-8:].std() > 0.02  # the picture, all of it


def test_a_long_sweep_prints_no_tensorflow_warnings(small_files, tmp_path, repo_root):
    """Each run builds its own loss; TensorFlow's retracing warning would come after five."""
    command = [
        sys.executable, "-m", "style_transfer", small_files["content"], small_files["style"],
        "-o", tmp_path / "sheet.png", "--size", WIDTH, "--iterations", 2, "--precision", "mixed",
        "--sweep", "style-weight=1e2,1e3,1e4", "init=content,recolored",
    ]  # fmt: skip
    done = subprocess.run(
        [str(part) for part in command], cwd=repo_root, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "WARNING" not in done.stderr and "retracing" not in done.stderr, done.stderr
