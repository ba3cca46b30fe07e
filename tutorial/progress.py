"""Progress the notebook shows while a run goes: a bar, a live plot of the loss terms, GIF
frames, and what is kept when the stop button ends a run."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from IPython.display import display
from tqdm.notebook import tqdm as notebook_tqdm

import helper
import tf_helper
from optimisation.settings import Settings

TERMS = ("total", "beta * style", "alpha * content", "gamma * tv")  # drawn in this order
STYLES = {  # the total dashed on top, so that a term it equals stays visible under it
    "total": {"color": "black", "linestyle": "--", "linewidth": 1.6, "zorder": 3},
    "beta * style": {"color": "C0", "linewidth": 2.4},
    "alpha * content": {"color": "C1", "linewidth": 2.4},
    "gamma * tv": {"color": "C2", "linewidth": 2.4},
}


def frame_iterations(iterations: int, count: int) -> list[int]:
    """Return up to `count` iterations in 1..iterations, spaced geometrically (early ones dense).

    An optimisation changes the picture most in its first iterations, so a GIF made of
    these frames moves at a steadier pace than one made of every k-th iteration.
    """
    if count <= 0 or iterations <= 0:
        return []
    spaced = np.geomspace(1, iterations, num=count).round().astype(int)
    return sorted(set(spaced.tolist()) | {iterations})


def progress_bar(items: int | Sequence, description: str):
    """Return a progress bar over `items` (or counting to it, if a number).

    In Jupyter it is a widget whose saved text is its final state, so a reopened notebook
    (or a page that shows no widgets) reads "100%|...| 40/40"; elsewhere a text bar.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found")
        from tqdm.auto import tqdm

    bar = FinalTextBar if issubclass(tqdm, notebook_tqdm) else tqdm
    if isinstance(items, int):
        return bar(total=items, desc=description, unit="it", mininterval=1.0)
    return bar(items, desc=description, mininterval=1.0)


class FinalTextBar(notebook_tqdm):
    """tqdm's widget bar, whose output takes the final meter as its text when it closes.

    A saved notebook keeps a widget's text beside it; tqdm's own is its first frame (0%).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, display=False, **kwargs)
        self._handle = None if self.disable else display(self.container, display_id=True)

    def close(self):
        super().close()
        handle, self._handle = self._handle, None  # close() runs again from __del__
        if handle is not None:
            bundle = self.container._repr_mimebundle_()
            handle.update({**bundle, "text/plain": self.container.__repr__(pretty=True)}, raw=True)


class LiveProgress:
    """A tf_helper.run_style_transfer callback: a progress bar, a live plot of the loss terms,
    GIF frames, and the best picture so far if the run is stopped.

    The plot shows each weighted term (alpha * L_content, beta * L_style, gamma * L_tv and
    their sum, eq. 7) against the iteration on log axes, redrawn every `plot_every`
    iterations in place (an IPython display handle, so it also works headless). Use it as a
    context manager and pass `callback=bar, frame_every=bar.frame_every`. When the stop
    button (or Ctrl-C) ends the run, leaving the `with` block shows the best picture so far,
    saves it to `save_to` if given, says it is partial, and lets the interrupt go on, so
    that no later cell runs.
    """

    def __init__(
        self,
        iterations: int,
        settings: Settings,
        *,
        description: str = "style transfer",
        plot_every: int = 10,
        frames: int = 0,
        save_to: str | os.PathLike | None = None,
    ):
        self.iterations = iterations
        self.settings = settings
        self.plot_every = plot_every
        self.save_to = save_to
        self.history: list[dict[str, float]] = []
        self.frames: list[np.ndarray] = []
        self._frame_at = set(frame_iterations(iterations, frames))
        self.frame_every = 1 if self._frame_at else 0
        self._figure = None
        self._handle = None
        if plot_every:
            self.draw()  # the empty plot first, so that the bar's line sits below it
        self._bar = progress_bar(iterations, description)

    def __enter__(self) -> LiveProgress:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        self.close()
        if isinstance(error, tf_helper.Interrupted):
            self._keep(error.result)

    def __call__(self, iteration: int, terms: dict[str, float], image: np.ndarray | None) -> None:
        weighted = {
            "alpha * content": self.settings.alpha * terms["content"],
            "beta * style": self.settings.beta * terms["style"],
            "gamma * tv": self.settings.gamma * terms["tv"],
            "total": terms["total"],
        }
        self.history.append({"iteration": iteration, **weighted})
        self._bar.update(1)
        self._bar.set_postfix_str(f"loss {terms['total']:.4g}", refresh=False)
        if image is not None and iteration in self._frame_at:
            self.frames.append(
                helper.annotate(image, f"iteration {iteration}  loss {terms['total']:.3g}")
            )
        if self.plot_every and iteration % self.plot_every == 0:
            self.draw()

    def draw(self) -> None:
        """Redraw the loss plot in place: log loss against whole iterations, every term seen."""
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator

        if self._figure is None:
            self._figure, _ = plt.subplots(figsize=(7.2, 2.6), dpi=72)
            plt.close(self._figure)  # shown through the display handle only, never twice
        axis = self._figure.axes[0]
        axis.clear()
        axis.set_yscale("log")
        iterations = [row["iteration"] for row in self.history]
        markers = "o" if len(self.history) <= 20 else None  # few points: each one seen
        for name in TERMS:
            values = [row[name] for row in self.history]
            if values and max(values) > 0:
                axis.plot(iterations, values, label=name, marker=markers, ms=3, **STYLES[name])
        if not self.history:
            axis.set_ylim(1, 10)
            waiting = "the loss appears here after the first iteration"
            axis.text(0.5, 0.5, waiting, transform=axis.transAxes, ha="center", color="grey")
        else:
            axis.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
        axis.set_xlim(0.5, max(self.iterations, 2) + 0.5)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set(xlabel="iteration", ylabel="loss")
        axis.grid(alpha=0.3)
        self._figure.tight_layout()
        if self._handle is None:
            self._handle = display(self._figure, display_id=True)
        else:
            self._handle.update(self._figure)

    def close(self) -> None:
        """Finish the bar and draw the plot one last time."""
        self._bar.close()
        if self.plot_every:
            self.draw()

    def save(self, path: str | os.PathLike) -> Path:
        """Save the loss plot as it stands (e.g. as a JPEG for the README)."""
        if self._figure is None:
            self.draw()
        return save_figure(self._figure, path)

    def _keep(self, result: tf_helper.RunResult) -> None:
        """Show (and save) the best picture of a stopped run, and say that it is partial."""
        from tutorial.pictures import show

        done = len(result.history)
        kept = ""
        if self.save_to is not None:
            kept = f", saved to {helper.save_image(result.image, self.save_to)}"
        print(
            f"stopped at iteration {done} of {self.iterations}: the picture below is partial, "
            f"the best so far (loss {result.terms['total']:.4g}){kept}; the cells below did not run"
        )
        show(result.image)


def save_figure(figure, path: str | os.PathLike) -> Path:
    """Save a matplotlib figure (JPEG, PNG, ... by the suffix) without a half-written file."""
    return helper.atomic_write(
        path, lambda file: figure.savefig(file, dpi=100, bbox_inches="tight")
    )
