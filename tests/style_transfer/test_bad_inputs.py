"""Every bad input gets one line `error: ...` naming it and the fix, and exit code 2.

The command line is called in-process (TensorFlow loads once for the file) except where the
point is what a user's terminal shows: there a child process proves there is no traceback
and no TensorFlow chatter around the one line.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from style_transfer import cli

EXIT_BAD_INPUT = 2


@pytest.fixture
def good(tmp_path, rng):
    """A valid 64x64 content PNG and style JPEG."""
    pixels = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    content, style = tmp_path / "content.png", tmp_path / "style.jpg"
    Image.fromarray(pixels).save(content)
    Image.fromarray(pixels[::-1]).save(style, quality=95)
    return content, style


def run_cli(capsys, *arguments) -> tuple[int, str]:
    """Run the command line in-process; return the exit code and what it wrote to stderr.

    A tiny, one-iteration run comes first, so a check that fails to fire costs seconds.
    """
    guard = ["--size", "32", "--iterations", "1"]
    code = cli.main(guard + [str(argument) for argument in arguments])
    return code, capsys.readouterr().err


def assert_one_error_line(error: str, *words: str) -> None:
    lines = error.strip().splitlines()
    assert len(lines) == 1, error
    assert lines[0].startswith("error: "), error
    for word in words:
        assert str(word) in lines[0], f"{word!r} not in {lines[0]!r}"


# --- Files -----------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["content", "style"])
def test_path_that_does_not_exist(tmp_path, good, capsys, which):
    missing = tmp_path / "nowhere.jpg"
    paths = {"content": good[0], "style": good[1], which: missing}
    code, error = run_cli(capsys, paths["content"], paths["style"], "-o", tmp_path / "out.png")
    assert code == EXIT_BAD_INPUT
    assert_one_error_line(error, missing, "does not exist", "check the path")
    assert not (tmp_path / "out.png").exists()


def test_directory_instead_of_an_image(tmp_path, good, capsys):
    code, error = run_cli(capsys, tmp_path, good[1], "-o", tmp_path / "out.png")
    assert code == EXIT_BAD_INPUT
    assert_one_error_line(error, tmp_path, "is a directory", "image file inside it")


def test_file_that_is_not_an_image(tmp_path, good, capsys):
    notes = tmp_path / "notes.jpg"
    notes.write_text("shopping list: eggs, flour\n")
    code, error = run_cli(capsys, good[0], notes, "-o", tmp_path / "out.png")
    assert code == EXIT_BAD_INPUT
    assert_one_error_line(error, notes, "not an image", "JPEG, PNG")


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_truncated_image(tmp_path, good, capsys, suffix):
    whole = good[1] if suffix == ".jpg" else good[0]
    truncated = tmp_path / f"truncated{suffix}"
    data = whole.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    code, error = run_cli(capsys, truncated, good[1], "-o", tmp_path / "out.png")
    assert code == EXIT_BAD_INPUT
    assert_one_error_line(error, truncated, "truncated or corrupt", "re-download or re-export")


def test_zero_byte_file(tmp_path, good, capsys):
    empty = tmp_path / "empty.jpg"
    empty.touch()
    code, error = run_cli(capsys, good[0], empty, "-o", tmp_path / "out.png")
    assert code == EXIT_BAD_INPUT
    assert_one_error_line(error, empty, "empty (0 bytes)", "another copy")


# --- Images too small for the network --------------------------------------------------------


@pytest.mark.parametrize("which", ["content", "style"])
def test_image_smaller_than_the_network_can_use(tmp_path, good, capsys, which):
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (12, 40), (200, 30, 30)).save(tiny)
    paths = {"content": good[0], "style": good[1], which: tiny}
    code, error = run_cli(capsys, paths["content"], paths["style"], "-o", tmp_path / "out.png")
    assert code == EXIT_BAD_INPUT
    assert_one_error_line(error, tiny, "12x40 px", "conv5_1", "at least 16 px", "larger image")


def test_shallow_layers_need_a_smaller_minimum(tmp_path, good, capsys):
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (1, 1)).save(tiny)
    arguments = [tiny, good[1], "-o", tmp_path / "out.png", "--style-layers", "conv2_1"]
    code, error = run_cli(capsys, *arguments, "--content-layers", "conv2_2")
    assert code == EXIT_BAD_INPUT
    assert_one_error_line(error, "1x1 px", "conv2_2", "at least 2 px")  # after pool1


def test_size_that_leaves_the_content_too_thin(tmp_path, good, capsys):
    panorama = tmp_path / "panorama.png"
    Image.new("RGB", (2000, 100), (10, 120, 200)).save(panorama)
    code, error = run_cli(capsys, panorama, good[1], "-o", tmp_path / "out.png", "--size", 256)
    assert code == EXIT_BAD_INPUT
    # 2000x100 at --size 256 is 256x13; 16 px high needs 16 * 2000 / 100 = 320.
    assert_one_error_line(error, panorama, "256x13 px", "16 px", "use --size 320 or more")


def test_style_too_elongated_to_match_the_content(tmp_path, good, capsys):
    strip = tmp_path / "strip.png"
    Image.new("RGB", (3000, 20), (10, 120, 200)).save(strip)
    code, error = run_cli(capsys, good[0], strip, "-o", tmp_path / "out.png", "--size", 64)
    assert code == EXIT_BAD_INPUT
    assert_one_error_line(
        error, strip, "3000x20 px", "content's area", "16 px", "use --style-scale", "crop it"
    )


# --- Numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "value", "words"),
    [
        ("--style-weight", "-1", ["'-1' cannot be used", "more than zero", "e.g. 1000"]),
        ("--style-weight", "0", ["'0' cannot be used", "more than zero"]),
        ("--style-weight", "nan", ["'nan' cannot be used", "finite number"]),
        ("--style-weight", "abc", ["'abc' is not a number", "e.g. 1000"]),
        ("--content-weight", "inf", ["'inf' cannot be used", "zero or more"]),
        ("--content-weight", "-0.5", ["'-0.5' cannot be used", "zero or more"]),
        ("--tv-weight", "1e400", ["'1e400' cannot be used", "finite number"]),
        ("--learning-rate", "0", ["'0' cannot be used", "Adam's learning rate"]),
        # another tool's default, for pixels in 0..255
        ("--learning-rate", "10", ["rate 10 is a step in pixel values", "about 0.02", "0.039"]),
        ("--size", "0", ["'0' is not a size in pixels", "1 or more, e.g. 512"]),
        ("--size", "-5", ["'-5' is not a size in pixels"]),
        ("--size", "abc", ["'abc' is not a size in pixels"]),
        ("--size", "1.5", ["'1.5' is not a size in pixels", "whole number"]),
        ("--iterations", "0", ["'0' is not a count", "e.g. 300"]),
        ("--gif-frames", "-3", ["'-3' is not a count"]),
    ],
)
def test_number_that_cannot_be_used(tmp_path, good, capsys, flag, value, words):
    with pytest.raises(SystemExit) as stopped:
        cli.main([str(good[0]), str(good[1]), "-o", str(tmp_path / "o.png"), flag, value])
    assert stopped.value.code == EXIT_BAD_INPUT
    assert_one_error_line(capsys.readouterr().err, flag, *words, "--help")


def test_size_smaller_than_the_network_can_use(tmp_path, good, capsys):
    code, error = run_cli(capsys, good[0], good[1], "-o", tmp_path / "out.png", "--size", 8)
    assert code == EXIT_BAD_INPUT
    assert_one_error_line(error, "--size 8", "8x8 px", "use --size 16 or more")


# --- Layers and option values ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "value", "unknown"),
    [
        ("--style-layers", "conv1_1,conv9_9", "'conv9_9'"),
        ("--content-layers", "fc7", "'fc7'"),
        ("--style-layers", "Conv1_1", "'Conv1_1'"),
    ],
)
def test_unknown_layer_name(tmp_path, good, capsys, flag, value, unknown):
    code, error = run_cli(capsys, good[0], good[1], "-o", tmp_path / "out.png", flag, value)
    assert code == EXIT_BAD_INPUT
    assert_one_error_line(error, flag, f"unknown layer {unknown}", "choose from conv1_1")


def test_empty_layer_name(tmp_path, good, capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(
            [
                str(good[0]),
                str(good[1]),
                "-o",
                str(tmp_path / "o.png"),
                "--style-layers",
                "conv1_1,",
            ]
        )
    assert stopped.value.code == EXIT_BAD_INPUT
    assert_one_error_line(capsys.readouterr().err, "--style-layers", "empty layer name")


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (["--optimizer", "sgd"], ["--optimizer", "invalid choice: 'sgd'", "'lbfgs', 'adam'"]),
        (["--init", "zeros"], ["--init", "invalid choice: 'zeros'", "'noise'"]),
        (["--precision", "float16"], ["--precision", "invalid choice: 'float16'", "'bfloat16'"]),
        (["--colour", "red"], ["unrecognized arguments: --colour red"]),
    ],
)
def test_unknown_option_or_option_value(tmp_path, good, capsys, arguments, words):
    with pytest.raises(SystemExit) as stopped:
        cli.main([str(good[0]), str(good[1]), "-o", str(tmp_path / "o.png"), *arguments])
    assert stopped.value.code == EXIT_BAD_INPUT
    assert_one_error_line(capsys.readouterr().err, *words, "--help")


def test_missing_style_image(tmp_path, good, capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main([str(good[0]), "-o", str(tmp_path / "o.png")])
    assert stopped.value.code == EXIT_BAD_INPUT
    assert_one_error_line(capsys.readouterr().err, "CONTENT and STYLE")


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (["{c}", "{s}", "{o}"], ["unrecognized arguments: {o}", "put -o before it: -o {o}"]),
        (["{c}", "{s}", "{c}", "{s}", "-o", "{o}"], ["several style images go after --style"]),
        (
            ["--style", "{s}", "{s}", "{c}", "-o", "{o}"],
            ["--style took every path after it ({s} {s} {c})", "put CONTENT before --style"],
        ),
        (
            ["{c}", "--sweep", "style-weight=1,2", "{s}", "-o", "{o}"],
            ["CONTENT and STYLE", "--sweep took {s}", "put the images before --sweep"],
        ),
    ],
)
def test_an_image_in_the_wrong_place_is_told_where_it_goes(
    tmp_path, good, capsys, arguments, words
):
    values = {"c": good[0], "s": good[1], "o": tmp_path / "o.png"}
    with pytest.raises(SystemExit) as stopped:
        cli.main([argument.format(**values) for argument in arguments])
    assert stopped.value.code == EXIT_BAD_INPUT
    assert_one_error_line(capsys.readouterr().err, *(word.format(**values) for word in words))
    assert not values["o"].exists()


# --- Outputs that would destroy something ----------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "target", "name"),
    [
        ("-o", 0, "content"),
        ("-o", 1, "style"),
        ("--gif", 1, "style"),
        ("--stats", 0, "content"),
    ],
)
def test_output_never_overwrites_an_input(tmp_path, good, capsys, flag, target, name):
    before = [path.read_bytes() for path in good]
    outputs = {"-o": tmp_path / "out.png", flag: good[target]}
    arguments = [good[0], good[1]] + [part for pair in outputs.items() for part in pair]
    code, error = run_cli(capsys, *arguments)
    assert code == EXIT_BAD_INPUT
    assert_one_error_line(error, good[target], f"is the {name} image", "choose another path")
    assert [path.read_bytes() for path in good] == before


def test_output_through_another_name_of_the_input_is_refused(tmp_path, good, capsys):
    link = tmp_path / "link.png"
    link.hardlink_to(good[0])
    code, error = run_cli(capsys, good[0], good[1], "-o", link)
    assert code == EXIT_BAD_INPUT
    assert_one_error_line(error, "is the content image")


def test_two_outputs_on_the_same_path_are_refused(tmp_path, good, capsys):
    out = tmp_path / "out.png"
    code, error = run_cli(capsys, good[0], good[1], "-o", out, "--stats", out)
    assert code == EXIT_BAD_INPUT
    assert_one_error_line(error, "are both", "give each its own")


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (["-o", "{tmp}/out.gif"], ["unknown image suffix", ".png, .tif", "add --gif"]),
        (
            ["-o", "{tmp}/out.jpg", "--checkpoint-every", "2", "--checkpoint-dir", "/proc/ck"],
            ["cannot write /proc/ck", "give --checkpoint-dir a path"],
        ),
        (["-o", "{tmp}/out.png", "--gif", "{tmp}/run.png"], ["--gif", "must end in .gif (or .mp4"]),
        (["-o", "{tmp}"], ["is a directory", "file name inside it"]),
        (["-o", "/proc/out.png"], ["cannot write /proc/out.png", "writable directory"]),
    ],
)
def test_output_path_that_cannot_be_written(tmp_path, good, capsys, arguments, words):
    arguments = [part.format(tmp=tmp_path) for part in arguments]
    code, error = run_cli(capsys, good[0], good[1], *arguments)
    assert code == EXIT_BAD_INPUT
    assert_one_error_line(error, *words)


# --- What a terminal shows -------------------------------------------------------------------


def test_a_python_without_the_projects_packages_is_told_which_to_use(repo_root, tmp_path, good):
    # -S leaves out site-packages: a Python without NumPy or Pillow, as the system's may be
    command = [sys.executable, "-S", "-m", "style_transfer", str(good[0]), str(good[1]), "-o", str(tmp_path / "o.png")]  # fmt: skip
    done = subprocess.run(command, cwd=repo_root, capture_output=True, text=True, timeout=60)
    assert done.returncode == EXIT_BAD_INPUT
    assert_one_error_line(done.stderr, "has no numpy", ".venv/bin/python", "scripts/setup.sh")


@pytest.mark.parametrize(
    "arguments",
    [
        ["{tmp}/nowhere.jpg", "{style}", "-o", "{tmp}/out.png"],  # before TensorFlow loads
        ["{content}", "{style}", "-o", "{tmp}/out.png", "--style-layers", "conv9_9"],  # after
        ["{content}", "{style}", "-o", "{tmp}/out.png", "--style-weight", "-1"],  # argparse
    ],
)
def test_terminal_sees_one_line_and_no_traceback(repo_root, tmp_path, good, arguments):
    values = {"tmp": tmp_path, "content": good[0], "style": good[1]}
    command = [sys.executable, "-m", "style_transfer", *(a.format(**values) for a in arguments)]
    done = subprocess.run(command, cwd=repo_root, capture_output=True, text=True, timeout=120)
    assert done.returncode == EXIT_BAD_INPUT
    assert "Traceback" not in done.stderr
    assert_one_error_line(done.stderr)
    assert done.stdout == ""


def test_no_arguments_at_all_shows_how_a_run_looks(capsys):
    with pytest.raises(SystemExit) as stopped:  # argparse's own exit
        cli.main([])
    assert stopped.value.code == EXIT_BAD_INPUT
    assert_one_error_line(
        capsys.readouterr().err, "give the CONTENT and STYLE images and -o OUTPUT", "-o out.jpg"
    )
