"""VGG16's layer table: names, kernel shapes and the image sizes the layers need."""

import pytest

from loss_settings import SettingsError, check_image_side
from tensorflow_vgg.layers import (
    CONV_SHAPES,
    LayerError,
    check_layer_names,
    layer_sizes,
    minimum_image_side,
)


def test_python_api_raises_layer_error():
    with pytest.raises(LayerError, match="unknown layer 'conv9_9'"):
        check_layer_names(["conv1_1", "conv9_9"])


def test_kernel_shapes_are_vgg16s():
    # VGG16's convolution stack, written out by hand: blocks of 2, 2, 3, 3, 3 convolutions.
    channels = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256)]
    channels += [(256, 512)] + [(512, 512)] * 5
    names = [f"conv{block}_{i}" for block, convs in enumerate([2, 2, 3, 3, 3], 1)
             for i in range(1, convs + 1)]  # fmt: skip
    assert CONV_SHAPES == {
        name: (3, 3, c_in, c_out) for name, (c_in, c_out) in zip(names, channels)
    }


def test_each_pooling_halves_the_size_rounding_up():
    assert layer_sizes(33, 17, "pool1")[-1] == ("pool1", 17, 9, 64)
    assert [minimum_image_side([name]) for name in ("conv1_1", "conv2_1", "conv5_1")] == [1, 2, 16]


def test_an_image_too_small_for_the_deepest_layer_is_refused_with_the_fix():
    check_image_side("the photo", 16, 16, ["conv5_1"])
    with pytest.raises(SettingsError) as refused:
        check_image_side("the photo", 15, 40, ["conv1_1", "conv5_1"])
    assert str(refused.value) == (
        "the photo is 40x15 px; the deepest layer in use, conv5_1, needs at least 16 px on "
        "each side; use a larger image"
    )
