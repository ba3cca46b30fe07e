"""--workers and --ray-address: how the CPUs are shared out, which options go together, which
earlier pictures a batch skips, and a sweep on the local cluster the command starts and stops."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
from conftest import REPO_ROOT, one_error_line, pixels, run_cli
from PIL import Image

from style_transfer import batch, cluster
from style_transfer.errors import UsageError
from style_transfer.reading import parse_arguments
from tensorflow_vgg import quiet


@pytest.mark.parametrize(
    "workers, cpus, expected",
    [(1, 2, cluster.Plan(1, 2)), (2, 2, cluster.Plan(2, 1)), (3, 2, cluster.Plan(3, 1))],
)
def test_local_workers_share_the_machines_cpus(workers, cpus, expected):
    assert cluster.local_plan(workers, cpus) == expected


def test_a_cluster_gets_one_worker_per_node_by_default_none_larger_than_a_node():
    assert cluster.cluster_plan(None, [1.0, 1.0]) == cluster.Plan(2, 1)
    assert cluster.cluster_plan(None, [8.0, 8.0, 8.0]) == cluster.Plan(3, 8)
    assert cluster.cluster_plan(6, [8.0, 8.0, 8.0]) == cluster.Plan(6, 4)
    assert cluster.cluster_plan(1, [4.0, 2.0]) == cluster.Plan(1, 4)  # not the 6 of both


@pytest.mark.parametrize("flag", [["--workers", "2"], ["--ray-address", "127.0.0.1:6379"]])
def test_ray_options_on_a_single_picture_are_refused(flag):
    with pytest.raises(UsageError, match="spreads the pictures of a --batch or a --sweep"):
        parse_arguments(["a.jpg", "b.jpg", "-o", "c.jpg", *flag])


@pytest.fixture
def finished_batch(small_files, tmp_path):
    """A batch of two photos whose first picture an earlier run finished and noted."""
    second = tmp_path / "second.png"
    Image.open(small_files["content"]).rotate(180).save(second)
    photos = [str(small_files["content"]), str(second)]
    output = tmp_path / "styled"
    output.mkdir()
    arguments = ["--batch", *photos, "--style", str(small_files["style"]), "-o", str(output)]
    request, _ = parse_arguments(arguments)
    picture = batch.batch_output_path(output, photos[0], request.styles)
    Image.new("RGB", (32, 28), (200, 10, 10)).save(picture)
    batch.remember(output, picture, batch.picture_record(request, photos[0]))
    return arguments, photos, picture


def test_a_batch_run_again_skips_the_pictures_it_finished(finished_batch):
    arguments, photos, _ = finished_batch
    request, _ = parse_arguments(arguments)
    assert batch.finished_earlier(request) == [photos[0]]


@pytest.mark.parametrize(
    "change",
    [["--style-weight", "10"], ["--iterations", "7"], ["--seed", "3"], ["--overwrite"]],
)
def test_other_settings_paint_the_finished_pictures_again(finished_batch, change):
    arguments, _, _ = finished_batch
    request, _ = parse_arguments([*arguments, *change])
    assert batch.finished_earlier(request) == []


def test_a_finished_picture_changed_since_is_not_skipped_but_refused(finished_batch):
    arguments, photos, picture = finished_batch
    Image.new("RGB", (32, 28), (0, 0, 255)).save(picture)  # the user's own picture now
    request, _ = parse_arguments(arguments)
    assert batch.finished_earlier(request) == []
    with pytest.raises(UsageError, match="pass --overwrite to replace it"):
        batch.check_batch_outputs(request.output, request.batch, request.styles)


def test_a_changed_photo_is_painted_again(finished_batch):
    arguments, photos, _ = finished_batch
    Image.open(photos[0]).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(photos[0])
    request, _ = parse_arguments(arguments)
    assert batch.finished_earlier(request) == []


def ray_processes() -> set[int]:
    """Return the ids of this machine's Ray node processes (raylet, gcs_server)."""
    import psutil

    names = {"raylet", "gcs_server"}
    return {p.pid for p in psutil.process_iter(["pid", "name"]) if p.info["name"] in names}


@pytest.mark.slow
def test_sweep_on_workers_makes_the_sheet_of_one_process_and_stops_its_cluster(
    small_files, tmp_path
):
    pytest.importorskip("ray")
    before = ray_processes()
    sheets = {}
    for name, more in (("one", []), ("ray", ["--workers", "2"])):
        sheets[name] = tmp_path / f"{name}.png"
        command = [
            sys.executable, "-m", "style_transfer", str(small_files["content"]),
            str(small_files["style"]), "-o", str(sheets[name]), "--iterations", "4",
            "--sweep", "size=32", "style-weight=1e2,1e4", *more,
        ]  # fmt: skip
        done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
    assert "on 2 Ray worker(s)" in done.stdout
    assert (pixels(sheets["ray"]) == pixels(sheets["one"])).all()
    assert ray_processes() <= before  # the command stopped the cluster it started


def test_an_address_where_no_cluster_answers_is_one_line_at_once(small_files, tmp_path, capsys):
    pytest.importorskip("ray")
    with socket.socket() as probe:  # a port nothing listens on once it is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, _, error = run_cli(
        capsys, small_files["content"], small_files["style"], "-o", tmp_path / "sheet.png",
        "--sweep", "size=32", "--ray-address", f"127.0.0.1:{port}",
    )  # fmt: skip
    assert code == 2
    assert one_error_line(error).startswith(
        f"error: cannot join the Ray cluster at 127.0.0.1:{port}"
    )
    assert not (tmp_path / "sheet.png").exists()


# A driver where TensorFlow's oneDNN switch is no default (as on an ARM machine), started with
# none of TensorFlow's settings, joins a local cluster and asks a worker what it has; a worker
# inherits this process's environment, so what it has beyond that it set itself.
WORKER_PROBE = """
import json
import os
from types import SimpleNamespace

import ray

from tensorflow_vgg import quiet

quiet.ENVIRONMENT.pop("TF_ENABLE_ONEDNN_OPTS", None)
quiet.set_environment()
from style_transfer import cluster

@ray.remote
def settings():
    sent = ray.get_runtime_context().runtime_env.get("env_vars", {})
    return [os.environ.get(name) for name in quiet.SETTINGS], sent

with cluster.connected(SimpleNamespace(workers=1, ray_address=None)):
    print(json.dumps(ray.get(settings.remote())))
"""


@pytest.mark.slow
@pytest.mark.parametrize("chosen", [{}, {"TF_CPP_MIN_LOG_LEVEL": "1"}])
def test_workers_set_tensorflows_defaults_for_their_own_machine_and_take_the_users(chosen):
    pytest.importorskip("ray")
    env = {name: value for name, value in os.environ.items() if name not in quiet.SETTINGS}
    env.update(chosen, PYTHONPATH=str(REPO_ROOT))
    done = subprocess.run(
        [sys.executable, "-c", WORKER_PROBE],
        env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    settings, sent = json.loads(done.stdout.splitlines()[-1])
    # The worker runs on this machine: its own default is this process's.
    expected = {**quiet.ENVIRONMENT, **chosen}
    assert settings == [expected.get(name) for name in quiet.SETTINGS]
    assert sent["PYTHONPATH"] == str(REPO_ROOT)
    assert {n: sent[n] for n in quiet.SETTINGS if n in sent} == chosen  # no default is sent
