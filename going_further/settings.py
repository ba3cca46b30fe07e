"""The settings of the features around a run: brush-stroke size, colours kept, tiles.

They extend a run's settings (optimisation/settings.py); going_further.stylize reads them
and hands the run only what it reads (StylizeSettings.for_one_run).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from loss_settings import choice, number, whole_number
from optimisation.settings import Settings

COLOR_MODES = ("luminance", "histogram")
# A video's temporal loss weight (going_further/video.py): flicker about a quarter of
# independent frames' at 128-256 px (benchmarks/README.md, "Video flicker").
DEFAULT_TEMPORAL_WEIGHT = 1e7


@dataclass(frozen=True)
class StylizeSettings(Settings):
    """A run's settings and those of the features around it, with their defaults.

    `style_scale` > 1 paints larger brush strokes; `preserve_colors` keeps the photo's
    colours; `tile` and `memory_budget` decide whether a large picture is evaluated in
    tiles (going_further/tile_geometry.plan_tiles).
    """

    style_scale: float = 1.0  # > 1 paints larger brush strokes
    preserve_colors: str | None = None  # None or one of COLOR_MODES
    tile: int | None = None  # evaluate in tiles of this many px; None: when over the budget
    memory_budget: float = 4.0  # GiB a run may take (if available) before it is tiled

    def __post_init__(self):
        super().__post_init__()
        self._set(
            style_scale=number("the style scale", self.style_scale, False),
            memory_budget=number("the memory budget in GiB", self.memory_budget, False),
        )
        if self.tile is not None:
            self._set(tile=whole_number("a tile size in px", self.tile, 512))
        if self.preserve_colors is not None:
            choice("colour mode", self.preserve_colors, COLOR_MODES)

    @classmethod
    def of(cls, settings: Settings | None) -> StylizeSettings:
        """Return `settings` as StylizeSettings: a run's own settings with the features off."""
        if settings is None or isinstance(settings, cls):
            return settings or cls()
        return cls(**{f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)})

    def for_one_run(self) -> Settings:
        """Return the settings of the run itself, once stylize has dealt with the rest."""
        return self.as_kind(Settings)
