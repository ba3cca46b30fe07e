"""Video with temporal consistency (Ruder, Dosovitskiy & Brox, "Artistic style transfer for
videos", GCPR 2016): each frame starts from the previous styled frame warped by the optical
flow, and a short-term temporal loss holds it there wherever the flow can be trusted.

Frames in, styled frames out, one at a time; files, progress and resuming are the command
line's (style_transfer/video.py).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

import tf_helper
import tf_run
from going_further.coarse_to_fine import offset_callback
from going_further.optical_flow import frame_flows, warp
from going_further.settings import StylizeSettings
from going_further.style_scale import match_style_scale
from loss_settings import LossSettings, as_style_list, number
from optimisation.starts import initial_image
from tensorflow_vgg.vgg16_avg_pool import Vgg16

# The first frame starts from nothing styled, so it gets this many times the iterations of the
# frames after it, which start from their warped predecessor (Ruder et al. 2016, sec. 3.2).
FIRST_FRAME_FACTOR = 2


def temporal_loss(x: tf.Tensor, warped: tf.Tensor, c: tf.Tensor) -> tf.Tensor:
    """Return L_temporal = (1/D) sum_k c_k (x_k - w_k)^2 of an image x and the warped previous
    frame w (1, H, W, 3), c (1, H, W, 1) the consistency weights, D = H W 3 (Ruder et al.,
    eq. 2); in 0..255 units like the total variation, so the weight does not depend on the
    pixel range."""
    D = tf.cast(tf.size(x), tf.float32)
    return tf.reduce_sum(c * tf.square(255.0 * (x - warped))) / D


class TemporalLoss(tf_helper.StyleTransferLoss):
    """StyleTransferLoss plus `temporal_weight` times the short-term temporal loss.

    The warped previous frame and the consistency weights are TARGETS, like P and A, so every
    frame of a video shares one trace per precision; `next_frame` gives the loss of the next
    frame without computing the paintings' A again. Adds the terms `temporal` and
    `weighted_temporal`.
    """

    TARGETS = ("P", "A", "warped", "c")

    def __init__(
        self,
        net: Vgg16,
        content_image: np.ndarray,
        style_images: np.ndarray | Sequence[np.ndarray],
        temporal_weight: float,
        settings: LossSettings | None = None,
        precision: str = "float32",
    ):
        super().__init__(net, content_image, style_images, settings, precision)
        self.temporal_weight = number("the temporal weight", temporal_weight, True, "1e3")
        nothing = np.zeros(content_image.shape[:2], np.float32)
        self._set_previous(content_image, nothing)  # c = 0: a first frame has no predecessor

    def _set_previous(self, warped: np.ndarray, c: np.ndarray) -> None:
        self.warped = tf.constant(np.asarray(warped, np.float32)[None])  # (1, H, W, 3)
        self.c = tf.constant(np.asarray(c, np.float32)[None, ..., None])  # (1, H, W, 1)

    def next_frame(self, content_image: np.ndarray, warped: np.ndarray, c: np.ndarray):
        """Return the loss of another frame of the same size: its own P, the same A."""
        loss = copy.copy(self)
        features = self._net(content_image[None], self.content_layers, border=self.settings.border)
        loss.P = {name: tf.constant(features[name]) for name in self.content_layers}
        loss._set_previous(warped, c)
        return loss

    def trace_key(self) -> tuple:
        """Return what the call reads besides the image and TARGETS: the temporal weight too."""
        return (*super().trace_key(), self.temporal_weight)

    def __call__(
        self, image: tf.Tensor, compute_dtype: tf.DType = tf.float32
    ) -> dict[str, tf.Tensor]:
        """Return every loss term of a batch of one image (1, H, W, 3), the temporal one too."""
        terms = super().__call__(image, compute_dtype)
        temporal = temporal_loss(image, self.warped, self.c)
        terms["temporal"] = temporal
        terms["weighted_temporal"] = self.temporal_weight * temporal
        terms["total"] = terms["total"] + terms["weighted_temporal"]
        return terms


@dataclass
class StyledFrame:
    """A styled frame: the run's result, and where it started from and what the flow trusted
    (None for a frame styled on its own)."""

    result: tf_run.RunResult
    warped: np.ndarray | None
    c: np.ndarray | None


class VideoStylizer:
    """Styles a video's frames in order: the first (and, at temporal weight 0, every one) as a
    picture of its own, each later one from the previous styled frame warped by the flow, held
    there by the temporal loss where the flow is consistent (Ruder et al. 2016). Where it is
    not, a frame starts as the first did.
    """

    def __init__(
        self,
        net: Vgg16,
        style_images: Sequence[np.ndarray],
        settings: StylizeSettings,
        temporal_weight: float,
        first_frame_iterations: int | None = None,
    ):
        self.net = net
        self.style_images = list(style_images)
        self.settings = settings
        self.temporal_weight = temporal_weight
        self.first_frame_iterations = first_frame_iterations or (
            FIRST_FRAME_FACTOR * settings.iterations
        )
        self._loss: TemporalLoss | None = None

    def iterations(self, index: int) -> int:
        """Return the iterations of frame `index` (from 0)."""
        return self.first_frame_iterations if index == 0 else self.settings.iterations

    def stylize(self, index: int, frame: np.ndarray, previous=None, **run_options) -> StyledFrame:
        """Style frame `index` (H, W, 3) in [0, 1]; `previous` is (the frame before it, its
        styled picture) for every frame but the first. `run_options` (callback,
        frame_every) go to tf_run.run_style_transfer; Ctrl-C raises tf_run.Interrupted."""
        settings = self.settings.for_one_run().replace(iterations=self.iterations(index))
        warped = c = None
        if previous is not None and self.temporal_weight != 0:
            previous_frame, previous_styled = previous
            backward, c = frame_flows(previous_frame, frame)
            warped = warp(previous_styled, backward)
        loss = self._frame_loss(frame, warped, c, settings)
        start = initial_image(
            settings.init, frame, self._styles, settings.seed, settings.style_blend
        )
        if warped is not None:
            # Where the flow cannot be trusted (pixels the camera uncovered, occlusions) the
            # warp only smears edge pixels: start there as a frame of its own would.
            start = c[..., None] * warped + (1 - c[..., None]) * start
        result = tf_run.run_style_transfer(
            frame, self._styles, settings, loss=loss, initial=start, **run_options
        )
        return StyledFrame(result, warped, c)

    def _frame_loss(self, frame, warped, c, settings) -> TemporalLoss:
        """Return the loss of a frame (warped None: no temporal term), the paintings' targets
        computed at the first frame only."""
        if self._loss is None:
            scale = self.settings.style_scale
            self._styles = [match_style_scale(s, frame, scale) for s in self.style_images]
            self._loss = TemporalLoss(self.net, frame, self._styles, self.temporal_weight, settings)
            if warped is None:
                return self._loss
        if warped is None:
            warped, c = frame, np.zeros(frame.shape[:2], np.float32)  # c = 0: no temporal term
        return self._loss.next_frame(frame, warped, c)


@dataclass
class StyledVideo:
    """What stylize_video returns: the styled frames (H, W, 3) in [0, 1] and each frame's run."""

    images: list[np.ndarray]
    runs: list[tf_run.RunResult]

    @property
    def image(self) -> np.ndarray:
        """The last styled frame, as a run's result has its picture."""
        return self.images[-1]


def frame_iterations(count: int, iterations: int, first: int | None = None) -> list[int]:
    """Return the iterations of each of `count` frames: `first` (FIRST_FRAME_FACTOR times
    `iterations` by default) for the first, `iterations` for each other."""
    return [first or FIRST_FRAME_FACTOR * iterations] + [iterations] * (count - 1)


def stylize_video(
    frames: Sequence[np.ndarray],
    style_images: np.ndarray | Sequence[np.ndarray],
    settings: StylizeSettings,
    *,
    temporal_weight: float,
    iterations: Sequence[int] | None = None,
    net: Vgg16 | None = None,
    callback: tf_run.Callback | None = None,
    frame_every: int = 0,
) -> StyledVideo:
    """Style frames (each (H, W, 3) in [0, 1], one size) in order (Ruder et al. 2016).

    `iterations` per frame as frame_iterations gives them (default: from settings); the
    callback's iterations number on across the frames. Ctrl-C raises tf_run.Interrupted.
    """
    from tensorflow_vgg.vgg16_avg_pool import network

    settings = StylizeSettings.of(settings)
    counts = list(iterations or frame_iterations(len(frames), settings.iterations))
    if len(counts) != len(frames) or len(set(counts[1:])) > 1:
        raise ValueError("give one iteration count per frame, the same for all but the first")
    later = counts[1] if len(counts) > 1 else settings.iterations
    stylizer = VideoStylizer(
        net or network(),
        as_style_list(style_images),
        settings.replace(iterations=later),
        temporal_weight,
        counts[0],
    )
    images, runs = [], []
    for index, frame in enumerate(frames):
        previous = (frames[index - 1], images[-1]) if index else None
        numbered = offset_callback(callback, sum(counts[:index]))
        styled = stylizer.stylize(
            index, frame, previous, callback=numbered, frame_every=frame_every
        )
        images.append(styled.result.image)
        runs.append(styled.result)
    return StyledVideo(images, runs)


def flicker(styled: Sequence[np.ndarray], frames: Sequence[np.ndarray]) -> float:
    """Return the mean |styled_i - styled_{i-1} warped by the flow of frames i-1 -> i| in
    levels of 0..255, over the pixels the flow trusts (the consistency weights)."""
    values = []
    for i in range(1, len(frames)):
        backward, c = frame_flows(frames[i - 1], frames[i])
        difference = np.abs(styled[i] - warp(styled[i - 1], backward)).mean(axis=-1)
        values.append(255.0 * float((difference * c).sum() / max(c.sum(), 1e-12)))
    return float(np.mean(values))
