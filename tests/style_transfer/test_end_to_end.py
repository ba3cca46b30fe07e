"""Whole runs with the real weights at 64 px: the optimiser lowers the loss, the CLI writes files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

import helper
import tf_helper
import tf_run
from going_further.style_scale import match_style_scale
from loss_settings import STYLE_LAYERS
from optimisation import content_boost
from optimisation.settings import Settings
from optimisation.starts import initial_image
from style_transfer import cli
from tensorflow_vgg.quiet import FROZEN_WEIGHTS

SIZE = 64


@pytest.fixture(scope="module")
def pictures(content_path, style_path):
    """The content photo at 64 px and the painting at the same scale, as the CLI prepares them."""
    content = helper.resize_to_longest_side(helper.load_image(content_path, max_side=SIZE), SIZE)
    style = match_style_scale(helper.load_image(style_path), content)
    return content, style


@pytest.mark.slow
def test_lbfgs_from_noise_lowers_the_total_loss_tenfold(net, pictures):
    content, style = pictures
    x0 = initial_image("noise", content, [style], seed=0)
    seen = []
    result = tf_run.run_style_transfer(
        content, style, Settings(iterations=20, init="noise", seed=0), net=net,
        callback=lambda iteration, terms, image: seen.append((iteration, terms["total"])),
    )  # fmt: skip
    assert result.stopped_because == "finished"
    loss = tf_helper.StyleTransferLoss(net, content, style)
    before = loss.terms(x0)["total"]
    after = loss.terms(result.image)["total"]  # the returned image, evaluated afresh
    assert after <= before / 10, (before, after)
    assert result.terms["total"] == pytest.approx(after, rel=1e-3)
    assert [iteration for iteration, _ in seen] == list(range(1, 21))
    assert len(result.history) == 20
    # After the content boost's first iterations L-BFGS minimises the total itself.
    ramp = sum(count for factor, count in content_boost.factors(20) if factor > 1)
    totals = [entry["total"] for entry in result.history[ramp:]]
    assert all(later <= earlier * (1 + 1e-6) for earlier, later in zip(totals, totals[1:]))
    assert result.image.shape == content.shape and result.image.dtype == np.float32
    assert 0.0 <= result.image.min() and result.image.max() <= 1.0


@pytest.mark.slow
def test_same_seed_repeats_the_run(net, pictures):
    content, style = pictures
    runs = [
        tf_run.run_style_transfer(
            content, style, Settings(iterations=3, init="noise", seed=7), net=net
        )
        for _ in range(2)
    ]
    np.testing.assert_allclose(runs[0].image, runs[1].image, atol=1e-5)
    other = tf_run.run_style_transfer(
        content, style, Settings(iterations=1, init="noise", seed=8), net=net
    )
    assert np.abs(other.image - runs[0].image).mean() > 0.01


@pytest.mark.slow
def test_adam_lowers_the_loss_and_sends_frames(net, pictures):
    content, style = pictures
    frames = []
    settings = Settings(iterations=6, optimizer="adam", init="content", learning_rate=0.05)
    result = tf_run.run_style_transfer(
        content, style, settings, net=net, frame_every=3,
        callback=lambda iteration, terms, image: frames.append((iteration, image)),
    )  # fmt: skip
    history = [entry["total"] for entry in result.history]
    assert len(history) == 6 and history[-1] < history[0]
    assert [iteration for iteration, image in frames if image is not None] == [3, 6]
    assert all(image.shape == content.shape for _, image in frames if image is not None)


@pytest.mark.slow
@pytest.mark.parametrize("frozen_weights", [False, True], ids=["notebook", "command_line"])
def test_forty_runs_in_one_process_keep_its_memory_flat(
    repo_root, content_path, style_path, frozen_weights
):
    """A notebook makes about fifty runs in one kernel, and the command line a batch's or a
    video's in its own process, where oneDNN is told the weights are frozen: a run must not
    leave memory behind.

    In a fresh process, so that no other test's traces or garbage count; after two warm-up
    runs (the network, the first traces), 40 more may add at most 20 MiB of resident memory.
    With frozen weights the network's eager calls run in functions of its own: the 40 runs
    must trace none anew (a function traced per call, let go, was freed only by Python's rare
    full garbage collection, and memory crept by a few tenths of a MiB a run).
    """
    warm_up, runs = 2, 40
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(repo_root)!r})
        import helper, tf_run
        from going_further.style_scale import match_style_scale
        from optimisation.settings import Settings
        from tensorflow_vgg.vgg16_avg_pool import Vgg16
        traces = []  # the network's layers run by Python: each eager call, or a trace
        activations = Vgg16._activations
        def counted(self, *arguments):
            traces.append(None)
            return activations(self, *arguments)
        Vgg16._activations = counted
        photo = helper.load_image({str(content_path)!r}, max_side={SIZE})
        content = helper.resize_to_longest_side(photo, {SIZE})
        style = match_style_scale(helper.load_image({str(style_path)!r}), content)
        for _ in range({warm_up + runs}):
            tf_run.run_style_transfer(content, style, Settings(iterations=5, seed=0))
            status = open("/proc/self/status").read()
            print(int(status.split("VmRSS:")[1].split()[0]) / 1024, len(traces), flush=True)
        """
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    for name in FROZEN_WEIGHTS:
        env.pop(name, None)
    if frozen_weights:
        env.update(FROZEN_WEIGHTS)
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line.split() for line in done.stdout.splitlines()]
    resident_mib, traces = [float(row[0]) for row in rows], [int(row[1]) for row in rows]
    assert len(resident_mib) == warm_up + runs
    growth = resident_mib[-1] - resident_mib[warm_up - 1]
    assert growth <= 20, f"{growth:.0f} MiB more after {runs} runs; per run: {resident_mib}"
    if frozen_weights:
        assert traces[0] > 0 and traces[-1] == traces[warm_up - 1], traces
    else:
        assert traces[-1] > traces[warm_up - 1], traces  # eager calls: the counting works


@pytest.mark.slow
def test_command_line_writes_image_gif_and_stats(repo_root, content_path, style_path, tmp_path):
    output, gif, stats = tmp_path / "out.png", tmp_path / "run.gif", tmp_path / "stats.json"
    iterations = 8
    command = [
        sys.executable, "-m", "style_transfer", str(content_path), str(style_path),
        "-o", str(output), "--size", str(SIZE), "--iterations", str(iterations),
        "--init", "noise", "--seed", "3", "--gif", str(gif), "--stats", str(stats),
    ]  # fmt: skip
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        command, cwd=repo_root, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "loss terms" in done.stdout

    with Image.open(content_path) as original:
        width, height = original.size
    with Image.open(output) as picture:
        picture.load()
        assert picture.format == "PNG" and picture.mode == "RGB"
        assert max(picture.size) == SIZE
        scale = SIZE / max(width, height)
        assert picture.size == (round(width * scale), round(height * scale))
        assert np.asarray(picture).std() > 5  # a picture, not a flat grey

    with Image.open(gif) as animation:
        assert animation.format == "GIF" and animation.n_frames > 1

    manifest = json.loads(stats.read_text())
    parameters = manifest["parameters"]
    assert parameters["size"] == SIZE and parameters["iterations"] == iterations
    assert parameters["init"] == "noise" and parameters["seed"] == 3
    assert {"content_weight", "style_weight", "tv_weight", "optimizer"} <= set(parameters)
    assert {"python", "tensorflow", "numpy", "scipy", "pillow"} <= set(manifest["versions"])
    history = manifest["history"]
    assert [entry["iteration"] for entry in history] == list(range(1, iterations + 1))
    for entry in history:
        assert {"seconds", "total", "content", "style", "tv"} <= set(entry)
        assert {f"style_{name}" for name in STYLE_LAYERS} <= set(entry)
    seconds = [entry["seconds"] for entry in history]
    assert seconds == sorted(seconds)
    assert history[-1]["total"] < history[0]["total"]


@pytest.mark.parametrize("which", ["content", "style"])
def test_command_line_reports_a_missing_image_in_one_line(tmp_path, content_path, which, capsys):
    missing = tmp_path / "missing.jpg"
    paths = {"content": str(content_path), "style": str(content_path), which: str(missing)}
    code = cli.main(
        [paths["content"], paths["style"], "-o", str(tmp_path / "out.png"), "--size", "32"]
    )
    assert code == 2
    error = capsys.readouterr().err
    assert error.startswith("error:") and str(missing) in error
    assert not (tmp_path / "out.png").exists()


def test_command_line_reports_bad_weights_in_one_line(tmp_path, content_path, style_path, capsys):
    weights = tmp_path / "vgg16.npy"
    weights.write_bytes(b"\x93NUMPY")
    arguments = [str(content_path), str(style_path), "-o", str(tmp_path / "out.png")]
    code = cli.main([*arguments, "--size", "32", "--weights", str(weights)])
    assert code == 2
    error = capsys.readouterr().err
    assert str(weights) in error and "python -m tensorflow_vgg.weights" in error
