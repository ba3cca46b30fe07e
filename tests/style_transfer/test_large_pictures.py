"""Large pictures from the command line: the default coarse-to-fine schedule, tiles forced with
--tile, checkpoints every few minutes, a coarse-to-fine run stopped and resumed, the time left.

Runs are at most 64 px with the real weights; the print-size runs are in benchmarks/.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import pixels, run_cli
from PIL import Image

import helper
from optimisation.schedule import (
    FIRST_SIZE,
    LARGE_SIZE,
    SCALE_BUDGET,
    SCALE_ITERATIONS,
    default_schedule,
)
from style_transfer import checkpoints
from style_transfer.progress import Progress, TimeLeft
from style_transfer.reading import parse_arguments


@pytest.fixture(scope="module")
def photo_3_by_2(tmp_path_factory):
    """A 96x64 px photo (3:2) and a painting, from image_resources."""
    from conftest import CONTENT_IMAGE, STYLE_IMAGE

    folder = tmp_path_factory.mktemp("large")
    paths = []
    for name, source in (("photo.png", CONTENT_IMAGE), ("painting.png", STYLE_IMAGE)):
        with Image.open(source) as image:
            image.convert("RGB").resize((96, 64)).save(folder / name)
        paths.append(folder / name)
    return paths


def test_the_default_schedule_doubles_from_512_px_and_gives_each_scale_about_the_same_time():
    fewest, most = SCALE_ITERATIONS
    sizes, iterations = default_schedule(2731, 4096)
    assert sizes == [512, 1024, 2048, 4096]
    for size, count in zip(sizes, iterations):
        megapixels = 2731 * 4096 * (size / 4096) ** 2 / 1e6
        expected = min(most, max(fewest, round(SCALE_BUDGET / megapixels)))
        assert count == expected
    assert iterations[0] == most and iterations[-1] == fewest  # the bounds at both ends
    assert default_schedule(1000, 1500) == ([512, 1024, 1500], [200, 57, 27])
    assert default_schedule(600, 600)[0] == [512, 600]


def test_a_large_size_without_iterations_gets_the_schedule_and_checkpoints(photo_3_by_2, tmp_path):
    photo, painting = map(str, photo_3_by_2)
    output = str(tmp_path / "big.png")
    args, _ = parse_arguments([photo, painting, "-o", output, "--size", "4096"])
    assert (args.scales, args.iterations) == default_schedule(2731, 4096)
    assert args.checkpoint_minutes == 3
    args, _ = parse_arguments(
        [photo, painting, "-o", output, "--size", "4096", "--iterations", "9"]
    )
    assert (args.scales, args.iterations, args.checkpoint_minutes) == (None, 9, 3)
    args, _ = parse_arguments([photo, painting, "-o", output, "--size", str(LARGE_SIZE)])
    assert (args.scales, args.iterations, args.checkpoint_minutes) == (None, 300, None)
    args, _ = parse_arguments(
        [photo, painting, "-o", output, "--size", "4096", "--checkpoint-minutes", "0"]
    )
    assert args.scales[0] == FIRST_SIZE and args.checkpoint_minutes == 0


@pytest.mark.slow
def test_forced_tiles_give_the_same_picture_as_the_whole(photo_3_by_2, tmp_path, capsys):
    photo, painting = photo_3_by_2
    common = [photo, painting, "--size", "64", "--iterations", "3", "--precision", "float32"]
    code, whole_out, _ = run_cli(capsys, *common, "-o", tmp_path / "whole.png")
    assert code == 0 and "evaluated in" not in whole_out.splitlines()[0]
    code, tiled_out, _ = run_cli(capsys, *common, "-o", tmp_path / "tiled.png", "--tile", "32")
    assert code == 0
    assert ", evaluated in 4 tiles of 32 px (--tile)" in tiled_out.splitlines()[0]
    # Same loss and gradient up to float32 rounding: the same 8-bit picture.
    difference = np.abs(pixels(tmp_path / "whole.png") - pixels(tmp_path / "tiled.png"))
    assert difference.max() <= 1 / 255


def _default_sigint_in_child() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Python then installs its own handler


@pytest.mark.slow
def test_a_coarse_to_fine_run_stopped_in_its_first_scale_resumes_there(
    repo_root, photo_3_by_2, tmp_path
):
    photo, painting = map(str, photo_3_by_2)
    output, stats, gif = tmp_path / "out.png", tmp_path / "stats.json", tmp_path / "run.gif"
    command = [
        sys.executable, "-m", "style_transfer", photo, painting, "-o", str(output),
        "--scales", "48,96", "--iterations", "4,3", "--precision", "float32",
        "--checkpoint-minutes", "0.0001",  # due at every iteration
    ]  # fmt: skip
    child = subprocess.Popen(
        command, cwd=repo_root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=_default_sigint_in_child,
    )  # fmt: skip
    first = child.stdout.readline()
    assert "a checkpoint every 0.0001 min" in first
    deadline = time.monotonic() + 240
    for line in child.stdout:
        if line.startswith("iteration 2/7"):
            child.send_signal(signal.SIGINT)
            break
        assert time.monotonic() < deadline, "no progress lines"
    _, err = child.communicate(timeout=120)
    assert child.returncode == 130, err
    assert pixels(output).shape == (64, 96, 3)  # the picture is saved at full size

    state = json.loads((tmp_path / "out.png.checkpoint" / checkpoints.STATE_FILE).read_text())
    stopped_at = state["iteration"]
    assert 2 <= stopped_at <= 4  # in the first scale, whose picture the checkpoint keeps
    assert state["shape"] == [32, 48, 3]

    resumed = subprocess.run(
        [sys.executable, "-m", "style_transfer", "--resume", "-o", str(output),
         "--stats", str(stats), "--gif", str(gif), "--gif-frames", "7"],
        cwd=repo_root, capture_output=True, text=True,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming at iteration {stopped_at}" in resumed.stdout.splitlines()[0]
    manifest = json.loads(stats.read_text())
    assert [row["iteration"] for row in manifest["history"]] == list(range(1, 8))
    assert [row.get("size") for row in manifest["history"][stopped_at:]] == [48] * (
        4 - stopped_at
    ) + [96] * 3
    assert pixels(output).shape == (64, 96, 3)
    with Image.open(gif) as animation:  # frames of both scales, all at the output's size
        assert animation.size == (96, 64) and animation.n_frames >= 2
    again = subprocess.run(
        [sys.executable, "-m", "style_transfer", "--resume", "-o", str(output)],
        cwd=repo_root, capture_output=True, text=True,
    )  # fmt: skip
    assert again.returncode == 2
    assert "is at iteration 7" in again.stderr and "e.g. --iterations 4,6" in again.stderr


class FakeClock:
    """A clock the test moves: `now` seconds."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_time_left_weighs_each_iteration_by_its_scales_cost():
    clock = FakeClock()
    progress = Progress(5, costs=[1.0, 1.0, 1.0, 4.0, 4.0], kinds=["float32"] * 5, clock=clock)
    assert progress.time_left(1) == ", estimating the time left"  # it also traced the loss
    clock.now = 60  # one cheap iteration after it: a minute
    assert progress.time_left(2) == ", about 9 min 00 s left"  # 1 + 4 + 4 units to come
    assert progress.time_left(5) == ""
    clock.now = 0
    costs = [1.0, 1.0, 1.0, 4.0, 4.0, 4.0]
    resumed = Progress(6, done=3, costs=costs, kinds=["float32"] * 6, clock=clock)
    assert resumed.time_left(4) == ", estimating the time left"  # the resumed run's trace
    clock.now = 120  # one dear iteration since
    assert resumed.time_left(5) == ", about 2 min 00 s left"


def test_time_left_counts_a_mixed_runs_float32_iterations_and_trace_apart():
    clock = FakeClock()
    # 9 iterations, mixed: 6 in bfloat16, then 3 in float32 (a third), all at one size.
    estimate = TimeLeft([1.0] * 9, ["bfloat16"] * 6 + ["float32"] * 3, clock)
    estimate.float32_factor = 1.75  # a prior below the run's own 2, whatever this CPU has
    # The run: 2 s per bfloat16 iteration; the float32 stretch's first iteration traces the
    # loss for 5 s; a float32 iteration takes 4 s (2 times a bfloat16 one, not 1.75).
    ends = [10.0]  # iteration 1 ends: 8 s for the targets and a trace, 2 s the iteration
    ends += [ends[-1] + 2.0 * k for k in range(1, 6)]  # iterations 2 to 6
    ends += [ends[-1] + 5.0 + 4.0, ends[-1] + 5.0 + 8.0, ends[-1] + 5.0 + 12.0]
    estimates = []
    for iteration, end in enumerate(ends, start=1):
        clock.now = end
        estimates.append(estimate.seconds(iteration))
    assert estimates[0] is None  # nothing timed yet
    # After iteration 2: 4 bfloat16 iterations of 2 s, 3 float32 ones of 1.75 x 2 s, and the
    # float32 trace, foreseen as long as iteration 1's 8 s beyond an iteration.
    assert estimates[1] == pytest.approx(4 * 2.0 + 3 * 3.5 + 8.0)
    assert estimates[5] == pytest.approx(3 * 3.5 + 8.0)
    # After iteration 7: it took 9 s where 3.5 were foreseen, so 5.5 s is the trace; the two
    # float32 iterations left are still foreseen at 3.5 s, until one is timed.
    assert estimate.traces == [pytest.approx(9.0 - 3.5)]
    assert estimates[6] == pytest.approx(2 * 3.5)
    # One left: the 4 s timed, weighed with the 3.5 s foretold as two iterations.
    assert estimates[7] == pytest.approx((4.0 + 2 * 3.5) / 3)
    assert estimates[8] == 0


def test_a_float32_iteration_is_foretold_by_the_cpus_fastest_bfloat16_instructions(monkeypatch):
    from style_transfer import progress

    amx, avx512 = progress.FLOAT32_OVER_BFLOAT16.values()
    assert amx > avx512 > 1.0
    assert progress.float32_over_bfloat16({"avx2", "avx512_bf16", "amx_bf16"}) == amx
    assert progress.float32_over_bfloat16({"avx2", "avx512_bf16"}) == avx512
    assert progress.float32_over_bfloat16({"avx2", "fma"}) == 1.0
    monkeypatch.setattr(progress.precisions, "cpu_flags", lambda: {"avx512_bf16"})
    assert TimeLeft([1.0] * 3, ["bfloat16", "bfloat16", "float32"]).float32_factor == avx512


def test_time_left_of_a_float32_run_knows_no_factor():
    clock = FakeClock()
    estimate = TimeLeft([1.0] * 4, ["float32"] * 4, clock)
    estimate.float32_factor = 1.75  # not used: there is nothing to weigh against
    for iteration, end in enumerate([10.0, 13.0], start=1):
        clock.now = end
        left = estimate.seconds(iteration)
    assert left == pytest.approx(2 * 3.0)


def test_frames_of_a_coarser_scale_are_brought_to_the_output_size():
    from style_transfer.progress import Recorder

    argv = ["a.png", "b.png", "-o", "c.png", "--iterations", "2", "--gif", "run.gif"]
    request, _ = parse_arguments([*argv, "--gif-frames", "2"])
    content = np.zeros((64, 96, 3), np.float32)
    recorder = Recorder(request, Progress(2), content)
    recorder(1, {"total": 1.0}, np.full((32, 48, 3), 0.5, np.float32))
    recorder(2, {"total": 0.5}, np.full((64, 96, 3), 0.5, np.float32))
    assert [frame.shape for frame in recorder.frames] == [(64, 96, 3)] * 2
    assert np.median(recorder.frames[0]) == helper.to_uint8(np.float32(0.5))
