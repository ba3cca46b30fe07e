"""L-BFGS's first guess at the inverse curvature, fitted to the last step, smooth changes further.

Not in the paper. L-BFGS turns a gradient g into a step -H g, where H starts from
H_0 = gamma I and is corrected in the span of the last curvature pairs (lbfgs.py); the usual
gamma = s'y / y'y is the least-squares fit of H_0 y = s along the newest pair (s the step,
y the change of the gradient). Here H_0 = a I + b G_sigma, G_sigma a Gaussian blur of SIGMA px,
is fitted to the same pair the same way (min ||a y + b G_sigma y - s||^2), and used as
gamma (I + lambda G_sigma) with lambda = b / a and gamma then such that y' H_0 y = s'y, as
the usual gamma is: where the steps have moved smooth changes further than their gradients
alone suggest, the next step does too; where they have not, lambda is 0. Then H_0 is
multiplied by c = GAMMA_FACTOR. On a quadratic with Hessian A, y = A s, and s'y / y'y is the
mean of 1 / curvature over A's eigendirections weighted by y's squared components (curvature
squared times s's): it suits the stiffest changes and is short for the many directions the
pairs have not seen (along L-BFGS's own directions the loss was lowest at 1.1-1.6 times its
step). The newest pair's secant equation H y = s holds whatever H_0 is. The blur mirrors
the picture at its edges, which makes G_sigma symmetric (it is diagonal in the picture's
cosine transform) with eigenvalues from about -3e-5 (the kernel is cut off at 4 sigma) to 1,
so with lambda at most MAX_LAMBDA and c above 0, I + lambda G_sigma and H stay positive
definite and every step goes downhill. Measured in benchmarks/README.md ("Evaluations to
within 5%"). NumPy only (and OpenCV's blur, loaded when a run uses it).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

SIGMA = 4.0  # px: the blur's width, in the picture's pixels as the network's windows are
MAX_LAMBDA = 10.0  # smooth changes move at most 1 + MAX_LAMBDA times as far as fine ones
GAMMA_FACTOR = 1.6  # c: longer steps where the pairs say nothing (2 had steps refused)

Blur = Callable[[np.ndarray], np.ndarray]


def gaussian_blur(shape: tuple[int, ...], sigma: float = SIGMA) -> Blur:
    """Return G_sigma for flat float32 vectors of an image of `shape` (H, W, C): each channel
    blurred by a Gaussian of `sigma` px, the image mirrored at its edges (a new array)."""
    import cv2  # loaded only by runs that use it, as optical_flow.py does: a quicker start

    height, width, channels = shape

    def blur(v: np.ndarray) -> np.ndarray:
        image = v.reshape(height, width, channels)
        if channels == 1:
            image = image[..., 0]  # OpenCV's blur takes (H, W) for one channel
        return cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT).reshape(-1)

    return blur


def fitted_lambda(sy: float, yy: float, sGy: float, yGy: float, GyGy: float) -> float:
    """Return lambda = b / a of the least-squares fit a y + b G y = s, in [0, MAX_LAMBDA].

    From the dot products s'y, y'y, s'Gy, y'Gy, (Gy)'(Gy) (the normal equations of the fit);
    0 where the fit gives a <= 0 or b <= 0, which would not be positive definite or smooth.
    """
    det = yy * GyGy - yGy * yGy
    if not det > 0:
        return 0.0  # y and G y parallel: nothing to tell the two apart
    a = (sy * GyGy - sGy * yGy) / det
    b = (sGy * yy - sy * yGy) / det
    if a <= 0 or b <= 0:
        return 0.0
    return min(MAX_LAMBDA, b / a)
