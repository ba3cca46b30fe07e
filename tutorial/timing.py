"""How long each cell took: recorded from start() on, shown as a table at the end of the notebook.

The same times papermill writes into each cell's metadata, but known to the notebook itself, so
that its closing note can give those of the run you are reading.
"""

from __future__ import annotations

import time

_cells: list[tuple[str, float]] = []  # (first line of the cell, seconds)
_started: list[float] = []


def start() -> None:
    """Time every cell that runs after this one (in IPython; elsewhere nothing happens)."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None or _before in shell.events.callbacks["pre_run_cell"]:
        return
    shell.events.register("pre_run_cell", _before)
    shell.events.register("post_run_cell", _after)


def _before(info=None) -> None:
    _started[:] = [time.monotonic()]


def _after(result=None) -> None:
    if not _started:
        return
    source = getattr(getattr(result, "info", None), "raw_cell", "") or ""
    first = next((line for line in source.splitlines() if line.strip()), "")
    _cells.append((first, time.monotonic() - _started[0]))


def table(at_least: float = 1.0) -> str:
    """Return the cells that took `at_least` seconds, each with its time, and the total."""
    rows = [f"{seconds:6.1f} s  {first[:72]}" for first, seconds in _cells if seconds >= at_least]
    total = sum(seconds for _, seconds in _cells)
    longest = max((seconds for _, seconds in _cells), default=0.0)
    rows.append(f"{total:6.1f} s  in all, {len(_cells)} cells; the longest took {longest:.1f} s")
    return "\n".join(rows)
