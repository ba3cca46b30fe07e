"""One call for everything beyond the paper's single run: colours kept, brush-stroke size,
blends of paintings and coarse to fine, around tf_run.run_style_transfer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import tf_run
from going_further import color
from going_further.coarse_to_fine import run_coarse_to_fine, scale_loss
from going_further.settings import StylizeSettings
from going_further.spatial_control import StyleMasks, masked_start
from going_further.style_scale import match_style_scale
from loss_settings import as_style_list
from optimisation.settings import Settings


def stylize(
    content_image: np.ndarray,
    style_image: np.ndarray | Sequence[np.ndarray],
    settings: Settings | None = None,
    *,
    sizes: Sequence[int] | None = None,
    iterations: Sequence[int] | None = None,
    masks: StyleMasks | None = None,
    **run_options,
) -> tf_run.RunResult:
    """Paint `content_image` (at its final size) in the style of one or more style images.

    `sizes` and `iterations` give a coarse-to-fine schedule (default: one run at the
    content's size, for settings.iterations; optimisation.schedule.default_schedule gives one
    for large pictures). A scale too large for the memory budget is evaluated in tiles.
    `masks` give each painting its region of the photo (going_further.spatial_control).
    settings.preserve_colors = "luminance"
    transfers only luminance and keeps the content's colours; "histogram" first gives the
    style images the content's colour statistics. settings.style_scale sizes the styles.
    `run_options` (net, callback, frame_every, initial, iterations_done) go to the runs.
    A run's own Settings are taken with every feature off.
    """
    settings = StylizeSettings.of(settings)
    target, styles = _colour_inputs(content_image, as_style_list(style_image), settings)
    try:
        if sizes:
            iterations = list(iterations) if iterations else [settings.iterations] * len(sizes)
            result = run_coarse_to_fine(
                target,
                styles,
                settings,
                sizes=sizes,
                iterations=iterations,
                masks=masks,
                **run_options,
            )
        else:
            styles = [match_style_scale(s, target, settings.style_scale) for s in styles]
            loss = scale_loss(target, styles, settings, run_options.get("net"), masks)
            if masks is not None:
                start = run_options.get("initial")
                if start is None:
                    start = masked_start(settings.init, target, styles, masks, settings.seed)
                run_options["initial"] = loss.held(start, target)
            elif run_options.get("iterations_done", 0) > 0:
                run_options["resumes_own_start"] = True  # resumed: it began at its own start
            one_run = settings.for_one_run()
            result = tf_run.run_style_transfer(target, styles, one_run, loss=loss, **run_options)
    except tf_run.Interrupted as stop:
        raise tf_run.Interrupted(_in_colour(stop.result, settings, content_image)) from None
    return _in_colour(result, settings, content_image)


def _colour_inputs(content_image, styles, settings: StylizeSettings):
    """Return the photo and paintings the run sees: as they are, or prepared to keep colours."""
    if settings.preserve_colors == "histogram":
        return content_image, [color.match_color_histogram(s, content_image) for s in styles]
    if settings.preserve_colors == "luminance":
        target = color.luminance_image(content_image)
        return target, [color.match_luminance(s, content_image) for s in styles]
    return content_image, styles


def _in_colour(
    result: tf_run.RunResult, settings: StylizeSettings, content_image
) -> tf_run.RunResult:
    """Put the content's colours back on a luminance-only result (other results pass)."""
    if settings.preserve_colors == "luminance":
        result.image = color.restore_content_colors(result.image, content_image)
    return result
