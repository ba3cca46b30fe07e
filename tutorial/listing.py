"""Code on the page: the source of the paper's functions, read from their modules when shown."""

from __future__ import annotations

import inspect
import textwrap


def show(*functions) -> None:
    """Show the source of functions or classes from their modules, with syntax highlighting.

    What is shown is read from the module when the cell runs, so the page cannot drift from
    the code.
    """
    from IPython.display import Code, display

    text = "\n\n".join(textwrap.dedent(inspect.getsource(f)).rstrip() for f in functions)
    display(Code(text, language="python"))
