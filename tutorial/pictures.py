"""Pictures the notebook shows: feature maps, Gram matrices, sheets of results, loss figures."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

import helper
import machine
import sheets
import tf_run
from loss_settings import LossSettings


def style_layer_shares(terms: dict[str, float], settings: LossSettings) -> dict[str, float]:
    """Return beta * w_l * E_l for each style layer of the settings, from a loss's terms."""
    return {name: terms[f"weighted_style_{name}"] for name in settings.style_layers}


def style_breakdown_figure(history: list[dict[str, float]], settings: LossSettings):
    """Return a figure: each layer's weighted style loss over the run, and its share at the end."""
    import matplotlib.pyplot as plt

    figure, (curves, bars) = plt.subplots(
        1, 2, figsize=(9.6, 3.0), dpi=72, gridspec_kw={"width_ratios": [3, 2]}
    )
    plt.close(figure)  # shown by the caller, never twice
    iterations = [row["iteration"] for row in history]
    layers = settings.style_layers
    per_row = [style_layer_shares(row, settings) for row in history]
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


def strongest_feature_maps(activation, count: int) -> list[np.ndarray]:
    """Return the `count` channels of (1, H, W, C) with the largest mean, each scaled to [0, 1]."""
    maps = np.asarray(activation)[0]  # (1, H, W, C) -> (H, W, C)
    order = np.argsort(maps.mean(axis=(0, 1)))[::-1][:count]
    return [maps[..., c] / max(float(maps[..., c].max()), 1e-12) for c in order]


def feature_map_sheet(activations: dict, count: int = 6, height: int = 64) -> np.ndarray:
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
    return sheets.image_grid(
        [sheets.annotate(t, label) if label else t for t, label in zip(tiles, labels)],
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
        picture = sheets.image_grid(list(images), columns=columns or len(images), labels=labels)
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


EMBED_LIMIT = 2_000_000  # bytes: animations up to this size are embedded in the notebook


def show_animation(path: str | os.PathLike, width: int | None = None) -> None:
    """Show a saved GIF or MP4 as it is now on disk (a new run's file, never a cached one).

    A file of up to `EMBED_LIMIT` bytes is embedded, so that a saved notebook shows it
    without the file (git ignores the outputs folder). A larger one under the notebook's
    folder is linked, with its time of change in the link so that the browser fetches it
    again; elsewhere it is embedded.
    """
    import base64

    from IPython.display import HTML, display

    path = machine.expand(path).resolve()
    size = f' width="{width}"' if width else ""
    try:
        if path.stat().st_size <= EMBED_LIMIT:
            raise ValueError("small enough to embed")
        source = f"{path.relative_to(Path.cwd()).as_posix()}?v={path.stat().st_mtime_ns}"
    except ValueError:  # outside the notebook's folder, which the browser cannot reach
        kind = "video/mp4" if path.suffix.lower() == ".mp4" else "image/gif"
        source = f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode()}"
    if path.suffix.lower() == ".mp4":
        display(HTML(f'<video src="{source}"{size} autoplay loop muted controls></video>'))
    else:
        display(HTML(f'<img src="{source}"{size} alt="{path.name}">'))


def zoom_centre(image: np.ndarray, fraction: float = 0.3, factor: int = 3) -> np.ndarray:
    """Return the central `fraction` of an image enlarged `factor` times with square pixels."""
    height, width = image.shape[:2]
    h, w = max(1, round(height * fraction)), max(1, round(width * fraction))
    top, left = (height - h) // 2, (width - w) // 2
    crop = image[top : top + h, left : left + w]
    return np.repeat(np.repeat(crop, factor, axis=0), factor, axis=1)


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
        sheets.annotate(fit_in_square(s, side), n) for s, n in zip(styles, style_names)
    ]
    for content, name, row in zip(contents, content_names, results):
        tiles.append(sheets.annotate(fit_in_square(content, side), name))
        tiles += [fit_in_square(image, side) for image in row]
    return sheets.image_grid(tiles, columns=1 + len(styles))


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


def show_sheet(
    images: list[np.ndarray],
    labels: list[str] | None = None,
    columns: int | None = None,
    save_to: str | os.PathLike | None = None,
) -> None:
    """Show pictures as one labelled sheet (one row by default); save it as a JPEG if asked."""
    sheet = sheets.image_grid(list(images), columns=columns or len(images), labels=labels)
    _show_or_save(sheet, save_to)


def _show_or_save(picture: np.ndarray, save_to: str | os.PathLike | None) -> None:
    """Show a picture; with `save_to`, save it as a JPEG first, show the file and say where."""
    if save_to is None:
        show(picture)
        return
    path = helper.save_image(picture, save_to)
    show_file(path)
    print(f"saved {path}")


def at_true_sizes(
    images: list[np.ndarray], labels: list[str], zoom: float = 1.0, gap: int = 4
) -> np.ndarray:
    """Return one picture: the images side by side at their sizes relative to each other
    (all enlarged `zoom` times), top-aligned on white, each under its label."""
    enlarged = [
        helper.resize(image, *(max(1, round(side * zoom)) for side in image.shape[:2]))
        for image in images
    ]
    strips = [sheets.caption(label, image.shape[1], 12) for image, label in zip(enlarged, labels)]
    top = max(strip.shape[0] for strip in strips)  # the pictures start on one line
    tiles = [
        np.concatenate(
            [strip, np.ones((top - strip.shape[0], strip.shape[1], 3), np.float32), image]
        )
        for strip, image in zip(strips, enlarged)
    ]
    tallest = max(tile.shape[0] for tile in tiles)
    width = sum(tile.shape[1] for tile in tiles) + gap * (len(tiles) - 1)
    row, left = np.ones((tallest, width, 3), np.float32), 0
    for tile in tiles:
        row[: tile.shape[0], left : left + tile.shape[1]] = tile
        left += tile.shape[1] + gap
    return row


def show_at_true_sizes(images: list[np.ndarray], labels: list[str], zoom: float = 1.0) -> None:
    """Show images side by side at their true sizes relative to each other (see at_true_sizes)."""
    show(at_true_sizes(images, labels, zoom))


def show_bars(values: dict[str, float], xlabel: str) -> None:
    """Show a horizontal bar chart of named values, with each value written at its bar."""
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.4, 0.35 * len(values) + 0.9), dpi=72)
    names = list(values)[::-1]
    bars = axis.barh(names, [values[name] for name in names])
    axis.bar_label(bars, labels=[f"{values[name]:.3g}" for name in names], fontsize=8)
    axis.set(xlabel=xlabel)
    axis.margins(x=0.15)
    figure.tight_layout()
    plt.show()


class CountingLoss(tf_run.WrappedLoss):
    """A loss_interface.Loss that records the total after each evaluation (loss and gradient)."""

    def __init__(self, loss):
        super().__init__(loss)
        self.totals: list[float] = []

    def terms_and_gradient(self, image: np.ndarray):
        terms, gradient = self.loss.terms_and_gradient(image)
        self.totals.append(terms["total"])
        return terms, gradient


def show_loss_per_evaluation(runs: dict[str, list[float]]) -> None:
    """Plot the lowest total loss so far against the number of loss evaluations, per optimiser."""
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.4, 2.8), dpi=72)
    for label, totals in runs.items():
        lowest = np.minimum.accumulate(np.asarray(totals, dtype=np.float64))
        axis.plot(np.arange(1, len(lowest) + 1), lowest, label=label, lw=2)
    axis.set(yscale="log", xlabel="loss evaluations (network passes)", ylabel="lowest total loss")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=9)
    figure.tight_layout()
    plt.show()


def show_grid(runs: dict, save_to: str | os.PathLike | None = None) -> None:
    """Show (and save) the results grid of files.stylize_files runs keyed by (photo, painting).

    The paintings along the top, the photos down the left, each result where they meet.
    """
    photos = list(dict.fromkeys(photo for photo, _ in runs))
    paintings = list(dict.fromkeys(painting for _, painting in runs))
    sheet = results_sheet(
        [runs[photo, paintings[0]].content for photo in photos],
        [runs[photos[0], painting].style for painting in paintings],
        [[runs[photo, painting].result.image for painting in paintings] for photo in photos],
        [Path(photo).stem for photo in photos],
        [Path(painting).stem for painting in paintings],
    )
    _show_or_save(sheet, save_to)
