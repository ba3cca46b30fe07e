"""`python -m tutorial.cli_pictures ARGUMENTS`: the command line as it is, each of its runs also
handing the notebook its picture and loss terms at every iteration, one line on stdout each.

The picture is the one the engine's callback receives anyway (no extra network pass);
tutorial/command_line.py reads these lines in the notebook and draws them. No TensorFlow here
until the command line starts it.
"""

from __future__ import annotations

import base64
import json
import signal
import sys
from pathlib import Path

import numpy as np

import helper

PICTURE_LINE = "tutorial-picture "  # starts a line meant for the notebook, not for the learner


def picture_line(run: int, label: str, iteration: int, iterations: int, terms: dict, image) -> str:
    """Return one iteration of one run as a line: PICTURE_LINE, then JSON with 8-bit pixels."""
    pixels = helper.to_uint8(np.asarray(image))  # (H, W, 3) uint8: what the notebook shows
    message = {
        "run": run,
        "label": label,
        "iteration": iteration,
        "iterations": iterations,
        "terms": {name: float(value) for name, value in terms.items()},
        "shape": list(pixels.shape),
        "pixels": base64.b64encode(pixels.tobytes()).decode("ascii"),
    }
    return PICTURE_LINE + json.dumps(message)


def read_picture_line(line: str) -> dict | None:
    """Return a picture line's message, its `image` (H, W, 3) float32 in [0, 1]; else None."""
    if not line.startswith(PICTURE_LINE):
        return None
    message = json.loads(line[len(PICTURE_LINE) :])
    pixels = np.frombuffer(base64.b64decode(message.pop("pixels")), np.uint8)
    message["image"] = pixels.reshape(message.pop("shape")).astype(np.float32) / 255.0
    return message


class PictureCallback:
    """A run's own callback (the command line's Recorder) that also prints a picture line."""

    def __init__(self, recorder, run: int, label: str, iterations: int):
        self.recorder, self.run, self.label, self.iterations = recorder, run, label, iterations
        self.frame_every = 1  # the run holds each iteration's picture anyway: hand it over
        self.count = 0  # numbered on through the scales of a coarse-to-fine run

    def __call__(self, iteration: int, terms: dict, image) -> None:
        self.recorder(iteration, terms, image)
        self.count += 1
        if image is not None:
            line = picture_line(self.run, self.label, self.count, self.iterations, terms, image)
            print(line, flush=True)


def run_label(request) -> str:
    """Return what a run is called on its bar: its sweep combination or its output file's name
    ('' in a batch, whose photo the command line names on the line before the run)."""
    from style_transfer import sweep

    if request.sweep:  # the combination whose values give back this very request
        return next((sweep.label(c) for c, r in sweep.sweep_runs(request) if r == request), "sweep")
    return "" if request.batch else Path(request.output).name


def main(arguments: list[str]) -> int:
    """Run the command line with `arguments`, every run's callback printing picture lines."""
    from style_transfer import cli, engine

    # The notebook's stop button reaches this process as SIGINT. A kernel or test runner started
    # as a background job of a script ignores SIGINT, and a child inherits that: Ctrl-C is put
    # back, or the stop button would let the run go on to its last iteration.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    paint, runs = engine.paint, []

    def paint_with_pictures(request, images, recorder, checkpoint=None):
        runs.append(request)
        left = sum(request.counts) - (checkpoint.iteration if checkpoint else 0)
        callback = PictureCallback(recorder, len(runs), run_label(request), left)
        return paint(request, images, callback, checkpoint)

    engine.paint = paint_with_pictures  # the one way of every run (single, batch, sweep)
    return cli.main(arguments)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
