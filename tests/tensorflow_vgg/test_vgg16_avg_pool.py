"""The network against an independent float64 NumPy VGG16: preprocessing, layers, pooling."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import weakref

import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO_ROOT, relative_error

import tf_helper
from optimisation.settings import Settings
from tensorflow_vgg import vgg16_avg_pool
from tensorflow_vgg.layers import LayerError
from tensorflow_vgg.vgg16_avg_pool import (
    Vgg16,
    adjoint_kernel,
    convolution,
    network,
    tap_and_convolution,
)


def assert_close_to_scale(actual, expected, rtol=2e-5):
    """Assert |actual - expected| <= rtol * max|expected| everywhere (float32 vs float64)."""
    actual = np.asarray(actual, np.float64)
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=0, atol=rtol * np.abs(expected).max())


def test_preprocessing_and_first_layers_match_numpy_vgg16(net, reference, small_photo):
    # Checks RGB -> BGR, 0..255, the mean, the kernel layout and average pooling at once.
    image = small_photo(24, 40)
    layers = ["conv1_1", "conv1_2", "pool1", "conv2_1"]
    actual = net(image[None], layers)
    expected = reference.activations(image, layers)
    assert set(actual) == set(layers)
    for name in layers:
        assert_close_to_scale(actual[name].numpy()[0], expected[name])


def test_bfloat16_activations_come_as_float32_or_as_computed(net, reference, small_photo):
    image = small_photo(24, 32)
    layers = ["conv1_1", "conv3_1"]
    as_float32 = net(image[None], layers, tf.bfloat16)
    as_computed = net(image[None], layers, tf.bfloat16, output_dtype=None)
    expected = reference.activations(image, layers)
    for name in layers:
        assert as_float32[name].dtype == tf.float32
        assert as_computed[name].dtype == tf.bfloat16
        actual = as_computed[name].numpy().astype(np.float32)
        np.testing.assert_array_equal(actual, as_float32[name].numpy())
        # bfloat16 keeps 8 bits of mantissa: within a few percent of float64's activations
        assert_close_to_scale(actual[0], expected[name], rtol=3e-2)
        assert not np.allclose(actual[0], expected[name], rtol=0, atol=1e-5)


def test_deep_layers_match_numpy_vgg16_with_odd_sizes(net, reference, small_photo):
    # 36x44 pools to 18x22, 9x11, 5x6, 3x3: odd sizes keep their last row and column.
    image = small_photo(36, 44)
    layers = ["pool2", "conv3_1", "pool3", "conv4_1", "conv4_2", "conv5_1", "conv5_3", "pool5"]
    actual = net(image[None], layers)
    expected = reference.activations(image, layers)
    assert actual["pool5"].shape == (1, 2, 2, 512)
    for name in layers:
        assert_close_to_scale(actual[name].numpy()[0], expected[name])


@pytest.mark.parametrize(
    "shape, layers",
    [
        ((36, 44), ["conv1_1", "pool1", "conv3_1", "conv4_2", "conv5_1"]),  # a 16 px margin
        ((34, 40), ["conv2_1", "pool5"]),  # pool5: a 32 px margin, one pool5 position
        ((6, 9), ["conv1_1", "conv1_2"]),  # smaller than the margin: mirrored again
    ],
)
def test_mirror_border_matches_numpy_vgg16_over_a_mirrored_margin(
    net, reference, small_photo, shape, layers
):
    image = small_photo(*shape)
    actual = net(image[None], layers, border="mirror")
    expected = reference.activations(image, layers, border="mirror")
    zero = reference.activations(image, layers)
    for name in layers:
        assert actual[name].shape[1:3] == zero[name].shape[:2], name  # same positions
        assert_close_to_scale(actual[name].numpy()[0], expected[name])
        assert np.abs(expected[name] - zero[name]).max() > 1.0, name  # the edges really differ


def test_mirror_border_changes_only_the_edge_of_the_features(net, small_photo):
    # Away from the edge by more than conv1_2's reach (2 px), the two borders agree.
    image = small_photo(32, 32)[None]
    mirror = net(image, ["conv1_2"], border="mirror")["conv1_2"].numpy()[0]
    zero = net(image, ["conv1_2"])["conv1_2"].numpy()[0]
    np.testing.assert_allclose(mirror[2:-2, 2:-2], zero[2:-2, 2:-2], rtol=1e-5, atol=1e-3)
    assert np.abs(mirror[0] - zero[0]).max() > 1.0


def test_unknown_border_is_refused_with_the_choices(net, small_photo):
    with pytest.raises(ValueError, match="border must be one of mirror, zero, not 'reflect'"):
        net(small_photo(16, 16)[None], ["conv1_1"], border="reflect")


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


def test_network_is_built_once_per_weights_file():
    assert network() is network()


def test_unknown_layer_name_is_refused(net):
    with pytest.raises(LayerError, match="conv6_1"):
        net(np.zeros((1, 8, 8, 3), np.float32), ["conv1_1", "conv6_1"])


@pytest.mark.parametrize(
    ("layers", "convolutions"),
    [(["conv1_1"], 1), (["pool1"], 2), (["conv2_1", "conv1_1"], 3), (["conv4_2"], 9)],
)
def test_network_stops_at_the_deepest_layer_asked_for(net, monkeypatch, layers, convolutions):
    calls = []

    def counting_convolution(*args):
        calls.append(1)
        return convolution(*args)

    monkeypatch.setattr(vgg16_avg_pool, "convolution", counting_convolution)
    actual = net(np.full((1, 16, 16, 3), 0.5, np.float32), layers)
    assert sorted(actual) == sorted(layers)
    assert len(calls) == convolutions


@pytest.mark.parametrize(
    ("shape", "dtype"),
    [((1, 7, 10, 5), "float32"), ((2, 16, 9, 3), "float32"), ((1, 12, 12, 8), "bfloat16")],
)
def test_convolution_and_its_gradient_are_tensorflows_conv2d(shape, dtype):
    """The forward convolution with the adjoint kernel gives Conv2DBackpropInput's gradient."""
    rng = np.random.default_rng(0)
    dtype = tf.as_dtype(dtype)
    x = tf.constant(rng.normal(size=shape), dtype)
    kernel = tf.constant(rng.normal(size=(3, 3, shape[-1], 6)), dtype)
    weights = tf.constant(rng.normal(size=(*shape[:3], 6)), dtype)

    def value_and_gradient(convolve):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = convolve(x)
            loss = tf.reduce_sum(tf.cast(weights * y, tf.float32))
        return y.numpy().astype(np.float32), tape.gradient(loss, x).numpy().astype(np.float32)

    ours = value_and_gradient(lambda x: convolution(x, kernel, adjoint_kernel(kernel)))
    theirs = value_and_gradient(lambda x: tf.nn.conv2d(x, kernel, strides=1, padding="SAME"))
    tolerance = 1e-5 if dtype == tf.float32 else 2e-2
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=0, atol=tolerance * np.abs(b).max())
    assert np.abs(ours[1]).max() > 0


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("tap_used", [True, False])
def test_a_tap_passes_x_on_and_sums_both_gradients_as_conv2d_and_an_add_would(dtype, tap_used):
    rng = np.random.default_rng(1)
    dtype = tf.as_dtype(dtype)
    x = tf.constant(rng.normal(size=(1, 12, 10, 8)), dtype)
    kernel = tf.constant(rng.normal(size=(3, 3, 8, 6)), dtype)
    on_tap = tf.constant(rng.normal(size=(1, 12, 10, 8)), dtype)
    on_convolution = tf.constant(rng.normal(size=(1, 12, 10, 6)), dtype)

    def outputs_and_gradient(tap_and_convolve):
        with tf.GradientTape() as tape:
            tape.watch(x)
            tap, y = tap_and_convolve(x)
            loss = tf.reduce_sum(tf.cast(on_convolution * y, tf.float32))
            if tap_used:  # else the tap's gradient comes as zeros
                loss += tf.reduce_sum(tf.cast(on_tap * tap, tf.float32))
        as_float32 = (tap, y, tape.gradient(loss, x))
        return [t.numpy().astype(np.float32) for t in as_float32]

    zero = tf.zeros(8, dtype)
    ours = outputs_and_gradient(
        lambda x: tap_and_convolution(x, kernel, adjoint_kernel(kernel), zero)
    )
    theirs = outputs_and_gradient(lambda x: (x, tf.nn.conv2d(x, kernel, strides=1, padding="SAME")))
    np.testing.assert_array_equal(ours[0], x.numpy().astype(np.float32))
    tolerance = 1e-6 if dtype == tf.float32 else 1e-2
    for a, b in zip(ours[1:], theirs[1:]):
        assert relative_error(a, b) < tolerance


def test_bfloat16_sums_a_loss_layers_gradients_in_the_next_convolution(net, small_photo):
    """In bfloat16 each loss layer followed by a convolution is passed on by a tap: the same
    values and, to bfloat16's rounding, the same gradient as the layer with two consumers."""
    image = tf.constant(small_photo(32, 24)[None])
    layers = ["conv1_1", "pool1", "conv2_1", "conv3_1", "conv4_1", "conv4_2"]
    rng = np.random.default_rng(2)
    weights = {name: rng.uniform(0.5, 2.0) for name in layers}

    def activations_and_gradient():
        with tf.GradientTape() as tape:
            tape.watch(image)
            activations = net(image, layers, tf.bfloat16, border="mirror")
            loss = tf.add_n([tf.reduce_sum(weights[n] * tf.square(activations[n])) for n in layers])
        return activations, tape.gradient(loss, image).numpy()

    taps = []
    counted = vgg16_avg_pool.tap_and_convolution

    def counting_tap(*args):
        taps.append(args[0].shape)
        return counted(*args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(vgg16_avg_pool, "tap_and_convolution", counting_tap)
        tapped, tapped_gradient = activations_and_gradient()
        patch.setattr(vgg16_avg_pool, "TAP_SUMMED_IN_CONVOLUTION", ())
        untapped, untapped_gradient = activations_and_gradient()
    assert len(taps) == 5  # all but conv4_2, where the network stops
    for name in layers:
        np.testing.assert_array_equal(tapped[name].numpy(), untapped[name].numpy())
    assert relative_error(tapped_gradient, untapped_gradient) < 1e-2


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])  # bfloat16: with the taps
def test_a_graph_that_calls_the_network_is_freed_once_let_go(net, dtype):
    """tf.custom_gradient traced in a graph puts that graph in TensorFlow's gradient registry
    for good; the network's convolutions must not, or every loss traced would stay."""

    @tf.function
    def gradient(image):
        with tf.GradientTape() as tape:
            tape.watch(image)
            activations = net(image, ["conv1_1", "conv2_1"], tf.as_dtype(dtype))
            total = tf.add_n([tf.reduce_sum(a) for a in activations.values()])
        return tape.gradient(total, image)

    graph = weakref.ref(gradient.get_concrete_function(tf.TensorSpec((1, 16, 16, 3))).graph)
    del gradient
    gc.collect()
    assert graph() is None


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])  # bfloat16: with the taps
def test_a_network_that_has_run_is_freed_once_let_go(dtype):
    """TensorFlow's gradient registry keeps every graph a tf.custom_gradient was traced in: the
    network's convolutions take its kernels as arguments, so that no such graph holds them."""
    net = Vgg16(convolution="direct")
    image = tf.constant(np.full((1, 16, 16, 3), 0.5, np.float32))
    with tf.GradientTape() as tape:
        tape.watch(image)
        activations = net(image, ["conv1_1", "conv2_1"], tf.as_dtype(dtype))
        total = tf.add_n([tf.reduce_sum(a) for a in activations.values()])
    assert tape.gradient(total, image) is not None
    kernels = [
        weakref.ref(t)
        for name in ("conv1_2", "conv2_1")
        for t in net._layer(name, tf.as_dtype(dtype), 0)[:2]
    ]
    del net, activations, tape
    gc.collect()
    assert [kernel() for kernel in kernels] == [None] * len(kernels)


AVX512_FLAGS = {"avx2", "avx512f", "avx512bw", "avx512vl", "avx512dq"}


def fake_cpu(monkeypatch, flags, tensorflows_yes, limit="", kernels="oneDNN"):
    """Make vgg16_avg_pool see a CPU: its flags, TensorFlow's bfloat16 answer for it (AVX512F or
    AVX-NE-CONVERT), oneDNN's ISA limit and which kernels TensorFlow runs."""
    from tensorflow_vgg import vgg16_avg_pool

    monkeypatch.setattr(vgg16_avg_pool, "cpu_flags", lambda: flags)
    monkeypatch.setattr(vgg16_avg_pool, "tensorflow_bfloat16_cpu", lambda: tensorflows_yes)
    monkeypatch.setattr(vgg16_avg_pool, "onednn_isa_limit", lambda: limit)
    monkeypatch.setattr(vgg16_avg_pool, "tensorflow_kernels", lambda: kernels)


@pytest.mark.parametrize(
    "flags, tensorflows_yes, limit, kernels, refused",
    [
        (AVX512_FLAGS, True, "", "oneDNN", False),  # Xeon, Zen 4, Skylake-X
        (AVX512_FLAGS, True, "AVX2", "oneDNN", "ISA limit AVX2"),  # the AVX2 stand-in
        (AVX512_FLAGS, True, "AVX2_VNNI_2", "oneDNN", "ISA limit AVX2_VNNI_2"),
        (AVX512_FLAGS, True, "AVX512_CORE", "oneDNN", False),
        (AVX512_FLAGS, True, "AVX2", "Eigen", False),
        ({"avx2", "fma"}, False, "", "oneDNN", False),  # Zen 3: TensorFlow emulates it in Eigen
        ({"avx2", "fma"}, False, "AVX2", "oneDNN", False),
        ({"avx2", "avx512f"}, True, "", "oneDNN", "AVX-512 without BW, VL and DQ"),
        ({"avx2", "fma"}, True, "", "oneDNN", False),  # AVX-NE-CONVERT: oneDNN's AVX2_VNNI_2
        ({"avx2", "fma"}, True, "AVX2_VNNI_2", "oneDNN", False),
        ({"avx2", "fma"}, True, "AVX2", "oneDNN", "ISA limit AVX2"),
    ],
)
def test_bfloat16_is_refused_where_tensorflow_hands_it_to_onednn_and_onednn_has_none(
    monkeypatch, flags, tensorflows_yes, limit, kernels, refused
):
    from tensorflow_vgg import vgg16_avg_pool

    fake_cpu(monkeypatch, flags, tensorflows_yes, limit, kernels)
    if not refused:
        vgg16_avg_pool.check_bfloat16()
        return
    with pytest.raises(vgg16_avg_pool.BFloat16Error) as refusal:
        vgg16_avg_pool.check_bfloat16()
    message = str(refusal.value)
    assert refused in message and "--precision float32" in message
    assert "TF_ENABLE_ONEDNN_OPTS=0" in message
    assert ("without ONEDNN_MAX_CPU_ISA" in message) == bool(limit)


def test_the_network_refuses_bfloat16_before_it_runs_and_float32_still_runs(
    monkeypatch, small_photo
):
    from tensorflow_vgg import vgg16_avg_pool

    image = tf.constant(small_photo(32, 32)[None])
    net = vgg16_avg_pool.Vgg16()
    fake_cpu(monkeypatch, AVX512_FLAGS, True, "AVX2")
    with pytest.raises(vgg16_avg_pool.BFloat16Error, match="ISA limit AVX2"):
        net(image, ["conv1_1"], tf.bfloat16)
    assert net(image, ["conv1_1"], tf.float32)["conv1_1"].shape == (1, 32, 32, 64)


# What an AVX2-only CPU runs for bfloat16: TensorFlow's Eigen kernels, here by turning oneDNN's
# off for a fresh process. Prints conv3_1's activations' relative distance from float32's.
EIGEN_BFLOAT16 = """
import numpy as np
import tensorflow as tf
from tensorflow_vgg.quiet import tensorflow_kernels
from tensorflow_vgg.vgg16_avg_pool import Vgg16
image = tf.random.stateless_uniform((1, 40, 48, 3), seed=(1, 2))
net = Vgg16()
low = net(image, ["conv3_1"], tf.bfloat16)["conv3_1"].numpy()
high = net(image, ["conv3_1"], tf.float32)["conv3_1"].numpy()
print(tensorflow_kernels(), np.linalg.norm(low - high) / np.linalg.norm(high))
"""


@pytest.mark.slow
def test_bfloat16_runs_in_eigens_kernels_as_on_an_avx2_only_cpu():
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0", "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", EIGEN_BFLOAT16],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    kernels, distance = done.stdout.split()[-2:]
    assert kernels == "Eigen"
    assert 1e-4 < float(distance) < 0.05  # bfloat16's rounding, not float32 in disguise


# Run in a process told that weights are frozen, as the command line is: two networks, the
# second with every kernel negated, each called eagerly, then the first again. A convolution
# node that met another network's or layer's kernel would convolve with that.
FROZEN_CHILD = """
import sys
import numpy as np
import tensorflow as tf
from tensorflow_vgg import vgg16_avg_pool
from tensorflow_vgg.weights import load_weights

image_path, style_path, convolution, out_path = sys.argv[1:]
image = tf.constant(np.load(image_path))
negated = {name: (-W, b) for name, (W, b) in load_weights().items()}
first = vgg16_avg_pool.Vgg16(convolution=convolution)
vgg16_avg_pool.load_weights = lambda path=None: negated
second = vgg16_avg_pool.Vgg16(convolution=convolution)
results = {}
for run, net in enumerate((first, second, first)):
    for dtype in (tf.float32, tf.bfloat16):
        with tf.GradientTape() as tape:
            tape.watch(image)
            activations = net(image, LAYERS, dtype)
            loss = tf.add_n([tf.reduce_sum(tf.square(a)) / tf.size(a, tf.float32)
                             for a in activations.values()])
        results[f"{run}{dtype.name}"] = tape.gradient(loss, image).numpy()
        for name, a in activations.items():
            results[f"{run}{dtype.name}{name}"] = a.numpy()
# The command line's path: a traced loss and its gradient, at two images.
import tf_helper
from optimisation.settings import Settings
style = np.load(style_path)
for dtype in ("float32", "bfloat16"):
    loss = tf_helper.StyleTransferLoss(first, image[0].numpy(), style, Settings(), dtype)
    for k, start in enumerate((image[0].numpy(), 1 - image[0].numpy())):
        terms, gradient = loss.terms_and_gradient(start)
        results[f"loss{dtype}{k}"] = np.append(np.asarray(gradient).ravel(), terms["total"])
np.savez(out_path, **results)
# A network let go is freed, the functions its eager calls ran in with it.
import gc, weakref
kernel = weakref.ref(next(iter(second._made.values()))[0])  # one it convolved with
del second, net
gc.collect()
print(kernel() is None)
# The setting is live: a convolution given a second kernel of the same shape keeps the first.
x, k1, k2 = (tf.random.normal(shape) for shape in ([1, 8, 8, 64], [3, 3, 64, 64], [3, 3, 64, 64]))
print(bool(tf.reduce_all(tf.nn.conv2d(x, k1, 1, "SAME") == tf.nn.conv2d(x, k2, 1, "SAME"))))
"""


@pytest.mark.parametrize("convolution_name", ["direct", "winograd"])
def test_with_weights_frozen_each_convolution_keeps_its_own_layers_kernel(
    tmp_path, small_photo, small_painting, vgg_weights, monkeypatch, convolution_name
):
    """Where oneDNN is told weights are frozen (quiet.FROZEN_WEIGHTS), a convolution node keeps
    the first kernel it reordered: the network's activations and input gradient, run eagerly in
    such a process for two networks of different weights, and a traced loss and its gradient,
    match those computed here."""
    from tensorflow_vgg import quiet

    if quiet.tensorflow_kernels() != "oneDNN":
        pytest.skip("frozen weights are oneDNN's: Eigen's kernels reorder nothing")
    layers = [name for name in vgg16_avg_pool.LAYER_ORDER if name.startswith("conv")][:11]
    image = small_photo(40, 32)[None]
    style = small_painting(32, 40)
    np.save(tmp_path / "image.npy", image)
    np.save(tmp_path / "style.npy", style)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **quiet.FROZEN_WEIGHTS}
    script = FROZEN_CHILD.replace("LAYERS", repr(layers))
    arguments = [tmp_path / "image.npy", tmp_path / "style.npy", convolution_name]
    arguments = [*map(str, arguments), str(tmp_path / "child.npz")]
    done = subprocess.run(
        [sys.executable, "-c", script, *arguments],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-2:] == ["True", "True"]  # freed; the child did keep kernels
    child = np.load(tmp_path / "child.npz")

    first = Vgg16(convolution=convolution_name)
    negated = {name: (-W, b) for name, (W, b) in vgg_weights.items()}
    monkeypatch.setattr(vgg16_avg_pool, "load_weights", lambda path=None: negated)
    second = Vgg16(convolution=convolution_name)
    for run, net in enumerate((first, second, first)):
        for dtype in (tf.float32, tf.bfloat16):
            x = tf.constant(image)
            with tf.GradientTape() as tape:
                tape.watch(x)
                activations = net(x, layers, dtype)
                loss = tf.add_n(
                    [
                        tf.reduce_sum(tf.square(a)) / tf.size(a, tf.float32)
                        for a in activations.values()
                    ]
                )
            tolerance = 1e-5 if dtype == tf.float32 else 1e-2  # bfloat16's rounding
            key = f"{run}{dtype.name}"
            assert relative_error(child[key], tape.gradient(loss, x).numpy()) < tolerance, key
            for name, a in activations.items():
                assert relative_error(child[key + name], a.numpy()) < tolerance, key + name
    for dtype in ("float32", "bfloat16"):
        loss = tf_helper.StyleTransferLoss(first, image[0], style, Settings(), dtype)
        for k, start in enumerate((image[0], 1 - image[0])):
            terms, gradient = loss.terms_and_gradient(start)
            ours = np.append(np.asarray(gradient).ravel(), terms["total"])
            tolerance = 1e-5 if dtype == "float32" else 1e-2
            assert relative_error(child[f"loss{dtype}{k}"], ours) < tolerance, f"loss{dtype}{k}"
