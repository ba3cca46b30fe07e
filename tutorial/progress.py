"""Progress the notebook shows while a run goes: a bar, a live plot of the loss terms, GIF
frames, and what is kept when the stop button ends a run."""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from IPython.display import display
from tqdm.notebook import tqdm as notebook_tqdm

import helper
import machine
import sheets
import tf_run
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
        # A long description ("style-weight 100, content-layer conv3_2") on one line: the
        # browser would break it at its spaces and hyphens, the bar beside its last word.
        self.container.children[0].layout.min_width = "max-content"
        self._handle = None if self.disable else display(self.container, display_id=True)

    def close(self):
        super().close()
        handle, self._handle = self._handle, None  # close() runs again from __del__
        if handle is not None:
            bundle = self.container._repr_mimebundle_()
            handle.update({**bundle, "text/plain": self.container.__repr__(pretty=True)}, raw=True)


class LiveProgress:
    """A tf_run.run_style_transfer callback: a progress bar, and the picture forming beside a
    live plot of the loss terms; GIF frames; the best picture so far if the run is stopped.

    The run hands the callback its image every `frame_every` iterations (no extra network
    pass); the figure (picture on the left, each weighted term of eq. 7 against the
    iteration on the right, log scale) is redrawn in place at iteration 1, then at most
    every `redraw_seconds`, and at the end. The iteration count is the settings' (or
    `total`). `frames` GIF frames are kept at geometrically spaced iterations. Use it as a
    context manager; live_run() below does it in one call. When the stop button (or Ctrl-C)
    ends the run, leaving the `with` block shows the best picture so far, saves it beside
    `save_to` as NAME_partial.jpg (a finished picture is never overwritten), says it is
    partial, and lets the interrupt go on, so that no later cell runs.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        description: str = "style transfer",
        total: int | None = None,
        frames: int = 0,
        save_to: str | os.PathLike | None = None,
        redraw_seconds: float = 1.5,
    ):
        self.iterations = total or settings.iterations
        self.settings = settings
        self.save_to = save_to
        self.redraw_seconds = redraw_seconds
        self.history: list[dict[str, float]] = []
        self.frames: list[np.ndarray] = []
        self.picture: np.ndarray | None = None
        self._frame_at = set(frame_iterations(self.iterations, frames))
        self.frame_every = 1  # the picture of every iteration: shown now and then, kept for GIFs
        self._figure = None
        self._handle = None
        self._drawn_at = 0.0
        if not _cell_has_figure():  # the empty figure first, so that the bar sits below it;
            self.draw()  # a later run of the cell keeps the picture before it until its first
        self._bar = progress_bar(self.iterations, description)

    def __enter__(self) -> LiveProgress:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        self.close()
        if isinstance(error, tf_run.Interrupted):
            self._keep(error.result)

    def __call__(self, iteration: int, terms: dict, image: np.ndarray | None) -> None:
        """Record an iteration's terms (floats or tensors) and, now and then, redraw."""
        terms = {name: float(value) for name, value in terms.items()}
        weighted = {
            "alpha * content": terms["weighted_content"],
            "beta * style": terms["weighted_style"],
            "gamma * tv": terms["weighted_tv"],
            "total": terms["total"],
        }
        self.history.append({"iteration": iteration, **weighted})
        self._bar.update(1)
        self._bar.set_postfix_str(f"loss {terms['total']:.4g}", refresh=False)
        if image is None:
            return
        self.picture = image
        if iteration in self._frame_at:
            self.frames.append(
                sheets.annotate(image, f"iteration {iteration}  loss {terms['total']:.3g}")
            )
        if len(self.history) == 1 or time.monotonic() - self._drawn_at >= self.redraw_seconds:
            self.draw()

    def draw(self) -> None:
        """Redraw in place: the picture so far, and log loss against the iteration."""
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator

        if self._figure is None:
            self._figure, _ = plt.subplots(
                1, 2, figsize=(8.4, 2.6), dpi=72, gridspec_kw={"width_ratios": [1, 2.2]}
            )
            plt.close(self._figure)  # shown through the display handle only, never twice
        picture, axis = self._figure.axes
        picture.clear()
        picture.set_axis_off()
        if self.picture is not None:
            picture.imshow(np.clip(self.picture, 0, 1), interpolation="nearest")
            picture.set_title(f"iteration {self.history[-1]['iteration']}", fontsize=9)
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
            waiting = "the picture and the loss appear after the first iteration"
            axis.text(0.5, 0.5, waiting, transform=axis.transAxes, ha="center", color="grey")
        else:
            axis.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
        axis.set_xlim(0.5, max(self.iterations, 2) + 0.5)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set(xlabel="iteration", ylabel="loss")
        axis.grid(alpha=0.3)
        self._figure.tight_layout()
        if self._handle is None:
            self._handle = _cell_handle(self._figure)
        else:
            self._handle.update(self._figure)
        self._drawn_at = time.monotonic()

    def close(self) -> None:
        """Finish the bar and draw the figure one last time."""
        self._bar.close()
        self.draw()

    def save(self, path: str | os.PathLike) -> Path:
        """Save the figure as it stands (e.g. as a JPEG for the README)."""
        if self._figure is None:
            self.draw()
        return save_figure(self._figure, path)

    def _keep(self, result: tf_run.RunResult) -> None:
        """Show (and save, never over a finished picture) the best picture of a stopped run."""
        from tutorial.pictures import show

        done = len(result.history)
        kept = ""
        if self.save_to is not None:
            kept = f", saved to {helper.save_image(result.image, partial_path(self.save_to))}"
        print(
            f"stopped at iteration {done} of {self.iterations}: the picture below is partial, "
            f"the best so far (loss {result.terms['total']:.4g}){kept}; the cells below did not run"
        )
        show(result.image)


_shown = {"cell": None, "handle": None}  # the live figure of the cell that runs now


def _cell_has_figure() -> bool:
    """Whether the cell that runs now already shows a live figure (of an earlier run)."""
    from IPython import get_ipython

    cell = getattr(get_ipython(), "execution_count", None)
    return cell is not None and cell == _shown["cell"]


def _cell_handle(figure):
    """Return a display handle showing `figure`: one per cell run, shared by its runs.

    A cell that runs several optimisations (a row of pictures) thus shows one live figure,
    of the run under way, above its bars. Outside IPython every run gets its own.
    """
    from IPython import get_ipython

    shell = get_ipython()
    cell = getattr(shell, "execution_count", None)
    if cell is not None and cell == _shown["cell"]:
        _shown["handle"].update(figure)
        return _shown["handle"]
    handle = display(figure, display_id=True)
    _shown.update(cell=cell, handle=handle)
    return handle


def partial_path(path: str | os.PathLike) -> Path:
    """Return where a stopped run's picture goes: NAME_partial.SUFFIX beside NAME.SUFFIX."""
    path = Path(path)
    return path.with_name(f"{path.stem}_partial{path.suffix}")


def live_run(
    content,
    style,
    settings: Settings,
    description: str = "style transfer",
    *,
    frames: int = 0,
    save_to: str | os.PathLike | None = None,
    run=None,
    **options,
):
    """Run a style transfer (tf_run.run_style_transfer, or `run`) with a LiveProgress.

    Shows the picture forming beside the loss plot; the iteration count is the settings'
    (or the sum of a coarse-to-fine run's `iterations`). Returns what `run` returns, with
    the kept GIF frames as `.frames`. `options` go to `run`; a finished run saves its
    picture to `save_to` (a stopped one beside it, as NAME_partial).
    """
    run = run or tf_run.run_style_transfer
    total = sum(options["iterations"]) if options.get("iterations") else settings.iterations
    live = LiveProgress(
        settings, description=description, total=total, frames=frames, save_to=save_to
    )
    with live:
        result = run(content, style, settings, callback=live, frame_every=1, **options)
    result.frames = live.frames
    image = getattr(result, "image", None)
    if save_to is not None and image is not None:
        helper.save_image(image, save_to)
    return result


def save_figure(figure, path: str | os.PathLike) -> Path:
    """Save a matplotlib figure (JPEG, PNG, ... by the suffix) without a half-written file."""
    return machine.atomic_write(
        path, lambda file: figure.savefig(file, dpi=100, bbox_inches="tight")
    )
