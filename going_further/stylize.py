"""One call for everything beyond the paper's single run: colours kept, brush-stroke size,
blends of paintings and coarse to fine, around tf_helper.run_style_transfer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import tf_helper
from going_further import color
from going_further.coarse_to_fine import run_coarse_to_fine
from optimisation.settings import Settings


def stylize(
    content_image: np.ndarray,
    style_image: np.ndarray | Sequence[np.ndarray],
    settings: Settings | None = None,
    *,
    sizes: Sequence[int] | None = None,
    iterations: Sequence[int] | None = None,
    **run_options,
) -> tf_helper.RunResult:
    """Paint `content_image` (at its final size) in the style of one or more style images.

    `sizes` and `iterations` give a coarse-to-fine schedule (default: one scale, the
    content's size, for settings.iterations; optimisation.schedule.default_schedule gives one
    for large pictures). A scale too large for the memory budget is evaluated in tiles.
    settings.preserve_colors = "luminance"
    transfers only luminance and keeps the content's colours; "histogram" first gives the
    style images the content's colour statistics. settings.style_scale sizes the styles.
    `run_options` (net, callback, frame_every, initial, iterations_done) go to the runs.
    """
    settings = settings or Settings()
    styles = tf_helper.as_style_list(style_image)
    target = content_image
    if settings.preserve_colors == "histogram":
        styles = [color.match_color_histogram(s, content_image) for s in styles]
    elif settings.preserve_colors == "luminance":
        target = color.luminance_image(content_image)
        styles = [color.match_luminance(s, content_image) for s in styles]
    sizes = list(sizes) if sizes else [max(content_image.shape[:2])]
    iterations = list(iterations) if iterations else [settings.iterations] * len(sizes)
    try:
        result = run_coarse_to_fine(
            target, styles, settings, sizes=sizes, iterations=iterations, **run_options
        )
    except tf_helper.Interrupted as stop:
        raise tf_helper.Interrupted(_in_colour(stop.result, settings, content_image)) from None
    return _in_colour(result, settings, content_image)


def _in_colour(
    result: tf_helper.RunResult, settings: Settings, content_image
) -> tf_helper.RunResult:
    """Put the content's colours back on a luminance-only result (other results pass)."""
    if settings.preserve_colors == "luminance":
        result.image = color.restore_content_colors(result.image, content_image)
    return result
