"""Where the tiles of a large picture lie: their cores, their windows with the halo, and where
each core falls in each layer's feature map. NumPy only, so the command line plans before
TensorFlow loads; going_further/tiling.py evaluates the loss over these tiles.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

import machine
from going_further.settings import StylizeSettings
from loss_settings import DEFAULT_LAYERS
from optimisation import memory
from tensorflow_vgg.layers import alignment, halo, stride


def _spans(length: int, count: int, grid: int) -> list[tuple[int, int]]:
    """Split 0..length into at most `count` spans starting on the grid, all but the last equal."""
    step = math.ceil(math.ceil(length / count) / grid) * grid
    return [(start, min(start + step, length)) for start in range(0, length, step)]


def _windows(spans, length: int, margin: int) -> list[int]:
    return [min(length, end + margin) - max(0, start - margin) for start, end in spans]


def tile_grid(
    height: int, width: int, core: int, layers: Sequence[str] = DEFAULT_LAYERS, exact=False
):
    """Return (row spans, column spans) of the tile cores of a height x width picture.

    With `exact` (--tile), square cores of `core` px. Otherwise, of the grids whose every
    window (core plus halo) holds no more pixels than a square one around a `core` px core,
    the one with the least window area: a wide picture gets wide tiles, so less is computed
    twice in the halos. Columns are as wide as the rows allow and the last is the narrowest,
    since all but the largest tile's forward pass run twice.
    """
    grid, margin = alignment(layers), halo(layers)
    core = max(grid, core // grid * grid)
    if exact:
        return _spans(height, -(-height // core), core), _spans(width, -(-width // core), core)
    budget = (core + 2 * margin) ** 2
    best = None
    for rows in range(1, -(-height // grid) + 1):
        row_spans = _spans(height, rows, grid)
        heights = _windows(row_spans, height, margin)
        widest = budget // max(heights)
        # The first column has a margin on one side only, so it can be wider by one margin.
        first = width if width <= widest else (widest - margin) // grid * grid
        step = (widest - 2 * margin) // grid * grid
        if first == width or step >= grid:
            starts = [0, *range(first, width, max(step, grid))]
            column_spans = [(a, b) for a, b in zip(starts, [*starts[1:], width])]
            area = sum(heights) * sum(_windows(column_spans, width, margin))
            if best is None or area < best[0]:
                best = (area, row_spans, column_spans)
        if len(row_spans) * grid >= height:
            break
    if best is None:  # no window fits the budget: the smallest tiles
        return _spans(height, -(-height // grid), grid), _spans(width, -(-width // grid), grid)
    return best[1], best[2]


@dataclass(frozen=True)
class Tile:
    """A part of the picture: `core` (rows, columns) it owns, `window` it is evaluated over."""

    core: tuple[int, int, int, int]  # top, bottom, left, right in px
    window: tuple[int, int, int, int]


def tiles(
    height: int, width: int, core: int, layers: Sequence[str], exact: bool = True
) -> list[Tile]:
    """Return the tiles covering a height x width picture (tile_grid's cores)."""
    margin = halo(layers)
    rows, columns = tile_grid(height, width, core, layers, exact)
    return [
        Tile(
            (top, bottom, left, right),
            (
                max(0, top - margin),
                min(height, bottom + margin),
                max(0, left - margin),
                min(width, right + margin),
            ),
        )  # fmt: skip
        for top, bottom in rows
        for left, right in columns
    ]


def crops(tile: Tile, shape, layers: Sequence[str]) -> np.ndarray:
    """Return, per layer, where the tile's core lies in its window's feature map (L, 4)."""
    top, bottom, left, right = tile.core
    window_top, window_bottom, window_left, window_right = tile.window
    rows = []
    for name in layers:
        scale = stride(name)
        # A core that ends at the picture's edge keeps the last, partly pooled, position.
        end_row = -(-(window_bottom - window_top) // scale) if bottom == shape[0] else None
        end_column = -(-(window_right - window_left) // scale) if right == shape[1] else None
        rows.append(
            [
                (top - window_top) // scale,
                end_row or (bottom - window_top) // scale,
                (left - window_left) // scale,
                end_column or (right - window_left) // scale,
            ]
        )
    return np.array(rows, np.int32)


def budget_bytes(settings: StylizeSettings) -> int:
    """Return the memory a run may take before it is evaluated in tiles: the budget, or less."""
    budget = int(settings.memory_budget * 2**30)
    available = machine.available_bytes()
    return budget if available is None else min(budget, available)


def plan_tiles(
    height: int, width: int, settings: StylizeSettings, style_shape: tuple[int, int] | None = None
) -> int | None:
    """Return the core side (px) of the tiles a run on height x width px is evaluated in, or
    None to evaluate it whole.

    settings.tile if given; else tiles only when the whole picture's estimate
    (settings.iterations, the largest style's shape) exceeds budget_bytes(settings):
    memory.tile_core() px, or smaller where that would not fit in the memory available. The memory
    check, the first line and the engine all plan with this, so they agree.
    """
    layers = settings.layers
    grid = alignment(layers)
    if settings.tile is not None:
        return max(grid, settings.tile // grid * grid)
    options = {"layers": layers, "iterations": settings.iterations}
    whole = memory.estimate_peak_bytes(height, width, style_shape=style_shape, **options)
    if whole <= budget_bytes(settings):
        return None
    core, smallest = memory.tile_core(layers), 2 * halo(layers)
    available = machine.available_bytes()

    def fits(side: int) -> bool:
        content_layers = settings.content_layers
        peak = memory.tiled_peak_bytes(
            height, width, side, content_layers=content_layers, **options
        )
        return available is None or peak <= available

    while core - grid >= smallest and not fits(core):
        core -= grid
    return core
