"""The default coarse-to-fine schedule of a large picture: which sizes, how many iterations each.

Not in the paper. The network sees the picture through windows of a fixed number of pixels,
so one run at print size paints strokes far too small for the picture; starting at
FIRST_SIZE px and doubling gives the painting's large shapes first, then its texture at each
finer scale. Knows nothing of TensorFlow, so the command line can plan a run in a second.
"""

from __future__ import annotations

# A picture larger than LARGE_SIZE px (longest side) runs, by default, from FIRST_SIZE px up,
# doubling. Each scale gets about the same time: SCALE_BUDGET iterations x megapixels, within
# SCALE_ITERATIONS: the coarse scales converge in a few hundred iterations, and the finest
# needs only a few to sharpen what the scale before it painted.
LARGE_SIZE, FIRST_SIZE = 1024, 512
SCALE_BUDGET, SCALE_ITERATIONS = 40.0, (4, 200)


def default_schedule(height: int, width: int) -> tuple[list[int], list[int]]:
    """Return (sizes, iterations): longest sides from FIRST_SIZE up, doubling, to max(height, width)."""
    longest = max(height, width)
    sizes = [FIRST_SIZE * 2**k for k in range(16) if FIRST_SIZE * 2**k < longest] + [longest]
    fewest, most = SCALE_ITERATIONS
    iterations = []
    for size in sizes:
        megapixels = height * width * (size / longest) ** 2 / 1e6
        iterations.append(int(min(most, max(fewest, round(SCALE_BUDGET / megapixels)))))
    return sizes, iterations
