"""The command line run from the notebook: `python -m style_transfer` in a new process, each of
its runs shown forming beside its loss as the notebook's own runs are, and only what a learner
reads printed (errors, summaries, where the files went). No engine code here.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import helper
from optimisation.settings import Settings
from tutorial import cli_pictures

# The lines a learner reads: what went wrong, how a batch or sweep ended, where a checkpoint is.
# The rest (sizes, arithmetic, memory, the loss of each iteration and of the end, which starts
# "interrupted: " for a stopped run) is for developers: left out.
SHOWN = (
    "error",
    "warning",
    "note:",
    "interrupted ",
    "interrupted;",
    "batch:",
    "sweep:",
    "saved checkpoint",
    "painting ",  # how many pictures go to how many Ray workers
    "skipped ",  # a batch's pictures finished by an earlier run
)
BATCH_PHOTO = re.compile(r"\[\d+/\d+\] (.+)")  # what a batch writes before each photo's run


class Stopped(KeyboardInterrupt):
    """The stop button during a command-line run: the command line saved its best picture."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this line, not a traceback
        return [f"Stopped: {self}"]


class CommandLineOutput:
    """Reads the command line's lines: a live figure and a bar per run, the learner's lines
    printed as they come, the files it saved gathered into one line at the end."""

    def __init__(self):
        self.lines: list[str] = []  # everything but the pictures, for an error message
        self.saved: list[str] = []
        self.shown: list[str] = []
        self.photo = ""  # a batch's photo under way
        self.live, self.run = None, None

    def read(self, line: str) -> None:
        """Take one line of the command line's output (without its newline)."""
        message = cli_pictures.read_picture_line(line)
        if message is not None:
            self._picture(message)
            return
        self.lines.append(line)
        photo = BATCH_PHOTO.fullmatch(line)
        if photo:
            self.photo = Path(photo[1]).name
        elif line.startswith("saved ") and not line.startswith(SHOWN):
            self.saved.append(line.removeprefix("saved "))
        elif line.startswith(SHOWN):
            self.shown.append(line)
            print(line, flush=True)

    def _picture(self, message: dict) -> None:
        """Draw a run's iteration, starting its live figure and bar at its first."""
        from tutorial.progress import LiveProgress

        if message["run"] != self.run:
            self.close()
            iterations = Settings(iterations=message["iterations"])
            self.live = LiveProgress(iterations, description=message["label"] or self.photo)
            self.run = message["run"]
        self.live(message["iteration"], message["terms"], message["image"])
        if message["iteration"] >= message["iterations"]:  # its bar ends before what follows
            self.close()

    def close(self) -> None:
        """Finish the bar of the run under way and draw its figure a last time."""
        if self.live is not None:
            self.live.close()
            self.live = None

    def saved_line(self) -> str:
        """Return 'saved A' or 'saved A, B in FOLDER' for the files no printed line named."""
        folders: dict[str, list[str]] = {}
        for path in self.saved:
            if not any(path in line for line in self.shown):
                folders.setdefault(str(Path(path).parent), []).append(Path(path).name)
        if not folders:
            return ""
        groups = [
            str(Path(folder) / names[0]) if len(names) == 1 else f"{', '.join(names)} in {folder}"
            for folder, names in folders.items()
        ]
        return "saved " + "; ".join(groups)

    def last_picture(self) -> Path | None:
        """Return the last image file the command line saved, if any."""
        images = [Path(p) for p in self.saved if Path(p).suffix.lower() in helper.IMAGE_SUFFIXES]
        return images[-1] if images else None


def live_cli(*arguments: str | os.PathLike, allowed_exit_codes: Sequence[int] = (0,)) -> None:
    """Run `python -m style_transfer ARGUMENTS` in a new process and show its runs live.

    Each run's picture forms beside its loss (from the run's own callback, see cli_pictures);
    only errors, summaries and one line of the files saved are printed. The stop button stops
    the command line as Ctrl-C does (it saves its best picture, shown here) and then the cell.
    Raises RuntimeError with the command's output for an exit code not in `allowed_exit_codes`.
    """
    output = CommandLineOutput()
    with start(*arguments) as process:
        try:
            for line in process.stdout:
                output.read(line.rstrip("\n"))
        except KeyboardInterrupt:
            stop(process, output)
            raise Stopped("the command line was stopped; the cells below did not run") from None
        finally:
            output.close()
            _print_saved(output)
    if process.returncode not in allowed_exit_codes:
        tail = "\n".join(output.lines)[-3000:]
        raise RuntimeError(f"python -m style_transfer exited with {process.returncode}:\n{tail}")


def start(*arguments: str | os.PathLike) -> subprocess.Popen:
    """Start `python -m style_transfer ARGUMENTS` with picture lines (cli_pictures), its stdout
    and stderr in one text pipe."""
    root = Path(__file__).resolve().parents[1]
    command = [sys.executable, "-u", "-m", "tutorial.cli_pictures", *map(str, arguments)]
    # A session of its own: the stop button's signal reaches only this kernel, which then
    # stops the command line with one Ctrl-C (a second one would cut its saving short).
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=root,
        start_new_session=True,
    )


def stop(process: subprocess.Popen, output: CommandLineOutput) -> None:
    """Stop the command line as Ctrl-C does, read what it says, and show its best picture."""
    process.send_signal(signal.SIGINT)
    try:
        for line in process.stdout:
            output.read(line.rstrip("\n"))
        process.wait(timeout=120)
    except (KeyboardInterrupt, subprocess.TimeoutExpired):  # pressed again: stop it now
        process.kill()
        process.wait()
    output.close()
    picture = output.last_picture()
    if picture is not None and picture.is_file():
        from tutorial.pictures import show_file

        show_file(picture)


def _print_saved(output: CommandLineOutput) -> None:
    """Print the one line of the files saved (once, even when the cell was stopped)."""
    line, output.saved = output.saved_line(), []
    if line:
        print(line, flush=True)
