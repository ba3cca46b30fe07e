"""The content boost: a run's first iterations weigh the content term more, then as the paper.

Not in the paper, and a run still ends on equation 7's loss. From the recoloured photo the
style term is tens to a hundred times the content term, so L-BFGS's first steps paint the
painting's textures over the photo's layout, and the rest of the run rebuilds that layout
slowly. With alpha weighed FACTORS times in the first iterations (4, then 2), the layout is
kept while the textures form, and the run comes within a few percent of a long run's loss in
fewer evaluations (benchmarks/README.md has the figures). From white noise or the painting
there is no layout to keep, and the run is the paper's from its first step. No TensorFlow here.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

PHOTO_STARTS = ("recolored", "content")  # the starts (settings.INITS) whose layout it keeps
FACTORS = (4.0, 2.0)  # alpha's factor in each step of the ramp, then 1
STEP_ITERATIONS = 20  # the iterations of each step in a run of 300 or more
RUN_PER_STEP = 15  # a shorter run's steps take 1/RUN_PER_STEP of it
MIN_ITERATIONS = 60  # a shorter run lost more to the boosted steps than it gained after them


def factors(iterations: int, done: int = 0) -> list[tuple[float, int]]:
    """Return [(alpha's factor, iterations), ...] left of a run of `iterations` after `done`."""
    step = min(STEP_ITERATIONS, iterations // RUN_PER_STEP) if iterations >= MIN_ITERATIONS else 0
    plan = [(factor, step) for factor in FACTORS if step > 0]
    plan.append((1.0, iterations - step * len(plan)))
    left = []
    for factor, count in plan:
        skipped = min(done, count)
        done -= skipped
        if count > skipped:
            left.append((factor, count - skipped))
    return left


def combined(
    precisions: Sequence[tuple[str, int]], boosts: Sequence[tuple[float, int]]
) -> list[tuple[str, float, int]]:
    """Return [(precision, factor, iterations), ...]: two schedules of one run, step by step.

    Raises ValueError if they do not plan the same number of iterations.
    """
    steps = [_each_iteration(precisions), _each_iteration(boosts)]
    if len(steps[0]) != len(steps[1]):
        raise ValueError(f"schedules of different lengths: {list(precisions)}, {list(boosts)}")
    return [(*pair, len(list(run))) for pair, run in itertools.groupby(zip(*steps))]


def _each_iteration(schedule: Sequence[tuple]) -> list:
    """Return a schedule [(value, iterations), ...] as one value per iteration."""
    return [value for value, count in schedule for _ in range(count)]
