"""Following runs: the progress bar, the recorder of one run (history, GIF frames, checkpoints),
and the loop that runs many pictures under one bar (--batch, --sweep).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

import helper
import sheets
from going_further import color
from optimisation import precisions
from style_transfer import checkpoints, outcome
from style_transfer.errors import EXIT_FINISHED, EXIT_INTERRUPTED, EXIT_NOT_FINITE

if TYPE_CHECKING:
    from style_transfer.request import Request


# How much longer a float32 iteration takes than a bfloat16 one, by the CPU's fastest bfloat16
# instructions: AMX's tile products run bfloat16 at several times float32's rate, AVX512_BF16
# alone little faster than Winograd's float32 (benchmarks/README.md). Elsewhere bfloat16 is
# emulated and the ratio unknown. Used only until the run's own float32 iterations are timed.
FLOAT32_OVER_BFLOAT16 = {"amx_bf16": 2.75, "avx512_bf16": 1.2}
# A precision's first timed iterations vary (line searches): what the other precision foretells
# counts as this many of them.
FORETOLD = 2


def float32_over_bfloat16(flags: set[str]) -> float:
    """Return FLOAT32_OVER_BFLOAT16's value for the first of its flags (fastest first) found in
    `flags`, the CPU's; 1.0 if none is."""
    return next((FLOAT32_OVER_BFLOAT16[f] for f in FLOAT32_OVER_BFLOAT16 if f in flags), 1.0)


class TimeLeft:
    """The time left of a run, from the time its iterations took so far.

    `costs[i]` is the relative time of iteration i + 1 (a coarse-to-fine run's iterations grow
    dearer with the pixels) and `kinds[i]` the precision it runs in: a mixed run's float32
    iterations are timed apart from its bfloat16 ones, and until several are timed a float32
    iteration counts as `float32_over_bfloat16(CPU flags)` bfloat16 ones. The first
    iteration of each stretch of one scale and precision also traces the loss (the run's first
    also computes the targets), so it is not timed as an iteration: the clock starts at the
    first iteration's end, and a later stretch's first iteration gives the time of a trace,
    counted once for each stretch to come (until one is timed, the first iteration's time
    beyond its cost, from the estimate's making, stands for it).
    """

    def __init__(self, costs: Sequence[float], kinds: Sequence[str], clock=time.perf_counter):
        self.costs, self.kinds, self.clock = list(costs), list(kinds), clock
        self.starts = [
            i == 0 or (costs[i], kinds[i]) != (costs[i - 1], kinds[i - 1])
            for i in range(len(costs))
        ]  # whether iteration i + 1 begins a stretch
        # kind: [seconds, cost, iterations] of the iterations timed
        self.timed = {kind: [0.0, 0.0, 0] for kind in set(self.kinds)}
        self.traces: list[float] = []  # seconds a stretch's first iteration took beyond its cost
        self.last: tuple[int, float] | None = None  # (iteration, when it ended)
        self.made = clock()
        self.opening: tuple[int, float] | None = None  # (index, seconds) of the first one seen
        self.float32_factor = float32_over_bfloat16(precisions.cpu_flags())

    def seconds(self, iteration: int) -> float | None:
        """Return the seconds left after `iteration` iterations, None while not yet measured."""
        now = self.clock()
        if self.last is not None and iteration > self.last[0]:
            self._time(self.last[0], iteration, now - self.last[1])
        elif self.last is None and iteration > 0:
            self.opening = (iteration - 1, now - self.made)
        self.last = (iteration, now)
        rates = {kind: self._rate(kind) for kind in self.timed}
        if any(rate is None for rate in rates.values()):
            return None
        left = range(iteration, len(self.costs))
        seconds = sum(self.costs[i] * rates[self.kinds[i]] for i in left)
        return seconds + self._trace() * sum(self.starts[i] for i in left)

    def _trace(self) -> float:
        """Return the seconds a trace takes: as timed, or else the first iteration's excess."""
        if self.traces:
            return sum(self.traces) / len(self.traces)
        if self.opening is None:
            return 0.0
        index, seconds = self.opening
        rate = self._rate(self.kinds[index])
        return 0.0 if rate is None else max(0.0, seconds - self.costs[index] * rate)

    def _time(self, before: int, after: int, seconds: float) -> None:
        """Take in the time of iterations before + 1 ... after."""
        span = range(before, after)
        if not any(self.starts[i] for i in span):
            timed = self.timed[self.kinds[after - 1]]
            timed[0] += seconds
            timed[1] += sum(self.costs[i] for i in span)
            timed[2] += len(span)
            return
        rates = [self._rate(self.kinds[i]) for i in span]
        if None not in rates:
            iterations = sum(self.costs[i] * rate for i, rate in zip(span, rates))
            self.traces.append(max(0.0, seconds - iterations))

    def _rate(self, kind: str) -> float | None:
        """Return the seconds per unit of cost of a precision's iterations: as timed, weighed
        with what the other precision's foretell (as FORETOLD iterations) while few are timed."""
        seconds, cost, count = self.timed[kind]
        foretold = self._foretold(kind)
        if foretold is None:
            return seconds / cost if cost > 0 else None
        weight = FORETOLD * (cost / count if count else 1.0)
        return (seconds + foretold * weight) / (cost + weight)

    def _foretold(self, kind: str) -> float | None:
        """Return a precision's seconds per unit of cost as the other one's timed iterations
        foretell it (float32 = bfloat16 x float32_factor), None where there are none."""
        other = "bfloat16" if kind == "float32" else "float32"
        if other not in self.timed or self.timed[other][1] <= 0:
            return None
        factor = self.float32_factor if kind == "float32" else 1 / self.float32_factor
        return self.timed[other][0] / self.timed[other][1] * factor


class Progress:
    """A progress bar with the time left (TimeLeft) on a terminal; plain lines on stdout
    otherwise. `costs` and `kinds` are TimeLeft's, one per iteration (default: all alike).
    """

    def __init__(self, total: int, done: int = 0, costs=None, kinds=None, clock=time.perf_counter):
        self.total = total
        self.estimate = TimeLeft(costs or [1.0] * total, kinds or ["float32"] * total, clock)
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(
                total=total,
                initial=done,
                unit="it",
                desc="style transfer",
                dynamic_ncols=True,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
                "[{elapsed}{postfix}]",
            )

    def time_left(self, iteration: int) -> str:
        """Return ', about N min left' after `iteration` iterations ('' after the last)."""
        iteration = min(iteration, self.total)
        seconds = self.estimate.seconds(iteration)
        if iteration >= self.total:
            return ""
        if seconds is None:
            return ", estimating the time left"
        return f", about {_duration(seconds)} left"

    def update(self, iteration: int, loss: float) -> None:
        if self.bar is not None:
            self.bar.update(1)
        self.update_text(iteration, loss)

    def advance_to(self, iteration: int, loss: float) -> None:
        """Move the bar to `iteration` of the whole job (workers elsewhere report in bursts)."""
        if self.bar is not None:
            self.bar.update(max(0, iteration - self.bar.n))
        self.update_text(iteration, loss)

    def update_text(self, iteration: int, loss: float) -> None:
        """Show the loss and the time left after `iteration` iterations."""
        left = self.time_left(iteration)
        if self.bar is not None:
            self.bar.set_postfix_str(f"loss {loss:.4g}{left}")
        else:
            print(f"iteration {iteration}/{self.total}: loss {loss:.4g}{left}", flush=True)

    def skip(self, count: int) -> None:
        """Move the bar past the iterations of a run that did not happen."""
        if self.bar is not None:
            self.bar.update(count)

    def write(self, text: str, error: bool = False) -> None:
        """Print a line without breaking the bar."""
        stream = sys.stderr if error else sys.stdout
        if self.bar is not None:
            self.bar.write(text, file=stream)
        else:
            print(text, file=stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _duration(seconds: float) -> str:
    """Return a time left for people: '40 s', '2 min 30 s', '12 min', '1 h 05 min'."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 570:  # to the nearest 10 s: a minute's rounding would be a third of it
        tens = round(seconds / 10) * 10
        return f"{tens // 60} min {tens % 60:02d} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


class Recorder:
    """Follows one run through the callback: history, progress, GIF frames, checkpoints.

    It keeps (image, loss terms of that image, iterations done) as the resume point. L-BFGS
    reports each iterate with its own loss; tf_helper's Adam reports the image after step k
    with the loss of the image before it, so for Adam the pair is the previous image.
    """

    def __init__(
        self,
        request: Request,
        progress: Progress,
        content: np.ndarray,
        *,
        offset: int = 0,
        parameters=None,
        checkpoint_dir=None,
        checkpoint=None,
    ):
        self.request = request
        self.progress = progress
        self.offset = offset  # iterations of the runs before this one (batch, sweep)
        self.content = content
        self.parameters = parameters
        self.checkpoint_dir = checkpoint_dir
        self.done = checkpoint.iteration if checkpoint else 0
        self.history = list(checkpoint.history) if checkpoint else []
        self.rows_before = len(self.history)
        self.seconds_before = checkpoint.seconds if checkpoint else 0.0
        self.frames = (
            list(checkpoint.frames) if checkpoint and checkpoint.frames is not None else []
        )
        total, frames = sum(request.counts), request.gif_frames
        # min(frames, total) iterations, evenly spaced, the last one included
        self.gif_at = (
            {math.ceil(k * total / frames) for k in range(1, frames + 1)} if request.gif else set()
        )
        self.frame_every = 1 if (request.gif or checkpoint_dir) else 0
        self.previous_image = checkpoint.image if checkpoint else None
        self.started = time.perf_counter()
        self.checkpoints_written = 0
        self.last_checkpoint = self.started
        self.latest = (None, -1, {})  # the last (image, iteration, terms) a checkpoint may take

    def seconds(self) -> float:
        return self.seconds_before + time.perf_counter() - self.started

    def __call__(self, local_iteration: int, terms: dict[str, float], image) -> None:
        iteration = self.done + local_iteration
        if image is not None:  # first, so that a Ctrl-C in what follows finds it
            if self.request.optimizer == "adam":
                resume_point = (self.previous_image, iteration - 1)
                self.previous_image = image
            else:
                resume_point = (image, iteration)
            self.latest = (*resume_point, terms)
        if self.history and iteration > self.history[-1]["iteration"] + 1:
            # A coarser scale stopped early: its iterations are planned, not done.
            self.progress.skip(iteration - self.history[-1]["iteration"] - 1)
        self.history.append({"iteration": iteration, "seconds": self.seconds(), **terms})
        self.progress.update(self.offset + iteration, terms["total"])
        if image is None:
            return
        if iteration in self.gif_at:
            self.add_frame(image, f"iteration {iteration}  loss {terms['total']:.3g}")
        every, minutes = self.request.checkpoint_every, self.request.checkpoint_minutes
        due = bool(every) and iteration % every == 0
        due |= bool(minutes) and time.perf_counter() - self.last_checkpoint >= 60 * minutes
        if due and resume_point[0] is not None:
            try:
                self.save_checkpoint(*resume_point, terms)
            except OSError as error:  # a full disk must not end the run itself
                self.progress.write(f"warning: could not write a checkpoint ({error})", True)

    def resume_point(self, result, done: int) -> tuple:
        """Return (image, iteration, terms) to checkpoint when a run ends: the result, or, for a
        coarse-to-fine run stopped before its last scale, the last image of the scale it
        stopped in (a Ctrl-C may land between the optimiser's iteration and its report)."""
        image, iteration, terms = self.latest
        if image is not None and image.shape != result.image.shape:
            return np.asarray(image), iteration, terms
        return result.image, done, result.terms

    def add_frame(self, image: np.ndarray, text: str) -> None:
        """Add a GIF frame at the output's size (in the content's colours when only luminance
        is optimised): a coarse-to-fine run's early frames are smaller."""
        if image.shape[:2] != self.content.shape[:2]:
            image = helper.resize(image, *self.content.shape[:2])
        if self.request.preserve_colors == "luminance" and image.shape == self.content.shape:
            image = color.restore_content_colors(image, self.content)
        self.frames.append(helper.to_uint8(sheets.annotate(image, text)))

    def save_checkpoint(self, image, iteration: int, terms) -> None:
        entries = [entry for entry in self.history if entry["iteration"] <= iteration]
        checkpoints.save_checkpoint(
            self.checkpoint_dir,
            checkpoints.Checkpoint(
                image=np.asarray(image, dtype=np.float32),
                iteration=iteration,
                terms=dict(terms),
                parameters=self.parameters,
                history=entries,
                seconds=self.seconds(),
                frames=np.stack(self.frames) if self.frames else None,
            ),
        )
        self.checkpoints_written += 1
        self.last_checkpoint = time.perf_counter()


def run_each(jobs: Sequence, total: int, paint_one: Callable) -> tuple[list[dict], int, float]:
    """Call paint_one(job, progress) for each job under one bar of `total` iterations.

    Each call returns the job's manifest entry. Returns (entries, exit code, seconds): 1 if
    a job did not finish, diverged or its output was not saved where asked, 130 on Ctrl-C.
    """
    progress = Progress(total)
    entries, code, started = [], EXIT_FINISHED, time.perf_counter()
    try:
        for job in jobs:
            entry = paint_one(job, progress)
            entries.append(entry)
            code = max(code, entry_code(entry))
            if code == EXIT_INTERRUPTED:
                break
    except KeyboardInterrupt:  # between two runs, or while one was being set up
        code = EXIT_INTERRUPTED
    finally:
        progress.close()
    return entries, code, time.perf_counter() - started


def entry_code(entry: dict) -> int:
    """Return what one run of a batch or sweep makes of the exit code: 130 if it was
    interrupted; 1 if it did not finish, diverged or its output was not saved where asked."""
    if entry.get("stopped_because") == "interrupted":
        return EXIT_INTERRUPTED
    failed = entry.get("failed") or entry.get("diverged")
    if "error" in entry or failed or not entry.get("saved", True):
        return EXIT_NOT_FINITE
    return EXIT_FINISHED


def run_entry(result, seconds: float, **what) -> dict:
    """Return one run of a batch or sweep as the manifest records it ("diverged" holds what
    went wrong in a run that ended far worse than it started, else None)."""
    wrong_way = None
    if not result.failed and result.stopped_because != "interrupted":
        wrong_way = outcome.went_wrong_way(result.history, result.terms["total"])
    return {
        **what,
        "stopped_because": result.stopped_because,
        "failed": result.failed,
        "diverged": wrong_way,
        "iterations": len(result.history),
        "seconds": seconds,
        "final": result.terms,
    }
