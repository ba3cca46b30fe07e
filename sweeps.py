"""Parameter sweeps: parse `name=v1,v2 name=v3,v4` into every combination, and label each one.

Knows nothing of TensorFlow; the command line runs the combinations.
"""

from __future__ import annotations

import itertools
import math

# Sweepable settings: the command line's option name -> how to read one value.
SWEEPABLE = {
    "style-weight": float,
    "content-weight": float,
    "tv-weight": float,
    "style-scale": float,
    "iterations": int,
    "size": int,
    "init": str,
    "content-layer": str,
    "preserve-colors": str,
}


class SweepError(ValueError):
    """A sweep specification that cannot be read."""


def _parse_value(name: str, text: str):
    kind = SWEEPABLE[name]
    try:
        value = kind(text)
    except ValueError:
        what = "whole number" if kind is int else "number"
        raise SweepError(f"sweep {name}: {text!r} is not a {what}") from None
    if kind is float and not math.isfinite(value):
        raise SweepError(f"sweep {name}: {text!r} must be a finite number")
    return value  # the range is checked as the setting's own flag checks it


def parse_sweep(specs: list[str]) -> list[dict[str, object]]:
    """Return one {name: value} dict per combination of `name=v1,v2,...` specifications."""
    axes: dict[str, list] = {}
    for spec in specs:
        name, sep, values = spec.partition("=")
        name = name.strip()
        if not sep or not values.strip():
            raise SweepError(f"sweep {spec!r} must look like name=value1,value2")
        if name not in SWEEPABLE:
            raise SweepError(f"cannot sweep {name!r}; choose from {', '.join(SWEEPABLE)}")
        if name in axes:
            raise SweepError(f"sweep {name!r} is given twice")
        axes[name] = [_parse_value(name, v.strip()) for v in values.split(",")]
    return [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())]


def label(combination: dict[str, object]) -> str:
    """Return a short caption such as 'style-weight 1e+03, init noise'."""
    parts = []
    for name, value in combination.items():
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        parts.append(f"{name} {shown}")
    return ", ".join(parts)
