"""--ray-address on a real Ray cluster on 127.0.0.1: a head without CPUs and two nodes of one CPU,
started here. A worker killed mid-picture, a batch run again, pictures from two workers against
one process, and the nodes leaving for good.

The tests run in file order on one cluster: the last one removes its nodes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import CONTENT_IMAGE, REPO_ROOT, STYLE_IMAGE
from PIL import Image

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

pytestmark = pytest.mark.slow

SIZE, ITERATIONS = 40, 40  # a few seconds a picture on one thread: time to kill one mid-way
PHOTOS = 4
RUN_TIMEOUT = 300  # seconds; generous, for a busy 2-core machine
TASK_TITLE = "ray::paint_remote"  # Ray's process title of a worker running a picture


@pytest.fixture(scope="module")
def cluster():
    """A Ray cluster on 127.0.0.1: a head with no CPU (the command's node) and two 1-CPU nodes."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # every address 127.0.0.1
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    # A node that stops answering is declared dead after about 3 s, not 15-30.
    health = {
        "health_check_initial_delay_ms": 0,
        "health_check_period_ms": 1000,
        "health_check_failure_threshold": 3,
    }
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 0, "node_ip_address": "127.0.0.1", "_system_config": health},
    )
    try:
        cluster.nodes = [  # the worker nodes, in the order tests remove them
            cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1") for _ in range(2)
        ]
        cluster.wait_for_nodes()
        yield cluster
    finally:
        cluster.shutdown()


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> list[Path]:
    """PHOTOS small different photos (crops of two sample photos) and one painting."""
    folder = tmp_path_factory.mktemp("photos")
    sources = [Image.open(CONTENT_IMAGE).convert("RGB"), Image.open(STYLE_IMAGE).convert("RGB")]
    paths = []
    for k in range(PHOTOS):
        image = sources[k % 2]
        width, height = image.size
        box = (k * width // 10, k * height // 10, width - k * width // 12, height)
        paths.append(folder / f"photo{k}.png")
        image.crop(box).resize((48, 36)).save(paths[-1])
    return paths


@pytest.fixture(scope="module")
def first_batch(tmp_path_factory) -> Path:
    """Where the first test's batch goes; the next two read it."""
    return tmp_path_factory.mktemp("batch") / "styled"


def batch_command(photos, output: Path, *more) -> list[str]:
    """Return the command of a seeded batch of the photos with the sample painting."""
    return [
        sys.executable, "-m", "style_transfer", "--batch", *map(str, photos),
        "--style", str(STYLE_IMAGE), "-o", str(output), "--size", str(SIZE),
        "--iterations", str(ITERATIONS), "--init", "noise", "--seed", "7", *more,
    ]  # fmt: skip


class Command:
    """The command line in a subprocess, its output read line by line as it comes."""

    def __init__(self, arguments: list[str], **environment):
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **environment}
        self.process = subprocess.Popen(
            arguments,
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self.readers = [
            threading.Thread(target=self._read, args=(stream, lines), daemon=True)
            for stream, lines in ((self.process.stdout, self.out), (self.process.stderr, self.err))
        ]
        for reader in self.readers:
            reader.start()

    @staticmethod
    def _read(stream, lines: list[str]) -> None:
        for line in stream:
            lines.append(line.rstrip("\n"))

    def wait_for_line(self, start: str) -> str:
        """Return the first line of stdout that starts with `start`, waiting for it."""
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            found = [line for line in list(self.out) if line.startswith(start)]
            if found:
                return found[0]
            assert self.process.poll() is None, f"ended before {start!r}: {self.text()}"
            time.sleep(0.1)
        raise AssertionError(f"no line {start!r} in {RUN_TIMEOUT} s: {self.text()}")

    def finish(self) -> int:
        """Wait for the command; return its exit code."""
        try:
            code = self.process.wait(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        for reader in self.readers:
            reader.join(timeout=10)
        return code

    def text(self) -> str:
        return "\n".join(self.out + self.err)


def run(arguments: list[str], **environment) -> tuple[int, Command]:
    command = Command(arguments, **environment)
    return command.finish(), command


def workers_painting() -> list[int]:
    """Return the process ids of the Ray workers painting a picture now."""
    import psutil

    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        cmdline = process.info["cmdline"] or []
        if cmdline and cmdline[0].startswith(TASK_TITLE):
            found.append(process.info["pid"])
    return found


def outputs_of(folder: Path) -> dict[str, bytes]:
    """Return the pictures in a folder by name (the batch's record left out)."""
    return {path.name: path.read_bytes() for path in folder.iterdir() if path.suffix == ".jpg"}


def test_worker_killed_mid_picture_is_painted_again_whole(cluster, photos, first_batch):
    output = first_batch
    command = Command(batch_command(photos, output, "--ray-address", cluster.address))
    command.wait_for_line("iteration ")  # a worker has begun its iterations
    painting = workers_painting()
    assert painting, f"no worker titled {TASK_TITLE}: {command.text()}"
    os.kill(painting[0], signal.SIGKILL)
    code = command.finish()
    assert code == 0, command.text()
    expected = [f"photo{k}_{STYLE_IMAGE.stem}.jpg" for k in range(PHOTOS)]
    assert sorted(outputs_of(output)) == expected
    # Only the pictures and the batch's record: no temporary file left half-written.
    assert sorted(path.name for path in output.iterdir()) == sorted(
        [*expected, ".style_transfer_batch.json"]
    )
    for name in expected:
        with Image.open(output / name) as picture:
            picture.load()  # a cut-short JPEG raises here
            assert picture.size == (SIZE, SIZE * 36 // 48)
    assert f"batch: {PHOTOS} of {PHOTOS} images done" in command.text()


def test_same_batch_again_skips_the_finished_pictures_and_says_so(cluster, photos, first_batch):
    output = first_batch
    before = outputs_of(output)
    assert len(before) == PHOTOS, "needs the batch of the test before"
    code, command = run(batch_command(photos, output, "--ray-address", cluster.address))
    assert code == 0, command.text()
    assert f"skipped {PHOTOS} of {PHOTOS} pictures, finished by an earlier run" in command.text()
    assert "painting" not in command.text()  # nothing handed to the cluster
    assert outputs_of(output) == before


def test_pictures_from_two_workers_are_byte_identical_to_one_process(
    cluster, photos, first_batch, tmp_path_factory
):
    from_cluster = outputs_of(first_batch)
    assert len(from_cluster) == PHOTOS, "needs the batch of the first test"
    output = tmp_path_factory.mktemp("one_process") / "styled"
    code, command = run(batch_command(photos, output))
    assert code == 0, command.text()
    assert outputs_of(output) == from_cluster


def test_nodes_leaving_for_good_end_the_job_and_keep_the_finished_pictures(
    cluster, photos, tmp_path_factory
):
    output = tmp_path_factory.mktemp("lost") / "styled"
    cluster.remove_node(cluster.nodes.pop(), allow_graceful=False)  # one node left: one worker
    command = Command(
        batch_command(photos, output, "--ray-address", cluster.address),
        STYLE_TRANSFER_NO_ROOM_SECONDS="5",
    )
    first = command.wait_for_line("saved ").removeprefix("saved ")
    cluster.remove_node(cluster.nodes.pop(), allow_graceful=False)  # and now none
    code = command.finish()
    assert code == 1, command.text()
    errors = [line for line in command.err if line.startswith("error:")]
    assert len(errors) == 1, command.text()
    assert "no node with 1 CPU(s)" in errors[0] and "run the same command again" in errors[0]
    kept = outputs_of(output)
    assert Path(first).name in kept
    assert len(kept) < PHOTOS
    for name in kept:
        with Image.open(output / name) as picture:
            picture.load()
