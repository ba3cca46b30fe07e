"""Following runs: the progress bar, the recorder of one run (history, GIF frames, checkpoints),
and the loop that runs many pictures under one bar (--batch, --sweep).
"""

from __future__ import annotations

import itertools
import math
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

import helper
import sheets
from going_further import color
from style_transfer import checkpoints
from style_transfer.errors import EXIT_FINISHED, EXIT_INTERRUPTED, EXIT_NOT_FINITE

if TYPE_CHECKING:
    from style_transfer.request import Request


class Progress:
    """A progress bar with the time left on a terminal; plain lines on stdout otherwise.

    `costs` gives the relative time of one iteration at each scale, in the order the scales
    run (`counts` iterations each): a coarse-to-fine run's iterations grow dearer with the
    pixels, so the time left is the time per unit of cost, times the cost to come. The clock
    starts at the first iteration's end: that iteration also computed the targets and traced
    the loss, which would make the first estimates several times too long.
    """

    def __init__(self, total: int, done: int = 0, costs=None, counts=None):
        self.total = total
        per_iteration = [1.0] * total
        if costs is not None:
            per_iteration = [cost for cost, count in zip(costs, counts) for _ in range(count)]
        self.cost_before = [0.0, *itertools.accumulate(per_iteration)]  # cost of iterations < k
        self.clock: tuple[int, float] | None = None  # (iteration, when it ended): the first
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
        iteration, now = min(iteration, self.total), time.perf_counter()
        if iteration >= self.total:
            return ""
        if self.clock is None:
            self.clock = (iteration, now)
        first, started = self.clock
        spent = self.cost_before[iteration] - self.cost_before[first]
        if spent <= 0:
            return ", estimating the time left"
        seconds = (now - started) / spent
        seconds *= self.cost_before[self.total] - self.cost_before[iteration]
        return f", about {_duration(seconds)} left"

    def update(self, iteration: int, loss: float) -> None:
        left = self.time_left(iteration)
        if self.bar is not None:
            self.bar.update(1)
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
    """Return a time left for people: '40 s', '12 min', '1 h 05 min'."""
    if seconds < 60:
        return f"{seconds:.0f} s"
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
    a job did not finish or its output was not saved where asked, 130 on Ctrl-C.
    """
    progress = Progress(total)
    entries, code, started = [], EXIT_FINISHED, time.perf_counter()
    try:
        for job in jobs:
            entry = paint_one(job, progress)
            entries.append(entry)
            if entry.get("stopped_because") == "interrupted":
                code = EXIT_INTERRUPTED
                break
            if "error" in entry or entry.get("failed") or not entry.get("saved", True):
                code = EXIT_NOT_FINITE
    except KeyboardInterrupt:  # between two runs, or while one was being set up
        code = EXIT_INTERRUPTED
    finally:
        progress.close()
    return entries, code, time.perf_counter() - started


def run_entry(result, seconds: float, **what) -> dict:
    """Return one run of a batch or sweep as the manifest records it."""
    return {
        **what,
        "stopped_because": result.stopped_because,
        "failed": result.failed,
        "iterations": len(result.history),
        "seconds": seconds,
        "final": result.terms,
    }
