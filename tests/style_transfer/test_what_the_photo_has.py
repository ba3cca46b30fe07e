"""The command line hands back what the inputs have: a grey picture for grey inputs, the photo's
transparency where the output format holds it, a home folder for `~`, and it names every
picture it enlarges more than twice."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import one_error_line, pixels, run_cli
from PIL import Image

import machine
from style_transfer.errors import EXIT_BAD_INPUT, EXIT_FINISHED


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, small_files) -> dict:
    """The small photo and painting as grey JPEGs, the photo as RGBA with a transparent third."""
    folder = tmp_path_factory.mktemp("odd")
    paths = dict(small_files)
    for name in ("content", "style"):
        with Image.open(small_files[name]) as image:
            image.convert("L").save(folder / f"grey_{name}.jpg")
        paths[f"grey_{name}"] = folder / f"grey_{name}.jpg"
    with Image.open(small_files["content"]) as image:
        rgba = np.asarray(image.convert("RGBA")).copy()
    rgba[:, : rgba.shape[1] // 3, 3] = 0  # the left third transparent
    Image.fromarray(rgba).save(folder / "rgba.png")
    paths["rgba"] = folder / "rgba.png"
    return paths


def first_line(out: str) -> str:
    return out.splitlines()[0]


def test_grey_photo_and_grey_painting_give_a_grey_picture(inputs, tmp_path, capsys):
    output = tmp_path / "out.png"
    code, out, _ = run_cli(
        capsys,
        inputs["grey_content"],
        inputs["grey_style"],
        "-o",
        output,
        "--size",
        32,
        "--iterations",
        6,
        "--init",
        "noise",
    )
    assert code == EXIT_FINISHED
    assert "photo and painting are grey, so the picture is grey" in first_line(out)
    actual = np.asarray(Image.open(output).convert("RGB"), dtype=int)
    assert np.ptp(actual, axis=-1).max() == 0  # R = G = B in every pixel


def test_a_colour_painting_keeps_the_picture_in_colour(inputs, tmp_path, capsys):
    output = tmp_path / "out.png"
    code, out, _ = run_cli(
        capsys,
        inputs["grey_content"],
        inputs["style"],
        "-o",
        output,
        "--size",
        32,
        "--iterations",
        4,
    )
    assert code == EXIT_FINISHED
    assert "grey" not in first_line(out)
    assert np.ptp(pixels(output), axis=-1).mean() > 0.02


@pytest.mark.parametrize("suffix", [".png", ".webp", ".tif"])
def test_the_photos_transparency_is_kept_where_the_format_holds_it(
    inputs, tmp_path, capsys, suffix
):
    output = tmp_path / f"out{suffix}"
    code, out, _ = run_cli(
        capsys, inputs["rgba"], inputs["style"], "-o", output, "--size", 32, "--iterations", 2
    )
    assert code == EXIT_FINISHED
    assert f"the photo's transparency is kept in out{suffix}" in first_line(out)
    with Image.open(output) as saved:
        assert saved.mode == "RGBA"
        alpha = np.asarray(saved.getchannel("A"))
    with Image.open(inputs["rgba"]) as photo:
        expected = np.asarray(photo.getchannel("A"))  # same size: --size 32 is the photo's own
    if suffix == ".webp":  # lossy by default: the edge may blur by a level or two
        assert np.abs(alpha.astype(int) - expected).max() <= 8
    else:
        np.testing.assert_array_equal(alpha, expected)


def test_a_jpeg_output_drops_transparency_and_says_what_it_holds(inputs, tmp_path, capsys):
    output = tmp_path / "out.jpg"
    code, out, _ = run_cli(
        capsys, inputs["rgba"], inputs["style"], "-o", output, "--size", 32, "--iterations", 2
    )
    assert code == EXIT_FINISHED
    assert "transparency is not kept (.jpg holds none), so its transparent parts are painted" in (
        first_line(out)
    )
    with Image.open(output) as saved:
        assert saved.mode == "RGB"
        painted = np.asarray(saved.convert("RGB"), np.float32)
    transparent = painted[:, : painted.shape[1] // 3]
    assert transparent.std() > 10 and transparent.mean() < 240  # painted texture, not white


def test_a_photo_transparent_everywhere_is_refused(inputs, tmp_path, capsys):
    clear = tmp_path / "clear.png"
    Image.new("RGBA", (48, 36), (200, 100, 50, 0)).save(clear)
    code, _, error = run_cli(capsys, clear, inputs["style"], "-o", tmp_path / "out.png")
    assert code == EXIT_BAD_INPUT
    assert one_error_line(error) == (
        f"error: {clear} is transparent everywhere, so there is nothing to paint; use a photo "
        "with visible pixels"
    )
    assert not (tmp_path / "out.png").exists()


def test_an_opaque_photo_says_nothing_of_transparency(inputs, tmp_path, capsys):
    code, out, _ = run_cli(
        capsys,
        inputs["content"],
        inputs["style"],
        "-o",
        tmp_path / "o.png",
        "--size",
        32,
        "--iterations",
        1,
    )
    assert code == EXIT_FINISHED
    assert "transparency" not in first_line(out)
    with Image.open(tmp_path / "o.png") as saved:
        assert saved.mode == "RGB"


def _tiny_painting(tmp_path, inputs) -> str:
    path = tmp_path / "tiny.png"
    with Image.open(inputs["other"]) as image:
        image.resize((24, 18)).save(path)
    return str(path)


def test_a_painting_enlarged_more_than_twice_is_named(inputs, tmp_path, capsys):
    tiny = _tiny_painting(tmp_path, inputs)
    code, out, _ = run_cli(
        capsys,
        inputs["content"],
        tiny,
        "-o",
        tmp_path / "o.png",
        "--size",
        64,
        "--iterations",
        1,
    )
    assert code == EXIT_FINISHED
    width = round(24 * math.sqrt(64 * 56 / (24 * 18)))  # matched to the photo's area, 64x56 px
    expected = f"tiny.png enlarged {width / 24:.1f}x from 24x18 px: expect soft, blurred brush"
    assert expected in first_line(out)
    assert "content 64x56 px (enlarged 2.0x" not in first_line(out)  # 2x exactly is not over


def test_every_style_of_a_blend_is_checked_for_enlargement(inputs, tmp_path, capsys):
    tiny = _tiny_painting(tmp_path, inputs)
    code, out, _ = run_cli(
        capsys,
        inputs["content"],
        "--style",
        inputs["style"],
        tiny,
        "-o",
        tmp_path / "o.png",
        "--size",
        64,
        "--iterations",
        1,
    )
    assert code == EXIT_FINISHED
    line = first_line(out)
    assert line.count("enlarged") == 1 and "tiny.png enlarged" in line


def test_a_style_scale_that_enlarges_the_painting_says_so(inputs, tmp_path, capsys):
    code, out, _ = run_cli(
        capsys,
        inputs["content"],
        inputs["style"],
        "-o",
        tmp_path / "o.png",
        "--size",
        32,
        "--iterations",
        1,
        "--style-scale",
        3,
    )
    assert code == EXIT_FINISHED
    assert "style.png enlarged 3.0x from 32x28 px" in first_line(out)
    assert "--style-scale 3 enlarges it" in first_line(out)


def test_tilde_after_an_equals_sign_is_the_home_folder(inputs, tmp_path, capsys, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_cli(
        capsys,
        inputs["content"],
        inputs["style"],
        "--output=~/x.png",
        "--stats=~/run.json",
        "--gif=~/run.gif",
        "--size",
        32,
        "--iterations",
        2,
    )
    assert code == EXIT_FINISHED
    assert sorted(path.name for path in home.iterdir()) == ["run.gif", "run.json", "x.png"]
    assert not (tmp_path / "~").exists()
    assert f"saved {home / 'x.png'}" in out
    manifest = json.loads((home / "run.json").read_text())
    assert manifest["parameters"]["output"] == str(home / "x.png")


def test_tilde_in_an_input_path_is_the_home_folder(inputs, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HOME", str(inputs["content"].parent))
    code, _, _ = run_cli(
        capsys,
        "~/content.png",
        "~/style.png",
        "-o",
        tmp_path / "o.png",
        "--size",
        32,
        "--iterations",
        1,
    )
    assert code == EXIT_FINISHED


def test_a_photo_too_large_for_the_memory_names_the_limit(inputs, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(machine, "available_bytes", lambda: 1000)
    code, _, err = run_cli(
        capsys, inputs["content"], inputs["style"], "-o", tmp_path / "o.png", "--size", 32
    )
    assert code == EXIT_BAD_INPUT
    line = one_error_line(err)
    assert "is 32x28 px (0 Mpx); decoding it needs about 0 MiB but 0 MiB is available" in line


def test_a_run_that_ends_before_its_iterations_says_why_and_is_not_finished(tmp_path, capsys):
    flat = tmp_path / "flat.png"
    Image.new("RGB", (32, 32), (120, 130, 140)).save(flat)
    stats = tmp_path / "run.json"
    code, out, _ = run_cli(
        capsys,
        flat,
        flat,
        "-o",
        tmp_path / "o.png",
        "--init",
        "content",
        "--iterations",
        5,
        "--stats",
        stats,
        "--precision",
        "float32",  # bfloat16's features of the start differ from the float32 targets
    )
    # photo = painting = start: every term is zero, so is the gradient
    expected = "converged at iteration 0 of 5: the projected gradient is zero"
    assert code == EXIT_FINISHED
    assert out.splitlines()[-1].startswith(f"{expected}; ")
    assert "finished" not in out
    assert json.loads(stats.read_text())["stopped_because"] == expected
