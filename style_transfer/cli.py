"""Command line: paint a content photo in the style of a painting (Gatys et al., 2015).

Exit codes: 0 finished; 1 stopped because the loss became NaN or infinite, an output could
not go where asked (the image is kept all the same, stderr says where), or some images of a
--batch failed; 2 a bad input, told in one line `error: ...` on stderr; 130 interrupted with
Ctrl-C (the best image so far is saved).
"""

from __future__ import annotations

import argparse
import sys

import helper
import sheets
from optimisation import memory
from optimisation.settings import SettingsError
from style_transfer import batch, checkpoints, engine, outputs, preflight, repeat, sweep
from style_transfer.errors import (
    EXIT_BAD_INPUT,
    EXIT_FINISHED,
    EXIT_INTERRUPTED,
    EXIT_NOT_FINITE,
    UsageError,
)
from style_transfer.options import counts, settings_of
from style_transfer.progress import Progress, Recorder
from style_transfer.request import INHERITED, parse_arguments
from tensorflow_vgg.layers import LayerError
from tensorflow_vgg.weights import WeightsError

BAD_INPUT_ERRORS = (
    helper.ImageError,
    WeightsError,
    UsageError,
    checkpoints.CheckpointError,
    memory.InsufficientMemoryError,
    SettingsError,
    LayerError,
)


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and run; errors become one line on stderr and exit code 2."""
    try:
        args, checkpoint = parse_arguments(argv)
        return run(args, checkpoint)
    except KeyboardInterrupt:
        print("interrupted before the first iteration; nothing was saved", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BAD_INPUT_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT


def run(args: argparse.Namespace, checkpoint: checkpoints.Checkpoint | None = None) -> int:
    """Run what the parsed arguments ask for (one run, a batch or a sweep); return the exit code."""
    if args.batch:
        return batch.run_batch(args)
    if args.sweep:
        return sweep.run_sweep(args)
    return run_single(args, checkpoint)


def run_single(args: argparse.Namespace, checkpoint: checkpoints.Checkpoint | None = None) -> int:
    """Run one style transfer (fresh or resumed) and save its outputs; return the exit code."""
    checkpoint_dir = preflight.check_paths(args)
    preflight.check_readable([args.content, *args.styles])
    tf_helper = engine.start(args)
    repeat.note_repeat(args)
    done = checkpoint.iteration if checkpoint else 0
    content, style, estimate = preflight.prepare(args, done=done)
    if checkpoint is not None and not _fits_a_scale(checkpoint.image, content, args.scales):
        raise UsageError(
            f"the checkpoint image is {checkpoint.image.shape[1]}x{checkpoint.image.shape[0]} "
            f"px but the content at --size {args.size} is {content.shape[1]}x{content.shape[0]}; "
            "resume with the same --size"
        )
    tf_helper.network(args.weights)  # a weights file that cannot be used is told first
    alpha = helper.load_alpha(args.content, *content.shape[:2])
    resuming = ""
    if checkpoint is not None:
        resuming = f"; resuming at iteration {done} (loss {checkpoint.terms['total']:.4g})"
    elif args.checkpoint_minutes and not args.checkpoint_every:
        resuming = (
            f"; a checkpoint every {args.checkpoint_minutes:g} min in {checkpoint_dir} "
            f"(--resume -o {args.output} continues after a crash or Ctrl-C)"
        )
    print(
        f"{preflight.describe(content, style, args)}{preflight.tiling_note(content, style, args)}, "
        f"peak memory about {helper.format_bytes(estimate)}"
        f"{preflight.notes(content, style, args.output, alpha)}{resuming}",
        flush=True,
    )
    progress = Progress(
        sum(counts(args)), done, costs=_iteration_costs(args, content), counts=counts(args)
    )
    recorder = Recorder(
        args,
        progress,
        content,
        parameters=_checkpoint_parameters(args) if checkpoint_dir else None,
        checkpoint_dir=checkpoint_dir,
        checkpoint=checkpoint,
    )
    try:
        result = engine.paint(args, content, style, recorder, checkpoint)
    finally:
        progress.close()
    return _finish_single(args, result, recorder, checkpoint_dir, estimate, alpha)


def _fits_a_scale(image, content, scales) -> bool:
    """Whether a checkpoint's image has the content's shape, or (coarse to fine) a scale's."""
    if image.shape == content.shape:
        return True
    return (
        bool(scales)
        and image.shape[2] == content.shape[2]
        and any(
            image.shape[:2] == helper.size_for_longest_side(*content.shape[:2], size)
            for size in scales
        )
    )


def _iteration_costs(args, content) -> list[float]:
    """Return the relative time of each scale's iterations: its pixels, times 1.6 when tiled."""
    sizes = args.scales or [max(content.shape[:2])]
    costs = []
    for size, iterations in zip(sizes, counts(args)):
        height, width = helper.size_for_longest_side(*content.shape[:2], size)
        settings = settings_of(args).replace(iterations=iterations)
        tiled = memory.plan_tiles(height, width, settings) is not None
        costs.append(height * width * (memory.TILED_COST if tiled else 1.0))
    return costs


def _checkpoint_parameters(args: argparse.Namespace) -> dict:
    """Return what a checkpoint records of the run: its options and its inputs' checksums."""
    parameters = {key: getattr(args, key) for key in INHERITED}
    parameters["content_sha256"] = helper.file_digest(args.content)
    parameters["styles_sha256"] = [helper.file_digest(path) for path in args.styles]
    return parameters


def _finish_single(args, result, recorder: Recorder, checkpoint_dir, estimate: int, alpha) -> int:
    """Save what a single run made, say how it ended, and return its exit code."""
    seconds = recorder.seconds()
    # Numbered as planned: a coarser scale that stopped early leaves a gap.
    done_now = int(result.history[-1]["iteration"]) if result.history else recorder.done
    gif_frames = list(recorder.frames)
    if args.gif and (result.stopped_because != "finished" or not recorder.frames):
        # The GIF so far ends on the image that is saved, so even an early stop has one. The
        # checkpoint keeps only the planned frames: a resumed run's GIF has --gif-frames.
        text = f"iteration {done_now} ({result.stopped_because.split(':')[0]})"
        gif_frames.append(helper.to_uint8(sheets.annotate(result.image, text)))
    try:
        all_saved = outputs.save_outputs(
            args, result, recorder, checkpoint_dir, estimate, done_now, gif_frames, alpha
        )
    except KeyboardInterrupt:
        print("interrupted again while saving; outputs not yet written are lost", file=sys.stderr)
        return EXIT_INTERRUPTED
    loss = outputs.loss_line(result.terms)
    if result.stopped_because in ("finished", "interrupted") or result.failed:
        print(f"{result.stopped_because}: {done_now} iterations in {seconds:.1f} s; {loss}")
    else:  # stopped or converged before its iterations were done: the sentence says why
        print(f"{result.stopped_because}; {seconds:.1f} s; {loss}")
    if result.stopped_because == "interrupted":
        print(
            f"interrupted after {done_now} iterations; saved the best image so far "
            f"(loss {result.terms['total']:.4g}) to {args.output}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    if result.failed:
        print(
            f"error: {result.stopped_because.removeprefix('stopped: ')} after {done_now} "
            f"iterations; kept the last good image (loss {result.terms['total']:.4g}) in "
            f"{args.output}; lower --learning-rate (now {args.learning_rate:g}) or "
            f"--style-weight (now {args.style_weight:g})",
            file=sys.stderr,
        )
        return EXIT_NOT_FINITE
    return EXIT_FINISHED if all_saved else EXIT_NOT_FINITE
