"""Following runs: the progress bar, the recorder of one run (history, GIF frames, checkpoints),
and the loop that runs many pictures under one bar (--batch, --sweep).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np

import helper
from going_further import color
from style_transfer import checkpoints
from style_transfer.errors import EXIT_FINISHED, EXIT_INTERRUPTED, EXIT_NOT_FINITE
from style_transfer.options import counts


class Progress:
    """A progress bar on a terminal; plain lines on stdout otherwise (logs, tests)."""

    def __init__(self, total: int, done: int = 0):
        self.total = total
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(
                total=total, initial=done, unit="it", desc="style transfer", dynamic_ncols=True
            )

    def update(self, iteration: int, loss: float) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(f"loss {loss:.4g}")
        else:
            print(f"iteration {iteration}/{self.total}: loss {loss:.4g}", flush=True)

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


class Recorder:
    """Follows one run through the callback: history, progress, GIF frames, checkpoints.

    It keeps (image, loss terms of that image, iterations done) as the resume point. L-BFGS
    reports each iterate with its own loss; tf_helper's Adam reports the image after step k
    with the loss of the image before it, so for Adam the pair is the previous image.
    """

    def __init__(
        self,
        args,
        progress: Progress,
        content: np.ndarray,
        *,
        offset: int = 0,
        parameters=None,
        checkpoint_dir=None,
        checkpoint=None,
    ):
        self.args = args
        self.progress = progress
        self.offset = offset  # iterations of the runs before this one (batch, sweep)
        self.content = content
        self.parameters = parameters
        self.checkpoint_dir = checkpoint_dir
        self.done = checkpoint.iteration if checkpoint else 0
        self.history = list(checkpoint.history) if checkpoint else []
        self.seconds_before = checkpoint.seconds if checkpoint else 0.0
        self.frames = (
            list(checkpoint.frames) if checkpoint and checkpoint.frames is not None else []
        )
        total = sum(counts(args))
        # min(frames, total) iterations, evenly spaced, the last one included
        self.gif_at = (
            {math.ceil(k * total / args.gif_frames) for k in range(1, args.gif_frames + 1)}
            if args.gif
            else set()
        )
        self.frame_every = 1 if (args.gif or checkpoint_dir) else 0
        self.previous_image = checkpoint.image if checkpoint else None
        self.started = time.perf_counter()
        self.checkpoints_written = 0

    def seconds(self) -> float:
        return self.seconds_before + time.perf_counter() - self.started

    def __call__(self, local_iteration: int, terms: dict[str, float], image) -> None:
        iteration = self.done + local_iteration
        self.history.append({"iteration": iteration, "seconds": self.seconds(), **terms})
        self.progress.update(self.offset + iteration, terms["total"])
        if image is None:
            return
        if self.args.optimizer == "adam":
            resume_point = (self.previous_image, iteration - 1)
            self.previous_image = image
        else:
            resume_point = (image, iteration)
        if iteration in self.gif_at:
            self.add_frame(image, f"iteration {iteration}  loss {terms['total']:.3g}")
        every = self.args.checkpoint_every
        if every and iteration % every == 0 and resume_point[0] is not None:
            try:
                self.save_checkpoint(*resume_point, terms)
            except OSError as error:  # a full disk must not end the run itself
                self.progress.write(f"warning: could not write a checkpoint ({error})", True)

    def add_frame(self, image: np.ndarray, text: str) -> None:
        """Add a GIF frame (in the content's colours when only luminance is optimised)."""
        if self.args.preserve_colors == "luminance" and image.shape == self.content.shape:
            image = color.restore_content_colors(image, self.content)
        self.frames.append(helper.to_uint8(helper.annotate(image, text)))

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
