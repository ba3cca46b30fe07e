"""quiet_start: TensorFlow loads without its start-up lines and, on x86, with oneDNN's kernels
(which it turns on by itself only on CPUs with AVX512_VNNI, AVX512_BF16, AVX_VNNI or AMX);
a choice already in the environment is kept."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SWITCH = "TF_ENABLE_ONEDNN_OPTS"
# In a fresh process, as the notebook's first cell and the command line start TensorFlow.
PROBE = f"""
import os
from tensorflow_vgg.quiet import quiet_start
with quiet_start():
    import tensorflow
from tensorflow.python.util import _pywrap_util_port
print(os.environ.get("{SWITCH}"), _pywrap_util_port.IsMklEnabled())
"""


def start_tensorflow(**environment: str) -> subprocess.CompletedProcess:
    """Return the probe's finished process, run with os.environ less TensorFlow's start-up
    settings (quiet_start's to make), plus `environment`."""
    unset = (SWITCH, "TF_CPP_MIN_LOG_LEVEL")
    env = {name: value for name, value in os.environ.items() if name not in unset}
    env.update(environment, PYTHONPATH=str(REPO_ROOT))
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.machine().lower() not in ("x86_64", "amd64"),
    reason="set on Linux x86 only",
)
def test_tensorflow_starts_quietly_with_onednn_kernels():
    done = start_tensorflow()
    assert done.stdout.split() == ["1", "True"]
    assert done.stderr == ""  # not even "oneDNN custom operations are on", which it logs


def test_a_choice_already_in_the_environment_is_kept():
    done = start_tensorflow(**{SWITCH: "0"})
    assert done.stdout.split() == ["0", "False"]


def clear_settings(monkeypatch) -> None:
    """Unset quiet's settings and record, each restored after the test even where it was unset
    before (monkeypatch.delenv of an unset name would not restore what the test then sets)."""
    from tensorflow_vgg import quiet

    for name in (*quiet.SETTINGS, quiet.DEFAULTED):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


def test_set_environments_defaults_are_told_from_the_users_choices_here_and_in_a_child(
    monkeypatch,
):
    from tensorflow_vgg import quiet

    assert set(quiet.ENVIRONMENT) <= set(quiet.SETTINGS)
    clear_settings(monkeypatch)
    monkeypatch.setenv(SWITCH, "0")  # the user's, before
    quiet.set_environment()
    quiet.set_environment()  # twice changes nothing
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "2"
    assert quiet.chosen_environment() == {SWITCH: "0"}
    child = subprocess.run(
        [sys.executable, "-c", CHILD], env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert child.returncode == 0, child.stderr
    assert child.stdout.split() == [SWITCH]  # the parent's default is no choice of the child's
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "1")  # changed since: a choice
    assert quiet.chosen_environment() == {SWITCH: "0", "TF_CPP_MIN_LOG_LEVEL": "1"}


def test_only_a_process_that_runs_the_network_alone_assumes_frozen_weights(monkeypatch):
    from tensorflow_vgg import quiet

    (name,) = quiet.FROZEN_WEIGHTS
    clear_settings(monkeypatch)
    quiet.set_environment()  # the notebook's kernel, where a learner may train a network
    assert name not in os.environ and not quiet.weights_frozen()
    quiet.set_engine_environment()  # the command line's own process, the benchmarks
    assert os.environ[name] == "1" and quiet.weights_frozen()
    assert quiet.defaults_set()[name] == "1" and name not in quiet.chosen_environment()
    monkeypatch.setenv(name, "0")  # the user's choice wins, and is sent on
    quiet.set_engine_environment()
    assert not quiet.weights_frozen() and quiet.chosen_environment()[name] == "0"


def test_the_tests_own_process_does_not_assume_frozen_weights():
    """Tests convolve with kernels of their own: a module imported as the tests are collected
    (a benchmark script's start-up, say) must not have set the switch for this process."""
    from tensorflow_vgg import quiet

    assert not quiet.weights_frozen()


@pytest.mark.parametrize(("size", "frozen"), [(512, True), (4096, False)])
def test_the_command_line_tells_frozen_weights_unless_its_picture_could_tile(
    monkeypatch, content_path, style_path, tmp_path, size, frozen
):
    """In the command line's own process a 512 px run tells oneDNN the weights are frozen; a
    4096 px one, whose finer scales run in tiles where each tile's functions would keep their
    own kernels, does not, and takes back a default inherited from its parent. Called from
    Python (a notebook, these tests), the command line never does."""
    import machine
    from style_transfer import engine
    from style_transfer.reading import parse_arguments
    from tensorflow_vgg import quiet

    clear_settings(monkeypatch)
    monkeypatch.setattr(machine, "available_bytes", lambda: 16 * 2**30)
    arguments = [str(content_path), str(style_path), "-o", str(tmp_path / "out.jpg")]
    request, _ = parse_arguments([*arguments, "--size", str(size)])
    engine.freeze_weights_unless_tiled(request)
    assert not quiet.weights_frozen()  # not the command line's own process
    monkeypatch.setattr(engine, "OWN_PROCESS", True)
    quiet.set_engine_environment()  # as a benchmark, the parent, leaves it
    engine.freeze_weights_unless_tiled(request)
    assert quiet.weights_frozen() is frozen
    assert (quiet.FROZEN_WEIGHTS.keys() <= quiet.defaults_set().keys()) is frozen


def test_the_command_line_runs_with_frozen_weights(tmp_path, content_path, style_path):
    """`python -m style_transfer` at 64 px sets FROZEN_WEIGHTS before its first convolution;
    run with a sitecustomize that reports the environment as the process ends."""
    (tmp_path / "sitecustomize.py").write_text(
        "import atexit, os\n"
        "name = 'TF_ONEDNN_ASSUME_FROZEN_WEIGHTS'\n"
        "atexit.register(lambda: print('FROZEN', os.environ.get(name)))\n"
    )
    env = {name: value for name, value in os.environ.items() if not name.startswith("TF_")}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(REPO_ROOT)])
    arguments = [str(content_path), str(style_path), "-o", str(tmp_path / "out.jpg")]
    done = subprocess.run(
        [sys.executable, "-m", "style_transfer", *arguments, "--size", "64", "--iterations", "1"],
        env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[-1] == "FROZEN 1"


CHILD = """
from tensorflow_vgg import quiet
quiet.set_environment()
print(*quiet.chosen_environment())
"""
