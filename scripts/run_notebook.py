"""Execute a notebook headless with nbclient, optionally overriding its parameters.

Overrides work as in papermill: a cell setting the given names is inserted right after
the cell tagged `parameters`, so the notebook's own defaults stay visible above it.

    .venv/bin/python scripts/run_notebook.py Style_Transfer.ipynb
    .venv/bin/python scripts/run_notebook.py Style_Transfer.ipynb -o /tmp/run.ipynb \\
        -p SIZE 64 -p OUTPUT_DIR '"/tmp/outputs"'
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"


class NotebookError(RuntimeError):
    """A notebook that cannot be run as asked (no parameters cell, a failing cell)."""


def parse_value(text: str):
    """Return a Python literal for `text` ('64', '[1, 2]', '"a"'), or the text itself."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def inject_parameters(notebook: nbformat.NotebookNode, parameters: dict) -> None:
    """Insert a cell assigning `parameters` after the cell tagged `parameters` (in place)."""
    notebook.cells = [c for c in notebook.cells if INJECTED_TAG not in _tags(c)]
    if not parameters:
        return
    index = next(
        (i for i, cell in enumerate(notebook.cells) if PARAMETERS_TAG in _tags(cell)), None
    )
    if index is None:
        raise NotebookError(
            f"the notebook has no cell tagged {PARAMETERS_TAG!r}; tag its settings cell "
            "(View > Cell Toolbar > Tags in Jupyter) to override parameters"
        )
    source = "# Parameters set by scripts/run_notebook.py\n" + "".join(
        f"{name} = {value!r}\n" for name, value in parameters.items()
    )
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": [INJECTED_TAG]})
    notebook.cells.insert(index + 1, cell)


def coalesce_streams(notebook: nbformat.NotebookNode) -> None:
    """Merge consecutive stdout/stderr outputs and keep only what a terminal would show.

    Progress bars redraw their line with carriage returns, one output each time; the
    saved notebook keeps only each line's final state (in place).
    """
    for cell in notebook.cells:
        merged = []
        for output in cell.get("outputs", []):
            previous = merged[-1] if merged else None
            if (
                output.output_type == "stream"
                and previous is not None
                and previous.output_type == "stream"
                and previous.name == output.name
            ):
                previous.text += output.text
            else:
                merged.append(output)
        for output in merged:
            if output.output_type == "stream":
                output.text = _as_terminal_shows(output.text)
        if "outputs" in cell:
            cell.outputs = merged


def _as_terminal_shows(text: str) -> str:
    lines = []
    for line in text.split("\n"):
        parts = [part for part in line.split("\r") if part]
        lines.append(parts[-1] if parts else "")
    return "\n".join(lines)


def _tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def run_notebook(
    path: str | os.PathLike,
    output: str | os.PathLike | None = None,
    parameters: dict | None = None,
    timeout: int | None = None,
) -> Path:
    """Execute the notebook at `path` in its own folder and write it to `output` (default: in place)."""
    path = Path(path)
    output = Path(output) if output else path
    notebook = nbformat.read(path, as_version=4)
    inject_parameters(notebook, parameters or {})
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.resolve().parent)}},
        # Native libraries' own stderr (TensorFlow's start-up log) goes to the terminal,
        # not into the notebook; Python's prints and warnings still go into the notebook.
        extra_arguments=["--IPKernelApp.capture_fd_output=False"],
    )
    try:
        client.execute()
    except CellExecutionError as error:
        coalesce_streams(notebook)
        output.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, output)  # keep what ran, to read the failing cell in context
        raise NotebookError(
            f"{path} failed; the partly executed notebook is in {output}\n{error}"
        ) from None
    coalesce_streams(notebook)
    output.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, output)
    return output


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run the notebook, and report the time it took."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", nargs="?", default="Style_Transfer.ipynb")
    parser.add_argument("-o", "--output", help="where to write the executed notebook")
    parser.add_argument(
        "-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
        help="override a parameter; VALUE is a Python literal (a bare word is a string)",
    )  # fmt: skip
    parser.add_argument("--timeout", type=int, default=None, help="seconds allowed per cell")
    args = parser.parse_args(argv)
    parameters = {name: parse_value(value) for name, value in args.parameter}
    started = time.perf_counter()
    try:
        written = run_notebook(args.notebook, args.output, parameters, args.timeout)
    except NotebookError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"executed {args.notebook} -> {written} in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
