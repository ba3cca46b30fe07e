"""Start TensorFlow without its start-up lines on the process's own stderr.

TensorFlow's C++ side writes a few lines when it loads, whatever TF_CPP_MIN_LOG_LEVEL says:
they would bury a one-line error of the command line and show as a red box in a notebook.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_start() -> Iterator[None]:
    """Send file descriptor 2 to a temporary file for the block; replay it if the block fails."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
