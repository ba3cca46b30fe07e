"""Coarse to fine: optimise at growing sizes, each scale starting from the one before.

Not in the paper; a common recipe for large pictures. Each scale is one
tf_run.run_style_transfer.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

import helper
import tf_run
from going_further import tile_geometry
from going_further.masked_tiles import MaskedTiledLoss
from going_further.settings import StylizeSettings
from going_further.spatial_control import MaskedStyleTransferLoss, StyleMasks, masked_start
from going_further.style_scale import match_style_scale
from going_further.tiling import TiledLoss
from loss_interface import Loss
from loss_settings import SettingsError
from tensorflow_vgg.vgg16_avg_pool import network


def carry_to_finer_scale(
    coarse_result: np.ndarray, coarse_content: np.ndarray, fine_content: np.ndarray
) -> np.ndarray:
    """Return the fine content image plus the upsampled change the coarse run made to it.

    Upsampling the coarse result itself would start the finer scale blurred, far above
    the content image's loss; adding only the coarse change keeps the content's fine
    detail and carries over the colours and large shapes the style has painted.
    """
    change = tf.constant(coarse_result - coarse_content)  # (h, w, 3), values in [-1, 1]
    upsampled = tf.image.resize(change, fine_content.shape[:2], method="bicubic").numpy()
    return np.clip(fine_content + upsampled, 0.0, 1.0).astype(np.float32)


def run_coarse_to_fine(
    content_image: np.ndarray,
    style_images: Sequence[np.ndarray],
    settings: StylizeSettings,
    *,
    sizes: Sequence[int],
    iterations: Sequence[int],
    callback: tf_run.Callback | None = None,
    initial: np.ndarray | None = None,
    iterations_done: int = 0,
    masks: StyleMasks | None = None,
    **run_options,
) -> tf_run.RunResult:
    """Run at each of `sizes` (longest sides, the last the content's) for its `iterations`.

    Each scale resizes the content, and each style to the same pixel area times
    settings.style_scale**2. Iterations number on across scales; the frames given to
    `callback` are at their scale's size. A scale too large for the memory budget is
    evaluated in tiles (going_further/tiling.py). A resumed run passes the picture it
    stopped at as `initial` (at the size of the scale it stopped in) and the iterations it
    did as `iterations_done`. `masks` (going_further.spatial_control) are brought to each
    scale. `run_options` (net, frame_every) go to every run.
    """
    if len(sizes) != len(iterations) or not sizes:
        raise SettingsError(f"{len(sizes)} sizes given with {len(iterations)} iteration counts")
    ends = list(itertools.accumulate(iterations))
    first = next((k for k, end in enumerate(ends) if end > iterations_done), None)
    if first is None:
        raise SettingsError(f"{iterations_done} of {ends[-1]} iterations done leaves none to run")
    history: list[dict[str, float]] = []
    previous = None  # (result, content) of the last scale
    for k in range(first, len(sizes)):
        content = helper.resize_to_longest_side(content_image, sizes[k])
        styles = [match_style_scale(s, content, settings.style_scale) for s in style_images]
        start = initial if previous is None else carry_to_finer_scale(*previous, content)
        if start is None and masks is not None:
            start = masked_start(settings.init, content, styles, masks, settings.seed)
        if start is not None and start.shape[:2] != content.shape[:2]:  # resumed at a scale's end
            coarse = helper.resize(content_image, *start.shape[:2])
            start = carry_to_finer_scale(start, coarse, content)
        scale_settings = settings.replace(iterations=iterations[k])
        before = ends[k] - iterations[k]  # the iterations planned for the scales before
        done_here = iterations_done - before if k == first else 0
        # Planned numbers, even after a scale that stopped early; the recorder adds iterations_done.
        offset = before + done_here - iterations_done
        numbered = offset_callback(callback, offset)
        loss = scale_loss(content, styles, scale_settings, run_options.get("net"), masks)
        if masks is not None:
            start = loss.held(start, content)  # a carried start's change spreads a little
        try:
            result = tf_run.run_style_transfer(
                content,
                styles,
                scale_settings.for_one_run(),
                loss=loss,
                callback=numbered,
                initial=start,
                iterations_done=done_here,
                # a resume in the first scale: that scale began at its own start, unless masked
                resumes_own_start=k == 0 and masks is None,
                **run_options,
            )
        except tf_run.Interrupted as stop:
            rows = _numbered_on(stop.result.history, before, sizes[k], history)
            stop.result.history = history + rows
            raise tf_run.Interrupted(_full_picture(stop.result, content, content_image)) from None
        history += _numbered_on(result.history, before, sizes[k], history)
        if result.failed:
            break
        previous = (result.image, content)
    result.history = history
    return _full_picture(result, content, content_image)


def scale_loss(content, styles, settings: StylizeSettings, net, masks=None) -> Loss | None:
    """Return the loss of a scale: tiled if too large for the memory budget, masked where
    `masks` are given, or None (the run's own StyleTransferLoss)."""
    largest_style = max((s.shape[:2] for s in styles), key=lambda shape: shape[0] * shape[1])
    core = tile_geometry.plan_tiles(*content.shape[:2], settings, largest_style)
    exact = settings.tile is not None
    if masks is not None and core is not None:
        return MaskedTiledLoss(
            net or network(), content, styles, masks, settings, core=core, exact=exact
        )
    if masks is not None:
        return MaskedStyleTransferLoss(net or network(), content, styles, masks, settings)
    if core is None:
        return None
    return TiledLoss(net or network(), content, styles, settings, core=core, exact=exact)


def _full_picture(result: tf_run.RunResult, content, content_image) -> tf_run.RunResult:
    """Bring the result of a run stopped at a coarser scale to the full size."""
    if result.image.shape[:2] != content_image.shape[:2]:
        result.image = carry_to_finer_scale(result.image, content, content_image)
    return result


def offset_callback(callback: tf_run.Callback | None, offset: int) -> tf_run.Callback:
    """Return a callback that numbers a part's iterations (a scale's, a video frame's) on by
    `offset`; a None callback gives one that does nothing."""

    def forward(iteration, terms, image):
        if callback is not None:
            callback(offset + iteration, terms, image)

    return forward


def _numbered_on(rows, done: int, size: int, history: list) -> list[dict[str, float]]:
    """Return a scale's history rows numbered on from `done`, timed on from `history`, at `size`."""
    elapsed = history[-1]["seconds"] if history else 0.0
    return [
        {
            **row,
            "iteration": row["iteration"] + done,
            "seconds": row["seconds"] + elapsed,
            "size": size,
        }
        for row in rows
    ]
