"""Measure the peak memory of a command-line run, for the benchmarks and the memory test.

The estimates that plan a run live in optimisation/memory.py; this checks them against a real
process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

_PEAK_REPORTING_RUN = """
import atexit, runpy, sys
def report():
    status = open("/proc/self/status").read()
    print("peak-rss-kib", status.split("VmHWM:")[1].split()[0], file=sys.__stderr__, flush=True)
atexit.register(report)
sys.argv = ["style_transfer", *sys.argv[1:]]
runpy.run_module("style_transfer", run_name="__main__", alter_sys=True)
"""


def measure_peak_rss(arguments: Sequence[str], cwd: str | os.PathLike | None = None) -> float:
    """Run `python -m style_transfer ARGUMENTS` in a child process; return its peak RSS in MiB.

    The child reports its own high-water mark (VmHWM) as it exits. Its ru_maxrss would do on
    a small parent, but Linux carries the parent's peak over into a child through fork and
    exec, so under pytest (TensorFlow loaded) it would report the parent's size.
    """
    root = Path(__file__).resolve().parents[1]  # where `style_transfer` can be imported
    command = [sys.executable, "-c", _PEAK_REPORTING_RUN, *arguments, "--no-memory-check"]
    done = subprocess.run(
        command,
        cwd=cwd or root,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    if done.returncode != 0:
        raise RuntimeError(f"style_transfer {' '.join(arguments)} failed:\n{done.stderr[-3000:]}")
    line = [line for line in done.stderr.splitlines() if line.startswith("peak-rss-kib")][-1]
    return int(line.split()[1]) / 1024
