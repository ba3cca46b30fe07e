"""What the tutorial notebook shows and automates: live progress, feature-map pictures, stylize_files().

No loss, Gram matrix or optimiser code here: those live in tf_helper.py, images in helper.py.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import helper


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
    """A run_style_transfer callback: a progress bar, a live plot of the loss terms, GIF frames.

    The plot shows each weighted term (alpha * L_content, beta * L_style, gamma * L_tv and
    their sum) against the iteration, redrawn every `plot_every` iterations in place
    (an IPython display handle, so it also works when a notebook runs headless).
    Use it as a context manager and pass `callback=progress, frame_every=progress.frame_every`.
    """

    def __init__(
        self,
        iterations: int,
        weights,
        *,
        description: str = "style transfer",
        plot_every: int = 10,
        frames: int = 0,
    ):
        self.iterations = iterations
        self.weights = weights
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
            "alpha * content": self.weights.alpha * terms["content"],
            "beta * style": self.weights.beta * terms["style"],
            "gamma * tv": self.weights.gamma * terms["tv"],
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


def style_layer_shares(terms: dict[str, float], weights, layers: Sequence[str]) -> dict[str, float]:
    """Return beta * w_l * E_l for each style layer, with the engine's default w_l."""
    import tf_helper

    w_l = tf_helper.style_layer_weights(layers, None)
    return {name: weights.beta * w * terms[f"style_{name}"] for name, w in zip(layers, w_l)}


def style_breakdown_figure(history: list[dict[str, float]], weights, layers: Sequence[str]):
    """Return a figure: each layer's weighted style loss over the run, and its share at the end."""
    import matplotlib.pyplot as plt

    figure, (curves, bars) = plt.subplots(
        1, 2, figsize=(9.6, 3.0), dpi=72, gridspec_kw={"width_ratios": [3, 2]}
    )
    plt.close(figure)  # shown by the caller, never twice
    iterations = [row["iteration"] for row in history]
    per_row = [style_layer_shares(row, weights, layers) for row in history]
    for name in layers:
        curves.plot(iterations, [shares[name] for shares in per_row], label=name, lw=1.3)
    curves.set(yscale="log", xlabel="iteration", ylabel="beta * w_l * E_l")
    curves.grid(alpha=0.3)
    curves.legend(fontsize=8)
    final = per_row[-1]
    total = sum(final.values())
    bars.barh(list(layers)[::-1], [100 * final[name] / total for name in layers][::-1])
    bars.set(xlabel="share of the final style loss (%)")
    figure.tight_layout()
    return figure


def run_cli(*arguments: str | os.PathLike, allowed_exit_codes: Sequence[int] = (0,)):
    """Run `python style_transfer.py ARGUMENTS` in a new process and print what it reported.

    The per-iteration lines are left out. Raises RuntimeError with the command's error
    output if it exits with a code not in `allowed_exit_codes`.
    """
    import subprocess
    import sys

    script = Path(__file__).resolve().parent / "style_transfer.py"
    command = [sys.executable, str(script), *map(str, arguments)]
    finished = subprocess.run(command, capture_output=True, text=True)
    if finished.returncode not in allowed_exit_codes:
        raise RuntimeError(
            f"style_transfer.py exited with {finished.returncode}:\n{finished.stderr.strip()}"
        )
    for line in (finished.stdout + finished.stderr).splitlines():
        if not line.startswith("iteration "):
            print(line)
    return finished


# --- Pictures of what the network sees -----------------------------------------------------


def strongest_feature_maps(activation, count: int) -> list[np.ndarray]:
    """Return the `count` channels of (1, H, W, C) with the largest mean, each scaled to [0, 1]."""
    maps = np.asarray(activation)[0]  # (1, H, W, C) -> (H, W, C)
    order = np.argsort(maps.mean(axis=(0, 1)))[::-1][:count]
    return [maps[..., c] / max(float(maps[..., c].max()), 1e-12) for c in order]


def feature_map_sheet(activations: dict, count: int = 6, height: int = 96) -> np.ndarray:
    """Return one picture: a row per layer of its `count` strongest feature maps, coloured.

    Deep layers are small (each pooling halves the size); their maps are enlarged with
    square pixels so that one pixel of the map stays one visible block.
    """
    from matplotlib import colormaps
    from PIL import Image

    colour = colormaps["magma"]
    tiles, labels = [], []
    for name, activation in activations.items():
        _, h, w, _ = np.asarray(activation).shape
        for index, feature_map in enumerate(strongest_feature_maps(activation, count)):
            width = max(1, round(w * height / h))
            enlarged = Image.fromarray(feature_map.astype(np.float32), mode="F").resize(
                (width, height), Image.Resampling.NEAREST
            )
            tiles.append(colour(np.asarray(enlarged))[..., :3].astype(np.float32))
            labels.append(name if index == 0 else "")
    return helper.image_grid(
        [helper.annotate(t, label) if label else t for t, label in zip(tiles, labels)],
        columns=count,
    )


def show(
    images: list[np.ndarray] | np.ndarray,
    labels: list[str] | None = None,
    columns: int | None = None,
) -> None:
    """Show one image, or several in rows of `columns` (all in one row by default), as a JPEG."""
    import io

    from IPython.display import Image, display
    from PIL import Image as PILImage

    if isinstance(images, np.ndarray) and images.ndim == 3:
        picture = images
    else:
        picture = helper.image_grid(list(images), columns=columns or len(images), labels=labels)
    buffer = io.BytesIO()
    PILImage.fromarray(helper.to_uint8(picture)).save(buffer, format="JPEG", quality=88)
    display(Image(data=buffer.getvalue(), format="jpeg"))


def show_matrices(matrices: dict, size: float = 3.2) -> None:
    """Show square matrices (e.g. Gram matrices) side by side as heat maps."""
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(
        1, len(matrices), figsize=(size * len(matrices), size), dpi=72, squeeze=False
    )
    for axis, (title, matrix) in zip(axes[0], matrices.items()):
        shown = axis.imshow(np.asarray(matrix), cmap="viridis", interpolation="nearest")
        axis.set_title(title, fontsize=9)
        figure.colorbar(shown, ax=axis, fraction=0.046)
    figure.tight_layout()
    plt.show()


def show_file(path: str | os.PathLike, width: int | None = None) -> None:
    """Show a saved picture (JPEG or GIF) as it is on disk, which keeps notebooks small."""
    from IPython.display import Image, display

    display(Image(filename=str(path), width=width))


def zoom_centre(image: np.ndarray, fraction: float = 0.3, factor: int = 3) -> np.ndarray:
    """Return the central `fraction` of an image enlarged `factor` times with square pixels."""
    height, width = image.shape[:2]
    h, w = max(1, round(height * fraction)), max(1, round(width * fraction))
    top, left = (height - h) // 2, (width - w) // 2
    crop = image[top : top + h, left : left + w]
    return np.repeat(np.repeat(crop, factor, axis=0), factor, axis=1)


# --- One call for any two pictures -----------------------------------------------------------


@dataclass
class Stylized:
    """What stylize_files() returns: the inputs as used, the RunResult, and where it was saved."""

    content: np.ndarray
    style: np.ndarray
    result: object  # tf_helper.RunResult
    saved_to: Path | None = None


def image_paths(folder: str | os.PathLike) -> list[Path]:
    """Return the image files in `folder`, sorted by name."""
    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in helper.IMAGE_SUFFIXES)
    if not paths:
        raise helper.ImageError(f"{folder} holds no image files; add some .jpg or .png files")
    return paths


def load_pair(
    content_path: str | os.PathLike,
    style_path: str | os.PathLike,
    size: int,
    style_scale: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Load a content photo with longest side `size` and the style painting at the same area."""
    content = helper.resize_to_longest_side(helper.load_image(content_path, max_side=size), size)
    style = helper.load_image(style_path, max_side=4 * size)
    return content, helper.match_style_scale(style, content, style_scale)


def stylize_files(
    content_path: str | os.PathLike,
    style_path: str | os.PathLike,
    *,
    size: int = 256,
    iterations: int = 150,
    output_path: str | os.PathLike | None = None,
    style_scale: float = 1.0,
    **options,
) -> Stylized:
    """Paint the photo at `content_path` in the style of `style_path`; save it if asked.

    `options` go to tf_helper.run_style_transfer (net, weights, init, callback, ...).
    """
    import tf_helper

    content, style = load_pair(content_path, style_path, size, style_scale)
    result = tf_helper.run_style_transfer(content, style, iterations=iterations, **options)
    saved_to = helper.save_image(result.image, output_path) if output_path else None
    return Stylized(content, style, result, saved_to)


def results_sheet(
    contents: list[np.ndarray],
    styles: list[np.ndarray],
    results: list[list[np.ndarray]],
    content_names: list[str],
    style_names: list[str],
) -> np.ndarray:
    """Return one picture: the styles along the top, the photos down the left, results inside.

    Every picture is fitted into the same square so that the columns line up.
    """
    side = max(max(image.shape[:2]) for image in contents)
    corner = np.ones((side, side, 3), np.float32)
    tiles = [corner] + [
        helper.annotate(fit_in_square(s, side), n) for s, n in zip(styles, style_names)
    ]
    for content, name, row in zip(contents, content_names, results):
        tiles.append(helper.annotate(fit_in_square(content, side), name))
        tiles += [fit_in_square(image, side) for image in row]
    return helper.image_grid(tiles, columns=1 + len(styles))


def fit_in_square(image: np.ndarray, side: int) -> np.ndarray:
    """Return the image scaled to fit a `side` x `side` square, centred on white."""
    fitted = helper.resize_to_longest_side(image, side)
    square = np.ones((side, side, 3), np.float32)
    top, left = (side - fitted.shape[0]) // 2, (side - fitted.shape[1]) // 2
    square[top : top + fitted.shape[0], left : left + fitted.shape[1]] = fitted
    return square


def loss_against_time_figure(histories: dict[str, list[dict[str, float]]]):
    """Return a figure of total loss against seconds, one line per run.

    Coarse-to-fine rows at a smaller size (their "size" is not the final one) are drawn
    dotted: their loss is of a smaller picture and cannot be compared.
    """
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7.2, 2.8), dpi=72)
    plt.close(figure)  # shown by the caller, never twice
    for label, history in histories.items():
        final_size = history[-1].get("size")
        for coarse in (True, False):
            rows = [row for row in history if (row.get("size", final_size) != final_size) == coarse]
            if rows:
                axis.plot(
                    [row["seconds"] for row in rows],
                    [row["total"] for row in rows],
                    ":" if coarse else "-",
                    color=f"C{list(histories).index(label)}",
                    label=None if coarse else label,
                )
    axis.set(yscale="log", xlabel="seconds", ylabel="total loss")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure
