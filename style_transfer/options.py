"""What the parsed options mean for a run: the engine's Settings, the iterations of each
scale, and an option's value as it would be typed.
"""

from __future__ import annotations

import argparse

from optimisation.settings import Settings
from style_transfer.arguments import NO_COLOR_PRESERVATION


def counts(args: argparse.Namespace) -> list[int]:
    """Return the iterations of each scale (one entry for a single-scale run)."""
    scales = len(args.scales) if args.scales else 1
    return (
        list(args.iterations) if isinstance(args.iterations, list) else [args.iterations] * scales
    )


# The options named otherwise than the settings they give; the SHARED ones keep their names.
RENAMED = {"content_weight": "alpha", "style_weight": "beta", "tv_weight": "gamma"}
SHARED = (
    "optimizer init seed content_layers style_layers style_blend learning_rate precision "
    "style_scale tile memory_budget"
).split()


def settings_of(args: argparse.Namespace) -> Settings:
    """Return the engine's Settings for a request (the iterations of its last scale)."""
    values = {name: getattr(args, name) for name in SHARED}
    values.update({setting: getattr(args, option) for option, setting in RENAMED.items()})
    colors = None if args.preserve_colors == NO_COLOR_PRESERVATION else args.preserve_colors
    return Settings(iterations=counts(args)[-1], preserve_colors=colors, **values)


def show_value(value) -> str:
    """Return an option's value as it would be typed: 0.7,0.3 / 1000 / none."""
    if isinstance(value, (list, tuple)):
        return ",".join(show_value(item) for item in value)
    if isinstance(value, (int, float)):
        return f"{value:g}"
    return "none" if value is None else str(value)
