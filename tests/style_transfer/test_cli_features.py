"""The command line's options beyond the paper: several styles and their blend, style scale,
coarse-to-fine, colour preservation, precision, the GIF and the loss line.

Runs use 32x28 px images with the real weights and two or three iterations; the fast tests
check how options are read and refused without running the network.
"""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest
from conftest import SMALL_HEIGHT as HEIGHT
from conftest import SMALL_WIDTH as WIDTH
from conftest import one_error_line, pixels, run_cli
from PIL import Image

from going_further import color
from optimisation import content_boost
from style_transfer import cli, preflight, reading
from style_transfer.request import Request

EXIT_BAD_INPUT = 2


# --- Options read and refused, without running the network ----------------------------------


def parse(*arguments) -> Request:
    args, _ = reading.parse_arguments([str(argument) for argument in arguments])
    return args


def test_scales_set_the_output_size_and_one_count_serves_every_scale(small_files, tmp_path):
    args = parse(
        small_files["content"], small_files["style"], "-o", tmp_path / "o.png", "--scales", "24,32"
    )
    assert (args.size, args.scales, args.iterations) == (32, [24, 32], 300)
    assert args.counts == [300, 300]
    args = parse(
        small_files["content"], small_files["style"], "-o", tmp_path / "o.png", "--iterations", "7"
    )
    assert (args.size, args.scales, args.counts) == (512, None, [7])


def test_positional_style_and_style_list_become_one_list(small_files, tmp_path):
    single = parse(small_files["content"], small_files["style"], "-o", tmp_path / "o.png")
    several = parse(
        small_files["content"],
        "--style",
        small_files["style"],
        small_files["other"],
        "-o",
        tmp_path / "o.png",
    )
    assert single.styles == [str(small_files["style"])]
    assert several.styles == [str(small_files["style"]), str(small_files["other"])]


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (["--style", "{style}", "{other}", "--style-blend", "0.7"], ["1 weight(s) for 2 style"]),
        (["{style}", "--style", "{other}"], ["as STYLE", "or with --style, not both"]),
        (["{style}", "--scales", "24,32", "--size", "48"], ["--size 48 differs", "24,32"]),
        (["{style}", "--scales", "24,32", "--iterations", "1,2,3"], ["3 counts for 2 scale"]),
        (["{style}", "--sweep", "size=32", "--checkpoint-minutes", "2"], ["--checkpoint-minutes"]),
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
        (
            ["{style}", "--style-layers", "conv1_1,conv1_1,conv5_1"],
            ["--style-layers: conv1_1 is named twice; give each layer once"],
        ),
        (
            ["{style}", "--style-layer-weights", "conv4_2=1"],
            ["--style-layer-weights names conv4_2, not among --style-layers conv1_1,"],
        ),
    ],
)
def test_options_that_do_not_fit_together_get_one_line(
    small_files, tmp_path, capsys, arguments, words
):
    values = {"style": small_files["style"], "other": small_files["other"], "tmp": tmp_path}
    filled = [argument.format(**values) for argument in arguments]
    code, _, error = run_cli(capsys, small_files["content"], *filled, "-o", tmp_path / "o.png")
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
        ("--style-layer-weights", "conv1_1=1,conv1_1=2", ["conv1_1 is given twice"]),
        ("--style-layer-weights", "conv1_1", ["'conv1_1' is not LAYER=WEIGHT"]),
        ("--style-layer-weights", "conv1_1=-1", ["'-1' cannot be used", "weight of conv1_1"]),
    ],
)
def test_values_that_cannot_be_used_get_one_line(small_files, tmp_path, capsys, flag, value, words):
    with pytest.raises(SystemExit) as stopped:
        cli.main(
            [
                str(small_files["content"]),
                str(small_files["style"]),
                "-o",
                str(tmp_path / "o.png"),
                flag,
                value,
            ]
        )
    assert stopped.value.code == EXIT_BAD_INPUT
    line = one_error_line(capsys.readouterr().err)
    assert flag in line and all(word in line for word in words), line


def test_style_scale_sizes_the_style_to_the_content_area_times_its_square(small_files, tmp_path):
    for scale in (0.75, 1.0, 2.0):
        args = parse(
            small_files["content"], small_files["style"], "-o", tmp_path / "o.png", "--size", 64
        )
        images = preflight.load_images(
            dataclasses.replace(args, style_scale=scale), minimum=16, deepest="conv5_1"
        )
        content, style = images.content, images.style
        expected_area = content.shape[0] * content.shape[1] * scale**2
        assert style.shape[0] * style.shape[1] == pytest.approx(expected_area, rel=0.06)
        assert style.shape[1] / style.shape[0] == pytest.approx(WIDTH / HEIGHT, rel=0.06)


def test_too_small_a_style_scale_names_the_fix(small_files, tmp_path, capsys):
    code, _, error = run_cli(
        capsys, small_files["content"], small_files["style"], "-o", tmp_path / "o.png",
        "--size", 32, "--style-scale", "0.25",
    )  # fmt: skip
    assert code == EXIT_BAD_INPUT
    line = one_error_line(error)
    assert "16 px" in line
    suggested = re.search(r"use --style-scale ([0-9.]+)", line).group(1)
    code, _, error = run_cli(
        capsys, small_files["content"], small_files["style"], "-o", tmp_path / "o.png",
        "--size", 32, "--style-scale", suggested, "--iterations", 1,
    )  # fmt: skip
    assert code == 0, error  # the scale the refusal names works


def test_an_elongated_painting_is_told_with_the_style_scale_that_keeps_its_strokes(
    small_files, tmp_path, capsys
):
    strip = tmp_path / "strip.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (100, 2000, 3), np.uint8)).save(strip)
    code, out, error = run_cli(
        capsys, small_files["content"], strip, "-o", tmp_path / "o.png", "--size", 96,
        "--iterations", 1,
    )  # fmt: skip
    assert code == 0, error
    scale = re.search(r"too thin to keep its strokes: --style-scale ([0-9.]+) keeps", out)
    assert scale, out.splitlines()[0]
    code, out, error = run_cli(
        capsys, small_files["content"], strip, "-o", tmp_path / "scaled.png", "--size", 96,
        "--iterations", 1, "--style-scale", scale.group(1),
    )  # fmt: skip
    assert code == 0 and "too thin" not in out.splitlines()[0], error


# --- Runs ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_preserve_colors_luminance_keeps_the_content_chrominance(small_files, tmp_path, capsys):
    content = pixels(small_files["content"])

    def chrominance_change(*options) -> float:
        output = tmp_path / f"out{len(options)}.png"
        arguments = [small_files["content"], small_files["style"], "-o", output, "--size", WIDTH]
        code, _, error = run_cli(capsys, *arguments, "--iterations", 3, *options)
        assert code == 0, error
        IQ = color.rgb_to_yiq(pixels(output))[..., 1:]
        return float(np.abs(IQ - color.rgb_to_yiq(content)[..., 1:]).mean())

    kept = chrominance_change("--preserve-colors", "luminance")
    plain = chrominance_change()
    assert kept < 0.01 and kept < plain / 5, (kept, plain)


@pytest.mark.slow
def test_coarse_to_fine_runs_each_scale_and_writes_the_last_size(small_files, tmp_path, capsys):
    output, stats = tmp_path / "out.png", tmp_path / "stats.json"
    code, out, error = run_cli(
        capsys, small_files["content"], small_files["style"], "-o", output, "--scales", "24,32",
        "--iterations", "2,1", "--stats", stats,
    )  # fmt: skip
    assert code == 0, error
    assert pixels(output).shape == (HEIGHT, WIDTH, 3)
    history = json.loads(stats.read_text())["history"]
    assert [(row["iteration"], row["size"]) for row in history] == [(1, 24), (2, 24), (3, 32)]
    assert "iteration 3/3" in out


@pytest.mark.slow
def test_blend_one_zero_paints_the_same_picture_as_the_first_style(small_files, tmp_path, capsys):
    common = [small_files["content"], "--size", WIDTH, "--iterations", 2]
    alone, blended = tmp_path / "alone.png", tmp_path / "blended.png"
    assert run_cli(capsys, *common, "--style", small_files["style"], "-o", alone)[0] == 0
    code, out, error = run_cli(
        capsys, *common, "--style", small_files["style"], small_files["other"],
        "--style-blend", "1,0", "-o", blended,
    )  # fmt: skip
    assert code == 0, error
    assert "style 32x28 px + 32x28 px" in out
    np.testing.assert_array_equal(pixels(blended), pixels(alone))


def test_precision_bfloat16_runs_and_is_recorded(small_files, tmp_path, capsys):
    common = [small_files["content"], small_files["style"], "--size", WIDTH, "--iterations", 3]
    low, full, stats = tmp_path / "low.png", tmp_path / "full.png", tmp_path / "low.json"
    code, out, _ = run_cli(capsys, *common, "--precision", "bfloat16", "-o", low, "--stats", stats)
    assert code == 0 and "saved" in out
    assert run_cli(capsys, *common, "--precision", "float32", "-o", full)[0] == 0
    manifest = json.loads(stats.read_text())
    assert manifest["parameters"]["precision"] == "bfloat16"
    assert pixels(low).shape == pixels(full).shape
    assert not np.array_equal(pixels(low), pixels(full))  # the flag reached the network


def _with_and_without(capsys, tmp_path, common: list, flag: str) -> dict[str, dict]:
    """Run the command line with `common` arguments, without and with `flag`, check each run's
    --stats manifest recorded the flag, and return {"default": totals, "flag": totals}, the
    total loss after each iteration."""
    runs = {}
    for name, flags in (("default", []), ("flag", [flag])):
        picture, stats = tmp_path / f"{name}.png", tmp_path / f"{name}.json"
        code, out, error = run_cli(capsys, *common, *flags, "-o", picture, "--stats", stats)
        assert code == 0 and "saved" in out, error
        runs[name] = json.loads(stats.read_text())
    recorded = flag.removeprefix("--").replace("-", "_")
    assert runs["flag"]["parameters"][recorded] is True
    assert runs["default"]["parameters"][recorded] is False
    return {name: [row["total"] for row in run["history"]] for name, run in runs.items()}


def test_no_content_boost_is_recorded_and_minimises_equation_7_from_the_first_step(
    small_files, tmp_path, capsys
):
    common = [small_files["content"], small_files["style"], "--size", WIDTH]
    common += ["--iterations", content_boost.MIN_ITERATIONS, "--precision", "float32"]
    totals = _with_and_without(capsys, tmp_path, common, "--no-content-boost")
    assert totals["flag"][0] != totals["default"][0]  # the flag reached the optimiser
    # L-BFGS takes a step only if it lowers the loss it is given: unboosted, that is the total.
    assert all(b <= a for a, b in zip(totals["flag"], totals["flag"][1:]))


def test_no_preconditioner_is_recorded_and_changes_the_steps_not_the_loss(
    small_files, tmp_path, capsys
):
    common = [small_files["content"], small_files["style"], "--size", 128, "--iterations", 12]
    common += ["--precision", "float32"]
    totals = _with_and_without(capsys, tmp_path, common, "--no-preconditioner")
    # The same start and loss; L-BFGS's first step is steepest descent either way, and from
    # the second on the fitted preconditioner changes the directions.
    assert totals["flag"][0] == totals["default"][0]
    assert totals["flag"] != totals["default"]
    for run in totals.values():
        assert all(b <= a for a, b in zip(run, run[1:]))


def test_convolution_winograd_runs_is_recorded_and_paints_the_direct_picture(
    small_files, tmp_path, capsys
):
    common = [small_files["content"], small_files["style"], "--size", WIDTH, "--iterations", 3]
    common += ["--precision", "float32", "--style-layers", "conv3_1,conv4_1"]
    runs = {}
    for convolution in ("winograd", "direct"):
        picture, stats = tmp_path / f"{convolution}.png", tmp_path / f"{convolution}.json"
        code, out, error = run_cli(
            capsys, *common, "--convolution", convolution, "-o", picture, "--stats", stats
        )
        assert code == 0 and "saved" in out, error
        runs[convolution] = json.loads(stats.read_text())
    assert runs["winograd"]["parameters"]["convolution"] == "winograd"
    first = [runs[name]["history"][0]["total"] for name in ("winograd", "direct")]
    assert first[0] != first[1]  # the flag reached the network: other roundings ...
    assert first[0] == pytest.approx(first[1], rel=1e-5)  # ... of the same loss
    # The same picture to within a level or two of 255 after three iterations.
    fast, direct = tmp_path / "winograd.png", tmp_path / "direct.png"
    difference = np.abs(pixels(fast).astype(int) - pixels(direct).astype(int))
    assert difference.max() <= 2, difference.max()


def test_the_gif_has_the_frames_asked_for_evenly_spaced(small_files, tmp_path, capsys):
    for iterations, asked, frames in ((11, 4, 4), (3, 30, 3)):
        gif = tmp_path / f"run{iterations}.gif"
        code, _, error = run_cli(
            capsys, small_files["content"], small_files["style"], "-o", gif.with_suffix(".png"),
            "--size", WIDTH, "--iterations", iterations, "--gif", gif, "--gif-frames", asked,
        )  # fmt: skip
        assert code == 0, error
        with Image.open(gif) as animation:
            assert animation.n_frames == frames


def test_the_last_line_adds_up_the_weighted_terms(small_files, tmp_path, capsys):
    import re

    stats = tmp_path / "run.json"
    weights = {"content": 2.0, "style": 50.0, "tv": 0.5}
    code, out, error = run_cli(
        capsys, small_files["content"], small_files["style"], "-o", tmp_path / "out.png",
        "--size", WIDTH, "--iterations", 2, "--stats", stats,
        "--content-weight", weights["content"], "--style-weight", weights["style"],
        "--tv-weight", weights["tv"],
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


def test_style_layer_weights_weigh_the_style_loss_and_are_recorded(small_files, tmp_path, capsys):
    import re

    stats = tmp_path / "run.json"
    code, out, error = run_cli(
        capsys, small_files["content"], small_files["style"], "-o", tmp_path / "out.png",
        "--size", WIDTH, "--iterations", 1, "--stats", stats,
        "--style-layer-weights", "conv1_1=0.5,conv5_1=0",
    )  # fmt: skip
    assert code == 0, error
    manifest = json.loads(stats.read_text())
    assert manifest["parameters"]["style_layer_weights"] == {"conv1_1": 0.5, "conv5_1": 0.0}
    w_l = {"conv1_1": 0.5, "conv2_1": 0.2, "conv3_1": 0.2, "conv4_1": 0.2, "conv5_1": 0.0}
    final = manifest["final"]
    expected = sum(w * final[f"style_{name}"] for name, w in w_l.items())
    assert final["style"] == pytest.approx(expected, rel=1e-5)
    assert re.search(r"style [0-9.e+-]+ = 0\.5 E_conv1_1 [0-9.e+-]+ \+ 0\.2 E_conv2_1", out), out


def test_bfloat16_where_onednn_has_none_is_one_line_naming_the_fixes(
    small_files, tmp_path, capsys, monkeypatch
):
    """oneDNN limited below AVX-512 on an AVX-512 CPU, where TensorFlow hands it bfloat16."""
    from tensorflow_vgg import vgg16_avg_pool

    every_avx512 = {"avx2", "avx512f", "avx512bw", "avx512vl", "avx512dq"}
    monkeypatch.setattr(vgg16_avg_pool, "cpu_flags", lambda: every_avx512)
    monkeypatch.setattr(vgg16_avg_pool, "tensorflow_bfloat16_cpu", lambda: True)
    monkeypatch.setattr(vgg16_avg_pool, "onednn_isa_limit", lambda: "AVX2")
    monkeypatch.setattr(vgg16_avg_pool, "tensorflow_kernels", lambda: "oneDNN")
    output = tmp_path / "o.png"
    arguments = ("--iterations", "2", "--precision", "bfloat16", "-o", output)
    code, _, error = run_cli(capsys, small_files["content"], small_files["style"], *arguments)
    assert code == EXIT_BAD_INPUT
    line = one_error_line(error)
    assert "bfloat16 needs oneDNN's bfloat16 convolutions" in line and "ISA limit AVX2" in line
    assert "--precision float32" in line
    assert "TF_ENABLE_ONEDNN_OPTS=0" in line
    assert not output.exists()
