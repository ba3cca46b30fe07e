"""--batch: several photos painted with the same painting(s), one output each, one progress bar.

A photo that cannot be used is reported in one line and the others still run. Each picture
written is noted in RECORD in the output directory with what it was made from, so the same
batch run again skips the pictures it finished and says so (an output that is not a finished
picture of the same settings and inputs is still refused without --overwrite). With --workers
or --ray-address the pictures are painted on a Ray cluster (style_transfer.cluster).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import helper
import machine
from loss_settings import SettingsError
from optimisation import memory
from style_transfer import cluster, engine, outcome, outputs, preflight, repeat
from style_transfer.errors import EXIT_FINISHED, UsageError
from style_transfer.progress import Recorder, run_each, run_entry

if TYPE_CHECKING:
    from style_transfer.request import Request


# In a batch's output directory: each picture it wrote, with what it was made from.
RECORD = ".style_transfer_batch.json"
# A photo that cannot be used is told and skipped; the batch goes on.
PICTURE_ERRORS = (helper.ImageError, SettingsError, memory.InsufficientMemoryError)


def batch_output_path(
    directory: str | os.PathLike, content: str, styles: Sequence[str], suffix: str = ".jpg"
) -> Path:
    """Return where the batch writes a content's result: `<content stem>_<style stem>.jpg`
    (or another `suffix`: several --video clips get .mp4)."""
    style_part = "+".join(Path(style).stem for style in styles)
    return Path(directory) / f"{Path(content).stem}_{style_part}{suffix}"


def check_batch_outputs(
    directory: str | os.PathLike,
    contents: Sequence[str],
    styles: Sequence[str],
    overwrite: bool = False,
    finished: Sequence[Path] = (),
) -> Path:
    """Refuse an output directory that is a file, unwritable, where outputs clash, or (unless
    `overwrite`) that holds an output already, other than the `finished` ones; make it."""
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
        _check_earlier_outputs(directory, [path for path in seen if path not in finished])
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


def picture_record(request: Request, content_path: str) -> dict:
    """Return what a batch picture is made from: the engine's settings, its sizes, iterations
    and weights, and the sha256 of each input file (as JSON holds it)."""
    record = {
        "settings": dataclasses.asdict(request.settings()),
        "sizes": request.sizes,
        "iterations": request.counts,
        "weights": request.weights and repeat.absolute_path(request.weights),
        "convolution": request.convolution,
        "inputs": [
            machine.file_digest(path)
            for path in [content_path, *request.styles, *(request.style_masks or [])]
            + list(request.style_image_masks or [])
        ],
    }
    return json.loads(json.dumps(record))


def read_record(directory: Path) -> dict[str, dict]:
    """Return {output file name: its record} of the pictures a batch finished in `directory`."""
    try:
        return json.loads((directory / RECORD).read_text())["pictures"]
    except (OSError, ValueError, KeyError, TypeError):  # none yet, or damaged: nothing is skipped
        return {}


def finished_earlier(request: Request) -> list[str]:
    """Return the contents whose picture an earlier batch finished with the same settings and
    inputs, and which is unchanged since (none with --overwrite)."""
    directory = Path(request.output)
    if request.overwrite or not directory.is_dir():
        return []
    record = read_record(directory)
    finished = []
    for content in request.batch:
        output = batch_output_path(directory, content, request.styles)
        earlier = record.get(output.name)
        if earlier is None or not output.is_file():
            continue
        try:
            same = earlier["made_from"] == picture_record(request, content)
            same = same and earlier["sha256"] == machine.file_digest(output)
        except (OSError, KeyError, TypeError):  # an input unreadable: told by the checks
            same = False
        if same:
            finished.append(content)
    return finished


def remember(directory: Path, output: Path, made_from: dict) -> None:
    """Note in the directory's RECORD that `output` is a finished picture made from `made_from`."""
    record = read_record(directory)
    record[output.name] = {"made_from": made_from, "sha256": machine.file_digest(output)}
    machine.write_text(json.dumps({"pictures": record}, indent=1), directory / RECORD)


def run_batch(request: Request) -> int:
    """Style every --batch content with the same style(s); return the exit code (1 if any failed)."""
    skipped = finished_earlier(request)
    directory = check_batch_outputs(
        request.output,
        request.batch,
        request.styles,
        request.overwrite,
        [batch_output_path(request.output, content, request.styles) for content in skipped],
    )
    contents = [content for content in request.batch if content not in skipped]
    if skipped:
        names = ", ".join(batch_output_path(directory, c, request.styles).name for c in skipped)
        print(
            f"skipped {len(skipped)} of {len(request.batch)} pictures, finished by an earlier "
            f"run with the same settings and inputs: {names} (--overwrite paints them again)"
        )
    preflight.check_paths(request)
    headers = preflight.read_headers(request.styles)
    repeat.note_repeat(request.repeat)
    preflight.check_layers(request)
    per_run = sum(request.counts)
    jobs = list(enumerate(contents))

    def prepare(job) -> tuple:
        return request, preflight.prepare(request, job[1], headers=headers)[0]

    def finish(job, result, seconds: float, progress) -> dict:
        return _save_one(request, directory, job[1], result, seconds, progress)

    def fail(job, error: Exception, progress) -> dict:
        progress.write(f"error: {error} (skipped it; the batch goes on)", error=True)
        return {"content": job[1], "error": str(error)}

    if not contents:
        entries, code, seconds = [], EXIT_FINISHED, 0.0
    elif cluster.wanted(request):
        iterations = [per_run] * len(jobs)
        entries, code, seconds = cluster.paint_all(request, jobs, iterations, prepare, finish, fail)
    else:
        engine.start(request.seed, request=request)

        def paint_one(job, progress) -> dict:
            index, content_path = job
            progress.write(f"[{index + 1}/{len(contents)}] {content_path}")
            try:
                run_request, images = prepare(job)
                recorder = Recorder(run_request, progress, images.content, offset=index * per_run)
                result = engine.paint(run_request, images, recorder)
            except PICTURE_ERRORS as error:
                progress.skip(per_run)
                return fail(job, error, progress)
            return finish(job, result, recorder.seconds(), progress)

        entries, code, seconds = run_each(jobs, per_run * len(contents), paint_one)
    done = len(skipped) + sum(
        1
        for entry in entries
        if "error" not in entry
        and not entry["failed"]
        and entry["stopped_because"] != "interrupted"
    )
    entries = [
        *({"content": c, "skipped": "finished by an earlier run"} for c in skipped),
        *entries,
    ]
    summary = f"batch: {done} of {len(request.batch)} images done, {len(request.batch) - done} not"
    interrupted = "interrupted; the outputs done so far are saved"
    return outputs.finish_many(request, entries, code, seconds, summary, interrupted)


def _save_one(
    request: Request, directory: Path, content_path: str, result, seconds: float, progress
) -> dict:
    """Save one painted content image of a batch, note it as finished; return its manifest
    entry."""
    output = batch_output_path(directory, content_path, request.styles)
    saved = outputs.save_image(
        result.image, output, f"the result of {content_path}", progress.write
    )
    if result.failed:
        reason = result.stopped_because.removeprefix("stopped: ")
        progress.write(f"error: {content_path}: {reason}; kept the last good image", error=True)
    entry = run_entry(result, seconds, content=content_path, output=str(output), saved=saved)
    if entry["diverged"]:
        fix = outcome.what_to_try(request)
        progress.write(f"error: {content_path}: {entry['diverged']}; {fix}", error=True)
    if saved and result.stopped_because != "interrupted":
        try:
            remember(directory, output, picture_record(request, content_path))
        except OSError as error:  # the picture is there; only a re-run's skip is lost
            progress.write(f"warning: could not note {output} as finished ({error})", True)
    return entry
