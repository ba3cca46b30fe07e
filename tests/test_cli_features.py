"""The command line of issue 5: colour preservation, several styles, style scale, coarse-to-fine,
reproducible runs with --repeat, parameter sweeps and batches.

Runs use 32x28 px images with the real weights and two or three iterations; the fast tests
check how options are read and refused without running the network.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import cli_modes
import color
import helper
import style_transfer
import sweeps

EXIT_BAD_INPUT = 2
WIDTH, HEIGHT = 32, 28


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """A 32x28 photo and two paintings from image_resources, saved small as PNG."""
    from conftest import CONTENT_IMAGE, REPO_ROOT, STYLE_IMAGE

    second_style = REPO_ROOT / "image_resources" / "style" / "kandinsky_composition_viii.jpg"
    folder = tmp_path_factory.mktemp("inputs")
    paths = {}
    for name, source in (
        ("content", CONTENT_IMAGE),
        ("style", STYLE_IMAGE),
        ("other", second_style),
    ):
        with Image.open(source) as image:
            image.convert("RGB").resize((WIDTH, HEIGHT)).save(folder / f"{name}.png")
        paths[name] = folder / f"{name}.png"
    return paths


def run_cli(capsys, *arguments) -> tuple[int, str, str]:
    """Run the command line in-process; return the exit code, stdout and stderr."""
    code = style_transfer.main([str(argument) for argument in arguments])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error_line(error: str) -> str:
    lines = error.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), error
    return lines[0]


def pixels(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- Options read and refused, without running the network ----------------------------------


def parse(*arguments) -> style_transfer.argparse.Namespace:
    args, _ = style_transfer.parse_arguments([str(argument) for argument in arguments])
    return args


def test_scales_set_the_output_size_and_one_count_serves_every_scale(images, tmp_path):
    args = parse(images["content"], images["style"], "-o", tmp_path / "o.png", "--scales", "24,32")
    assert (args.size, args.scales, args.iterations) == (32, [24, 32], 300)
    assert style_transfer._counts(args) == [300, 300]
    args = parse(images["content"], images["style"], "-o", tmp_path / "o.png", "--iterations", "7")
    assert (args.size, args.scales, style_transfer._counts(args)) == (512, None, [7])


def test_positional_style_and_style_list_become_one_list(images, tmp_path):
    single = parse(images["content"], images["style"], "-o", tmp_path / "o.png")
    several = parse(
        images["content"], "--style", images["style"], images["other"], "-o", tmp_path / "o.png"
    )
    assert single.styles == [str(images["style"])]
    assert several.styles == [str(images["style"]), str(images["other"])]


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (["--style", "{style}", "{other}", "--style-blend", "0.7"], ["1 weight(s) for 2 style"]),
        (["{style}", "--style", "{other}"], ["as STYLE", "or with --style, not both"]),
        (["{style}", "--scales", "24,32", "--size", "48"], ["--size 48 differs", "24,32"]),
        (["{style}", "--scales", "24,32", "--iterations", "1,2,3"], ["3 counts for 2 scale"]),
        (["{style}", "--scales", "24,32", "--checkpoint-every", "2"], ["single-scale runs only"]),
        (["{style}", "--preserve-colors", "luminance", "--checkpoint-every", "5"], ["luminance"]),
        (["{style}", "--sweep", "style-weight=0,1"], ["--sweep style-weight", "'0' cannot"]),
        (["{style}", "--sweep", "style-weight=-1,1"], ["'-1' cannot", "more than zero"]),
        (["{style}", "--sweep", "content-weight=-1,1"], ["'-1' cannot", "zero or more"]),
        (["{style}", "--sweep", "init=zeros"], ["--sweep init", "'zeros' is not one of"]),
        (["{style}", "--sweep", "colour=1"], ["cannot sweep 'colour'", "choose from"]),
        (
            ["{style}", "--sweep", "content-layer=conv4_2,conv9_9"],
            ["unknown layer 'conv9_9'", "--sweep combination content-layer conv9_9)"],
        ),
        (
            ["{style}", "--sweep", "size=32,8"],
            ["becomes 8x", "use --size", "--sweep combination size 8)"],
        ),
        (["{style}", "--sweep", "size=32", "--gif", "{tmp}/run.gif"], ["--gif", "--sweep"]),
    ],
)
def test_options_that_do_not_fit_together_get_one_line(images, tmp_path, capsys, arguments, words):
    values = {"style": images["style"], "other": images["other"], "tmp": tmp_path}
    filled = [argument.format(**values) for argument in arguments]
    code, _, error = run_cli(capsys, images["content"], *filled, "-o", tmp_path / "o.png")
    assert code == EXIT_BAD_INPUT
    line = one_error_line(error)
    for word in words:
        assert word in line
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize(
    ("flag", "value", "words"),
    [
        ("--style-scale", "0", ["'0' cannot be used", "style scale"]),
        ("--style-blend", "0,0", ["weighs every style image zero"]),
        ("--style-blend", "a,1", ["not a list of blend weights", "e.g. 0.7,0.3"]),
        ("--scales", "64,32", ["does not grow", "e.g. 128,256,512"]),
        ("--scales", "32,x", ["not a list of sizes"]),
        ("--iterations", "5,0", ["not a list of counts"]),
        ("--preserve-colors", "sepia", ["invalid choice: 'sepia'", "'luminance'"]),
        ("--seed", "-1", ["'-1' is not a seed"]),
    ],
)
def test_values_that_cannot_be_used_get_one_line(images, tmp_path, capsys, flag, value, words):
    with pytest.raises(SystemExit) as stopped:
        style_transfer.main(
            [
                str(images["content"]),
                str(images["style"]),
                "-o",
                str(tmp_path / "o.png"),
                flag,
                value,
            ]
        )
    assert stopped.value.code == EXIT_BAD_INPUT
    line = one_error_line(capsys.readouterr().err)
    assert flag in line and all(word in line for word in words), line


def test_style_scale_sizes_the_style_to_the_content_area_times_its_square(images, tmp_path):
    for scale in (0.75, 1.0, 2.0):
        args = parse(images["content"], images["style"], "-o", tmp_path / "o.png", "--size", 64)
        args.style_scale = scale
        content, style = style_transfer.load_images(args, minimum=16, deepest="conv5_1")
        expected_area = content.shape[0] * content.shape[1] * scale**2
        assert style.shape[0] * style.shape[1] == pytest.approx(expected_area, rel=0.06)
        assert style.shape[1] / style.shape[0] == pytest.approx(WIDTH / HEIGHT, rel=0.06)


def test_too_small_a_style_scale_names_the_fix(images, tmp_path, capsys):
    code, _, error = run_cli(
        capsys, images["content"], images["style"], "-o", tmp_path / "o.png", "--size", 32,
        "--style-scale", "0.25",
    )  # fmt: skip
    assert code == EXIT_BAD_INPUT
    line = one_error_line(error)
    assert "--style-scale" in line and "use a larger --style-scale" in line and "16 px" in line


def test_batch_glob_keeps_image_files_and_plain_paths_as_given(tmp_path):
    for name in ("b.jpg", "a.png", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "folder.jpg").mkdir()
    actual = cli_modes.expand_contents([str(tmp_path / "*"), str(tmp_path / "missing.jpg")])
    expected = [str(tmp_path / "a.png"), str(tmp_path / "b.jpg"), str(tmp_path / "missing.jpg")]
    assert actual == expected
    with pytest.raises(cli_modes.UsageError, match="matches no image file"):
        cli_modes.expand_contents([str(tmp_path / "*.webp")])


def test_batch_outputs_that_would_clash_are_refused(tmp_path):
    first, second = tmp_path / "a" / "photo.jpg", tmp_path / "b" / "photo.png"
    assert cli_modes.batch_output_path(tmp_path / "out", str(first), ["x/wave.jpg", "y/k.png"]) == (
        tmp_path / "out" / "photo_wave+k.jpg"
    )
    with pytest.raises(cli_modes.UsageError, match="would both be written to"):
        cli_modes.check_batch_outputs(tmp_path / "out", [str(first), str(second)], ["wave.jpg"])
    with pytest.raises(cli_modes.UsageError, match="looks like an image file"):
        cli_modes.check_batch_outputs(tmp_path / "out.jpg", [str(first)], ["wave.jpg"])


def test_repeat_refuses_a_changed_input_and_a_resumed_run(tmp_path, capsys):
    content = tmp_path / "content.png"
    content.write_bytes(b"the original bytes")
    manifest = {
        "parameters": {"content": str(content)},
        "inputs": {str(content): hashlib.sha256(b"the original bytes").hexdigest()},
    }
    path = tmp_path / "stats.json"
    path.write_text(json.dumps({**manifest, "resumed_from_iteration": 40}))
    code, _, error = run_cli(capsys, "--repeat", path)
    assert code == EXIT_BAD_INPUT and "resumed at iteration 40" in one_error_line(error)
    content.write_bytes(b"edited since")
    path.write_text(json.dumps(manifest))
    code, _, error = run_cli(capsys, "--repeat", path, "-o", tmp_path / "again.png")
    line = one_error_line(error)
    assert code == EXIT_BAD_INPUT and f"{content} has changed since the run" in line
    assert not (tmp_path / "again.png").exists()


def test_repeat_refuses_a_file_that_is_not_a_manifest(tmp_path, capsys):
    path = tmp_path / "stats.json"
    path.write_text("[1, 2]")
    code, _, error = run_cli(capsys, "--repeat", path)
    assert code == EXIT_BAD_INPUT and "give --repeat the file --stats wrote" in one_error_line(
        error
    )


# --- Runs ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_same_seed_gives_identical_bytes_and_repeat_gives_them_again(
    images, tmp_path, capsys, repo_root
):
    common = [images["content"], images["style"], "--size", WIDTH, "--iterations", 3]
    common += ["--init", "noise", "--seed", 11]
    outputs = [tmp_path / "first.png", tmp_path / "second.png"]
    stats = tmp_path / "first.json"
    assert run_cli(capsys, *common, "-o", outputs[0], "--stats", stats)[0] == 0
    assert run_cli(capsys, *common, "-o", outputs[1])[0] == 0
    assert outputs[0].read_bytes() == outputs[1].read_bytes()

    manifest = json.loads(stats.read_text())
    parameters = manifest["parameters"]
    for key, value in {"seed": 11, "size": WIDTH, "iterations": 3, "init": "noise",
                       "style_weight": 1e3, "tv_weight": 1e-3, "learning_rate": 0.02,
                       "style_scale": 1.0, "preserve_colors": "none", "optimizer": "lbfgs"}.items():  # fmt: skip
        assert parameters[key] == value, key
    expected_inputs = {
        str(images["content"]): sha256(images["content"]),
        str(images["style"]): sha256(images["style"]),
    }
    assert expected_inputs.items() <= manifest["inputs"].items()
    assert any(name.endswith(".npy") for name in manifest["inputs"])
    assert {"python", "tensorflow", "numpy", "scipy", "pillow"} <= set(manifest["versions"])

    # Repeated in a new process, from another directory: the same bytes once more.
    again = tmp_path / "again.png"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, str(repo_root / "style_transfer.py"), "--repeat", str(stats), "-o",
         str(again)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"repeating the run recorded in {stats}" in done.stdout
    assert again.read_bytes() == outputs[0].read_bytes()


@pytest.mark.slow
def test_sweep_writes_a_sheet_with_one_tile_per_combination(images, tmp_path, capsys):
    """Every tile holds its picture under its label: the README's sweep, at 32 px."""
    specs = ["style-weight=1e2,1e4", "content-layer=conv3_2,conv4_2"]
    sheet = tmp_path / "sheet.png"
    code, out, error = run_cli(
        capsys, images["content"], images["style"], "-o", sheet, "--size", WIDTH,
        "--iterations", 2, "--sweep", *specs,
    )  # fmt: skip
    assert code == 0, error
    assert "sweep: 4 of 4 combinations" in out
    picture = pixels(sheet)
    gap = 4
    # 32x28 px pictures are enlarged to tiles 144 px high, each under a strip with its label
    height = cli_modes.SHEET_MIN_TILE_HEIGHT
    width = round(WIDTH * height / HEIGHT)
    labels = [sweeps.label(combination) for combination in sweeps.parse_sweep(specs)]
    strips = [
        max(helper.caption(label, width, max(10, height // 24)).shape[0] for label in row)
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


@pytest.mark.slow
def test_batch_with_an_unreadable_file_still_writes_the_other_outputs(images, tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.open(images["content"]).save(photos / "one.png")
    Image.open(images["content"]).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(
        photos / "two.png"
    )
    (photos / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    out = tmp_path / "out"
    stats = tmp_path / "batch.json"
    code, stdout, error = run_cli(
        capsys, "--batch", photos / "*.png", "--style", images["style"], "-o", out,
        "--size", WIDTH, "--iterations", 2, "--stats", stats,
    )  # fmt: skip
    assert code == 1
    errors = error.strip().splitlines()
    assert len(errors) == 1 and str(photos / "broken.png") in errors[0]
    assert "the batch goes on" in errors[0]
    assert sorted(path.name for path in out.iterdir()) == ["one_style.jpg", "two_style.jpg"]
    for name in ("one_style.jpg", "two_style.jpg"):
        assert pixels(out / name).shape == (HEIGHT, WIDTH, 3)
    assert "batch: 2 of 3 images done" in stdout
    numbers = [line.split()[1] for line in stdout.splitlines() if line.startswith("iteration")]
    assert numbers[-1] == "6/6:"  # one count over the whole batch (the broken file skipped)
    runs = json.loads(stats.read_text())["runs"]
    assert [("error" in entry) for entry in runs] == [True, False, False]


@pytest.mark.slow
def test_preserve_colors_luminance_keeps_the_content_chrominance(images, tmp_path, capsys):
    content = pixels(images["content"])

    def chrominance_change(*options) -> float:
        output = tmp_path / f"out{len(options)}.png"
        arguments = [images["content"], images["style"], "-o", output, "--size", WIDTH]
        code, _, error = run_cli(capsys, *arguments, "--iterations", 3, *options)
        assert code == 0, error
        IQ = color.rgb_to_yiq(pixels(output))[..., 1:]
        return float(np.abs(IQ - color.rgb_to_yiq(content)[..., 1:]).mean())

    kept = chrominance_change("--preserve-colors", "luminance")
    plain = chrominance_change()
    assert kept < 0.01 and kept < plain / 5, (kept, plain)


@pytest.mark.slow
def test_coarse_to_fine_runs_each_scale_and_writes_the_last_size(images, tmp_path, capsys):
    output, stats = tmp_path / "out.png", tmp_path / "stats.json"
    code, out, error = run_cli(
        capsys, images["content"], images["style"], "-o", output, "--scales", "24,32",
        "--iterations", "2,1", "--stats", stats,
    )  # fmt: skip
    assert code == 0, error
    assert pixels(output).shape == (HEIGHT, WIDTH, 3)
    history = json.loads(stats.read_text())["history"]
    assert [(row["iteration"], row["size"]) for row in history] == [(1, 24), (2, 24), (3, 32)]
    assert "iteration 3/3" in out


@pytest.mark.slow
def test_blend_one_zero_paints_the_same_picture_as_the_first_style(images, tmp_path, capsys):
    common = [images["content"], "--size", WIDTH, "--iterations", 2]
    alone, blended = tmp_path / "alone.png", tmp_path / "blended.png"
    assert run_cli(capsys, *common, "--style", images["style"], "-o", alone)[0] == 0
    code, out, error = run_cli(
        capsys, *common, "--style", images["style"], images["other"], "--style-blend", "1,0",
        "-o", blended,
    )  # fmt: skip
    assert code == 0, error
    assert "style 32x28 + 32x28 px" in out
    np.testing.assert_array_equal(pixels(blended), pixels(alone))


def test_precision_bfloat16_runs_and_is_recorded(images, tmp_path, capsys):
    common = [images["content"], images["style"], "--size", WIDTH, "--iterations", 3]
    low, full, stats = tmp_path / "low.png", tmp_path / "full.png", tmp_path / "low.json"
    code, out, _ = run_cli(capsys, *common, "--precision", "bfloat16", "-o", low, "--stats", stats)
    assert code == 0 and "saved" in out
    assert run_cli(capsys, *common, "--precision", "float32", "-o", full)[0] == 0
    manifest = json.loads(stats.read_text())
    assert manifest["parameters"]["precision"] == "bfloat16"
    assert pixels(low).shape == pixels(full).shape
    assert not np.array_equal(pixels(low), pixels(full))  # the flag reached the network


def test_the_gif_has_the_frames_asked_for_evenly_spaced(images, tmp_path, capsys):
    for iterations, asked, frames in ((11, 4, 4), (3, 30, 3)):
        gif = tmp_path / f"run{iterations}.gif"
        code, _, error = run_cli(
            capsys, images["content"], images["style"], "-o", tmp_path / "out.png",
            "--size", WIDTH, "--iterations", iterations, "--gif", gif, "--gif-frames", asked,
        )  # fmt: skip
        assert code == 0, error
        with Image.open(gif) as animation:
            assert animation.n_frames == frames


def test_the_last_line_adds_up_the_weighted_terms(images, tmp_path, capsys):
    import re

    stats = tmp_path / "run.json"
    weights = {"content": 2.0, "style": 50.0, "tv": 0.5}
    code, out, error = run_cli(
        capsys, images["content"], images["style"], "-o", tmp_path / "out.png", "--size", WIDTH,
        "--iterations", 2, "--stats", stats, "--content-weight", weights["content"],
        "--style-weight", weights["style"], "--tv-weight", weights["tv"],
    )  # fmt: skip
    assert code == 0, error
    number = r"([0-9.e+-]+)"
    line = re.search(
        rf"loss {number} = content {number} \+ style {number} \+ tv {number}; loss terms before weighting: content {number}, style {number} = \(1/5\) x \(E_conv1_1 {number} \+ E_conv2_1 {number} \+ E_conv3_1 {number} \+ E_conv4_1 {number} \+ E_conv5_1 {number}\), tv {number}",
        out,
    )  # fmt: skip
    assert line, out
    total, *weighted_values, content, style, E1, E2, E3, E4, E5, tv = map(float, line.groups())
    assert (E1 + E2 + E3 + E4 + E5) / 5 == pytest.approx(style, rel=1e-3)  # the layers add up
    weighted = dict(zip(weights, weighted_values))
    unweighted = {"content": content, "style": style, "tv": tv}
    final = json.loads(stats.read_text())["final"]
    for name, weight in weights.items():
        assert unweighted[name] == pytest.approx(final[name], rel=1e-3)
        assert weighted[name] == pytest.approx(weight * final[name], rel=1e-3)
    assert total == pytest.approx(sum(weighted.values()), rel=1e-3)


def test_a_long_sweep_prints_no_tensorflow_warnings(images, tmp_path):
    """Each run builds its own loss; TensorFlow's retracing warning would come after five."""
    from conftest import REPO_ROOT

    command = [
        sys.executable, "style_transfer.py", images["content"], images["style"],
        "-o", tmp_path / "sheet.png", "--size", WIDTH, "--iterations", 2, "--precision", "mixed",
        "--sweep", "style-weight=1e2,1e3,1e4", "init=content,recolored",
    ]  # fmt: skip
    done = subprocess.run(
        [str(part) for part in command], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "WARNING" not in done.stderr and "retracing" not in done.stderr, done.stderr
