"""Optical flow between video frames (OpenCV's DIS), warping along it, and where to trust it
(Ruder, Dosovitskiy & Brox, "Artistic style transfer for videos", GCPR 2016, sec. 3.1).

No TensorFlow here; the temporal loss that uses these is going_further/video.py's.
"""

from __future__ import annotations

import numpy as np

# Ruder et al., sec. 3.1: a pixel is disoccluded where the forward flow, followed back along
# the backward flow, does not come back within 0.01 of their lengths squared plus 0.5 px^2 ...
DISOCCLUSION_SHARE, DISOCCLUSION_PX2 = 0.01, 0.5
# ... and on a motion boundary where the backward flow's gradient squared exceeds 0.01 of its
# length squared plus 0.002.
BOUNDARY_SHARE, BOUNDARY_PX2 = 0.01, 0.002


def optical_flow(image_from: np.ndarray, image_to: np.ndarray) -> np.ndarray:
    """Return the DIS flow (H, W, 2) float32 in px (x, y) from one RGB frame (H, W, 3) in [0, 1]
    to another: image_to at p + flow(p) shows what image_from shows at p."""
    import cv2

    def grey(image: np.ndarray) -> np.ndarray:
        rgb = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)

    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return dis.calc(grey(image_from), grey(image_to), None).astype(np.float32)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Return image (H, W, C) sampled at p + flow(p) (bilinear, edges repeated) as float32:
    with the backward flow from frame i to i-1, frame i-1's picture moved onto frame i."""
    import cv2

    height, width = flow.shape[:2]
    x, y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    warped = cv2.remap(
        np.asarray(image, np.float32),
        x + flow[..., 0],
        y + flow[..., 1],
        interpolation=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return warped.reshape(image.shape)  # remap drops a last axis of 1


def consistency_weights(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Return c (H, W) float32: 1 where the backward flow (frame i to i-1, (H, W, 2)) can be
    trusted, 0 where frame i-1 does not show the pixel (Ruder et al. 2016, sec. 3.1).

    0 at disocclusions, |w~ + w^|^2 > 0.01 (|w~|^2 + |w^|^2) + 0.5 with w^ the backward flow and
    w~ the forward flow (frame i-1 to i) taken where w^ points; on motion boundaries,
    |grad u^|^2 + |grad v^|^2 > 0.01 |w^|^2 + 0.002; and where w^ points outside frame i-1.
    """
    forward_there = warp(forward, backward)  # w~(p) = forward(p + w^(p))
    length2 = np.sum(backward**2, axis=-1)
    round_trip = np.sum((forward_there + backward) ** 2, axis=-1)
    disoccluded = round_trip > (
        DISOCCLUSION_SHARE * (np.sum(forward_there**2, axis=-1) + length2) + DISOCCLUSION_PX2
    )
    # forward differences, 0 past the last row and column
    d_dx = np.diff(backward, axis=1, append=backward[:, -1:])
    d_dy = np.diff(backward, axis=0, append=backward[-1:])
    gradient2 = np.sum(d_dx**2 + d_dy**2, axis=-1)
    boundary = gradient2 > BOUNDARY_SHARE * length2 + BOUNDARY_PX2
    height, width = backward.shape[:2]
    x = np.arange(width)[None, :] + backward[..., 0]
    y = np.arange(height)[:, None] + backward[..., 1]
    outside = (x < 0) | (x > width - 1) | (y < 0) | (y > height - 1)
    return (~(disoccluded | boundary | outside)).astype(np.float32)


def frame_flows(previous_frame: np.ndarray, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (backward flow from `frame` to `previous_frame`, its consistency weights c)."""
    backward = optical_flow(frame, previous_frame)
    forward = optical_flow(previous_frame, frame)
    return backward, consistency_weights(backward, forward)
