"""The settings of one run (tf_run.py): iterations, optimiser, start, precision.

They extend the loss's settings (loss_settings.py), so one object describes a whole run.
No TensorFlow here.
"""

from __future__ import annotations

from dataclasses import dataclass

from loss_settings import LossSettings, SettingsError, choice, number, whole_number
from optimisation import precisions

INITS = ("noise", "content", "recolored", "style")
OPTIMIZERS = ("lbfgs", "adam")


def learning_rate(value) -> float:
    """Return Adam's learning rate: a step in pixel values, which run from 0 to 1 here."""
    result = number("Adam's learning rate", value, zero_allowed=False, example="0.02")
    if result >= 1:
        raise SettingsError(
            f"Adam's learning rate {result:g} is a step in pixel values, which run from 0 to 1 "
            f"here, so each step would cross the whole range; use about 0.02 (a rate meant for "
            f"pixels in 0..255 is 255 times too large: {result:g} there is {result / 255:.2g} here)"
        )
    return result


@dataclass(frozen=True)
class Settings(LossSettings):
    """Every setting of one style-transfer run (tf_run.py), with its default; checked when made.

    The loss's settings (alpha, beta, gamma, the layers and their weights) are
    LossSettings'; these add how the run minimises that loss.
    """

    iterations: int = 300
    optimizer: str = "lbfgs"  # one of OPTIMIZERS
    init: str = "recolored"  # one of INITS: where the optimisation starts
    seed: int | None = 0  # of the white noise start
    learning_rate: float = 0.02  # Adam's step size
    lbfgs_memory: int | None = None  # pairs kept; None: lbfgs.pairs_for(the image's size)
    content_boost: bool = True  # the first iterations weigh the content more (content_boost.py)
    preconditioner: bool = True  # L-BFGS's longer, smoother steps (preconditioner.py)
    precision: str = "auto"  # one of precisions.PRECISIONS

    def __post_init__(self):
        super().__post_init__()
        self._set(
            iterations=whole_number("an iteration count", self.iterations, 300),
            learning_rate=learning_rate(self.learning_rate),
        )
        choice("optimizer", self.optimizer, OPTIMIZERS)
        for name in ("content_boost", "preconditioner"):
            if not isinstance(getattr(self, name), bool):
                raise SettingsError(f"{name} is True or False, not {getattr(self, name)!r}")
        choice("init", self.init, INITS)
        try:
            precisions.check(self.precision)
        except precisions.PrecisionError as error:
            raise SettingsError(str(error)) from None
