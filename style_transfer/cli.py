"""Command line: paint a content photo in the style of a painting (Gatys et al., 2015).

Exit codes: 0 finished; 1 stopped because the loss became NaN or infinite, the optimiser
diverged (outcome.went_wrong_way), an output could not go where asked (the image is kept all
the same, stderr says where), or some images of a --batch failed; 2 a bad input or an earlier
run's output in the way, told in one line `error: ...` on stderr; 130 interrupted with Ctrl-C
(the best image so far is saved).
"""

from __future__ import annotations

import sys

import helper
import machine
import sheets
from going_further import tile_geometry
from loss_settings import SettingsError, layer_weights
from optimisation import memory, precisions
from style_transfer import (
    batch,
    checkpoints,
    engine,
    outcome,
    outputs,
    preflight,
    repeat,
    sweep,
    video,
    video_files,
)
from style_transfer.arguments import INHERITED
from style_transfer.errors import (
    EXIT_BAD_INPUT,
    EXIT_DIVERGED,
    EXIT_FINISHED,
    EXIT_INTERRUPTED,
    EXIT_NOT_FINITE,
    UsageError,
)
from style_transfer.progress import Progress, Recorder
from style_transfer.reading import parse_arguments
from style_transfer.request import Request
from tensorflow_vgg.layers import LayerError
from tensorflow_vgg.quiet import BFloat16Error
from tensorflow_vgg.weights import WeightsError

BAD_INPUT_ERRORS = (
    helper.ImageError,
    WeightsError,
    UsageError,
    checkpoints.CheckpointError,
    memory.InsufficientMemoryError,
    SettingsError,
    LayerError,
    video_files.VideoError,
    BFloat16Error,
)


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and run; errors become one line on stderr and exit code 2."""
    try:
        request, checkpoint = parse_arguments(argv)
        return run(request, checkpoint)
    except KeyboardInterrupt:
        print("interrupted before the first iteration; nothing was saved", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BAD_INPUT_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT


def run(request: Request, checkpoint: checkpoints.Checkpoint | None = None) -> int:
    """Run what the request asks for (one run, a batch or a sweep); return the exit code."""
    if request.video:
        return video.run_video(request)
    if request.batch:
        return batch.run_batch(request)
    if request.sweep:
        return sweep.run_sweep(request)
    return run_single(request, checkpoint)


def run_single(request: Request, checkpoint: checkpoints.Checkpoint | None = None) -> int:
    """Run one style transfer (fresh or resumed) and save its outputs; return the exit code."""
    own = checkpoints.own_outputs(checkpoint, request.output) if checkpoint else set()
    checkpoint_dir = preflight.check_paths(request, own)
    headers = preflight.read_headers([path for _, path in request.inputs()])
    network = engine.start(request.seed, request=request)
    repeat.note_repeat(request.repeat)
    done = checkpoint.iteration if checkpoint else 0
    images, estimate = preflight.prepare(request, done=done, headers=headers)
    content = images.content
    if checkpoint is not None and not _fits_a_scale(checkpoint.image, content, request):
        raise UsageError(
            f"the checkpoint image is {checkpoint.image.shape[1]}x{checkpoint.image.shape[0]} "
            f"px but the content at --size {request.size} is {content.shape[1]}x"
            f"{content.shape[0]}; resume with the same --size"
        )
    alpha = helper.load_alpha(request.content, *content.shape[:2])
    if alpha is not None and alpha.max() == 0:
        raise UsageError(
            f"{request.content} is transparent everywhere, so there is nothing to paint; "
            "use a photo with visible pixels"
        )
    # A weights file that cannot be used is told first.
    network(request.weights, request.convolution)
    print(
        f"{preflight.describe(images, request)}"
        f"{preflight.tiling_note(content, images.style, request)}, "
        f"peak memory about {machine.format_bytes(estimate)}"
        f"{preflight.notes(images, request.output, alpha)}"
        f"{_checkpoint_note(request, checkpoint, checkpoint_dir)}",
        flush=True,
    )
    counts = request.counts
    progress = Progress(sum(counts), done, *_iteration_plan(request, content))
    recorder = Recorder(
        request,
        progress,
        content,
        parameters=_checkpoint_parameters(request) if checkpoint_dir else None,
        checkpoint_dir=checkpoint_dir,
        checkpoint=checkpoint,
    )
    try:
        result = engine.paint(request, images, recorder, checkpoint)
    finally:
        progress.close()
    return _finish_single(request, result, recorder, checkpoint_dir, estimate, alpha)


def _checkpoint_note(request: Request, checkpoint, checkpoint_dir) -> str:
    """Return what the first line says of checkpoints: where a resumed run goes on, or where a
    large run saves them."""
    if checkpoint is not None:
        return (
            f"; resuming at iteration {checkpoint.iteration} (loss {checkpoint.terms['total']:.4g})"
        )
    if request.checkpoint_minutes and not request.checkpoint_every:
        return (
            f"; a checkpoint every {request.checkpoint_minutes:g} min in {checkpoint_dir} "
            f"(--resume -o {request.output} continues after a crash or Ctrl-C)"
        )
    return ""


def _fits_a_scale(image, content, request: Request) -> bool:
    """Whether a checkpoint's image has the content's shape, or (coarse to fine) a scale's."""
    if image.shape == content.shape:
        return True
    return (
        bool(request.scales)
        and image.shape[2] == content.shape[2]
        and image.shape[:2] in request.shapes(*content.shape[:2])
    )


def _iteration_plan(request: Request, content) -> tuple[list[float], list[str]]:
    """Return each iteration's relative time (its scale's pixels, times 1.6 when tiled) and
    the precision it runs in, for the time left."""
    costs, kinds = [], []
    for (height, width), iterations in zip(request.shapes(*content.shape[:2]), request.counts):
        settings = request.settings().replace(iterations=iterations)
        tiled = tile_geometry.plan_tiles(height, width, settings) is not None
        costs += [height * width * (memory.TILED_COST if tiled else 1.0)] * iterations
        for kind, count in precisions.phases(request.precision, iterations):
            kinds += [kind] * count
    return costs, kinds


def _checkpoint_parameters(request: Request) -> dict:
    """Return what a checkpoint records of the run: its options, its picture's path (which a
    resume may replace) and its inputs' checksums."""
    values = request.parameters()
    parameters = {key: values[key] for key in INHERITED}
    parameters["output"] = repeat.absolute_path(request.output)
    parameters["content_sha256"] = machine.file_digest(request.content)
    parameters["styles_sha256"] = [machine.file_digest(path) for path in request.styles]
    for name in ("style_masks", "style_image_masks"):
        parameters[f"{name}_sha256"] = [
            machine.file_digest(p) for p in getattr(request, name) or []
        ]
    return parameters


def _finish_single(
    request: Request, result, recorder: Recorder, checkpoint_dir, estimate: int, alpha
) -> int:
    """Save what a single run made, say how it ended, and return its exit code."""
    seconds = recorder.seconds()
    # Numbered as planned: a coarser scale that stopped early leaves a gap.
    done_now = int(result.history[-1]["iteration"]) if result.history else recorder.done
    gif_frames = list(recorder.frames)
    if request.gif and (result.stopped_because != "finished" or not recorder.frames):
        # The GIF so far ends on the image that is saved, so even an early stop has one. The
        # checkpoint keeps only the planned frames: a resumed run's GIF has --gif-frames.
        text = f"iteration {done_now} ({result.stopped_because.split(':')[0]})"
        gif_frames.append(helper.to_uint8(sheets.annotate(result.image, text)))
    try:
        all_saved = outputs.save_outputs(
            request, result, recorder, checkpoint_dir, estimate, done_now, gif_frames, alpha
        )
    except KeyboardInterrupt:
        print("interrupted again while saving; outputs not yet written are lost", file=sys.stderr)
        return EXIT_INTERRUPTED
    settings = request.settings()
    w_l = layer_weights(settings.style_layers, settings.layer_weights)
    loss = outputs.loss_line(result.terms, w_l)
    wrong_way = None
    if result.stopped_because != "interrupted" and not result.failed:
        # A resumed run is judged from where it resumed: its own rows
        wrong_way = outcome.went_wrong_way(result.history, result.terms["total"])
    if result.stopped_because in ("finished", "interrupted") or result.failed:
        ended = "diverged" if wrong_way else result.stopped_because
        print(f"{ended}: {done_now} iterations in {seconds:.1f} s; {loss}")
    else:  # stopped or converged before its iterations were done: the sentence says why
        print(f"{result.stopped_because}; {seconds:.1f} s; {loss}")
    return _exit_code(request, result, done_now, all_saved, wrong_way)


def _exit_code(request: Request, result, done_now: int, all_saved: bool, wrong_way) -> int:
    """Say how an interrupted, failed or diverged run ended; return the exit code of a single
    run."""
    if result.stopped_because == "interrupted":
        print(
            f"interrupted after {done_now} iterations; saved the best image so far "
            f"(loss {result.terms['total']:.4g}) to {request.output}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    if result.failed:
        print(
            f"error: {result.stopped_because.removeprefix('stopped: ')} after {done_now} "
            f"iterations; kept the last good image (loss {result.terms['total']:.4g}) in "
            f"{request.output}; lower --learning-rate (now {request.learning_rate:g}) or "
            f"--style-weight (now {request.style_weight:g})",
            file=sys.stderr,
        )
        return EXIT_NOT_FINITE
    if wrong_way:  # outcome.went_wrong_way's sentence
        fix = outcome.what_to_try(request)
        print(
            f"error: {wrong_way}; saved it to {request.output} all the same; {fix}", file=sys.stderr
        )
        return EXIT_DIVERGED
    return EXIT_FINISHED if all_saved else EXIT_NOT_FINITE
