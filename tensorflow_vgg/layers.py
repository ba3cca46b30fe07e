"""VGG16's layers: the one table of names, channels and image sizes. No TensorFlow here.

The network (vgg16_avg_pool.py), the weights file (weights.py) and the memory estimate of
the command line all read it, so that a layer is named and sized in one place.
"""

from __future__ import annotations

import math

# (block, convolutions, input channels, output channels) of VGG16's convolution stack; every
# block ends in a 2x2 pooling of stride 2.
BLOCKS = ((1, 2, 3, 64), (2, 2, 64, 128), (3, 3, 128, 256), (4, 3, 256, 512), (5, 3, 512, 512))

# Kernel shapes (3, 3, in, out) of the 13 convolutions, in order.
CONV_SHAPES: dict[str, tuple[int, int, int, int]] = {
    f"conv{block}_{i}": (3, 3, c_in if i == 1 else c_out, c_out)
    for block, convs, c_in, c_out in BLOCKS
    for i in range(1, convs + 1)
}
CONV_LAYERS: tuple[str, ...] = tuple(CONV_SHAPES)

# Every layer in order with its channels N_l: conv1_1, conv1_2, pool1, conv2_1, ..., pool5.
CHANNELS: dict[str, int] = {}
for _block, _convs, _c_in, _c_out in BLOCKS:
    for _i in range(1, _convs + 1):
        CHANNELS[f"conv{_block}_{_i}"] = _c_out
    CHANNELS[f"pool{_block}"] = _c_out
LAYER_ORDER: tuple[str, ...] = tuple(CHANNELS)

# What the convolutions see beyond the image's edge: "mirror", the image mirrored onto a
# margin that is cut off again (vgg16_avg_pool.mirrored), or "zero", the network's own
# zero padding.
BORDERS = ("mirror", "zero")

# How the network convolves: "winograd" (tensorflow_vgg/winograd.py, on the layers and in the
# dtypes where it measured faster, the direct convolution elsewhere) or "direct" (tf.nn.conv2d,
# oneDNN's kernels, on every layer).
CONVOLUTIONS = ("direct", "winograd")
DEFAULT_CONVOLUTION = "winograd"


class LayerError(ValueError):
    """A layer name the network does not have."""


def check_layer_names(names) -> list[str]:
    """Return the names as a list, raising LayerError for any VGG16 does not have."""
    names = [names] if isinstance(names, str) else list(names)
    unknown = [name for name in names if name not in CHANNELS]
    if unknown:
        raise LayerError(
            f"unknown layer {', '.join(map(repr, unknown))}; choose from {', '.join(LAYER_ORDER)}"
        )
    return names


def deepest(names) -> str:
    """Return the deepest of the named layers (where the network can stop)."""
    return max(check_layer_names(names), key=LAYER_ORDER.index)


def layers_up_to(names) -> list[str]:
    """Return LAYER_ORDER's names (convolutions and poolings) up to the deepest of `names`:
    the layers a network runs for them."""
    return LAYER_ORDER[: LAYER_ORDER.index(deepest(names)) + 1]


def poolings_before(name: str) -> int:
    """Return how many poolings come before layer `name` (each halves the image)."""
    return sum(layer.startswith("pool") for layer in LAYER_ORDER[: LAYER_ORDER.index(name)])


def minimum_image_side(names) -> int:
    """Return the smallest image side (pixels) that leaves every named layer at least 1x1."""
    return 2 ** poolings_before(deepest(names))


def layer_sizes(height: int, width: int, last: str) -> list[tuple[str, int, int, int]]:
    """Return (name, H_l, W_l, N_l) of every layer up to `last` (SAME pooling rounds up)."""
    sizes = []
    for name in layers_up_to([last]):
        if name.startswith("pool"):
            height, width = math.ceil(height / 2), math.ceil(width / 2)
        sizes.append((name, height, width, CHANNELS[name]))
    return sizes


def stride(name: str) -> int:
    """Return the px of the picture per position of layer `name`: 2 for each pooling up to it."""
    return 2 ** (poolings_before(name) + name.startswith("pool"))


def alignment(names) -> int:
    """Return the px grid on which a tile of the picture must start: one position of the deepest layer."""
    return stride(deepest(names))


def mirror_margin(names) -> int:
    """Return the mirrored margin (px) for these layers: at least 16 px (beyond that, the
    margin's mirror adds little), and one whole position of the deepest layer, so that it is
    cut off exactly at every layer."""
    return max(16, alignment(names))


def halo(names) -> int:
    """Return the px of context a tile needs around the part it owns for exact features there.

    Each convolution's zero padding spoils one more row at its own scale; each pooling halves
    the rows spoiled (rounding up) and doubles the scale. Rounded up to the alignment.
    """
    spoiled, scale = 0, 1  # rows spoiled, at the current layer's scale
    for name in layers_up_to(names):
        if name.startswith("pool"):
            spoiled, scale = math.ceil(spoiled / 2), scale * 2
        else:
            spoiled += 1
    grid = alignment(names)
    return -(-spoiled * scale // grid) * grid
