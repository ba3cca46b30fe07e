"""Progress the notebook shows while a run goes: a bar, a live plot of the loss terms, GIF frames."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import helper
from optimisation.settings import Settings


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
    """Return a tqdm.auto bar over `items` (or counting to it, if a number).

    It is a widget in Jupyter when ipywidgets is installed, else a text bar.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found")
        from tqdm.auto import tqdm

        if isinstance(items, int):
            return tqdm(total=items, desc=description, unit="it", mininterval=1.0)
        return tqdm(items, desc=description, mininterval=1.0)


class LiveProgress:
    """A tf_helper.run_style_transfer callback: a progress bar, a live plot of the loss terms, GIF frames.

    The plot shows each weighted term (alpha * L_content, beta * L_style, gamma * L_tv and
    their sum) against the iteration, redrawn every `plot_every` iterations in place
    (an IPython display handle, so it also works when a notebook runs headless).
    Use it as a context manager and pass `callback=progress, frame_every=progress.frame_every`.
    """

    def __init__(
        self,
        iterations: int,
        settings: Settings,
        *,
        description: str = "style transfer",
        plot_every: int = 10,
        frames: int = 0,
    ):
        self.iterations = iterations
        self.settings = settings
        self.plot_every = plot_every
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

    def __exit__(self, *exc) -> None:
        self.close()

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
        """Redraw the loss plot in place."""
        import matplotlib.pyplot as plt
        from IPython.display import display

        if self._figure is None:
            self._figure, _ = plt.subplots(figsize=(7.2, 2.6), dpi=72)
            plt.close(self._figure)  # shown through the display handle only, never twice
        axis = self._figure.axes[0]
        axis.clear()
        iterations = [row["iteration"] for row in self.history]
        for name in ("alpha * content", "beta * style", "gamma * tv", "total"):
            values = [row[name] for row in self.history]
            if values and max(values) > 0:
                axis.plot(iterations, values, label=name, lw=2 if name == "total" else 1.2)
        if self.history:
            axis.set_yscale("log")
            axis.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
        axis.set_xlim(1, max(self.iterations, 2))
        axis.set_xlabel("iteration")
        axis.set_ylabel("loss")
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


def save_figure(figure, path: str | os.PathLike) -> Path:
    """Save a matplotlib figure (JPEG, PNG, ... by the suffix) without a half-written file."""
    return helper.atomic_write(
        path, lambda file: figure.savefig(file, dpi=100, bbox_inches="tight")
    )
