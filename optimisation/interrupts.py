"""Ctrl-C during a run only asks it to stop; the run stops at the end of an iteration.

Python raises KeyboardInterrupt wherever the interpreter is when SIGINT lands. Inside
TensorFlow's own calls (turning an array into a tensor, say) it comes out as a SystemError or a
TypeError, and inside a finaliser it is dropped: the run could then neither keep its best
picture nor stop. So while a run goes, SIGINT sets a flag, and the run raises KeyboardInterrupt
itself at the next `check`. A second Ctrl-C raises at once.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

_asked = False


def _ask(signum, frame) -> None:
    global _asked
    if _asked:  # pressed again: do not wait for the evaluation to end
        raise KeyboardInterrupt
    _asked = True


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Within the block, SIGINT makes `check` raise KeyboardInterrupt (a second one raises at
    once); off the main thread, or where SIGINT has another handler than Python's, nothing
    changes."""
    global _asked
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    _asked = False
    signal.signal(signal.SIGINT, _ask)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _asked = False


def check() -> None:
    """Raise KeyboardInterrupt if Ctrl-C was pressed within a `deferred` block."""
    if _asked:
        raise KeyboardInterrupt
