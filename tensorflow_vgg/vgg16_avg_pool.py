"""VGG16 in TensorFlow 2 from vgg16.npy, returning named activations and stopping at the deepest.

Average pooling by default, as Gatys et al. advise for image synthesis. No loss code here.
"""

from __future__ import annotations

import functools
import os
import weakref
from collections import OrderedDict

import tensorflow as tf

from optimisation.precisions import cpu_flags
from tensorflow_vgg import winograd
from tensorflow_vgg.layers import (
    BORDERS,
    CONV_LAYERS,
    CONV_SHAPES,
    CONVOLUTIONS,
    DEFAULT_CONVOLUTION,
    LAYER_ORDER,
    check_layer_names,
    layers_up_to,
    mirror_margin,
    stride,
)
from tensorflow_vgg.quiet import (
    BELOW_AVX512,
    BFloat16Error,
    onednn_isa_limit,
    tensorflow_kernels,
    weights_frozen,
)
from tensorflow_vgg.weights import load_weights

# Caffe's ImageNet mean in B, G, R order, in 0..255.
BGR_MEAN = (103.939, 116.779, 123.68)


# oneDNN's ISA limits below AVX2_VNNI_2, its bfloat16 level without AVX-512 (AVX-NE-CONVERT).
BELOW_AVX_NE_CONVERT = ("SSE41", "AVX", "AVX2", "AVX2_VNNI")


def tensorflow_bfloat16_cpu() -> bool:
    """Return whether TensorFlow counts this CPU as one for oneDNN's bfloat16 (AVX512F or
    AVX-NE-CONVERT, read from CPUID: Linux's flags leave AVX-NE-CONVERT out)."""
    try:
        from tensorflow.python.util import _pywrap_utils  # no public API says it

        return bool(
            _pywrap_utils.IsDataTypeSupportedByOneDNNOnThisCPU(tf.bfloat16.as_datatype_enum)
        )
    except (ImportError, AttributeError):  # moved in another TensorFlow: AVX512F, its first rule
        return "avx512f" in cpu_flags()


def tensorflow_sends_bfloat16_to_onednn() -> bool:
    """Return whether TensorFlow runs bfloat16 ops in oneDNN's kernels here; elsewhere it runs
    them in Eigen's emulation, slow but right (an AVX2-only CPU)."""
    return tensorflow_kernels() == "oneDNN" and tensorflow_bfloat16_cpu()


def onednn_convolves_bfloat16() -> bool:
    """Return whether oneDNN has bfloat16 convolutions here: AVX-512 (winograd.AVX512_CORE) or
    AVX-NE-CONVERT on the CPU, and its ISA limit not below them."""
    flags, limit = cpu_flags(), onednn_isa_limit()
    if winograd.has_avx512_core(flags):
        return limit not in BELOW_AVX512
    # Without AVX512F, TensorFlow's yes means AVX-NE-CONVERT.
    no_avx512f = "avx512f" not in flags
    return no_avx512f and tensorflow_bfloat16_cpu() and limit not in BELOW_AVX_NE_CONVERT


def check_bfloat16() -> None:
    """Raise BFloat16Error, naming the cause and the fixes, where TensorFlow hands bfloat16 to
    oneDNN and oneDNN has no bfloat16 convolution (an AVX-512 CPU limited to AVX2, say)."""
    if tensorflow_sends_bfloat16_to_onednn() and not onednn_convolves_bfloat16():
        limit = onednn_isa_limit()
        cause = f"oneDNN's ISA limit {limit}" if limit else "AVX-512 without BW, VL and DQ"
        raise BFloat16Error(
            f"bfloat16 needs oneDNN's bfloat16 convolutions here, and {cause} leaves none: use "
            '--precision float32 (Settings(precision="float32")), '
            + ("start Python without ONEDNN_MAX_CPU_ISA and DNNL_MAX_CPU_ISA, " if limit else "")
            + "or start it with TF_ENABLE_ONEDNN_OPTS=0 to emulate bfloat16 in TensorFlow's "
            "slower Eigen kernels"
        )


def preprocess(rgb: tf.Tensor) -> tf.Tensor:
    """Map RGB in [0, 1] to Caffe's input: BGR in 0..255 minus the ImageNet mean."""
    bgr = tf.reverse(rgb, axis=[-1]) * 255.0
    return bgr - tf.constant(BGR_MEAN, dtype=bgr.dtype)


def adjoint_kernel(kernel: tf.Tensor) -> tf.Tensor:
    """Return the (3, 3, out, in) kernel whose SAME, stride-1 convolution is the transpose of
    `kernel`'s (3, 3, in, out): the kernel flipped in space, its channels swapped."""
    return tf.transpose(tf.reverse(kernel, axis=[0, 1]), [0, 1, 3, 2])


# A tf.function of its own, traced a few times per process (shapes generalise after the second),
# its kernels arguments, not captures: tf.custom_gradient traced in a graph registers that graph
# in TensorFlow's gradient registry, which never lets it go; traced inside a caller's, every loss
# ever traced stayed, a few MiB each, and closing over a network's kernels, every network made.
# Called in a traced function, it is inlined: each call becomes nodes of the caller's own.
@tf.function(reduce_retracing=True)
def convolution(
    x: tf.Tensor, kernel: tf.Tensor, adjoint: tf.Tensor, tile: int = 0, bands: int = 1
) -> tf.Tensor:
    """Return the SAME, stride-1 convolution of x (batch, H, W, in) with a constant 3x3 kernel.

    Its gradient with respect to x is the forward convolution of the incoming gradient with
    `adjoint_kernel(kernel)`: the same numbers as TensorFlow's Conv2DBackpropInput, which is
    much slower than a forward convolution where TensorFlow runs its own (Eigen) kernels, as
    on CPUs without AVX-512. No gradient flows to the kernel: the network's weights are fixed.
    `tile` 0 convolves directly (tf.nn.conv2d); 2 or 4 by Winograd's F(tile x tile, 3x3), and
    then `kernel` is its `winograd.kernel_transform`, which serves the gradient too (`adjoint`
    is not read), and `bands` the bands of tile rows it runs in (`winograd.band_count`).
    """

    @tf.custom_gradient
    def convolve(x):
        def gradient(dy):
            if tile:
                return winograd.convolution(dy, kernel, tile, True, bands)
            return tf.nn.conv2d(dy, adjoint, strides=1, padding="SAME")

        if tile:
            return winograd.convolution(x, kernel, tile, False, bands), gradient
        return tf.nn.conv2d(x, kernel, strides=1, padding="SAME"), gradient

    return convolve(x)


# bfloat16 only: there oneDNN's convolution adds a tensor to its output as it writes it, faster
# than a separate add; in float32 the fused convolution measured slower than the two apart.
TAP_SUMMED_IN_CONVOLUTION = (tf.bfloat16,)


@tf.function(reduce_retracing=True)
def tap_and_convolution(x: tf.Tensor, kernel: tf.Tensor, adjoint: tf.Tensor, zero: tf.Tensor):
    """Return (x, the direct convolution of x) for an activation x that is both a loss's layer
    and the next convolution's input; each gets its own copy of x's gradient.

    The gradient with respect to x is the sum of both outputs' gradients, formed inside the
    adjoint convolution (a fused convolution and add), not by a separate add of two
    (batch, H, W, C) tensors as when x has two consumers. `zero` is a zero bias of x's channels,
    made outside the trace: a constant zero would be folded away, and the fusion with it.
    """

    @tf.custom_gradient
    def tap(x):
        def gradient(d_tap, d_convolution):  # an output not used gets zeros, not None
            through = tf.nn.conv2d(d_convolution, adjoint, strides=1, padding="SAME")
            # The zero bias makes the pattern (Conv2D, BiasAdd, Add) that grappler fuses.
            return tf.nn.bias_add(through, zero) + d_tap

        return (tf.identity(x), tf.nn.conv2d(x, kernel, strides=1, padding="SAME")), gradient

    return tap(x)


def mirrored(rgb: tf.Tensor, margin: int) -> tf.Tensor:
    """Return images (batch, H, W, C) with `margin` px of their mirror image on every side.

    With zero padding a pixel at the edge lies under fewer convolution windows than one
    inside, and gets much less of the gradient at the outermost columns, so the
    optimiser leaves the edge loosely held and it drifts to saturated stripes. Mirrored
    (edge pixel repeated), every pixel counts about equally; the features kept are cut back
    to the image (`without_margin`), so the loss is still the paper's sum over its positions.
    """
    done = 0
    while done < margin:  # a mirror reaches at most one image side further
        known_sides = [side for side in rgb.shape[1:3] if side is not None]
        step = min([margin - done, *known_sides])
        rgb = tf.pad(rgb, [[0, 0], [step, step], [step, step], [0, 0]], mode="SYMMETRIC")
        done += step
    return rgb


def without_margin(activation: tf.Tensor, name: str, margin: int) -> tf.Tensor:
    """Return the positions of layer `name`'s activation that lie over the image itself."""
    k = margin // stride(name)
    # tf.slice, not [k:-k]: its gradient is a Pad, where a strided slice's is StridedSliceGrad,
    # which took 11% of a 512 px evaluation's op time (benchmarks/profile_evaluation.py).
    size = tf.shape(activation) - tf.constant([0, 2 * k, 2 * k, 0])
    cropped = tf.slice(activation, [0, k, k, 0], size)
    height, width = activation.shape[1], activation.shape[2]
    if height is not None and width is not None:  # keep the static shape
        cropped.set_shape([activation.shape[0], height - 2 * k, width - 2 * k, activation.shape[3]])
    return cropped


def deprocess(bgr: tf.Tensor) -> tf.Tensor:
    """Invert `preprocess`: Caffe's BGR input back to RGB in [0, 1] (unclipped)."""
    bgr = bgr + tf.constant(BGR_MEAN, dtype=bgr.dtype)
    return tf.reverse(bgr, axis=[-1]) / 255.0


# With frozen weights, the functions eager calls run in (`Vgg16._eager_call`) kept per network:
# a video's frames or a batch's photos of one size share one, a content and a style size two.
KEPT_EAGER_CALLS = 2


class Vgg16:
    """The VGG16 convolution stack; call it with images and layer names to get activations."""

    def __init__(
        self,
        weights_path: str | os.PathLike | None = None,
        pooling: str = "avg",
        convolution: str = DEFAULT_CONVOLUTION,
    ):
        if pooling not in ("avg", "max"):
            raise ValueError(f"pooling must be 'avg' or 'max', not {pooling!r}")
        if convolution not in CONVOLUTIONS:
            raise ValueError(
                f"convolution must be one of {', '.join(CONVOLUTIONS)}, not {convolution!r}"
            )
        self.pooling = pooling
        self.convolution = convolution
        weights = load_weights(weights_path)
        self._kernels = {name: tf.constant(weights[name][0]) for name in CONV_LAYERS}
        self._biases = {name: tf.constant(weights[name][1]) for name in CONV_LAYERS}
        self._made: dict[tuple[str, tf.DType, int], tuple[tf.Tensor, tf.Tensor, tf.Tensor]] = {}
        self._zeros: dict[tuple[int, tf.DType], tf.Tensor] = {}
        self._eager_calls: OrderedDict[tuple, tf.types.experimental.PolymorphicFunction]
        self._eager_calls = OrderedDict()  # _eager_call's functions, the last used last

    def _layer(
        self, name: str, dtype: tf.DType, tile: int
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Return layer `name`'s kernel as its convolution takes it, its adjoint and its bias,
        in `dtype`, made once per tile and only for the layers a call reaches. For a Winograd
        `tile` the kernel is transformed (in float64, rounded to dtype once), and that transform
        serves the input gradient too (`winograd.convolution(..., adjoint=True)`)."""
        if (name, dtype, tile) not in self._made:
            with tf.init_scope():  # made once, eagerly, even when first called in a tf.function
                kernel = self._kernels[name]
                if tile:
                    U = tf.cast(winograd.kernel_transform(kernel, tile), dtype)
                    used = (U, U)
                else:
                    used = (tf.cast(kernel, dtype), tf.cast(adjoint_kernel(kernel), dtype))
                self._made[name, dtype, tile] = (*used, tf.cast(self._biases[name], dtype))
        return self._made[name, dtype, tile]

    def _zero_bias(self, channels: int, dtype: tf.DType) -> tf.Tensor:
        """Return zeros (channels,) in `dtype`, made once and eagerly (`tap_and_convolution`)."""
        if (channels, dtype) not in self._zeros:
            with tf.init_scope():
                self._zeros[channels, dtype] = tf.zeros(channels, dtype)
        return self._zeros[channels, dtype]

    def tile(self, name: str, dtype: tf.DType, shape=None) -> int:
        """Return Winograd's tile for layer `name` in `dtype` (0: the direct convolution), for
        an input of static `shape` (N, H, W, C) if given (`winograd.tile_for`)."""
        if self.convolution == "direct":
            return 0
        return winograd.tile_for(name, dtype, shape, *CONV_SHAPES[name][2:])

    def _pool(self, x: tf.Tensor) -> tf.Tensor:
        pool = tf.nn.avg_pool2d if self.pooling == "avg" else tf.nn.max_pool2d
        return pool(x, ksize=2, strides=2, padding="SAME")

    def __call__(
        self,
        rgb: tf.Tensor,
        layers,
        compute_dtype: tf.DType = tf.float32,
        border: str = "zero",
        output_dtype: tf.DType | None = tf.float32,
    ) -> dict[str, tf.Tensor]:
        """Return {name: activation} for `layers`, given RGB images (batch, H, W, 3) in [0, 1].

        `compute_dtype=tf.bfloat16` runs the convolutions in bfloat16 (faster on CPUs with
        AVX512_BF16 or AMX); the activations are returned as float32 either way, or in
        `compute_dtype` when `output_dtype` is None.
        `border="mirror"` runs the network over the image with mirrored margins and returns
        the activations over the image alone (`mirrored`): same shapes, no zero padding
        at the image's edge. Raises ValueError for another border, BFloat16Error for bfloat16
        where oneDNN has no bfloat16 convolution (`check_bfloat16`).
        """
        if border not in BORDERS:
            raise ValueError(f"border must be one of {', '.join(BORDERS)}, not {border!r}")
        if compute_dtype == tf.bfloat16:
            check_bfloat16()
        wanted = tuple(sorted(set(check_layer_names(layers)), key=LAYER_ORDER.index))
        rgb = tf.convert_to_tensor(rgb, dtype=tf.float32)
        if tf.inside_function() or not weights_frozen():
            return self._activations(rgb, wanted, compute_dtype, border, output_dtype)
        options = (wanted, compute_dtype, border, output_dtype)
        return self._eager_call(rgb.shape, options)(rgb, *options)

    def _eager_call(self, shape, options: tuple) -> tf.types.experimental.PolymorphicFunction:
        """Return the tf.function that runs `_activations` for eager calls on images of `shape`
        with `options`, made on the first such call and kept among the last KEPT_EAGER_CALLS."""
        # Eagerly, `convolution` is one node for every layer of a shape, and where oneDNN keeps
        # each node's first kernel (quiet.FROZEN_WEIGHTS) a node must never meet two: so the
        # layers run in a function of the network's own, where each call of `convolution` is
        # inlined as nodes of their own. A function per call would be traced at every call and,
        # let go, freed only by Python's rare full garbage collection: memory crept run by run.
        key = (tuple(shape), *options)
        function = self._eager_calls.pop(key, None)
        if function is None:
            method = weakref.WeakMethod(self._activations)  # no cycle: the network stays freeable
            function = tf.function(lambda *arguments: method()(*arguments))
        self._eager_calls[key] = function
        if len(self._eager_calls) > KEPT_EAGER_CALLS:
            self._eager_calls.popitem(last=False)  # the least recently used
        return function

    def _activations(self, rgb, wanted, compute_dtype, border, output_dtype):
        """Return `__call__`'s {name: activation} for the checked layer names `wanted`."""
        margin = mirror_margin(wanted) if border == "mirror" else 0
        if margin:
            rgb = mirrored(rgb, margin)
        x = tf.cast(preprocess(rgb), compute_dtype)
        in_use = layers_up_to(wanted)
        tapped = {name for name in wanted if self._tapped(name, compute_dtype, in_use)}
        activations = {}
        for previous, name in zip((None, *in_use), in_use):
            if name.startswith("pool"):
                x = self._pool(x)
            else:
                tile = self.tile(name, compute_dtype, x.shape)
                kernel, adjoint, bias = self._layer(name, compute_dtype, tile)
                if previous in tapped:
                    zero = self._zero_bias(CONV_SHAPES[name][2], compute_dtype)
                    tap, x = tap_and_convolution(x, kernel, adjoint, zero)
                    activations[previous] = self._output(tap, previous, margin, output_dtype)
                else:
                    bands = (
                        winograd.band_count(x.shape, *CONV_SHAPES[name][2:], tile) if tile else 1
                    )
                    x = convolution(x, kernel, adjoint, tile, bands)
                x = tf.nn.relu(tf.nn.bias_add(x, bias))
            if name in wanted and name not in tapped:
                activations[name] = self._output(x, name, margin, output_dtype)
        return activations

    def _tapped(self, name: str, dtype: tf.DType, in_use) -> bool:
        """Return whether layer `name` goes on to the next through `tap_and_convolution`: in a
        dtype of TAP_SUMMED_IN_CONVOLUTION, when the next layer in use is a direct convolution."""
        after = in_use.index(name) + 1
        if dtype not in TAP_SUMMED_IN_CONVOLUTION or after == len(in_use):
            return False
        following = in_use[after]
        # No shape needed: the tiles that depend on it are float32's, and taps bfloat16's.
        return not following.startswith("pool") and not self.tile(following, dtype)

    @staticmethod
    def _output(x: tf.Tensor, name: str, margin: int, dtype: tf.DType | None) -> tf.Tensor:
        """Return layer `name`'s activation x as returned: over the image, in `dtype`."""
        activation = without_margin(x, name, margin) if margin else x
        return tf.cast(activation, dtype or x.dtype)


@functools.lru_cache(maxsize=2)
def network(weights_path: str | None = None, convolution: str = DEFAULT_CONVOLUTION) -> Vgg16:
    """Return the average-pool VGG16 for a weights file and convolution, built once per process."""
    return Vgg16(weights_path, convolution=convolution)
