"""Winograd's convolution against TensorFlow's float64 direct convolution, at VGG16's shapes."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from conftest import relative_error

import tf_helper
import tf_run
from optimisation.settings import Settings
from optimisation.starts import initial_image
from tensorflow_vgg import winograd
from tensorflow_vgg.layers import CONV_SHAPES, layer_sizes
from tensorflow_vgg.vgg16_avg_pool import CONVOLUTIONS, Vgg16, convolution

# Each distinct (in, out) of VGG16's 3x3 layers, at an odd size (rows and columns that are
# not whole tiles) of 16-64 px, smaller where the channels are many: the reference is float64.
SHAPES = sorted({(c_in, c_out) for _, _, c_in, c_out in CONV_SHAPES.values()})
SIDES = {3: (61, 47), 64: (33, 45), 128: (29, 23), 256: (19, 17), 512: (17, 21)}

# Relative error (Frobenius norm of the error over that of the float64 result), float32. At
# these shapes F(2x2, 3x3) measured at most 5.9e-7 in the value and 6.9e-7 in the gradient,
# F(4x4, 3x3) 3.6e-6 and 4.4e-6; tf.nn.conv2d's own float32 error was up to 7.5e-7 and 1.0e-6.
RELATIVE_TOLERANCE = 1e-5

# 60 seeded L-BFGS iterations amplify any rounding-level change: measured at 128 px, the
# picture moved by a mean 2.3-2.6 levels (of 255) with Winograd's convolutions (on conv3_1 and
# deeper, then from conv2_2 on), 2.1 with XLA's direct ones and 2.8 when the start moved by
# 1e-6; the final losses by -0.29% to -0.86%, -0.19% and +0.04%. So the Winograd picture must
# be as close to the direct one as that nudged start's, with a margin for the spread between
# runs and CPUs, and its final loss within 2%.
LOSS_TOLERANCE_FINAL, NUDGE, PICTURE_MARGIN = 2e-2, 1e-6, 1.5


@pytest.fixture(scope="module")
def direct_net():
    """The network with oneDNN's direct convolution on every layer: the yardstick."""
    return Vgg16(convolution="direct")


def layer_input(c_in: int, c_out: int, rng):
    """Return an input (1, H, W, c_in) like the layer's (the picture's Caffe values for the
    first layer, rectified features after it) and a kernel scaled like VGG16's, float32."""
    height, width = SIDES[c_in]
    if c_in == 3:
        x = rng.uniform(-124, 152, size=(1, height, width, c_in))
    else:
        x = np.maximum(rng.normal(size=(1, height, width, c_in)), 0)
    kernel = rng.normal(size=(3, 3, c_in, c_out)) / np.sqrt(9 * c_in)
    return x.astype(np.float32), kernel.astype(np.float32)


def features_and_gradient(network, image, layers, border="zero"):
    """Return the network's features of `image` and the gradient of their mean squares."""
    with tf.GradientTape() as tape:
        tape.watch(image)
        features = network(image, layers, border=border)
        total = tf.add_n(
            [tf.reduce_sum(tf.square(f)) / tf.size(f, tf.float32) for f in features.values()]
        )
    return features, tape.gradient(total, image)


@pytest.mark.parametrize("tile", winograd.TILES)
@pytest.mark.parametrize(("c_in", "c_out"), SHAPES)
def test_winograd_value_matches_float64_conv2d_at_every_layer_shape(c_in, c_out, tile):
    x, kernel = layer_input(c_in, c_out, np.random.default_rng(c_in + c_out))
    expected = tf.nn.conv2d(
        tf.constant(x, tf.float64), tf.constant(kernel, tf.float64), 1, "SAME"
    ).numpy()
    actual = winograd.convolution(
        tf.constant(x), winograd.kernel_transform(tf.constant(kernel), tile), tile
    )
    assert actual.shape == expected.shape
    assert relative_error(actual, expected) <= RELATIVE_TOLERANCE


@pytest.mark.parametrize("tile", winograd.TILES)
@pytest.mark.parametrize(("c_in", "c_out"), SHAPES)
def test_winograd_gradient_matches_float64_conv2d_backprop_at_every_layer_shape(c_in, c_out, tile):
    rng = np.random.default_rng(c_in * c_out)
    x, kernel = layer_input(c_in, c_out, rng)
    upstream = rng.normal(size=(*x.shape[:3], c_out)).astype(np.float32)
    expected = tf.compat.v1.nn.conv2d_backprop_input(
        x.shape,
        tf.constant(kernel, tf.float64),
        tf.constant(upstream, tf.float64),
        strides=[1, 1, 1, 1],
        padding="SAME",
    ).numpy()
    U = winograd.kernel_transform(tf.constant(kernel), tile)
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = convolution(x, U, U, tile)
    actual = tape.gradient(y, x, output_gradients=tf.constant(upstream))
    assert relative_error(actual, expected) <= RELATIVE_TOLERANCE


def test_kernel_transform_of_a_unit_kernel_reproduces_the_input():
    """A kernel that picks the centre pixel and channel: the convolution is the identity."""
    kernel = np.zeros((3, 3, 2, 2), np.float32)
    kernel[1, 1] = np.eye(2)
    x = np.arange(2 * 5 * 7 * 2, dtype=np.float32).reshape(2, 5, 7, 2)
    for tile in winograd.TILES:
        actual = winograd.convolution(x, winograd.kernel_transform(tf.constant(kernel), tile), tile)
        np.testing.assert_allclose(actual, x, rtol=1e-6, atol=1e-4)


@pytest.mark.parametrize("adjoint", [False, True])
def test_convolving_in_bands_of_tile_rows_gives_the_whole_convolution(adjoint):
    """3 bands over the 9 tile rows of a 33 px image, and 4, whose last band is overhang alone."""
    rng = np.random.default_rng(11)
    x, kernel = layer_input(64, 128, rng)
    if adjoint:
        x = np.maximum(rng.normal(size=(*x.shape[:3], 128)), 0).astype(np.float32)
    x = np.concatenate([x, x[:, ::-1]])  # a batch of two
    # The adjoint: the kernel flipped in space, its channels swapped.
    reference = np.transpose(kernel[::-1, ::-1], (0, 1, 3, 2)) if adjoint else kernel
    expected = tf.nn.conv2d(
        tf.constant(x, tf.float64), tf.constant(reference.copy(), tf.float64), 1, "SAME"
    ).numpy()
    U = winograd.kernel_transform(tf.constant(kernel), 4)
    whole = winograd.convolution(tf.constant(x), U, 4, adjoint).numpy()
    for bands in (3, 4):
        banded = winograd.convolution(tf.constant(x), U, 4, adjoint, bands).numpy()
        assert banded.shape == whole.shape == expected.shape
        assert relative_error(banded, whole) <= 1e-6
        assert relative_error(banded, expected) <= RELATIVE_TOLERANCE


def test_bands_are_for_large_layers_of_known_size():
    """conv2_2 and block 3 of a 1024x681 px picture in bands; every layer of a 512 px one and a
    shape known only when run, whole (the float32 layers that Winograd's convolution serves)."""
    assert winograd.band_count((1, 512, 341, 128), 128, 128, 4) == winograd.BANDS > 1
    assert winograd.band_count((1, 256, 171, 256), 256, 256, 4) == winograd.BANDS
    for name, height, width, _ in layer_sizes(512, 512, "conv5_1"):
        if name in winograd.TILE_BY_LAYER[tf.float32]:
            _, _, c_in, c_out = CONV_SHAPES[name]
            assert winograd.band_count((1, height, width, c_in), c_in, c_out, 4) == 1, name
    assert winograd.band_count((1, None, None, 128), 128, 128, 4) == 1


def test_the_network_convolves_in_bands_where_told_with_the_same_features(
    direct_net, small_photo, monkeypatch
):
    """A bound of 0 elements puts every Winograd layer in bands: features and gradient stay."""
    monkeypatch.setattr(winograd, "BAND_ELEMENTS", 0)
    counted, band_count = [], winograd.band_count

    def counting(*arguments):
        counted.append(band_count(*arguments))
        return counted[-1]

    monkeypatch.setattr(winograd, "band_count", counting)
    image = tf.constant(small_photo(45, 61)[None])
    layers = ["conv3_1", "conv4_2", "conv5_1"]
    expected, expected_gradient = features_and_gradient(direct_net, image, layers)
    winograd_net = Vgg16(convolution="winograd")
    actual, actual_gradient = features_and_gradient(winograd_net, image, layers)
    assert counted and set(counted) == {winograd.BANDS}
    for name in layers:
        assert relative_error(actual[name], expected[name]) <= 1e-5, name
    assert relative_error(actual_gradient, expected_gradient) <= 1e-4


def onednn(monkeypatch, below_avx512: bool):
    """Make the network choose its tiles as where oneDNN runs AVX2 at most, or AVX-512."""
    monkeypatch.setattr(winograd, "onednn_below_avx512", lambda: below_avx512)
    monkeypatch.setattr(winograd, "tensorflow_kernels", lambda: "oneDNN")


@pytest.mark.parametrize("avx512", [True, False], ids=["this CPU's tiles", "without AVX-512"])
@pytest.mark.parametrize("border", ["zero", "mirror"])
def test_winograd_network_matches_the_direct_network(
    direct_net, small_photo, border, avx512, monkeypatch
):
    """Both borders: the mirror border pads the picture once; every convolution is SAME."""
    onednn(monkeypatch, below_avx512=not avx512)
    winograd_net = Vgg16(convolution="winograd")
    assert any(winograd_net.tile(name, tf.float32) for name in CONV_SHAPES)
    image = tf.constant(small_photo(45, 61)[None])
    layers = ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv4_2", "conv5_1"]
    expected, expected_gradient = features_and_gradient(direct_net, image, layers, border)
    actual, actual_gradient = features_and_gradient(winograd_net, image, layers, border)
    for name in layers:
        assert relative_error(actual[name], expected[name]) <= 1e-5, name
    assert relative_error(actual_gradient, expected_gradient) <= 1e-4
    extras = {("conv1_2", 4), ("conv2_1", 4)}  # Winograd below AVX-512 only
    made = {(name, tile) for name, dtype, tile in winograd_net._made if dtype == tf.float32}
    assert (extras <= made) if not avx512 else not (extras & made)


def test_one_network_convolves_conv1_2_by_winograd_while_whole_and_directly_in_bands(
    direct_net, small_photo, monkeypatch
):
    """Where oneDNN runs below AVX-512: one network at two sizes, either side of the bound."""
    onednn(monkeypatch, below_avx512=True)
    winograd_net = Vgg16(convolution="winograd")
    image = tf.constant(small_photo(45, 61)[None])
    layers = ["conv1_2", "conv2_1", "conv3_1"]
    whole, whole_gradient = features_and_gradient(winograd_net, image, layers)
    monkeypatch.setattr(winograd, "BAND_ELEMENTS", 0)  # from here every layer "needs" bands
    banded, banded_gradient = features_and_gradient(winograd_net, image[:, :-1], layers)
    made = {(name, tile) for name, _, tile in winograd_net._made}
    assert {("conv1_2", 4), ("conv1_2", 0), ("conv2_1", 4), ("conv2_1", 0)} <= made
    expected, expected_gradient = features_and_gradient(direct_net, image, layers)
    expected_banded, expected_banded_gradient = features_and_gradient(
        direct_net, image[:, :-1], layers
    )
    for name in layers:
        assert relative_error(whole[name], expected[name]) <= 1e-5, name
        assert relative_error(banded[name], expected_banded[name]) <= 1e-5, name
    assert relative_error(whole_gradient, expected_gradient) <= 1e-4
    assert relative_error(banded_gradient, expected_banded_gradient) <= 1e-4


def test_taps_and_shape_dependent_tiles_never_meet():
    """A tapped layer's next convolution takes a direct kernel, decided without a shape."""
    from tensorflow_vgg.vgg16_avg_pool import TAP_SUMMED_IN_CONVOLUTION

    assert set(TAP_SUMMED_IN_CONVOLUTION).isdisjoint(winograd.TILE_WHERE_WHOLE_WITHOUT_AVX512)


def test_the_loss_and_its_gradient_match_the_direct_convolutions(
    direct_net, small_photo, small_painting
):
    content, style = small_photo(64, 80), small_painting(64, 64)
    image = np.random.default_rng(0).uniform(size=content.shape).astype(np.float32)
    settings = Settings(precision="float32")
    direct = tf_helper.StyleTransferLoss(direct_net, content, style, settings)
    fast = tf_helper.StyleTransferLoss(Vgg16(convolution="winograd"), content, style, settings)
    expected, expected_gradient = direct.terms_and_gradient(image)
    actual, actual_gradient = fast.terms_and_gradient(image)
    for term in ("total", "content", "style"):
        assert abs(actual[term] - expected[term]) <= 1e-5 * expected[term], term
    assert relative_error(actual_gradient, expected_gradient) <= 1e-4


def test_unknown_convolution_is_refused_with_the_choices():
    with pytest.raises(ValueError, match=", ".join(CONVOLUTIONS)):
        Vgg16(convolution="fft")


def test_below_avx512_conv1_2_and_conv2_1_are_winograd_while_whole(monkeypatch):
    def tile(name, size, dtype=tf.float32):
        _, _, c_in, c_out = CONV_SHAPES[name]
        return winograd.tile_for(name, dtype, (1, size, size, c_in), c_in, c_out)

    onednn(monkeypatch, below_avx512=False)
    assert tile("conv1_2", 256) == tile("conv2_1", 128) == 0
    assert tile("conv3_1", 64) == 4
    onednn(monkeypatch, below_avx512=True)
    assert tile("conv1_2", 256) == tile("conv2_1", 128) == tile("conv2_1", 256) == 4
    assert tile("conv1_2", 512) == tile("conv2_1", 512) == 0  # their transforms in bands
    assert winograd.band_count((1, 512, 512, 64), 64, 64, 4) > 1
    assert tile("conv1_1", 256) == tile("conv1_2", 256, tf.bfloat16) == 0
    assert winograd.tile_for("conv1_2", tf.float32, None, 64, 64) == 0  # no shape: the table
    assert winograd.tile_for("conv1_2", tf.float32, (1, None, None, 64), 64, 64) == 0
    monkeypatch.setattr(winograd, "tensorflow_kernels", lambda: "Eigen")
    assert tile("conv1_2", 256) == 0


@pytest.mark.parametrize(
    ("cpuinfo", "limit", "below"),
    [
        ("flags\t\t: fpu avx2 fma avx512f avx512bw avx512vl avx512dq\n", "", False),
        ("flags\t\t: fpu avx2 fma avx512f avx512bw avx512vl avx512dq\n", "avx2", True),
        ("flags\t\t: fpu avx2 fma avx512f avx512bw avx512vl avx512dq\n", "AVX512_CORE_AMX", False),
        ("flags\t\t: fpu avx2 fma\n\nbugs\t\t: avx512f\n", "", True),
        ("flags\t\t: fpu avx2 fma avx512f avx512cd\n", "", True),  # oneDNN wants bw, vl, dq
        ("Features\t: fp asimd sve\n", "", False),  # ARM: not measured, the tables as they are
        (None, "", False),  # no cpuinfo
    ],
)
def test_onednn_below_avx512_reads_the_cpu_flags_and_onednns_limit(
    tmp_path, monkeypatch, cpuinfo, limit, below
):
    path = tmp_path / "cpuinfo"
    if cpuinfo is not None:
        path.write_text("processor\t: 0\n" + cpuinfo)
    for name in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"):
        monkeypatch.delenv(name, raising=False)
    if limit:
        monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", limit)
    assert winograd.onednn_below_avx512.__wrapped__(path) is below  # uncached


def test_unknown_tile_is_refused():
    with pytest.raises(ValueError, match="tile"):
        winograd.transform_matrices(3)


@pytest.fixture(scope="module")
def seeded_runs(direct_net, small_photo, small_painting):
    """60 seeded float32 L-BFGS iterations at 128 px: direct, Winograd, and direct from a start
    moved by NUDGE (the yardstick of rounding)."""
    content, style = small_photo(96, 128), small_painting(128, 128)
    settings = Settings(iterations=60, precision="float32", seed=0)
    start = initial_image(settings.init, content, [style], settings.seed)
    noise = np.random.default_rng(1).normal(scale=NUDGE, size=start.shape)
    nudged = np.clip(start + noise, 0, 1).astype(np.float32)
    fast = Vgg16(convolution="winograd")
    return {
        "direct": tf_run.run_style_transfer(
            content, style, settings, net=direct_net, initial=start
        ),
        "winograd": tf_run.run_style_transfer(content, style, settings, net=fast, initial=start),
        "nudged": tf_run.run_style_transfer(
            content, style, settings, net=direct_net, initial=nudged
        ),
    }


@pytest.mark.slow
def test_sixty_lbfgs_iterations_give_the_direct_convolutions_picture(seeded_runs):
    direct = seeded_runs["direct"]
    final = direct.terms["total"], seeded_runs["winograd"].terms["total"]
    assert abs(final[1] - final[0]) <= LOSS_TOLERANCE_FINAL * final[0]

    def mean_difference(run):  # in 0..255
        return 255 * np.abs(run.image.astype(np.float64) - direct.image).mean()

    rounding = mean_difference(seeded_runs["nudged"])
    assert 0 < rounding < 10  # the yardstick itself: rounding, not another picture
    assert mean_difference(seeded_runs["winograd"]) <= PICTURE_MARGIN * rounding
