"""The command line's batch, sweep and repeat modes: file lists, output names, sweep settings,
run manifests, and the loops that run many pictures under one progress bar.

Knows nothing of TensorFlow: style_transfer.py hands the loops a session that paints one
picture at a time.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import checkpoints
import helper
import memory
import sweeps

EXIT_FINISHED, EXIT_NOT_FINITE, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130

GLOB_CHARACTERS = "*?["

# Manifest parameters a repeat does not take over: outputs besides the image (they would
# overwrite the manifest being repeated, or the first run's files) and the mode switches.
NOT_REPEATED = ("repeat", "resume", "stats", "gif", "checkpoint_every", "checkpoint_dir")

# Sweeps at --size 32 to 96 are enlarged to this height on the sheet, to be seen; their labels
# ("style-weight 10000, content-layer conv4_2") go in a strip above each tile.
SHEET_MIN_TILE_HEIGHT = 144


class UsageError(ValueError):
    """A request the command line cannot carry out: clashing paths, a resume that does not fit."""


# --- Batch -----------------------------------------------------------------------------------


def expand_contents(items: Sequence[str]) -> list[str]:
    """Return the content paths of --batch: paths as given, quoted glob patterns expanded.

    A pattern keeps only the image files it matches (sorted); a plain path is kept as it is,
    so a missing or unreadable file is reported with the others still running.
    """
    paths: list[str] = []
    for item in items:
        if not any(character in item for character in GLOB_CHARACTERS):
            paths.append(item)
            continue
        matches = sorted(
            match
            for match in glob.glob(os.path.expanduser(item), recursive=True)
            if Path(match).is_file() and Path(match).suffix.lower() in helper.IMAGE_SUFFIXES
        )
        if not matches:
            raise UsageError(
                f"--batch {item!r} matches no image file; check the pattern, or give the paths"
            )
        paths += matches
    unique: dict[Path, str] = {}
    for path in paths:
        unique.setdefault(Path(path).resolve(), path)
    return list(unique.values())


def batch_output_path(directory: str | os.PathLike, content: str, styles: Sequence[str]) -> Path:
    """Return where the batch writes a content's result: `<content stem>_<style stem>.jpg`."""
    style_part = "+".join(Path(style).stem for style in styles)
    return Path(directory) / f"{Path(content).stem}_{style_part}.jpg"


def check_batch_outputs(
    directory: str | os.PathLike, contents: Sequence[str], styles: Sequence[str]
) -> Path:
    """Refuse an output directory that is a file, unwritable, or where outputs clash; make it."""
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
    try:  # make it now: an unwritable place is told before any run
        directory.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=directory).close()
    except OSError as error:
        raise UsageError(
            f"cannot write into {directory} ({error.strerror}); give -o a writable directory"
        ) from None
    return directory


# --- Sweeps ----------------------------------------------------------------------------------


def sweep_flag(name: str) -> str:
    """Return the command-line flag a swept setting stands for (content-layer: --content-layers)."""
    return "--content-layers" if name == "content-layer" else f"--{name}"


def sweep_text(value: object) -> str:
    """Return a swept value as the text its flag would be given (floats exactly)."""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def sweep_columns(specs: Sequence[str]) -> int:
    """Return the columns of a sweep's contact sheet: the number of values of the last setting."""
    return len(specs[-1].partition("=")[2].split(","))


# --- Manifests and --repeat ------------------------------------------------------------------


def absolute_path(path: str | os.PathLike | None) -> str | None:
    """Return a path as an absolute one (symbolic links kept), None as None."""
    return None if path is None else os.path.abspath(path)


def input_digests(paths: Iterable[str | os.PathLike]) -> dict[str, str | None]:
    """Return {path: sha256} of the input files (None for a file that cannot be read)."""
    digests: dict[str, str | None] = {}
    for path in paths:
        try:
            digests[str(path)] = checkpoints.file_digest(path)
        except OSError:
            digests[str(path)] = None
    return digests


def read_manifest(path: str | os.PathLike) -> dict:
    """Read a --stats manifest for --repeat, refusing a file that is not one."""
    try:
        manifest = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise UsageError(
            f"cannot read {path} ({error.strerror}); give --repeat the JSON file --stats wrote"
        ) from None
    except ValueError as error:
        raise UsageError(
            f"{path} is not JSON ({error}); give --repeat the file --stats wrote"
        ) from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("parameters"), dict):
        raise UsageError(f"{path} has no run parameters; give --repeat the file --stats wrote")
    if not isinstance(manifest.get("inputs"), dict):
        raise UsageError(
            f"{path} records no input checksums (it was written before --repeat existed); "
            "run it again with --stats to get a manifest that can be repeated"
        )
    return manifest


def check_repeatable(manifest: dict, path: str | os.PathLike) -> None:
    """Refuse to repeat a resumed run or one whose input files have changed since."""
    resumed = manifest.get("resumed_from_iteration") or 0
    if resumed:
        raise UsageError(
            f"{path} records a run resumed at iteration {resumed}; the optimiser's memory "
            "restarted there, so it cannot be repeated exactly; repeat a run made in one go"
        )
    for name, recorded in manifest["inputs"].items():
        now = input_digests([name])[name]
        if now == recorded:
            continue
        if now is None:
            raise UsageError(f"{name} (an input of {path}) is missing; restore it to repeat")
        raise UsageError(
            f"{name} has changed since the run of {path} (sha256 {str(recorded)[:12]}... "
            f"recorded, {now[:12]}... now); restore that file to repeat the run exactly"
        )


# What a run used before its manifest or checkpoint recorded the setting (now the default differs).
RECORDED_BEFORE = {"precision": "float32"}


def repeat_defaults(manifest: dict, known: Iterable[str]) -> dict:
    """Return the manifest's parameters a repeat takes as its defaults (only `known` names)."""
    known = set(known) - set(NOT_REPEATED)
    parameters = {**RECORDED_BEFORE, **manifest["parameters"]}
    return {key: value for key, value in parameters.items() if key in known}


def version_differences(recorded: dict, current: dict) -> list[str]:
    """Return 'name recorded -> now' for each library whose version differs."""
    return [
        f"{name} {recorded[name]} -> {current.get(name)}"
        for name in sorted(recorded)
        if recorded[name] != current.get(name)
    ]


# --- Running many pictures -------------------------------------------------------------------


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


def run_entry(result, seconds: float, **what) -> dict:
    """Return one run of a batch or sweep as the manifest records it."""
    return {
        **what,
        "stopped_because": result.stopped_because,
        "iterations": len(result.history),
        "seconds": seconds,
        "final": result.terms,
    }


def run_batch(args: argparse.Namespace, session, directory: Path) -> int:
    """Style every --batch content with the same style(s), one output each, one progress bar.

    `session` paints one picture (see style_transfer._Session). A content image that
    cannot be used is reported in one line and the others still run; the exit code is then 1.
    """
    per_run = session.iterations(args)
    progress = Progress(per_run * len(args.batch))
    runs, code, started = [], EXIT_FINISHED, time.perf_counter()
    try:
        for index, content_path in enumerate(args.batch):
            progress.write(f"[{index + 1}/{len(args.batch)}] {content_path}")
            entry = _batch_one(args, session, directory, content_path, progress, index * per_run)
            runs.append(entry)
            if entry.get("stopped_because") == "interrupted":
                code = EXIT_INTERRUPTED
                break
            if entry.get("stopped_because") != "finished" or not entry.get("saved", True):
                code = EXIT_NOT_FINITE
    except KeyboardInterrupt:  # between two runs, or while one was being set up
        code = EXIT_INTERRUPTED
    finally:
        progress.close()
    done = sum(1 for entry in runs if entry.get("stopped_because") == "finished")
    print(f"batch: {done} of {len(args.batch)} images done, {len(args.batch) - done} not")
    if code == EXIT_INTERRUPTED:
        print("interrupted; the outputs done so far are saved", file=sys.stderr)
    seconds = time.perf_counter() - started
    if args.stats and not session.save_stats(seconds=seconds, runs=runs):
        code = code or EXIT_NOT_FINITE
    return code


def _batch_one(args, session, directory: Path, content_path: str, progress, offset: int) -> dict:
    """Paint and save one content image of a batch; return its manifest entry."""
    per_run = session.iterations(args)
    try:
        content, style, _ = session.prepare(args, content_path)
        result, seconds = session.paint(args, content, style, progress, offset)
    except session.file_errors as error:
        progress.write(f"error: {error} (skipped it; the batch goes on)", error=True)
        progress.skip(per_run)
        return {"content": content_path, "error": str(error)}
    output = batch_output_path(directory, content_path, args.styles)
    saved = session.save_image(
        result.image, output, f"the result of {content_path}", progress.write
    )
    if result.stopped_because not in ("finished", "interrupted"):
        reason = result.stopped_because.removeprefix("stopped: ")
        progress.write(f"error: {content_path}: {reason}; kept the last good image", error=True)
    return run_entry(result, seconds, content=content_path, output=str(output), saved=saved)


def sweep_arguments(parser, args: argparse.Namespace, combination: dict) -> argparse.Namespace:
    """Return the arguments of one sweep combination, each value read as its flag reads it."""
    run_args = argparse.Namespace(**vars(args))
    for name, value in combination.items():
        flag, text = sweep_flag(name), sweep_text(value)
        action = parser._option_string_actions[flag]  # argparse's table of flags
        try:
            parsed = action.type(text) if action.type else text
        except argparse.ArgumentTypeError as error:
            raise UsageError(f"--sweep {name}: {error}") from None
        if action.choices is not None and parsed not in action.choices:
            raise UsageError(f"--sweep {name}: {text!r} is not one of {', '.join(action.choices)}")
        if name == "size" and args.scales:
            raise UsageError(
                "--sweep size cannot be combined with --scales (the last scale is the size); "
                "sweep the size without --scales"
            )
        setattr(run_args, action.dest, parsed)
    return run_args


def sweep_runs(parser, args: argparse.Namespace) -> list[tuple[dict, argparse.Namespace]]:
    """Return (combination, its arguments) for every combination of --sweep, all checked."""
    combinations = sweeps.parse_sweep(args.sweep)
    return [
        (combination, sweep_arguments(parser, args, combination)) for combination in combinations
    ]


def prepare_combination(session, combination: dict, run_args: argparse.Namespace):
    """Return session.prepare(run_args); a refusal names the sweep combination that caused it."""
    try:
        return session.prepare(run_args)
    except (ValueError, memory.InsufficientMemoryError) as error:
        # e.g. "size 8" is refused by the size check, whose message names only --size
        raise type(error)(
            f"{error} (the --sweep combination {sweeps.label(combination)})"
        ) from None


def run_sweep(
    args: argparse.Namespace, session, sweep: list[tuple[dict, argparse.Namespace]]
) -> int:
    """Run every combination of a sweep (from sweep_runs); save one labelled contact sheet to -o.

    Every combination's images are loaded and checked before the first run starts.
    """
    combinations = [combination for combination, _ in sweep]
    runs = [run_args for _, run_args in sweep]
    prepared = [prepare_combination(session, c, r) for c, r in zip(combinations, runs)]
    progress = Progress(sum(session.iterations(run_args) for run_args in runs))
    tiles, entries, offset, code = [], [], 0, EXIT_FINISHED
    started = time.perf_counter()
    try:
        for combination, run_args, (content, style, _) in zip(combinations, runs, prepared):
            result, seconds = session.paint(run_args, content, style, progress, offset)
            offset += session.iterations(run_args)
            label = sweeps.label(combination)
            tiles.append(result.image)
            entries.append(run_entry(result, seconds, combination=combination, label=label))
            progress.write(f"{label}: {result.stopped_because}, loss {result.terms['total']:.4g}")
            if result.stopped_because == "interrupted":
                code = EXIT_INTERRUPTED
                break
            if result.stopped_because != "finished":
                code = EXIT_NOT_FINITE
    except KeyboardInterrupt:  # while a run was being set up
        code = EXIT_INTERRUPTED
    finally:
        progress.close()
    if tiles:
        labels = [entry["label"] for entry in entries]
        sheet = helper.image_grid(
            tiles, sweep_columns(args.sweep), labels, min_height=SHEET_MIN_TILE_HEIGHT,
            labels_above=True,  # a sweep's labels are long: on the tiles they hid a third
        )  # fmt: skip
        if not session.save_image(sheet, args.output, "the contact sheet"):
            code = code or EXIT_NOT_FINITE
    print(f"sweep: {len(tiles)} of {len(runs)} combinations on the sheet {args.output}")
    if code == EXIT_INTERRUPTED:
        print("interrupted; the sheet holds the combinations done so far", file=sys.stderr)
    seconds = time.perf_counter() - started
    if args.stats and not session.save_stats(seconds=seconds, runs=entries):
        code = code or EXIT_NOT_FINITE
    return code
