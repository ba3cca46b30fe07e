"""The engine (tf_helper.py) against an independent float64 NumPy VGG16: the Gram matrix, the
paper's losses, style blends, the gradient against central finite differences (with and without
XLA), losses that share their traces, and bfloat16 evaluations against float32 and float64."""

from __future__ import annotations

import gc
import os
import signal
import weakref
from collections import OrderedDict

import numpy as np
import pytest
import tensorflow as tf

import loss_interface
import tf_helper
import tf_run
from going_further.settings import StylizeSettings
from loss_settings import SettingsError
from optimisation.settings import Settings
from tensorflow_vgg.layers import minimum_image_side
from tensorflow_vgg.vgg16_avg_pool import Vgg16

STYLE_LAYERS = ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"]
HEIGHT, WIDTH = 20, 28  # pools to 10x14, 5x7, 3x4, 2x2: odd sizes included


# --- The paper's quantities on random tensors ---------------------------------------------


def test_gram_matrix_matches_numpy_reference(rng, reference):
    F = rng.normal(size=(1, 5, 7, 6)).astype(np.float32)
    actual = tf_helper.gram_matrix(tf.constant(F)).numpy()
    expected = F[0].astype(np.float64).reshape(35, 6).T @ F[0].astype(np.float64).reshape(35, 6)
    assert actual.shape == (6, 6)
    np.testing.assert_allclose(actual, expected, rtol=1e-5)
    np.testing.assert_allclose(reference.gram(F[0]), expected)


def test_gram_matrix_gradient_is_F_times_the_symmetrised_cotangent(rng):
    # d sum(W o F^T F) / dF = F (W + W^T), W not symmetric, against float64 NumPy; and the
    # one-product gradient agrees with TensorFlow's own gradient of the matmul.
    F = rng.normal(size=(1, 5, 7, 6)).astype(np.float32)
    W = rng.normal(size=(6, 6)).astype(np.float32)
    x = tf.constant(F)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ours = tf.reduce_sum(W * tf_helper.gram_matrix(x))
        rows = tf.reshape(x, (-1, 6))
        tensorflows = tf.reduce_sum(W * tf.matmul(rows, rows, transpose_a=True))
    rows64 = F[0].reshape(35, 6).astype(np.float64)
    expected = (rows64 @ (W + W.T).astype(np.float64)).reshape(F.shape)
    np.testing.assert_allclose(tape.gradient(ours, x).numpy(), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        tape.gradient(ours, x).numpy(), tape.gradient(tensorflows, x).numpy(), rtol=1e-5, atol=1e-5
    )


def test_content_loss_matches_numpy_reference(rng):
    F, P = rng.normal(size=(2, 1, 4, 6, 8)).astype(np.float32)
    actual = float(tf_helper.content_loss(tf.constant(F), tf.constant(P)))
    expected = 0.5 * np.sum((F.astype(np.float64) - P) ** 2)
    np.testing.assert_allclose(actual, expected, rtol=1e-5)


def test_style_layer_loss_matches_numpy_reference(rng):
    N_l, M_l = 8, 24
    G, A = rng.normal(size=(2, N_l, N_l)).astype(np.float32) * 100
    actual = float(tf_helper.style_layer_loss(tf.constant(G), tf.constant(A), N_l, M_l))
    expected = np.sum((G.astype(np.float64) - A) ** 2) / (4 * N_l**2 * M_l**2)
    np.testing.assert_allclose(actual, expected, rtol=1e-5)


def test_total_variation_loss_matches_numpy_reference(rng, reference):
    image = rng.uniform(size=(1, 9, 13, 3)).astype(np.float32)
    actual = float(tf_helper.total_variation_loss(tf.constant(image)))
    x = image[0].astype(np.float64) * 255
    expected = 0.0
    for i in range(9):  # every pair of vertical, then horizontal, neighbours, one by one
        for j in range(13):
            if i + 1 < 9:
                expected += np.sum((x[i + 1, j] - x[i, j]) ** 2)
            if j + 1 < 13:
                expected += np.sum((x[i, j + 1] - x[i, j]) ** 2)
    np.testing.assert_allclose(actual, expected, rtol=1e-5)
    np.testing.assert_allclose(reference.tv_loss(image[0]), expected, rtol=1e-12)


def test_style_target_rescales_gram_to_generated_positions(rng):
    F_style = rng.uniform(size=(1, 6, 10, 4)).astype(np.float32)
    M_l = 15  # the generated image has 15 positions at this layer, the style 60
    A_s = tf_helper.gram_matrix(tf.constant(F_style))
    actual = tf_helper.style_target(A_s, 60, M_l).numpy()
    F = F_style[0].astype(np.float64).reshape(60, 4)
    np.testing.assert_allclose(actual, F.T @ F * 15 / 60, rtol=1e-5)


def test_style_loss_is_the_weighted_sum_of_the_layer_losses(rng):
    E = rng.uniform(size=5)
    w = rng.uniform(size=5)
    actual = float(tf_helper.style_loss([tf.constant(E_l, tf.float32) for E_l in E], list(w)))
    np.testing.assert_allclose(actual, float(np.sum(w * E)), rtol=1e-6)


def test_total_loss_weighs_the_terms_with_alpha_beta_and_gamma():
    settings = Settings(alpha=2.5, beta=300.0, gamma=0.04)
    actual = float(
        tf_helper.total_loss(tf.constant(7.0), tf.constant(0.5), tf.constant(100.0), settings)
    )
    np.testing.assert_allclose(actual, 2.5 * 7.0 + 300.0 * 0.5 + 0.04 * 100.0, rtol=1e-6)


# --- Image sizes the layers need -----------------------------------------------------------


def test_conv1_1_alone_works_on_an_image_too_small_for_deeper_layers(net, reference, rng):
    image = rng.uniform(size=(3, 5, 3)).astype(np.float32)
    content = rng.uniform(size=(3, 5, 3)).astype(np.float32)
    assert minimum_image_side(["conv1_1"]) == 1
    layers = {"content_layers": ["conv1_1"], "style_layers": ["conv1_1"]}
    loss = tf_helper.StyleTransferLoss(net, content, content, Settings(**layers))
    actual = loss.terms(image)
    expected = reference.terms(
        image, content, [content], content_layer="conv1_1", style_layers=["conv1_1"]
    )
    for name in ("content", "style_conv1_1", "tv", "total"):
        np.testing.assert_allclose(actual[name], expected[name], rtol=1e-4, err_msg=name)


def test_default_layers_refuse_an_image_smaller_than_conv5_1_needs(net, rng):
    image = rng.uniform(size=(8, 20, 3)).astype(np.float32)
    assert minimum_image_side(STYLE_LAYERS) == 16
    with pytest.raises(SettingsError, match="16 px"):
        tf_helper.StyleTransferLoss(net, image, image)


def test_python_api_names_the_minimum_side(net):
    tiny, fine = np.zeros((8, 8, 3), np.float32), np.zeros((32, 32, 3), np.float32)
    with pytest.raises(SettingsError, match="at least 16 px"):
        tf_helper.StyleTransferLoss(net, tiny, fine)
    with pytest.raises(SettingsError, match="style image is 8x8 px"):
        tf_helper.StyleTransferLoss(net, fine, tiny)


# --- The total loss and every term ---------------------------------------------------------


@pytest.mark.parametrize(
    ("loss_weights", "layer_weights"),
    [(None, None), (dict(alpha=2.5, beta=300.0, gamma=0.04), [0.1, 0.3, 0.2, 0.25, 0.15])],
    ids=["defaults", "custom"],
)
def test_loss_terms_match_numpy_reference(
    net, reference, small_photo, small_painting, rng, loss_weights, layer_weights
):
    content = small_photo(32, 40)
    style = small_painting(32, 40)
    image = rng.uniform(size=(32, 40, 3)).astype(np.float32)
    settings = Settings(**(loss_weights or {}), layer_weights=layer_weights)
    loss = tf_helper.StyleTransferLoss(net, content, style, settings)
    actual = loss.terms(image)
    expected = reference.terms(image, content, [style], w_l=layer_weights, **(loss_weights or {}))
    assert set(actual) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(actual[name], value, rtol=2e-4, err_msg=name)
    # Every term matters in the total at these weights (none is negligible by construction).
    assert min(expected[f"style_{name}"] for name in STYLE_LAYERS) > 0


def test_content_loss_is_zero_at_the_content_image(net, small_photo, small_painting):
    content = small_photo(32, 32)
    loss = tf_helper.StyleTransferLoss(net, content, small_painting(32, 32))
    assert loss.terms(content)["content"] == 0.0


def test_style_loss_is_normalised_for_a_style_image_of_another_size(
    net, reference, small_photo, small_painting, rng
):
    content = small_photo(32, 40)
    style = small_painting(48, 72)  # 2.7 times the positions of the content image
    image = rng.uniform(size=(32, 40, 3)).astype(np.float32)
    loss = tf_helper.StyleTransferLoss(net, content, style)
    actual = loss.terms(image)
    F = reference.activations(image, STYLE_LAYERS, border="mirror")
    S = reference.activations(style, STYLE_LAYERS, border="mirror")
    for name in STYLE_LAYERS:
        # sum((G/M_l - A/M_s)^2) / (4 N_l^2): Gram matrices as per-position averages.
        N_l = F[name].shape[-1]
        G = reference.gram(F[name]) / np.prod(F[name].shape[:2])
        A = reference.gram(S[name]) / np.prod(S[name].shape[:2])
        expected = np.sum((G - A) ** 2) / (4 * N_l**2)
        np.testing.assert_allclose(actual[f"style_{name}"], expected, rtol=2e-4, err_msg=name)


# --- Blends of several style images --------------------------------------------------------


def test_blended_styles_match_numpy_reference(net, reference, small_photo, small_painting, rng):
    content = small_photo(32, 32)
    styles = [small_painting(32, 32), small_photo(40, 24)[:, ::-1].copy()]
    image = rng.uniform(size=(32, 32, 3)).astype(np.float32)
    loss = tf_helper.StyleTransferLoss(net, content, styles, Settings(style_blend=[3, 1]))
    actual = loss.terms(image)
    expected = reference.terms(image, content, styles, blend=[3, 1])
    for name in ["style", *(f"style_{layer}" for layer in STYLE_LAYERS)]:
        np.testing.assert_allclose(actual[name], expected[name], rtol=2e-4, err_msg=name)


def test_blend_one_zero_equals_the_single_style_target_exactly(net, small_photo, small_painting):
    content, first, second = small_photo(32, 40), small_painting(40, 48), small_photo(36, 36)[::-1]
    single = tf_helper.StyleTransferLoss(net, content, first)
    blended = tf_helper.StyleTransferLoss(
        net, content, [first, second], Settings(style_blend=[1.0, 0.0])
    )
    for name in STYLE_LAYERS:
        np.testing.assert_array_equal(blended.A[name].numpy(), single.A[name].numpy())


def test_blend_target_is_the_weighted_mean_of_the_style_grams(net, small_photo, small_painting):
    content, first, second = (
        small_photo(32, 32),
        small_painting(32, 32),
        small_photo(32, 32)[:, ::-1],
    )
    blended = tf_helper.StyleTransferLoss(
        net, content, [first, second], Settings(style_blend=[3, 1])
    )
    for name in ("conv1_1", "conv3_1"):
        grams = []
        for image in (first, second):
            F = (
                net(image[None], [name], border="mirror")[name]
                .numpy()
                .astype(np.float64)
                .reshape(-1, blended.N_l[name])
            )
            grams.append(F.T @ F)
        expected = 0.75 * grams[0] + 0.25 * grams[1]
        np.testing.assert_allclose(blended.A[name].numpy(), expected, rtol=1e-4, atol=1e-3)


# --- The gradient ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def images(small_photo, small_painting):
    """Content, style and a noise image to differentiate at, all (HEIGHT, WIDTH, 3)."""
    rng = np.random.default_rng(1508)
    noise = rng.uniform(0.05, 0.95, size=(HEIGHT, WIDTH, 3)).astype(np.float32)
    return small_photo(HEIGHT, WIDTH), small_painting(HEIGHT, WIDTH), noise


def numpy_total_loss(reference, content, style, alpha, beta, gamma):
    """Return x -> the float64 total loss of x, with the targets computed once in NumPy."""
    layers = (["conv4_2"] if alpha else []) + (STYLE_LAYERS if beta else [])
    P = reference.activations(content, ["conv4_2"], border="mirror")["conv4_2"]
    S = reference.activations(style, STYLE_LAYERS, border="mirror")
    A = {name: reference.gram(S[name]) for name in STYLE_LAYERS}  # same size: no rescaling

    def total(x: np.ndarray) -> float:
        F = reference.activations(x, layers, border="mirror") if layers else {}
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
    settings = Settings(alpha=alpha, beta=beta, gamma=gamma)
    loss = tf_helper.StyleTransferLoss(net, content, style, settings)
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


def test_a_content_boost_gives_the_gradient_of_the_loss_with_alpha_times_it(net, images):
    content, style, x = images
    settings = Settings(beta=1.0)  # a style weight at which the content's gradient shows
    loss = tf_helper.StyleTransferLoss(net, content, style, settings)
    plain_terms, plain_gradient = loss.terms_and_gradient(x)
    loss.content_boost = 4.0
    terms, gradient = loss.terms_and_gradient(x)
    heavier = tf_helper.StyleTransferLoss(net, content, style, settings.replace(alpha=4.0))
    expected_terms, expected_gradient = heavier.terms_and_gradient(x)
    assert terms == plain_terms  # the terms stay equation 7's
    assert loss.objective(terms) == pytest.approx(expected_terms["total"], rel=1e-6)
    error = np.linalg.norm(gradient - expected_gradient) / np.linalg.norm(expected_gradient)
    assert error < 1e-5
    # What the boost adds is three more times the content term's own gradient.
    content_only = settings.replace(beta=0.0, gamma=0.0)
    _, content_gradient = tf_helper.StyleTransferLoss(
        net, content, style, content_only
    ).terms_and_gradient(x)
    added = gradient - plain_gradient
    error = np.linalg.norm(added - 3 * content_gradient) / np.linalg.norm(3 * content_gradient)
    assert error < 1e-4
    loss.content_boost = 2.0
    loss.terms_and_gradient(x)
    # The boost is an argument of the one trace: setting it traced nothing new.
    assert loss._traced("float32").experimental_get_tracing_count() == 1


def test_xla_and_eager_give_the_same_terms_and_gradient(net, small_photo, small_painting):
    content, style = small_photo(32, 32), small_painting(40, 24)
    x = np.random.default_rng(3).uniform(size=(32, 32, 3)).astype(np.float32)
    terms = {}
    gradients = {}
    for jit in (True, False):
        loss = tf_helper.StyleTransferLoss(net, content, style, Settings(jit_compile=jit))
        terms[jit], gradients[jit] = loss.terms_and_gradient(x)
        # terms() and terms_and_gradient() agree with each other too.
        assert loss.terms(x) == pytest.approx(terms[jit], rel=1e-5)
    assert terms[True].keys() == terms[False].keys()
    for name in terms[False]:
        np.testing.assert_allclose(terms[True][name], terms[False][name], rtol=1e-4, err_msg=name)
    scale = np.abs(gradients[False]).max()
    np.testing.assert_allclose(gradients[True], gradients[False], rtol=0, atol=1e-4 * scale)


# --- Losses that share their traces ----------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "reference_change"),
    [
        ({}, {}),
        ({"alpha": 2.5}, {"alpha": 2.5}),
        ({"beta": 300.0}, {"beta": 300.0}),
        ({"gamma": 0.04}, {"gamma": 0.04}),
        ({"content_layers": ["conv3_1"]}, {"content_layer": "conv3_1"}),
        ({"style_layers": ["conv1_1", "conv3_1"]}, {"style_layers": ["conv1_1", "conv3_1"]}),
        ({"layer_weights": [0.1, 0.3, 0.2, 0.25, 0.15]}, {"w_l": [0.1, 0.3, 0.2, 0.25, 0.15]}),
        ({"border": "zero"}, {"border": "zero"}),
    ],
    ids=["images", "alpha", "beta", "gamma", "content", "style", "w_l", "border"],
)
def test_losses_of_one_shape_each_give_their_own_terms(
    net, reference, images, change, reference_change
):
    """Losses of one image shape share their traces where nothing else differs: evaluated
    one after the other, each gives the terms of its own images and settings."""
    content, style, x = images
    losses = {
        "first": (tf_helper.StyleTransferLoss(net, content, style), content, style, {}),
        "second": (
            tf_helper.StyleTransferLoss(net, style, content, Settings(**change)),
            style,
            content,
            reference_change,
        ),
    }
    for name in ("first", "second", "first"):
        loss, photo, painting, weights = losses[name]
        expected = reference.terms(x, photo, [painting], **weights)
        for actual in (loss.terms(x), loss.terms_and_gradient(x)[0]):
            assert set(actual) == set(expected), name
            for term, value in expected.items():
                np.testing.assert_allclose(actual[term], value, rtol=2e-4, err_msg=(name, term))


def test_losses_on_two_networks_each_give_their_own_networks_terms(net, reference, images):
    content, style, x = images
    max_pool = Vgg16(pooling="max")
    for network, pooling in ((net, "avg"), (max_pool, "max"), (net, "avg")):
        loss = tf_helper.StyleTransferLoss(network, content, style)
        expected = reference.terms(x, content, [style], pooling=pooling)
        for actual in (loss.terms(x), loss.terms_and_gradient(x)[0]):
            for term, value in expected.items():
                np.testing.assert_allclose(actual[term], value, rtol=2e-4, err_msg=(pooling, term))


def test_a_loss_let_go_leaves_none_of_its_targets_in_the_shared_traces(net, images, monkeypatch):
    content, style, x = images
    monkeypatch.setattr(loss_interface, "_TRACES", OrderedDict())  # this loss makes the traces
    monkeypatch.setattr(tf_helper, "KEPT_TARGETS_PER_NETWORK", 0)  # nor are its A kept
    loss = tf_helper.StyleTransferLoss(net, content, style)
    loss.terms(x), loss.terms_and_gradient(x)
    targets = [weakref.ref(tensor) for tensor in [*loss.P.values(), *loss.A.values()]]
    del loss
    gc.collect()
    assert [target() for target in targets] == [None] * len(targets)


def test_a_paintings_targets_are_computed_once_per_size_and_setting(net, images, monkeypatch):
    content, style, _ = images
    monkeypatch.setattr(tf_helper, "_KEPT_TARGETS", weakref.WeakKeyDictionary())
    computed = []
    compute = tf_helper.StyleTransferLoss._blended_style_targets

    def counted(loss, *arguments):
        computed.append(loss)
        return compute(loss, *arguments)

    monkeypatch.setattr(tf_helper.StyleTransferLoss, "_blended_style_targets", counted)
    tf_helper.StyleTransferLoss(net, content, style)
    second = tf_helper.StyleTransferLoss(net, content[::-1].copy(), style)  # another photo
    assert len(computed) == 1
    tf_helper.StyleTransferLoss(net, content, style, Settings(border="zero"))
    tf_helper.StyleTransferLoss(net, content, style[:, ::-1].copy())  # another painting
    tf_helper.StyleTransferLoss(net, content[:16], style)  # another size
    assert len(computed) == 4
    monkeypatch.setattr(tf_helper, "_KEPT_TARGETS", weakref.WeakKeyDictionary())  # none kept
    fresh = tf_helper.StyleTransferLoss(net, content[::-1].copy(), style)
    assert len(computed) == 5
    for name, expected in fresh.A.items():
        np.testing.assert_array_equal(second.A[name].numpy(), expected.numpy())


# --- bfloat16 evaluations -------------------------------------------------------------------


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
    settings = Settings(iterations=15, precision="bfloat16")
    result = tf_run.run_style_transfer(content, style, settings, net=net)
    exact = tf_helper.StyleTransferLoss(net, content, style).terms(result.image)
    assert result.terms == pytest.approx(exact, rel=1e-6)
    assert result.terms["total"] < 0.5 * result.history[0]["total"]


def test_unknown_precision_is_refused_with_the_choices(net, small_photo):
    content = small_photo(32, 32)
    with pytest.raises(SettingsError, match="precision 'float16'.*float32, bfloat16"):
        tf_helper.StyleTransferLoss(net, content, content, precision="float16")
    # a run's schedule is not an evaluation precision
    with pytest.raises(SettingsError, match="precision 'mixed'.*float32, bfloat16$"):
        tf_helper.StyleTransferLoss(net, content, content, precision="mixed")
    with pytest.raises(SettingsError, match="precision 'half'.*auto, float32, bfloat16, mixed"):
        tf_run.run_style_transfer(
            content, content, Settings(iterations=2, precision="half"), net=net
        )


# --- How a run ends, and what it hands back -------------------------------------------------


def _grey(image: np.ndarray) -> np.ndarray:
    return np.repeat(image.mean(axis=-1, keepdims=True), 3, axis=-1)


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_grey_photo_and_painting_give_a_grey_picture(net, small_photo, small_painting, optimizer):
    content, style = _grey(small_photo(32, 32)), _grey(small_painting(32, 40))
    settings = Settings(iterations=4, init="noise", optimizer=optimizer, precision="float32")
    result = tf_run.run_style_transfer(content, style, settings, net=net)
    assert np.ptp(result.image, axis=-1).max() == 0.0  # R = G = B
    assert result.image.std() > 0.01  # and a picture, not a flat grey


def test_a_colour_painting_keeps_a_grey_photo_in_colour(net, small_photo, small_painting):
    content, style = _grey(small_photo(32, 32)), small_painting(32, 40)
    settings = Settings(iterations=3, precision="float32")
    result = tf_run.run_style_transfer(content, style, settings, net=net)
    assert np.ptp(result.image, axis=-1).mean() > 0.02


def test_a_run_at_a_minimum_says_it_converged_at_which_iteration(net, small_photo):
    flat = np.full((32, 32, 3), 0.5, np.float32)  # total variation only: a flat image is optimal
    settings = Settings(iterations=20, init="content", alpha=0, beta=0, gamma=1)
    result = tf_run.run_style_transfer(flat, small_photo(32, 32), settings, net=net)
    expected = "converged at iteration 0 of 20: the projected gradient is zero"
    assert (result.stopped_because, result.failed) == (expected, False)


def test_ctrl_c_raises_interrupted_with_the_best_image_so_far(net, small_photo, small_painting):
    content, style = small_photo(32, 32), small_painting(32, 40)
    seen = []

    def stop_at_the_third(iteration, terms, image):
        seen.append(terms["total"])
        if iteration == 3:
            raise KeyboardInterrupt

    settings = Settings(iterations=10, precision="float32")
    with pytest.raises(tf_run.Interrupted) as stopped:
        tf_run.run_style_transfer(content, style, settings, net=net, callback=stop_at_the_third)
    result = stopped.value.result
    assert isinstance(stopped.value, KeyboardInterrupt)  # so Jupyter's Run All stops too
    assert (result.stopped_because, len(result.history)) == ("interrupted", 3)
    assert result.terms["total"] <= min(seen)
    assert result.image.shape == content.shape


def test_a_single_run_refuses_the_settings_that_only_stylize_reads(net, small_photo):
    content = small_photo(32, 32)
    for changes in ({"preserve_colors": "luminance"}, {"style_scale": 2.0}, {"tile": 64}):
        with pytest.raises(SettingsError, match=f"does not read {next(iter(changes))}; call"):
            settings = StylizeSettings(iterations=2, **changes)
            tf_run.run_style_transfer(content, content, settings, net=net)
    expected = Settings(iterations=2)
    one_run = StylizeSettings(iterations=2, preserve_colors="histogram", tile=64).for_one_run()
    assert type(one_run) is Settings and one_run == expected


def test_the_content_loss_grows_with_the_pixels_and_the_style_loss_does_not(
    net, small_photo, small_painting
):
    # What --help says of --content-weight and --style-weight at different sizes.
    import helper

    photo, painting = small_photo(96, 128), small_painting(96, 128)
    ratios = {}
    for side in (64, 128):
        content, style = (helper.resize_to_longest_side(p, side) for p in (photo, painting))
        loss = tf_helper.StyleTransferLoss(net, content, style, Settings())
        terms = loss.terms(content[:, ::-1].copy())  # the photo mirrored: neither term is 0
        ratios[side] = terms["content"], terms["style"]
    content_ratio = ratios[128][0] / ratios[64][0]
    style_ratio = ratios[128][1] / ratios[64][1]
    print(f"x4 pixels: content loss x{content_ratio:.2f}, style loss x{style_ratio:.2f}")
    assert 3.0 < content_ratio < 5.0
    assert 0.25 < style_ratio < 1.5  # the statistics change with the scale, but not the sum


def test_ctrl_c_during_an_evaluation_lets_its_iteration_finish_and_then_stops_the_run(
    net, small_photo, small_painting, monkeypatch
):
    # A KeyboardInterrupt raised inside TensorFlow's own calls can come out as another error;
    # so a SIGINT during a run only asks, and the run stops once the iteration has ended.
    content, style = small_photo(32, 32), small_painting(32, 40)
    original = tf_helper.StyleTransferLoss.terms_and_gradient
    finished = []

    def signalled_during(self, image):
        if len(finished) == 2:
            os.kill(os.getpid(), signal.SIGINT)
        result = original(self, image)
        finished.append(result[0]["total"])
        return result

    monkeypatch.setattr(tf_helper.StyleTransferLoss, "terms_and_gradient", signalled_during)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        settings = Settings(iterations=50, precision="float32")
        with pytest.raises(tf_run.Interrupted) as stopped:
            tf_run.run_style_transfer(content, style, settings, net=net)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
    finally:
        signal.signal(signal.SIGINT, previous)
    assert len(finished) >= 3  # the evaluation under way when the signal came ended
    # ... and so did its iteration, the first or second (evaluation 1 is the start), no other
    assert len(stopped.value.result.history) <= 2
    assert stopped.value.result.stopped_because == "interrupted"
    assert stopped.value.result.terms["total"] <= min(finished)
