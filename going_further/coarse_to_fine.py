"""Coarse to fine: optimise at growing sizes, each scale starting from the one before.

Not in the paper; a common recipe for large pictures. Each scale is one
tf_helper.run_style_transfer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

import helper
import tf_helper
from optimisation.settings import Settings, SettingsError


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
    settings: Settings,
    *,
    sizes: Sequence[int],
    iterations: Sequence[int],
    callback: tf_helper.Callback | None = None,
    initial: np.ndarray | None = None,
    iterations_done: int = 0,
    **run_options,
) -> tf_helper.RunResult:
    """Run at each of `sizes` (longest sides, the last the content's) for its `iterations`.

    Each scale resizes the content, and each style to the same pixel area times
    settings.style_scale**2. Iterations number on across scales, and frames given to
    `callback` are full-size. `initial` and `iterations_done` resume a single-scale run.
    `run_options` (net, frame_every) go to every run.
    """
    if len(sizes) != len(iterations) or not sizes:
        raise SettingsError(f"{len(sizes)} sizes given with {len(iterations)} iteration counts")
    if iterations_done and len(sizes) > 1:
        raise SettingsError("only a single-scale run can be resumed")
    full_shape = content_image.shape[:2]
    history: list[dict[str, float]] = []
    previous = None  # (result, content) of the last scale
    for size, count in zip(sizes, iterations):
        content = helper.resize_to_longest_side(content_image, size)
        styles = [helper.match_style_scale(s, content, settings.style_scale) for s in style_images]
        start = initial if previous is None else carry_to_finer_scale(*previous, content)
        try:
            result = tf_helper.run_style_transfer(
                content,
                styles,
                settings.replace(iterations=count),
                callback=_full_size(callback, len(history), full_shape),
                initial=start,
                iterations_done=iterations_done,
                **run_options,
            )
        except tf_helper.Interrupted as stop:
            stop.result.history = history + _numbered_on(stop.result.history, history, size)
            raise tf_helper.Interrupted(
                _full_picture(stop.result, content, content_image)
            ) from None
        history += _numbered_on(result.history, history, size)
        if result.failed:
            break
        previous = (result.image, content)
    result.history = history
    return _full_picture(result, content, content_image)


def _full_picture(result: tf_helper.RunResult, content, content_image) -> tf_helper.RunResult:
    """Bring the result of a run stopped at a coarser scale to the full size."""
    if result.image.shape[:2] != content_image.shape[:2]:
        result.image = carry_to_finer_scale(result.image, content, content_image)
    return result


def _full_size(callback, done: int, full_shape):
    """Return a callback that numbers on from `done` and passes full-size frames to `callback`."""

    def forward(iteration, terms, image):
        if image is not None and image.shape[:2] != full_shape:
            image = tf.image.resize(image, full_shape, method="bicubic").numpy()
        if callback is not None:
            callback(done + iteration, terms, image)

    return forward


def _numbered_on(rows, history, size: int) -> list[dict[str, float]]:
    """Return a scale's history rows with iterations and seconds counted on from `history`."""
    done = len(history)
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
