"""--batch: several photos painted with the same painting(s), one output each, one progress bar.

A photo that cannot be used is reported in one line and the others still run.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import helper
from loss_settings import SettingsError
from optimisation import memory
from style_transfer import engine, outcome, outputs, preflight, repeat
from style_transfer.errors import UsageError
from style_transfer.progress import Recorder, run_each, run_entry

if TYPE_CHECKING:
    from style_transfer.request import Request


def batch_output_path(directory: str | os.PathLike, content: str, styles: Sequence[str]) -> Path:
    """Return where the batch writes a content's result: `<content stem>_<style stem>.jpg`."""
    style_part = "+".join(Path(style).stem for style in styles)
    return Path(directory) / f"{Path(content).stem}_{style_part}.jpg"


def check_batch_outputs(
    directory: str | os.PathLike,
    contents: Sequence[str],
    styles: Sequence[str],
    overwrite: bool = False,
) -> Path:
    """Refuse an output directory that is a file, unwritable, where outputs clash, or (unless
    `overwrite`) that holds an output already; make it."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"-o {directory} is a file; with --batch, -o is a directory for outputs")
    if not directory.exists() and directory.suffix.lower() in helper.IMAGE_SUFFIXES:
        raise UsageError(
            f"-o {directory} looks like an image file; with --batch, -o is a directory "
            "(one output per content image goes into it)"
        )
    seen: dict[Path, str] = {}
    inputs = {Path(path).resolve(): path for path in [*contents, *styles]}
    for content in contents:
        output = batch_output_path(directory, content, styles)
        if output.resolve() in inputs:
            raise UsageError(
                f"{output} is the input image {inputs[output.resolve()]}; choose another -o"
            )
        if output in seen:
            raise UsageError(
                f"{seen[output]} and {content} would both be written to {output}; rename one, "
                "or run them in separate batches"
            )
        seen[output] = content
    if not overwrite:
        _check_earlier_outputs(directory, list(seen))
    try:  # make it now: an unwritable place is told before any run
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(
            f"cannot write into {directory} ({error.strerror}); give -o a writable directory"
        ) from None
    preflight.check_writable(directory, f"into {directory}", "give -o a writable directory")
    return directory


def _check_earlier_outputs(directory: Path, outputs: list[Path]) -> None:
    """Refuse a batch that would replace pictures already in its output directory."""
    there = [str(path) for path in outputs if path.exists()]
    if there:
        shown = ", ".join(there[:3]) + (f" and {len(there) - 3} more" if len(there) > 3 else "")
        raise UsageError(
            f"{shown} {'exists' if len(there) == 1 else 'exist'} (from an earlier run); give -o "
            f"another directory, or pass --overwrite to replace {'it' if len(there) == 1 else 'them'}"
        )


def run_batch(request: Request) -> int:
    """Style every --batch content with the same style(s); return the exit code (1 if any failed)."""
    directory = check_batch_outputs(
        request.output, request.batch, request.styles, request.overwrite
    )
    preflight.check_paths(request)
    headers = preflight.read_headers(request.styles)
    engine.start(request.seed)
    repeat.note_repeat(request.repeat)
    preflight.check_layers(request)
    per_run = sum(request.counts)
    contents = request.batch

    def paint_one(job, progress) -> dict:
        index, content_path = job
        progress.write(f"[{index + 1}/{len(contents)}] {content_path}")
        return _batch_one(request, directory, content_path, progress, index * per_run, headers)

    entries, code, seconds = run_each(list(enumerate(contents)), per_run * len(contents), paint_one)
    done = sum(
        1
        for entry in entries
        if "error" not in entry
        and not entry["failed"]
        and entry["stopped_because"] != "interrupted"
    )
    summary = f"batch: {done} of {len(contents)} images done, {len(contents) - done} not"
    interrupted = "interrupted; the outputs done so far are saved"
    return outputs.finish_many(request, entries, code, seconds, summary, interrupted)


def _batch_one(
    request: Request, directory: Path, content_path: str, progress, offset: int, headers
) -> dict:
    """Paint and save one content image of a batch; return its manifest entry."""
    try:
        images, _ = preflight.prepare(request, content_path, headers=headers)
        recorder = Recorder(request, progress, images.content, offset=offset)
        result = engine.paint(request, images, recorder)
    except (helper.ImageError, SettingsError, memory.InsufficientMemoryError) as error:
        progress.write(f"error: {error} (skipped it; the batch goes on)", error=True)
        progress.skip(sum(request.counts))
        return {"content": content_path, "error": str(error)}
    output = batch_output_path(directory, content_path, request.styles)
    saved = outputs.save_image(
        result.image, output, f"the result of {content_path}", progress.write
    )
    if result.failed:
        reason = result.stopped_because.removeprefix("stopped: ")
        progress.write(f"error: {content_path}: {reason}; kept the last good image", error=True)
    entry = run_entry(
        result, recorder.seconds(), content=content_path, output=str(output), saved=saved
    )
    if entry["diverged"]:
        fix = outcome.what_to_try(request)
        progress.write(f"error: {content_path}: {entry['diverged']}; {fix}", error=True)
    return entry
