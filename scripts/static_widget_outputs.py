"""Give the committed notebook its progress bars as text, without the widgets' saved state.

JupyterLab, with widget state saved on save (scripts/setup.sh), rebuilds every widget model a
notebook keeps in `metadata.widgets` as soon as its kernel is up, and each rebuilt model marks
the notebook modified: a learner who only opens it sees it modified, and autosave rewrites it
within two minutes, with an empty widget state (only models with a live kernel are saved).
So the committed form keeps no widget state: a widget output keeps its text (a progress bar's
is its final meter, "100%|...| 40/40", tutorial/progress.py), and a widget whose text is only
its Python repr (the upload buttons) is dropped; running the cell shows the widget again.
Usage, after papermill: python scripts/static_widget_outputs.py Style_Transfer.ipynb
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_REPR = re.compile(r"[A-Za-z_][\w.]*\(")  # ipywidgets' own text: "HBox(children=(..."


def static_outputs(outputs: list) -> list:
    """Return the outputs with each widget view replaced by its text, or dropped if it has none."""
    kept = []
    for output in copy.deepcopy(outputs):
        data = output.get("data", {})
        if WIDGET_VIEW not in data:
            kept.append(output)
            continue
        del data[WIDGET_VIEW]
        text = data.get("text/plain", "")
        if WIDGET_REPR.match(text.strip()) and len(data) == 1:
            continue
        kept.append(output)
    return kept


def make_static(notebook: nbformat.NotebookNode) -> bool:
    """Drop the notebook's widget state and widget views in place; return whether it changed."""
    changed = notebook.metadata.pop("widgets", None) is not None
    for cell in notebook.cells:
        if cell.cell_type == "code":
            outputs = static_outputs(cell.outputs)
            changed |= outputs != cell.outputs
            cell.outputs = outputs
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    for path in parser.parse_args(argv).notebooks:
        notebook = nbformat.read(path, as_version=nbformat.NO_CONVERT)
        if make_static(notebook):
            nbformat.write(notebook, path)
            print(f"{path}: widget state and widget views replaced by their text")
    return 0


if __name__ == "__main__":
    sys.exit(main())
