"""--sweep: every combination of `name=v1,v2 name=v3,v4` painted, on one labelled contact sheet.

Each value is read as its own flag reads it; every combination's images are checked before
the first run starts. With --workers or --ray-address the combinations are painted on a Ray
cluster (style_transfer.cluster).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import sheets
from optimisation import memory
from style_transfer import cluster, engine, outcome, outputs, preflight, repeat
from style_transfer.arguments import BY_SWEEP_NAME, parse_sweep
from style_transfer.errors import EXIT_NOT_FINITE, UsageError
from style_transfer.progress import Recorder, run_each, run_entry

if TYPE_CHECKING:
    from style_transfer.request import Request

# Sweeps at --size 32 to 96 are enlarged to this height on the sheet, to be seen; their labels
# ("style-weight 10000, content-layer conv4_2") go in a strip above each tile.
SHEET_MIN_TILE_HEIGHT = 144


def label(combination: dict[str, object]) -> str:
    """Return a short caption such as 'style-weight 1e+03, init noise'."""
    parts = []
    for name, value in combination.items():
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        parts.append(f"{name} {shown}")
    return ", ".join(parts)


def sweep_text(value: object) -> str:
    """Return a swept value as the text its flag would be given (floats exactly)."""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def sweep_columns(specs: Sequence[str]) -> int:
    """Return the columns of a sweep's contact sheet: the number of values of the last setting."""
    return len(specs[-1].partition("=")[2].split(","))


def sweep_request(request: Request, combination: dict) -> Request:
    """Return the request of one sweep combination, each value read as its flag reads it."""
    values = {}
    for name, value in combination.items():
        option, text = BY_SWEEP_NAME[name], sweep_text(value)
        try:
            parsed = option.parse(text) if option.parse else text
        except argparse.ArgumentTypeError as error:
            raise UsageError(f"--sweep {name}: {error}") from None
        if option.choices is not None and parsed not in option.choices:
            raise UsageError(f"--sweep {name}: {text!r} is not one of {', '.join(option.choices)}")
        if name == "size" and request.scales:
            raise UsageError(
                "--sweep size cannot be combined with --scales (the last scale is the size); "
                "sweep the size without --scales"
            )
        values[option.name] = parsed
    return dataclasses.replace(request, **values)


def sweep_runs(request: Request) -> list[tuple[dict, Request]]:
    """Return (combination, its request) for every combination of --sweep, all checked."""
    combinations = parse_sweep(request.sweep)
    return [(combination, sweep_request(request, combination)) for combination in combinations]


def prepare_combination(combination: dict, request: Request, headers):
    """Return preflight.prepare(request); a refusal names the sweep combination that caused it."""
    try:
        return preflight.prepare(request, headers=headers)
    except (ValueError, memory.InsufficientMemoryError) as error:
        # e.g. "size 8" is refused by the size check, whose message names only --size
        raise type(error)(f"{error} (the --sweep combination {label(combination)})") from None


def run_sweep(request: Request) -> int:
    """Run every combination of --sweep and save one labelled contact sheet to -o; return the
    exit code."""
    runs = sweep_runs(request)
    preflight.check_paths(request)
    headers = preflight.read_headers([path for _, path in request.inputs()])
    repeat.note_repeat(request.repeat)
    prepared = [prepare_combination(c, r, headers) for c, r in runs]
    offsets = list(itertools.accumulate([0] + [sum(r.counts) for _, r in runs]))
    tiles = {}  # index of the combination: its picture (a cluster finishes them in any order)

    def finish(job, result, seconds: float, progress) -> dict:
        index, ((combination, run_request), _) = job
        tiles[index] = result.image
        text = label(combination)
        progress.write(f"{text}: {result.stopped_because}, loss {result.terms['total']:.4g}")
        entry = run_entry(result, seconds, combination=combination, label=text)
        if entry["diverged"]:
            fix = outcome.what_to_try(run_request)
            progress.write(f"error: {text}: {entry['diverged']}; {fix}", error=True)
        return entry

    jobs = list(enumerate(zip(runs, prepared)))
    if cluster.wanted(request):

        def prepare(job) -> tuple:
            _, ((_, run_request), (images, _)) = job
            return run_request, images

        per_run = [sum(run_request.counts) for _, run_request in runs]
        entries, code, seconds = cluster.paint_all(request, jobs, per_run, prepare, finish)
    else:
        engine.start(request.seed)  # combinations may differ in size: no frozen weights

        def paint_one(job, progress) -> dict:
            index, ((_, run_request), (images, _)) = job
            recorder = Recorder(run_request, progress, images.content, offset=offsets[index])
            result = engine.paint(run_request, images, recorder)
            return finish(job, result, recorder.seconds(), progress)

        entries, code, seconds = run_each(jobs, offsets[-1], paint_one)
    labels = [label(runs[index][0]) for index in sorted(tiles)]
    tiles = [tiles[index] for index in sorted(tiles)]
    if tiles:
        sheet = sheets.image_grid(
            tiles,
            sweep_columns(request.sweep),
            labels,
            min_height=SHEET_MIN_TILE_HEIGHT,
            labels_above=True,  # a sweep's labels are long: on the tiles they hid a third
        )
        if not outputs.save_image(sheet, request.output, "the contact sheet"):
            code = code or EXIT_NOT_FINITE
    summary = f"sweep: {len(tiles)} of {len(runs)} combinations on the sheet {request.output}"
    interrupted = "interrupted; the sheet holds the combinations done so far"
    return outputs.finish_many(request, entries, code, seconds, summary, interrupted)
