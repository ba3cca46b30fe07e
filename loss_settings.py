"""The paper's choices for the loss, and the rules every input obeys.

The layers and the weights of equations 5 and 7 (alpha, beta, gamma, w_l), with their
defaults, for tf_helper.py's loss. The run's own settings (iterations, optimiser, start)
extend these in optimisation/settings.py, and the large-picture and colour settings extend
those in going_further/settings.py. No TensorFlow here.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tensorflow_vgg.layers import (
    BORDERS,
    LAYER_ORDER,
    LayerError,
    check_layer_names,
    deepest,
    minimum_image_side,
)

# The paper's layers: content at conv4_2, style at the first layer of every block (section 3).
CONTENT_LAYERS = ("conv4_2",)
STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
DEFAULT_LAYERS = (*CONTENT_LAYERS, *STYLE_LAYERS)
FLOAT32_MAX = float(np.finfo(np.float32).max)


class SettingsError(ValueError):
    """A run setting (weight, size, iteration count, option value) that cannot be used."""


# --- The rules -------------------------------------------------------------------------------


def number(what: str, value, zero_allowed: bool = True, example: str = "") -> float:
    """Return `value` as a finite float >= 0 (> 0 unless zero_allowed) within float32's range."""
    need = "zero or more" if zero_allowed else "more than zero"
    hint = f", e.g. {example}" if example else ""
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise SettingsError(
            f"{value!r} is not a number; give {what} as a finite number {need}{hint}"
        ) from None
    if not math.isfinite(result) or result < 0 or (result == 0 and not zero_allowed):
        raise SettingsError(
            f"{value!r} cannot be used; give {what} as a finite number {need}{hint}"
        )
    if result > FLOAT32_MAX:  # the loss is float32: such a weight makes it infinite at once
        raise SettingsError(f"{what} must be at most {FLOAT32_MAX:.3g} (float32), not {value!r}")
    return result


def whole_number(what: str, value, example: int) -> int:
    """Return `value` as an int of 1 or more."""
    try:
        result = int(value) if isinstance(value, (int, str)) else None
    except ValueError:
        result = None
    if result is None or result < 1:
        raise SettingsError(
            f"{value!r} is not {what}; give a whole number of 1 or more, e.g. {example}"
        )
    return result


def as_style_list(style_image: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    """Return one style image or several as a list of style images."""
    return [style_image] if isinstance(style_image, np.ndarray) else list(style_image)


def blend_shares(count: int, blend: Sequence[float] | None) -> list[float]:
    """Return the style blend as shares s_k summing to 1 (equal shares when `blend` is None)."""
    if blend is None:
        return [1.0 / count] * count
    if len(blend) != count:
        raise SettingsError(
            f"{len(blend)} weight(s) for {count} style image(s); give one weight per style image"
        )
    blend = [number("a blend weight", b, example="0.7") for b in blend]
    if sum(blend) <= 0:
        raise SettingsError("weighs every style image zero; give at least one weight above zero")
    return [b / sum(blend) for b in blend]


def layer_weights(layers: Sequence[str], weights: Sequence[float] | None) -> list[float]:
    """Return w_l for each style layer: equal weights 1/L by default (paper, eq. 5)."""
    if weights is None:
        return [1.0 / len(layers)] * len(layers)
    if len(weights) != len(layers):
        raise SettingsError(f"{len(weights)} style layer weights given for {len(layers)} layers")
    return [number(f"the weight of {name}", w) for name, w in zip(layers, weights)]


def layer_list(names: Sequence[str]) -> tuple[str, ...]:
    """Return VGG16 layer names as a tuple, refusing unknown ones and any named twice."""
    names = tuple(check_layer_names(names))
    repeated = sorted({name for name in names if names.count(name) > 1}, key=names.index)
    if repeated:
        raise LayerError(f"{', '.join(repeated)} is named twice; give each layer once")
    return names


def check_image_side(what: str, height: int, width: int, layers: Sequence[str]) -> None:
    """Raise SettingsError if an image of height x width px is too small for the layers."""
    smallest = minimum_image_side(layers)
    if min(height, width) < smallest:
        raise SettingsError(
            f"{what} is {width}x{height} px; the deepest layer in use, {deepest(layers)}, needs "
            f"at least {smallest} px on each side; use a larger image"
        )


def choice(what: str, value, choices: Sequence) -> None:
    """Raise SettingsError unless `value` is one of `choices`."""
    if value not in choices:
        raise SettingsError(f"unknown {what} {value!r}; choose one of {', '.join(choices)}")


# --- The defaults ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LossSettings:
    """The settings of the loss (paper, eq. 5 and 7), with their defaults; checked when made.

    alpha, beta and gamma weigh the content, style and total-variation losses; w_l
    (`layer_weights`, default 1/L) the style layers. `style_blend` gives each of several
    style images a share of the style target.
    """

    alpha: float = 1.0
    beta: float = 1e3
    gamma: float = 1e-3
    content_layers: tuple[str, ...] = CONTENT_LAYERS
    style_layers: tuple[str, ...] = STYLE_LAYERS
    layer_weights: tuple[float, ...] | None = None
    style_blend: tuple[float, ...] | None = None
    border: str = "mirror"  # one of BORDERS: what the network sees beyond the picture's edge
    jit_compile: bool = False  # XLA for the loss: measured no faster on a 2-core CPU

    def __post_init__(self):
        self._set(
            alpha=number("the content weight (alpha)", self.alpha),
            beta=number("the style weight (beta)", self.beta),
            gamma=number("the total-variation weight (gamma)", self.gamma),
            content_layers=layer_list(self.content_layers),
            style_layers=layer_list(self.style_layers),
        )
        choice("border", self.border, BORDERS)
        for name in ("layer_weights", "style_blend"):
            if getattr(self, name) is not None:
                self._set(**{name: tuple(getattr(self, name))})
        if self.layer_weights is not None:
            layer_weights(self.style_layers, self.layer_weights)
        if self.style_blend is not None:
            blend_shares(len(self.style_blend), self.style_blend)

    def _set(self, **checked) -> None:
        """Store checked values in this frozen dataclass (from __post_init__ only)."""
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    def replace(self, **changes):
        """Return a copy with some settings changed (and checked)."""
        return dataclasses.replace(self, **changes)

    def beyond(self, kind: type) -> list[str]:
        """Return the settings that `kind` (a base class of this one) does not have, where
        they differ from their defaults: what a function taking a `kind` would ignore."""
        own = {f.name for f in dataclasses.fields(kind)}
        return [
            f.name
            for f in dataclasses.fields(self)
            if f.name not in own and getattr(self, f.name) != f.default
        ]

    def as_kind(self, kind: type):
        """Return these settings as a `kind` (a base class of this one), keeping its fields."""
        return kind(**{f.name: getattr(self, f.name) for f in dataclasses.fields(kind)})

    @property
    def layers(self) -> list[str]:
        """The content and style layers, each once: what the network must compute."""
        return sorted(set(self.content_layers) | set(self.style_layers), key=LAYER_ORDER.index)
