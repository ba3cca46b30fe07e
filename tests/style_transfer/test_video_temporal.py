"""The temporal loss and the consistency weights of Ruder et al. (2016), against hand-made
flows and a NumPy reference; the frames of a video share their traces."""

from __future__ import annotations

import numpy as np
import pytest

import loss_interface
from going_further.optical_flow import consistency_weights, optical_flow, warp
from going_further.video import TemporalLoss
from loss_settings import LossSettings

SIDE = 32


def uniform_flow(dx: float, dy: float = 0.0) -> np.ndarray:
    flow = np.zeros((SIDE, SIDE, 2), np.float32)
    flow[..., 0], flow[..., 1] = dx, dy
    return flow


def test_consistency_weights_mark_disocclusions_and_pixels_from_outside():
    backward = uniform_flow(2.0)  # frame i at p shows frame i-1 at p + (2, 0)
    forward = uniform_flow(-2.0)
    forward[8:16, 10:20] = 0.0  # there frame i-1's pixels do not come back: disoccluded
    actual = consistency_weights(backward, forward)
    expected = np.ones((SIDE, SIDE), np.float32)
    expected[:, SIDE - 2 :] = 0  # p + 2 lies past frame i-1's last column
    expected[8:16, 8:18] = 0  # p + 2 falls in the block
    np.testing.assert_array_equal(actual, expected)


def test_consistency_weights_mark_a_motion_boundary():
    backward = uniform_flow(2.0)
    backward[:, 16:] = 0.0  # the left half moves, the right half stands
    forward = uniform_flow(-2.0)
    forward[:, 18:] = 0.0
    actual = consistency_weights(backward, forward)
    expected = np.ones((SIDE, SIDE), np.float32)
    expected[:, 15] = 0  # |du/dx|^2 = 4 > 0.01 * 4 + 0.002: the boundary
    expected[:, 16:18] = 0  # still, but frame i-1 moved those pixels on: disoccluded
    np.testing.assert_array_equal(actual, expected)


def test_dis_flow_and_warp_follow_a_known_shift(small_photo):
    scene = small_photo(2 * SIDE, 2 * SIDE + 8)
    previous, frame = scene[:, 3 : 2 * SIDE + 3], scene[:, : 2 * SIDE]  # the camera moved left 3 px
    backward = optical_flow(frame, previous)
    inner = (slice(16, -16), slice(16, -16))
    np.testing.assert_allclose(np.median(backward[inner][..., 0]), -3.0, atol=0.25)
    np.testing.assert_allclose(np.median(backward[inner][..., 1]), 0.0, atol=0.25)
    actual = warp(previous, np.broadcast_to(uniform_flow(-3.0)[:1, :1], backward.shape))
    np.testing.assert_array_equal(actual[:, 3:], frame[:, 3:])


@pytest.fixture(scope="module")
def settings():
    return LossSettings(content_layers=["conv2_2"], style_layers=["conv1_1", "conv2_1"])


def test_temporal_loss_and_its_gradient_match_numpy(net, rng, settings):
    content, style, x, warped = (rng.random((SIDE, SIDE, 3)).astype(np.float32) for _ in range(4))
    c = (rng.random((SIDE, SIDE)) > 0.3).astype(np.float32)
    weight = 1e4
    loss = TemporalLoss(net, content, style, weight, settings).next_frame(content, warped, c)
    plain = TemporalLoss(net, content, style, 0.0, settings).next_frame(content, warped, c)
    terms, gradient = loss.terms_and_gradient(x)
    plain_terms, plain_gradient = plain.terms_and_gradient(x)
    d = 255.0 * (x.astype(np.float64) - warped)
    expected = float(np.sum(c[..., None] * d**2) / x.size)  # (1/D) sum c (x - w)^2, D = H W 3
    np.testing.assert_allclose(terms["temporal"], expected, rtol=1e-5)
    np.testing.assert_allclose(terms["total"] - plain_terms["total"], weight * expected, rtol=1e-4)
    expected_gradient = weight * 2 * 255.0 * c[..., None] * d / x.size
    np.testing.assert_allclose(
        gradient - plain_gradient, expected_gradient, rtol=1e-3, atol=1e-3 * np.abs(gradient).max()
    )


def test_frames_share_one_trace_and_keep_their_own_targets(net, rng, settings):
    frames = [rng.random((SIDE, SIDE, 3)).astype(np.float32) for _ in range(3)]
    style = rng.random((SIDE, SIDE, 3)).astype(np.float32)
    first = TemporalLoss(net, frames[0], style, 1e3, settings)
    ones = np.ones((SIDE, SIDE), np.float32)
    second = first.next_frame(frames[1], frames[0], ones)
    third = first.next_frame(frames[2], frames[1], ones)
    second.terms(frames[1])
    traces = len(loss_interface._TRACES)
    actual = third.terms(frames[2])
    assert len(loss_interface._TRACES) == traces  # the third frame did not trace again
    assert third._traced("terms") is second._traced("terms")
    expected = np.mean((255.0 * (frames[2].astype(np.float64) - frames[1])) ** 2)
    np.testing.assert_allclose(actual["temporal"], expected, rtol=1e-5)
    assert actual["content"] == 0  # its own photo's P
    assert second.terms(frames[1])["content"] == 0
