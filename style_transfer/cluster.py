"""--workers and --ray-address: the pictures of a --batch or a --sweep painted on a Ray cluster,
one Ray task each, and saved by this process as they come back. The painting is engine.paint, as
in one process; Ray is imported only when one of these options is given.

Why tasks, and not an actor pool or ray.data's map_batches with stateful workers: a task whose
worker process is killed, or whose node leaves, is run again by Ray itself on another worker
(`max_retries`), and a picture has nothing to restore, since it is a function of its request
and images alone. An actor pool would need its own restarts and re-submissions, and ray.data
adds a dataset layer (pandas, pyarrow) that retries whole blocks of pictures. Ray keeps a task's
worker process for the next task, so each worker loads the network once (tensorflow_vgg's
network) and computes each painting's targets once per size (tf_helper); TensorFlow's threads
are set from the CPUs Ray gives the worker before its first operation.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

import helper
from loss_settings import SettingsError
from optimisation import memory
from style_transfer import engine
from style_transfer.errors import EXIT_FINISHED, EXIT_INTERRUPTED, EXIT_NOT_FINITE, UsageError
from style_transfer.progress import Progress, Recorder, entry_code
from tensorflow_vgg.quiet import chosen_environment

if TYPE_CHECKING:
    from style_transfer.request import Request

PROJECT = Path(__file__).resolve().parent.parent  # on each worker's PYTHONPATH
REACH_SECONDS = 10.0  # how long --ray-address's head may take to answer
TASK_RETRIES = 3  # a picture whose worker dies is painted again elsewhere, up to this often
IN_FLIGHT = 2  # pictures handed to each worker at a time: the next waits when one ends
WAIT_SECONDS = 0.5  # how often the bar is brought up to date
# How long the cluster may lack a node with a worker's CPUs before the job ends (Ray itself takes
# 15-30 s to declare a silent node dead); a node back within it is waited for. The variable
# changes it.
NO_ROOM_SECONDS = 60.0
NO_ROOM_ENV_VAR = "STYLE_TRANSFER_NO_ROOM_SECONDS"
LOOK_SECONDS = 5.0  # how often the nodes are looked at while no picture ends
# The errors of one picture: told, and the others go on.
PICTURE_ERRORS = (helper.ImageError, SettingsError, memory.InsufficientMemoryError)


class ClusterError(UsageError):
    """A Ray cluster that cannot be started or joined."""


class ClusterLost(RuntimeError):
    """The cluster has no node left that can run a worker."""


@dataclass(frozen=True)
class Plan:
    """How the pictures are spread: `workers` at a time, each with `cpus` CPUs and threads."""

    workers: int
    cpus: int


def wanted(request: Request) -> bool:
    """Whether the request asks for a Ray cluster (--workers or --ray-address)."""
    return bool(request.workers or request.ray_address)


def local_plan(workers: int, cpus: int) -> Plan:
    """Return the plan of `workers` on one machine of `cpus` CPUs: its CPUs shared out."""
    return Plan(workers, max(1, cpus // workers))


def cluster_plan(workers: int | None, node_cpus: Sequence[float]) -> Plan:
    """Return the plan of a cluster whose nodes have `node_cpus`: `workers` (default: one per
    node) sharing the cluster's CPUs, at most those of its largest node each."""
    workers = workers or max(1, len(node_cpus))
    share = int(sum(node_cpus)) // workers
    return Plan(workers, max(1, min(share, int(max(node_cpus, default=1)))))


@contextlib.contextmanager
def connected(request: Request) -> Iterator[Plan]:
    """Start a local Ray cluster (--workers) or join one (--ray-address) for the block; stop or
    leave it after. Raises ClusterError with the fix."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no report sent home
    if not request.ray_address:
        # Ray's switch for single-machine clusters: every address it uses is 127.0.0.1.
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    import ray

    options = {
        "include_dashboard": False,
        "log_to_driver": False,  # the workers' lines would break the bar; errors come back
        "logging_level": logging.ERROR,
        # A worker may import TensorFlow, in unpickling its task, before it starts it quietly:
        # each sets TensorFlow's start-up defaults for its own machine (an ARM node has no
        # oneDNN default) when it starts, and takes only the settings the user chose here.
        "runtime_env": {
            "env_vars": {"PYTHONPATH": str(PROJECT), **chosen_environment()},
            "worker_process_setup_hook": "tensorflow_vgg.quiet.set_environment",
        },
    }
    try:
        if request.ray_address:
            _check_reachable(request.ray_address)
            ray.init(address=request.ray_address, **options)
        else:
            cpus = len(os.sched_getaffinity(0))
            plan = local_plan(request.workers, cpus)
            # "local": a new cluster of its own, even where $RAY_ADDRESS names another
            ray.init("local", num_cpus=max(cpus, plan.workers * plan.cpus), **options)
    except (ConnectionError, RuntimeError, ValueError) as error:
        if request.ray_address:
            what = f"join the Ray cluster at {request.ray_address}"
            fix = "check the address (`ray status` on the head node prints it)"
        else:
            what, fix = (
                "start a local Ray cluster",
                "run without --workers to paint in this process",
            )
        raise ClusterError(f"cannot {what} ({error}); {fix}") from None
    try:
        if request.ray_address:
            plan = cluster_plan(request.workers, _node_cpus(ray))
        yield plan
    finally:
        ray.shutdown()  # a local cluster stops; a joined one is left as it was


def _check_reachable(address: str) -> None:
    """Raise ConnectionError when HOST:PORT does not answer within REACH_SECONDS: Ray itself
    would try for minutes ("auto" and other forms are left to Ray)."""
    host, _, port = address.rpartition(":")
    if not (host and port.isdigit()):
        return
    try:
        socket.create_connection((host, int(port)), timeout=REACH_SECONDS).close()
    except OSError as error:
        raise ConnectionError(f"{host} does not answer on port {port}: {error}") from None


def _node_cpus(ray) -> list[float]:
    """Return the CPUs of each live node of the cluster."""
    return [
        node["Resources"].get("CPU", 0.0)
        for node in ray.nodes()
        if node["Alive"] and node["Resources"].get("CPU", 0.0) > 0
    ]


class _Board:
    """A Ray actor on the command's node that the workers tell their iterations, and that the
    command reads for the bar."""

    def __init__(self):
        self.reports: list[tuple] = []

    def report(self, index: int, iteration: int, loss: float) -> None:
        self.reports.append((index, iteration, loss, None))

    def say(self, index: int, text: str, error: bool) -> None:
        self.reports.append((index, None, text, error))

    def take(self) -> list[tuple]:
        reports, self.reports = self.reports, []
        return reports


class BoardProgress:
    """What a Recorder in a worker takes for its progress bar: each line goes to the board."""

    def __init__(self, board, index: int):
        self.board, self.index = board, index

    def update(self, iteration: int, loss: float) -> None:
        self.board.report.remote(self.index, iteration, loss)

    def skip(self, count: int) -> None:  # the next iteration reported moves the bar on
        pass

    def write(self, text: str, error: bool = False) -> None:
        self.board.say.remote(self.index, text, error)

    def close(self) -> None:  # the command's bar is closed by the command
        pass


def start_worker(seed: int):
    """Start TensorFlow in a Ray worker, its threads the CPUs Ray gave the task; return
    engine.start's `network`."""
    import ray

    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1.0)
    # No frozen weights: Ray reuses a worker for other tasks, a sweep's other sizes among them.
    return engine.start(seed, threads=max(1, int(cpus)))


def paint_remote(request: Request, images, index: int, board) -> tuple[dict, float]:
    """Paint one picture in a Ray worker; return (its RunResult's fields, its seconds): a
    RunResult itself would import TensorFlow in the command's process to be read."""
    start_worker(request.seed)
    recorder = Recorder(request, BoardProgress(board, index), images.content)
    result = engine.paint(request, images, recorder)
    return dataclasses.asdict(result), recorder.seconds()


def paint_all(
    request: Request,
    jobs: Sequence,
    iterations: Sequence[int],
    prepare: Callable,
    finish: Callable,
    fail: Callable | None = None,
    task: Callable = paint_remote,
    noun: str = "pictures",
) -> tuple[list[dict], int, float]:
    """Paint the jobs on a Ray cluster under one bar, as progress.run_each does in one process.

    prepare(job) gives (request, images) for the worker; finish(job, result, seconds, progress)
    saves what came back and returns the job's manifest entry; fail(job, error, progress) returns
    the entry of a job that could not be painted (default: the error ends the job). `task`
    (request, images, index, board) runs a job in a worker and returns (fields, seconds), as
    paint_remote does; `noun` names the jobs. Returns (entries in the jobs' order, exit code,
    seconds).
    """
    with connected(request) as plan:
        print(
            f"painting {len(jobs)} {noun} on {plan.workers} Ray worker(s) of {plan.cpus} "
            f"CPU(s) each{f' at {request.ray_address}' if request.ray_address else ''}",
            flush=True,
        )
        painter = _Painter(plan, jobs, iterations, prepare, finish, fail, task, noun)
        return painter.run()


class _Painter:
    """The command's side of paint_all: hands out jobs, follows them, saves what comes back."""

    def __init__(self, plan: Plan, jobs, iterations, prepare, finish, fail, task, noun):
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        self.ray, self.plan, self.jobs, self.iterations = ray, plan, list(jobs), list(iterations)
        self.prepare, self.finish, self.fail, self.noun = prepare, finish, fail, noun
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        self.board = ray.remote(_Board).options(num_cpus=0, scheduling_strategy=here).remote()
        self.paint = ray.remote(task).options(
            num_cpus=plan.cpus, max_retries=TASK_RETRIES, retry_exceptions=False
        )
        self.progress = Progress(sum(self.iterations))
        self.done = [0] * len(self.jobs)  # iterations of each job, as far as reported
        self.entries: dict[int, dict] = {}
        self.running: dict = {}  # object ref -> job index
        self.code = EXIT_FINISHED
        self.no_room_since: float | None = None
        self.last_look = 0.0  # when the nodes were last looked at

    def run(self) -> tuple[list[dict], int, float]:
        started = time.perf_counter()
        waiting = iter(range(len(self.jobs)))
        try:
            while True:
                while len(self.running) < self.plan.workers * IN_FLIGHT:
                    index = next(waiting, None)
                    if index is None:
                        break
                    self._hand_out(index)
                if not self.running:
                    break
                ready, _ = self.ray.wait(list(self.running), num_returns=1, timeout=WAIT_SECONDS)
                self._follow()
                for ref in ready:
                    self._collect(ref)
                if not ready:
                    self._check_room()
        except KeyboardInterrupt:
            self.code = EXIT_INTERRUPTED
        except ClusterLost as lost:
            finished = sum("error" not in entry for entry in self.entries.values())
            self.progress.write(
                f"error: {lost}; {finished} of {len(self.jobs)} {self.noun} are done and saved, "
                "the rest not: run the same command again when the cluster is back",
                error=True,
            )
            self.code = EXIT_NOT_FINITE
        finally:
            for ref in self.running:
                self.ray.cancel(ref, force=True)
            self.progress.close()
        entries = [self.entries[index] for index in sorted(self.entries)]
        return entries, self.code, time.perf_counter() - started

    def _hand_out(self, index: int) -> None:
        """Prepare a job's images here and hand it to the cluster."""
        job = self.jobs[index]
        try:
            request, images = self.prepare(job)
        except PICTURE_ERRORS as error:
            self._failed(index, error)
            return
        self.running[self.paint.remote(request, images, index, self.board)] = index

    def _follow(self) -> None:
        """Bring the bar up to date with the iterations and lines the workers reported."""
        try:
            reports = self.ray.get(self.board.take.remote())
        except self.ray.exceptions.RayError:  # the board is lost with its node: no more lines
            return
        loss = None
        for index, iteration, value, error in reports:
            if iteration is None:
                self.progress.write(value, bool(error))
            else:  # a picture painted again starts over: its count stays where it was
                self.done[index] = max(self.done[index], iteration)
                loss = value
        if loss is not None:
            self.progress.advance_to(sum(self.done), loss)

    def _advance(self, index: int, loss: float) -> None:
        """Count a job that ended as all its iterations done, and move the bar if it moved."""
        before = sum(self.done)
        self.done[index] = self.iterations[index]
        if sum(self.done) > before:
            self.progress.advance_to(sum(self.done), loss)

    def _collect(self, ref) -> None:
        """Save a finished job's picture, or tell why it has none."""
        index = self.running.pop(ref)
        try:
            fields, seconds = self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as error:
            cause = getattr(error, "cause", None)
            if isinstance(cause, PICTURE_ERRORS):
                self._failed(index, cause)
                return
            if isinstance(cause, Exception):  # e.g. the weights: one line, as in one process
                raise cause from None
            raise
        except self.ray.exceptions.RayError as error:  # its worker or node died every time
            problem = type(error).__name__
            self._failed(
                index,
                RuntimeError(f"painted {TASK_RETRIES + 1} times, lost each time ({problem})"),
            )
            return
        result = SimpleNamespace(**fields)  # what finish reads of a RunResult
        entry = self.finish(self.jobs[index], result, seconds, self.progress)
        self.entries[index] = entry
        self.code = max(self.code, entry_code(entry))
        self._advance(index, getattr(result, "terms", {}).get("total", float("nan")))

    def _failed(self, index: int, error: Exception) -> None:
        """Note a job that has no picture; without `fail`, the error ends the job."""
        if self.fail is None:
            raise error
        self._advance(index, float("nan"))
        self.entries[index] = self.fail(self.jobs[index], error, self.progress)
        self.code = max(self.code, EXIT_NOT_FINITE)

    def _check_room(self) -> None:
        """Raise ClusterLost when no live node has had a worker's CPUs for NO_ROOM_SECONDS."""
        now = time.monotonic()
        if now - self.last_look < LOOK_SECONDS:
            return
        self.last_look = now
        if max(_node_cpus(self.ray), default=0.0) >= self.plan.cpus:
            self.no_room_since = None
        elif self.no_room_since is None:
            self.no_room_since = now
        elif now - self.no_room_since > (grace := _no_room_seconds()):
            raise ClusterLost(
                f"the Ray cluster has had no node with {self.plan.cpus} CPU(s) for "
                f"{grace:.0f} s (a node left it)"
            )


def _no_room_seconds() -> float:
    """Return NO_ROOM_SECONDS, or the seconds $STYLE_TRANSFER_NO_ROOM_SECONDS gives."""
    try:
        return float(os.environ.get(NO_ROOM_ENV_VAR, NO_ROOM_SECONDS))
    except ValueError:
        return NO_ROOM_SECONDS
