"""What a run writes: the image, the GIF, the --stats manifest and the last checkpoint, each
kept in the temporary folder (and said so) when it cannot go where it was asked.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import helper
import machine
import sheets
from style_transfer import repeat
from style_transfer.arguments import show_value
from style_transfer.errors import EXIT_INTERRUPTED, EXIT_NOT_FINITE
from tensorflow_vgg.weights import resolve_weights_path

if TYPE_CHECKING:
    from style_transfer.request import Request


def manifest(request: Request, checkpoint_dir=None, **results) -> dict:
    """Return the --stats manifest: all parameters, input checksums, versions, then `results`.

    It holds everything --repeat needs, with absolute paths so that a repeat works from any
    directory, and the weights file as the one used.
    """
    absolute = repeat.absolute_path
    parameters = {
        **request.parameters(),
        "content": absolute(request.content),
        "styles": [absolute(path) for path in request.styles],
        "style_masks": _absolute_paths(request.style_masks),
        "style_image_masks": _absolute_paths(request.style_image_masks),
        "batch": [absolute(path) for path in request.batch] if request.batch else None,
        "output": absolute(request.output),
        "weights": absolute(resolve_weights_path(request.weights)),
        "checkpoint_dir": str(checkpoint_dir or ""),
    }
    paths = [absolute(path) for _, path in request.inputs()] + [parameters["weights"]]
    return {
        "parameters": parameters,
        "inputs": repeat.input_digests(paths),
        "versions": repeat.versions(),
        "deterministic": True,
        "repeat_with": f"python -m style_transfer --repeat {request.stats}",
        **results,
    }


def _absolute_paths(paths: list[str] | None) -> list[str] | None:
    return [repeat.absolute_path(path) for path in paths] if paths else None


def save(write, path: str, what: str, say=print) -> bool:
    """Write an output; if that fails (disk full, say), keep it in the temp dir and say so.

    Return whether it went where it was asked to.
    """
    try:
        write(path)
        say(f"saved {path}")
        return True
    except OSError as error:
        fallback = Path(tempfile.gettempdir()) / f"style_transfer-{os.getpid()}-{Path(path).name}"
        write(str(fallback))
        print(
            f"error: could not write {what} to {path} ({error}); saved it to {fallback} instead",
            file=sys.stderr,
        )
        return False


def save_stats(stats: str, contents: dict) -> bool:
    """Write the --stats manifest to `stats`; return whether it went where it was asked."""
    text = json.dumps(contents, indent=1)
    return save(lambda path: machine.write_text(text, path), stats, "the stats")


def loss_line(terms: dict[str, float], w_l: list[float]) -> str:
    """Return the loss as the sum of its weighted terms, then the unweighted terms."""
    weighted = {name: terms[f"weighted_{name}"] for name in ("content", "style", "tv")}
    E = {name[len("style_") :]: value for name, value in terms.items() if name.startswith("style_")}
    if len(set(w_l)) == 1:  # L_style = (1/L) sum_l E_l
        layers = f" = (1/{len(E)}) x (" + " + ".join(f"E_{n} {v:.4g}" for n, v in E.items()) + ")"
    else:  # L_style = sum_l w_l E_l
        layers = " = " + " + ".join(f"{w:.3g} E_{n} {v:.4g}" for (n, v), w in zip(E.items(), w_l))
    return (
        f"loss {terms['total']:.4g} = "
        + " + ".join(f"{name} {value:.4g}" for name, value in weighted.items())
        + f"; loss terms before weighting: content {terms['content']:.4g}, "
        + f"style {terms['style']:.4g}{layers if E else ''}, tv {terms['tv']:.4g}"
    )


def save_outputs(
    request: Request, result, recorder, checkpoint_dir, estimate, done_now, gif_frames, alpha=None
) -> bool:
    """Write the image (with the photo's `alpha` where its format holds one), GIF, stats and
    last checkpoint; return whether all went where asked."""
    all_saved = save_image(result.image, request.output, "the image", alpha=alpha)
    if request.gif and gif_frames:
        all_saved &= save(
            lambda path: sheets.save_animation(gif_frames, path), request.gif, "the GIF"
        )
    if request.stats:
        # A coarse-to-fine run's own history says at which size each iteration ran.
        history = recorder.history
        if request.scales:
            history = recorder.history[: recorder.rows_before] + result.history
        contents = manifest(
            request,
            checkpoint_dir,
            seconds=recorder.seconds(),
            stopped_because=result.stopped_because,
            resumed_from_iteration=recorder.done,
            estimated_peak_memory_bytes=estimate,
            final=result.terms,
            history=history,
        )
        all_saved &= save_stats(request.stats, contents)
    if checkpoint_dir is not None:
        try:
            recorder.save_checkpoint(*recorder.resume_point(result, done_now))
            more = ""
            planned = request.counts
            if done_now >= sum(planned):  # it goes on only with more iterations
                more = f" --iterations {show_value([*planned[:-1], 2 * planned[-1]])}"
            print(
                f"saved checkpoint {checkpoint_dir} (continue with: --resume -o {request.output}"
                f"{more})"
            )
        except OSError as error:
            print(
                f"error: could not write the checkpoint {checkpoint_dir} ({error})", file=sys.stderr
            )
            all_saved = False
    return all_saved


def save_image(image, path, what: str, say=print, alpha=None) -> bool:
    """Save an image (with `alpha` where its format holds one); return whether it went where asked."""
    return save(lambda name: helper.save_image(image, name, alpha=alpha), str(path), what, say)


def finish_many(
    request: Request,
    entries: list[dict],
    code: int,
    seconds: float,
    summary: str,
    interrupted: str,
) -> int:
    """Say how a batch or sweep went, write its manifest, and return its exit code."""
    print(summary)
    if code == EXIT_INTERRUPTED:
        print(interrupted, file=sys.stderr)
    if request.stats:
        if not save_stats(request.stats, manifest(request, seconds=seconds, runs=entries)):
            code = code or EXIT_NOT_FINITE
    return code
