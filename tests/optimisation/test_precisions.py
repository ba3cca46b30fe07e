"""Precision schedules: reading the CPU's flags, "auto", and mixed runs that switch from
bfloat16 to float32 part-way with the optimiser's memory intact."""

from __future__ import annotations

import json

import numpy as np
import pytest

import tf_helper
import tf_run
from loss_settings import SettingsError
from optimisation import precisions
from optimisation.settings import INITS, Settings
from optimisation.starts import initial_image
from style_transfer import cli


@pytest.fixture
def cpuinfo(tmp_path):
    """Write a /proc/cpuinfo look-alike with the given flags; return its path."""

    def write(flags: str):
        path = tmp_path / "cpuinfo"
        path.write_text(f"processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: {flags}\n\n")
        return path

    return write


@pytest.mark.parametrize(
    ("flags", "native"),
    [
        ("fpu sse2 avx2 fma avx512f avx512_vnni avx512_bf16", True),
        ("fpu sse2 avx2 fma amx_tile amx_bf16", True),
        ("fpu sse2 avx2 fma avx512f avx512_vnni", False),
        ("fpu avx512_bf16x", False),  # a whole flag, not a prefix
    ],
)
def test_native_bfloat16_is_read_from_the_cpu_flags(cpuinfo, flags, native, monkeypatch):
    for name in ("TF_ENABLE_ONEDNN_OPTS", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"):
        monkeypatch.delenv(name, raising=False)  # TensorFlow's own choice of kernels, no limit
    path = cpuinfo(flags)
    assert precisions.cpu_has_native_bfloat16(path) is native
    assert precisions.resolve("auto", path) == ("mixed" if native else "float32")
    # an explicit choice is kept whatever the CPU
    for choice in ("float32", "bfloat16", "mixed"):
        assert precisions.resolve(choice, path) == choice


def test_cpu_flags_are_the_first_flags_line_as_whole_words(cpuinfo, tmp_path):
    path = cpuinfo("fpu avx2 amx_bf16")
    path.write_text(path.read_text() + "processor\t: 1\nflags\t\t: fpu sse2\n\n")
    assert precisions.cpu_flags(path) == {"fpu", "avx2", "amx_bf16"}
    assert precisions.cpu_flags(tmp_path / "absent") == set()


def test_onednn_limited_below_avx512_has_no_bfloat16(cpuinfo, monkeypatch):
    path = cpuinfo("fpu avx2 avx512f avx512_bf16 amx_bf16")
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "avx2")
    assert precisions.resolve("auto", path) == "float32"
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_AMX")
    assert precisions.resolve("auto", path) == "mixed"


def test_onednn_turned_off_has_no_native_bfloat16(cpuinfo, monkeypatch):
    path = cpuinfo("fpu avx2 avx512f avx512_bf16 amx_bf16")
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")  # Eigen's kernels: bfloat16 emulated
    assert precisions.resolve("auto", path) == "float32"
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "1")
    assert precisions.resolve("auto", path) == "mixed"


def test_no_cpuinfo_means_no_bfloat16(tmp_path):
    assert precisions.cpu_has_native_bfloat16(tmp_path / "absent") is False
    assert precisions.resolve("auto", tmp_path / "absent") == "float32"


def test_unknown_or_unresolved_precision_is_refused():
    with pytest.raises(precisions.PrecisionError, match="'fp8'; choose one of auto, float32"):
        precisions.resolve("fp8")
    with pytest.raises(precisions.PrecisionError, match='resolve "auto"'):
        precisions.phases("auto", 10)


@pytest.mark.parametrize("iterations", [1, 2, 3, 4, 5, 10, 99, 200, 300, 1000])
def test_a_mixed_run_ends_with_a_third_in_float32(iterations):
    schedule = precisions.phases("mixed", iterations)
    counts = dict(schedule)
    assert sum(counts.values()) == iterations
    assert schedule[-1][0] == "float32"
    assert abs(counts["float32"] - max(1, iterations / 3)) <= 0.5  # at least one
    if iterations > 1:
        assert schedule[0] == ("bfloat16", iterations - counts["float32"])
    for single in ("float32", "bfloat16"):
        assert precisions.phases(single, iterations) == [(single, iterations)]


@pytest.mark.parametrize("iterations", [1, 2, 3, 7, 10, 300])
def test_a_resumed_run_keeps_the_split_of_the_whole_run(iterations):
    for precision in ("mixed", "float32", "bfloat16"):
        per_iteration = [
            name for name, count in precisions.phases(precision, iterations) for _ in range(count)
        ]
        for done in range(iterations):
            rest = precisions.phases(precision, iterations, done)
            assert [name for name, count in rest for _ in range(count)] == per_iteration[done:]
            assert all(count > 0 for _, count in rest)
        with pytest.raises(precisions.PrecisionError, match=f"{iterations} of {iterations} "):
            precisions.phases(precision, iterations, iterations)


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_mixed_run_switches_to_float32_for_its_last_third(
    net, small_photo, small_painting, optimizer
):
    content, style = small_photo(40, 40), small_painting(40, 56)
    seen = []
    settings = Settings(iterations=9, precision="mixed", optimizer=optimizer, learning_rate=0.05)
    result = tf_run.run_style_transfer(
        content, style, settings, net=net,
        callback=lambda i, terms, image: seen.append((terms, image)), frame_every=1,
    )  # fmt: skip
    exact = tf_helper.StyleTransferLoss(net, content, style)
    assert len(seen) == 9
    # The terms a callback gets are those of the image it gets for L-BFGS (Adam reports the
    # image before its step), so compare the float32 loss of L-BFGS's images only.
    if optimizer == "lbfgs":
        for iteration, (terms, image) in enumerate(seen, start=1):
            relative = abs(terms["total"] / exact.terms(image)["total"] - 1)
            if iteration <= 6:
                assert relative > 1e-6, iteration  # bfloat16
            else:
                assert relative < 1e-5, iteration  # float32
    assert result.terms == pytest.approx(exact.terms(result.image), rel=1e-6)
    assert result.terms["total"] < seen[0][0]["total"]


@pytest.mark.parametrize("done, bfloat16_calls", [(3, 3), (7, 0)])
def test_a_resumed_mixed_run_goes_on_with_the_whole_runs_schedule(
    net, small_photo, small_painting, done, bfloat16_calls
):
    """Of a 9-iteration mixed run, iterations 1-6 are bfloat16 and 7-9 float32, resumed or not."""
    content, style = small_photo(40, 40), small_painting(40, 56)
    start = initial_image("recolored", content, [style], 0)
    seen = []
    tf_run.run_style_transfer(
        content, style, Settings(iterations=9, precision="mixed"), net=net, iterations_done=done,
        initial=start, callback=lambda i, terms, image: seen.append((terms, image)),
        frame_every=1,
    )  # fmt: skip
    exact = tf_helper.StyleTransferLoss(net, content, style)
    relative = [abs(terms["total"] / exact.terms(image)["total"] - 1) for terms, image in seen]
    assert len(seen) == 9 - done
    assert all(r > 1e-6 for r in relative[:bfloat16_calls]), relative
    assert all(r < 1e-5 for r in relative[bfloat16_calls:]), relative


def test_iterations_done_must_leave_some_to_run(net, small_photo, small_painting):
    content, style = small_photo(32, 32), small_painting(32, 32)
    for done in (5, -1, 2.5):
        with pytest.raises(SettingsError, match=f"from 0 to 4, not {done}"):
            tf_run.run_style_transfer(
                content, style, Settings(iterations=5), net=net, iterations_done=done
            )


def test_auto_precision_follows_the_cpu_and_is_recorded(
    tmp_path, capsys, monkeypatch, cpuinfo, small_photo, small_painting
):
    from PIL import Image

    content, style = tmp_path / "c.png", tmp_path / "s.png"
    Image.fromarray((small_photo(32, 32) * 255).astype(np.uint8)).save(content)
    Image.fromarray((small_painting(32, 40) * 255).astype(np.uint8)).save(style)
    recorded = {}
    for name, flags in (("with", "avx2 avx512_bf16"), ("without", "avx2 fma")):
        monkeypatch.setattr(precisions, "CPUINFO", cpuinfo(flags))
        stats = tmp_path / f"{name}.json"
        arguments = [content, style, "-o", tmp_path / f"{name}.png", "--size", 32]
        code = cli.main([str(a) for a in [*arguments, "--iterations", 3, "--stats", stats]])  # fmt: skip
        out, err = capsys.readouterr()
        assert code == 0, err
        recorded[name] = json.loads(stats.read_text())["parameters"]["precision"]
        assert f"px, precision {recorded[name]}" in out  # the run says which it uses
    assert recorded == {"with": "mixed", "without": "float32"}


def test_the_command_line_offers_every_precision(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--precision {" + ",".join(precisions.PRECISIONS) + "}" in help_text
    # the engine takes every precision the command line offers
    assert [Settings(precision=name).precision for name in precisions.PRECISIONS] == list(
        precisions.PRECISIONS
    )
    # --init's choices are written out so that --help needs no TensorFlow; they must not drift
    assert "--init {" + ",".join(INITS) + "}" in help_text
