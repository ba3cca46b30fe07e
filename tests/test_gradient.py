"""The gradient of the total loss against central finite differences, with and without XLA,
and the bfloat16 evaluations against float32 and float64."""

from __future__ import annotations

import numpy as np
import pytest

import tf_helper

STYLE_LAYERS = ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"]
HEIGHT, WIDTH = 20, 28  # pools to 10x14, 5x7, 3x4, 2x2: odd sizes included


@pytest.fixture(scope="module")
def images(small_photo, small_painting):
    """Content, style and a noise image to differentiate at, all (HEIGHT, WIDTH, 3)."""
    rng = np.random.default_rng(1508)
    noise = rng.uniform(0.05, 0.95, size=(HEIGHT, WIDTH, 3)).astype(np.float32)
    return small_photo(HEIGHT, WIDTH), small_painting(HEIGHT, WIDTH), noise


def numpy_total_loss(reference, content, style, alpha, beta, gamma):
    """Return x -> the float64 total loss of x, with the targets computed once in NumPy."""
    layers = (["conv4_2"] if alpha else []) + (STYLE_LAYERS if beta else [])
    P = reference.activations(content, ["conv4_2"])["conv4_2"]
    S = reference.activations(style, STYLE_LAYERS)
    A = {name: reference.gram(S[name]) for name in STYLE_LAYERS}  # same size: no rescaling

    def total(x: np.ndarray) -> float:
        F = reference.activations(x, layers) if layers else {}
        style_loss = 0.0
        for name in STYLE_LAYERS if beta else []:
            N_l, M_l = F[name].shape[-1], np.prod(F[name].shape[:2])
            E_l = np.sum((reference.gram(F[name]) - A[name]) ** 2) / (4 * N_l**2 * M_l**2)
            style_loss += E_l / len(STYLE_LAYERS)
        content_loss = reference.content_loss(F["conv4_2"], P) if alpha else 0.0
        return alpha * content_loss + beta * style_loss + gamma * reference.tv_loss(x)

    return total


@pytest.mark.parametrize(
    ("alpha", "beta", "gamma"),
    [(1.0, 0.0, 0.0), (0.0, 1e3, 0.0), (0.0, 0.0, 1.0), (1.0, 1e3, 1e-3)],
    ids=["content", "style", "tv", "total"],
)
def test_gradient_matches_float64_central_differences(net, reference, images, alpha, beta, gamma):
    content, style, x = images
    loss = tf_helper.StyleTransferLoss(
        net, content, style, weights=tf_helper.LossWeights(alpha, beta, gamma), jit_compile=False
    )
    _, actual = loss.terms_and_gradient(x)
    assert actual.shape == x.shape and actual.dtype == np.float32
    total = numpy_total_loss(reference, content, style, alpha, beta, gamma)
    # A small step: with a larger one, ReLUs switching on or off bias the difference.
    h = 1e-7
    rng = np.random.default_rng(42)
    pixels = [(0, 0, 0), (HEIGHT - 1, WIDTH - 1, 2)] + [
        (rng.integers(HEIGHT), rng.integers(WIDTH), rng.integers(3)) for _ in range(3)
    ]
    scale = np.abs(actual).max()
    for pixel in pixels:
        step = np.zeros(x.shape)
        step[pixel] = h
        expected = (total(x + step) - total(x - step)) / (2 * h)
        assert abs(actual[pixel] - expected) <= 1e-3 * abs(expected) + 1e-4 * scale, pixel
    # One random direction moves every pixel at once.
    direction = rng.choice([-1.0, 1.0], size=x.shape)
    expected = (total(x + h * direction) - total(x - h * direction)) / (2 * h)
    tolerance = 1e-4 * abs(expected) + 1e-5 * np.abs(actual).sum()
    assert abs(np.sum(actual * direction) - expected) <= tolerance


def test_xla_and_eager_give_the_same_terms_and_gradient(net, small_photo, small_painting):
    content, style = small_photo(32, 32), small_painting(40, 24)
    x = np.random.default_rng(3).uniform(size=(32, 32, 3)).astype(np.float32)
    terms = {}
    gradients = {}
    for jit in (True, False):
        loss = tf_helper.StyleTransferLoss(net, content, style, jit_compile=jit)
        terms[jit], gradients[jit] = loss.terms_and_gradient(x)
        # terms() and terms_and_gradient() agree with each other too.
        assert loss.terms(x) == pytest.approx(terms[jit], rel=1e-5)
    assert terms[True].keys() == terms[False].keys()
    for name in terms[False]:
        np.testing.assert_allclose(terms[True][name], terms[False][name], rtol=1e-4, err_msg=name)
    scale = np.abs(gradients[False]).max()
    np.testing.assert_allclose(gradients[True], gradients[False], rtol=0, atol=1e-4 * scale)


def test_bfloat16_evaluations_stay_close_to_the_float64_loss_and_float32_gradient(
    net, reference, small_photo, small_painting
):
    content, style = small_photo(48, 48), small_painting(48, 64)
    x = np.random.default_rng(4).uniform(0.05, 0.95, size=(48, 48, 3)).astype(np.float32)
    desired = reference.terms(x, content, [style])
    low = tf_helper.StyleTransferLoss(net, content, style, precision="bfloat16")
    full = tf_helper.StyleTransferLoss(net, content, style)
    actual, gradient = low.terms_and_gradient(x)
    _, gradient32 = full.terms_and_gradient(x)
    for name in ("total", "content", "style", "tv"):
        assert actual[name] == pytest.approx(desired[name], rel=1e-2), name
    # bfloat16 really ran (float32 agrees with float64 to ~1e-6), and the gradient still
    # points where float32's does.
    assert abs(actual["total"] / desired["total"] - 1) > 1e-5
    error = np.linalg.norm(gradient - gradient32) / np.linalg.norm(gradient32)
    assert 1e-4 < error < 5e-2
    # terms() reports the float32 loss whatever precision the evaluations use
    assert low.terms(x)["total"] == pytest.approx(desired["total"], rel=1e-4)


def test_bfloat16_run_reports_the_float32_loss_of_its_picture(net, small_photo, small_painting):
    content, style = small_photo(40, 40), small_painting(40, 56)
    result = tf_helper.run_style_transfer(
        content, style, net=net, iterations=15, precision="bfloat16"
    )
    exact = tf_helper.StyleTransferLoss(net, content, style).terms(result.image)
    assert result.terms == pytest.approx(exact, rel=1e-6)
    assert result.terms["total"] < 0.5 * result.history[0]["total"]


def test_unknown_precision_is_refused_with_the_choices(net, small_photo):
    content = small_photo(32, 32)
    with pytest.raises(tf_helper.SettingsError, match="precision 'float16'.*float32, bfloat16"):
        tf_helper.StyleTransferLoss(net, content, content, precision="float16")
    # a run's schedule is not an evaluation precision
    with pytest.raises(tf_helper.SettingsError, match="precision 'mixed'.*float32, bfloat16$"):
        tf_helper.StyleTransferLoss(net, content, content, precision="mixed")
    with pytest.raises(
        tf_helper.SettingsError, match="precision 'half'.*auto, float32, bfloat16, mixed"
    ):
        tf_helper.run_style_transfer(content, content, net=net, iterations=2, precision="half")
