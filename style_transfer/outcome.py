"""Whether a run went the wrong way: its optimiser ended far above where it started, and the
picture it kept is no better than the start. No TensorFlow here.

The run keeps its lowest-loss picture, so a diverging optimiser mostly leaves the starting
picture, hardly changed; with mixed precision the picture kept is the best of the float32
iterations, which can be far worse than the start. Either way the user is told, not "finished".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from style_transfer.arguments import DEFAULTS

if TYPE_CHECKING:
    from style_transfer.request import Request

# The optimiser "went up": its last iterate's loss is above this multiple of the start's. A
# working optimiser ends below its start (L-BFGS never rises; Adam's steps at a suitable
# learning rate lower the loss within a few iterations).
ROSE = 1.5
# ... and the picture kept gained less than a tenth of the loss: it is not a result.
NO_GAIN = 0.9


def went_wrong_way(history: Sequence[dict], final_total: float) -> str | None:
    """Return what went wrong in a run that ended far worse than it started, or None.

    `history` holds the run's rows ({"total": loss, ...}, with "size" in a coarse-to-fine
    run, whose last scale is judged against its own start: the loss grows with the pixels);
    `final_total` is the loss of the picture kept. The first row is the starting picture's
    loss for Adam (each row is the loss of the image a step starts from) and the loss after
    one iteration for L-BFGS (below the start, so L-BFGS is judged strictly).
    """
    if not history:
        return None
    last_size = history[-1].get("size")
    rows = [row for row in history if row.get("size") == last_size]
    start, last = rows[0]["total"], rows[-1]["total"]
    if not (last > ROSE * start and final_total > NO_GAIN * start):
        return None
    kept = "worse than" if final_total > start else "no better than"
    return (
        f"the optimiser diverged: its loss rose from {start:.4g} at the first iteration to "
        f"{last:.4g} ({last / start:.1f} times) and the picture kept (loss {final_total:.4g}) "
        f"is {kept} where it started"
    )


def what_to_try(request: Request) -> str:
    """Return what to try after a run that diverged: Adam's learning rate, else the weights."""
    if request.optimizer == "adam":
        return (
            f"lower --learning-rate (now {request.learning_rate:g}; "
            f"{DEFAULTS.learning_rate:g} suits pixels in [0, 1])"
        )
    return f"lower --style-weight (now {request.style_weight:g})"
