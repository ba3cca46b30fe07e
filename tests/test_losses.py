"""The network, the Gram matrix and the paper's losses against an independent float64 NumPy VGG16."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import tf_helper
from tensorflow_vgg import vgg16_avg_pool
from tensorflow_vgg.vgg16_avg_pool import Vgg16, minimum_image_side

STYLE_LAYERS = ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"]


def assert_close_to_scale(actual, expected, rtol=2e-5):
    """Assert |actual - expected| <= rtol * max|expected| everywhere (float32 vs float64)."""
    actual = np.asarray(actual, np.float64)
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=0, atol=rtol * np.abs(expected).max())


# --- The paper's quantities on random tensors ---------------------------------------------


def test_gram_matrix_matches_numpy_reference(rng, reference):
    F = rng.normal(size=(1, 5, 7, 6)).astype(np.float32)
    actual = tf_helper.gram_matrix(tf.constant(F)).numpy()
    expected = F[0].astype(np.float64).reshape(35, 6).T @ F[0].astype(np.float64).reshape(35, 6)
    assert actual.shape == (6, 6)
    np.testing.assert_allclose(actual, expected, rtol=1e-5)
    np.testing.assert_allclose(reference.gram(F[0]), expected)


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
    actual = tf_helper.style_target(tf.constant(F_style), M_l).numpy()
    F = F_style[0].astype(np.float64).reshape(60, 4)
    np.testing.assert_allclose(actual, F.T @ F * 15 / 60, rtol=1e-5)


# --- The network against NumPy ------------------------------------------------------------


def test_preprocessing_and_first_layers_match_numpy_vgg16(net, reference, small_photo):
    # Checks RGB -> BGR, 0..255, the mean, the kernel layout and average pooling at once.
    image = small_photo(24, 40)
    layers = ["conv1_1", "conv1_2", "pool1", "conv2_1"]
    actual = net(image[None], layers)
    expected = reference.activations(image, layers)
    assert set(actual) == set(layers)
    for name in layers:
        assert_close_to_scale(actual[name].numpy()[0], expected[name])


def test_deep_layers_match_numpy_vgg16_with_odd_sizes(net, reference, small_photo):
    # 36x44 pools to 18x22, 9x11, 5x6, 3x3: odd sizes keep their last row and column.
    image = small_photo(36, 44)
    layers = ["pool2", "conv3_1", "pool3", "conv4_1", "conv4_2", "conv5_1", "conv5_3", "pool5"]
    actual = net(image[None], layers)
    expected = reference.activations(image, layers)
    assert actual["pool5"].shape == (1, 2, 2, 512)
    for name in layers:
        assert_close_to_scale(actual[name].numpy()[0], expected[name])


def test_average_pooling_is_the_default(net, reference, small_photo):
    image = small_photo(16, 16)
    actual = net(image[None], ["pool1"])["pool1"].numpy()[0]
    avg = reference.activations(image, ["pool1"], "avg")["pool1"]
    maximum = reference.activations(image, ["pool1"], "max")["pool1"]
    assert_close_to_scale(actual, avg)
    assert np.abs(avg - maximum).max() > 1.0  # the two really differ on this image


def test_max_pooling_option_matches_numpy_vgg16(reference, small_photo):
    net = Vgg16(pooling="max")
    image = small_photo(20, 28)
    layers = ["pool1", "conv2_1", "pool2", "conv3_1"]
    actual = net(image[None], layers)
    expected = reference.activations(image, layers, pooling="max")
    for name in layers:
        assert_close_to_scale(actual[name].numpy()[0], expected[name])


def test_unknown_pooling_is_refused():
    with pytest.raises(ValueError, match="pooling"):
        Vgg16(pooling="median")


def test_unknown_layer_name_is_refused(net):
    with pytest.raises(vgg16_avg_pool.LayerError, match="conv6_1"):
        net(np.zeros((1, 8, 8, 3), np.float32), ["conv1_1", "conv6_1"])


@pytest.mark.parametrize(
    ("layers", "convolutions"),
    [(["conv1_1"], 1), (["pool1"], 2), (["conv2_1", "conv1_1"], 3), (["conv4_2"], 9)],
)
def test_network_stops_at_the_deepest_layer_asked_for(net, monkeypatch, layers, convolutions):
    calls = []
    conv2d = tf.nn.conv2d

    def counting_conv2d(*args, **kwargs):
        calls.append(1)
        return conv2d(*args, **kwargs)

    monkeypatch.setattr(tf.nn, "conv2d", counting_conv2d)
    actual = net(np.full((1, 16, 16, 3), 0.5, np.float32), layers)
    assert sorted(actual) == sorted(layers)
    assert len(calls) == convolutions


def test_conv1_1_alone_works_on_an_image_too_small_for_deeper_layers(net, reference, rng):
    image = rng.uniform(size=(3, 5, 3)).astype(np.float32)
    content = rng.uniform(size=(3, 5, 3)).astype(np.float32)
    assert minimum_image_side(["conv1_1"]) == 1
    layers = {"content_layers": ["conv1_1"], "style_layers": ["conv1_1"]}
    loss = tf_helper.StyleTransferLoss(net, content, content, **layers, jit_compile=False)
    actual = loss.terms(image)
    expected = reference.terms(
        image, content, [content], content_layer="conv1_1", style_layers=["conv1_1"]
    )
    for name in ("content", "style_conv1_1", "tv", "total"):
        np.testing.assert_allclose(actual[name], expected[name], rtol=1e-4, err_msg=name)


def test_default_layers_refuse_an_image_smaller_than_conv5_1_needs(net, rng):
    image = rng.uniform(size=(8, 20, 3)).astype(np.float32)
    assert minimum_image_side(STYLE_LAYERS) == 16
    with pytest.raises(tf_helper.SettingsError, match="16 px"):
        tf_helper.StyleTransferLoss(net, image, image, jit_compile=False)


# --- The total loss and every term ---------------------------------------------------------


def test_default_layers_and_weights_are_the_papers():
    assert tf_helper.DEFAULT_CONTENT_LAYERS == ("conv4_2",)
    assert tuple(tf_helper.DEFAULT_STYLE_LAYERS) == tuple(STYLE_LAYERS)
    assert tf_helper.style_layer_weights(STYLE_LAYERS, None) == [0.2] * 5


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
    weights = tf_helper.LossWeights(**loss_weights) if loss_weights else None
    loss = tf_helper.StyleTransferLoss(
        net, content, style, weights=weights, layer_weights=layer_weights, jit_compile=False
    )
    actual = loss.terms(image)
    expected = reference.terms(image, content, [style], w_l=layer_weights, **(loss_weights or {}))
    assert set(actual) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(actual[name], value, rtol=2e-4, err_msg=name)
    # Every term matters in the total at these weights (none is negligible by construction).
    assert min(expected[f"style_{name}"] for name in STYLE_LAYERS) > 0


def test_content_loss_is_zero_at_the_content_image(net, small_photo, small_painting):
    content = small_photo(32, 32)
    loss = tf_helper.StyleTransferLoss(net, content, small_painting(32, 32), jit_compile=False)
    assert loss.terms(content)["content"] == 0.0


def test_style_loss_is_normalised_for_a_style_image_of_another_size(
    net, reference, small_photo, small_painting, rng
):
    content = small_photo(32, 40)
    style = small_painting(48, 72)  # 2.7 times the positions of the content image
    image = rng.uniform(size=(32, 40, 3)).astype(np.float32)
    loss = tf_helper.StyleTransferLoss(net, content, style, jit_compile=False)
    actual = loss.terms(image)
    F = reference.activations(image, STYLE_LAYERS)
    S = reference.activations(style, STYLE_LAYERS)
    for name in STYLE_LAYERS:
        # sum((G/M_l - A/M_s)^2) / (4 N_l^2): Gram matrices as per-position averages.
        N_l = F[name].shape[-1]
        G = reference.gram(F[name]) / np.prod(F[name].shape[:2])
        A = reference.gram(S[name]) / np.prod(S[name].shape[:2])
        expected = np.sum((G - A) ** 2) / (4 * N_l**2)
        np.testing.assert_allclose(actual[f"style_{name}"], expected, rtol=2e-4, err_msg=name)


def test_blended_styles_match_numpy_reference(net, reference, small_photo, small_painting, rng):
    content = small_photo(32, 32)
    styles = [small_painting(32, 32), small_photo(40, 24)[:, ::-1].copy()]
    image = rng.uniform(size=(32, 32, 3)).astype(np.float32)
    loss = tf_helper.StyleTransferLoss(net, content, styles, style_blend=[3, 1], jit_compile=False)
    actual = loss.terms(image)
    expected = reference.terms(image, content, styles, blend=[3, 1])
    for name in ["style", *(f"style_{layer}" for layer in STYLE_LAYERS)]:
        np.testing.assert_allclose(actual[name], expected[name], rtol=2e-4, err_msg=name)


@pytest.mark.parametrize(
    "bad", [dict(alpha=-1.0), dict(beta=float("nan")), dict(gamma="a lot")], ids=str
)
def test_negative_or_non_numeric_loss_weights_are_refused(bad):
    with pytest.raises(tf_helper.SettingsError):
        tf_helper.LossWeights(**bad)
