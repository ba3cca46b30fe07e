"""--repeat: a run made again from its --stats manifest, byte for byte, or refused with the
reason."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest
from conftest import SMALL_WIDTH as WIDTH
from conftest import one_error_line, run_cli

from style_transfer import repeat

EXIT_BAD_INPUT = 2


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


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


@pytest.mark.slow
def test_same_seed_gives_identical_bytes_and_repeat_gives_them_again(
    small_files, tmp_path, capsys, repo_root
):
    common = [small_files["content"], small_files["style"], "--size", WIDTH, "--iterations", 3]
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
        str(small_files["content"]): sha256(small_files["content"]),
        str(small_files["style"]): sha256(small_files["style"]),
    }
    assert expected_inputs.items() <= manifest["inputs"].items()
    assert any(name.endswith(".npy") for name in manifest["inputs"])
    assert {"python", "tensorflow", "numpy", "scipy", "pillow"} <= set(manifest["versions"])
    from tensorflow_vgg.quiet import tensorflow_kernels

    assert manifest["versions"]["tensorflow kernels"] == tensorflow_kernels()  # oneDNN's or Eigen's

    # Repeated in a new process, from another directory: the same bytes once more.
    again = tmp_path / "again.png"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(repo_root)}
    done = subprocess.run(
        [sys.executable, "-m", "style_transfer", "--repeat", str(stats), "-o", str(again)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"repeating the run recorded in {stats}" in done.stdout
    assert again.read_bytes() == outputs[0].read_bytes()


def test_a_manifest_from_before_precision_border_boost_and_preconditioner_repeats_as_it_ran():
    known = ["size", "precision", "border", "no_content_boost", "no_preconditioner"]
    old = repeat.repeat_defaults({"parameters": {"size": 32}}, known)
    assert old == {
        "size": 32, "precision": "float32", "border": "zero", "no_content_boost": True,
        "no_preconditioner": True,
    }  # fmt: skip
    recorded = {
        "size": 32, "precision": "mixed", "border": "mirror", "no_content_boost": False,
        "no_preconditioner": False,
    }  # fmt: skip
    assert repeat.repeat_defaults({"parameters": recorded}, known) == recorded
