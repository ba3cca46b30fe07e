"""Spatial control (Gatys et al. 2017, sec. 4): the guided Gram matrices and the masked loss
against the float64 NumPy reference, and what masks must and must not change."""

from __future__ import annotations

import numpy as np
import pytest

import tf_helper
from going_further import spatial_control
from going_further.settings import StylizeSettings
from going_further.spatial_control import MaskedStyleTransferLoss, StyleMasks
from going_further.stylize import stylize
from loss_settings import LossSettings, SettingsError
from tensorflow_vgg.layers import CHANNELS, LAYER_ORDER, stride

STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")


def ramp(height: int, width: int) -> np.ndarray:
    """A soft mask: 0 at the left, 1 at the right."""
    return np.broadcast_to(np.linspace(0.0, 1.0, width, dtype=np.float32), (height, width))


@pytest.mark.parametrize("border", ["mirror", "zero"])
def test_an_all_ones_mask_gives_exactly_the_unmasked_loss_and_gradient(
    net, small_photo, small_painting, rng, border
):
    content, style = small_photo(32, 40), small_painting(36, 36)
    image = rng.uniform(0, 1, content.shape).astype(np.float32)
    settings = LossSettings(border=border)
    plain = tf_helper.StyleTransferLoss(net, content, style, settings)
    masked = MaskedStyleTransferLoss(net, content, style, StyleMasks((np.ones((8, 10)),)), settings)
    expected_terms, expected_gradient = plain.terms_and_gradient(image)
    actual_terms, actual_gradient = masked.terms_and_gradient(image)
    np.testing.assert_array_equal(actual_gradient, expected_gradient)
    for name, expected in expected_terms.items():
        # The graph optimiser may sum the three weighted terms in another order: one rounding.
        tolerance = np.spacing(np.float32(expected)) if name == "total" else 0
        assert abs(actual_terms[name] - expected) <= tolerance, name


@pytest.mark.parametrize("border", ["mirror", "zero"])
def test_guided_gram_and_masked_loss_match_the_numpy_reference(
    net, reference, small_photo, small_painting, small_files, rng, border
):
    from conftest import _read_rgb

    content = small_photo(32, 40)
    styles = [small_painting(36, 36), _read_rgb(small_files["other"], 28, 44)]
    T = [ramp(32, 40), 1.0 - 0.5 * ramp(32, 40)]  # overlapping and soft
    own = [None, ramp(28, 44)[:, ::-1]]  # the second painting's style from its left side
    shares = [0.7, 0.3]
    image = rng.uniform(0, 1, content.shape).astype(np.float32)
    settings = LossSettings(border=border, style_blend=tuple(shares))
    loss = MaskedStyleTransferLoss(net, content, styles, StyleMasks(tuple(T), tuple(own)), settings)
    actual = loss.terms(image)

    layers = ["conv4_2", *STYLE_LAYERS]
    F = reference.activations(image, layers, border=border)
    style_F = [reference.activations(s, STYLE_LAYERS, border=border) for s in styles]
    for name in STYLE_LAYERS:
        T_l = [reference.layer_mask(t, name, layers, border) for t in T]
        S_l = [
            None if m is None else reference.layer_mask(m, name, STYLE_LAYERS, border) for m in own
        ]
        expected = reference.guided_style_layer_loss(
            F[name], T_l, [S[name] for S in style_F], S_l, shares
        )
        np.testing.assert_allclose(actual[f"style_{name}"], expected, rtol=2e-4, err_msg=name)
    # The guided Gram matrix itself, on the engine's features and masks.
    features = net(image[None], ["conv2_1"], border=border)["conv2_1"]
    T_l = spatial_control.layer_masks(np.stack(T), ["conv2_1"], border)["conv2_1"]
    expected_gram = reference.guided_gram(features.numpy()[0], T_l.numpy()[1, ..., 0])
    actual_gram = spatial_control.guided_gram_matrix(features, T_l[1:2]).numpy()
    np.testing.assert_allclose(actual_gram, expected_gram, rtol=1e-4, atol=1e-2)


def test_losses_that_differ_only_in_their_masks_give_each_its_own_terms(
    net, reference, small_photo, small_painting, rng
):
    content, style = small_photo(32, 48), small_painting(40, 40)
    left = np.zeros((32, 48), np.float32)
    left[:, :24] = 1.0
    image = rng.uniform(0, 1, content.shape).astype(np.float32)
    layers = ["conv4_2", *STYLE_LAYERS]
    F = reference.activations(image, layers, border="mirror")
    S = reference.activations(style, STYLE_LAYERS, border="mirror")
    for mask in (left, left[:, ::-1]):  # the same size and weights: only the masks differ
        actual = MaskedStyleTransferLoss(net, content, style, StyleMasks((mask,))).terms(image)
        for name in STYLE_LAYERS:
            T = [reference.layer_mask(mask, name, layers)]
            expected = reference.guided_style_layer_loss(F[name], T, [S[name]], [None], [1.0])
            np.testing.assert_allclose(actual[f"style_{name}"], expected, rtol=2e-4)


def receptive_field(name: str) -> int:
    """Return the px of the picture one position of layer `name` sees (3x3 convolutions, 2x2
    poolings), counted from the layer table."""
    size, jump = 1, 1
    for layer in LAYER_ORDER[: LAYER_ORDER.index(name) + 1]:
        if layer.startswith("pool"):
            size, jump = size + jump, jump * 2
        else:
            size += 2 * jump
    return size


@pytest.mark.parametrize("edge", [16, 13])
def test_the_gradient_is_zero_beyond_the_style_reach_and_the_raw_style_gradient_beyond_the_receptive_field(
    net, small_photo, small_painting, rng, edge
):
    layers = ("conv1_1", "conv2_1", "conv3_1")
    content, style = small_photo(48, 64), small_painting(48, 48)
    mask = np.zeros((48, 64), np.float32)
    mask[:, :edge] = 1.0  # 16: on the grid of conv3_1's positions (4 px); 13: within one
    settings = LossSettings(alpha=0.0, gamma=0.0, style_layers=layers)
    loss = MaskedStyleTransferLoss(net, content, style, StyleMasks((mask,)), settings)
    image = rng.uniform(0, 1, content.shape).astype(np.float32)
    # The style's reach: the pixels under conv3_1's positions that the mask touches.
    reach = -(-edge // stride("conv3_1")) * stride("conv3_1")
    assert reach == 16
    np.testing.assert_array_equal(
        loss.reach[..., 0], np.broadcast_to(np.arange(64) < reach, (48, 64))
    )
    gradient = np.abs(loss.terms_and_gradient(image)[1]).max(axis=(0, 2))  # per column
    assert (gradient[:reach] > 0).all()
    np.testing.assert_array_equal(gradient[reach:], 0.0)
    # Unheld, the style gradient goes as far as the positions in the reach see: half their
    # receptive field beyond their own cell of stride px. (Beyond it, Winograd's convolutions
    # leave rounding: each output tile is computed from a whole input tile, whose pixels outside
    # an output pixel's window cancel only to within float32.)
    raw = tf_helper.StyleTransferLoss.terms_and_gradient(loss, image)[1]
    raw = np.abs(raw).max(axis=(0, 2))
    seen = (receptive_field("conv3_1") - stride("conv3_1")) // 2
    assert seen == 10
    assert (raw[: reach + seen] > 1e-6 * raw.max()).all()
    assert raw[reach + seen :].max() <= 1e-7 * raw.max()


def test_complementary_masks_with_one_painting_hold_each_region_to_it(
    net, reference, small_photo, small_painting, rng
):
    """Masks that split the picture split its Gram matrix (sec. 4.1: G = sum_r G_r), and with
    the regions weighed by their share of the picture the masked E_l is the unmasked E_l plus
    the spread of the regions' statistics around the whole's: each region must match the
    painting on its own, not only on average (zero spread: the unmasked loss)."""
    content, style = small_photo(32, 48), small_painting(40, 40)
    left = np.zeros((32, 48), np.float32)
    left[:, :16] = 1.0  # on the 16 px grid: 0 or 1 at every layer
    image = rng.uniform(0, 1, content.shape).astype(np.float32)
    masks = StyleMasks((left, 1.0 - left))
    loss = MaskedStyleTransferLoss(net, content, [style, style], masks, LossSettings())
    actual = loss.terms(image)
    F = reference.activations(image, ["conv4_2", *STYLE_LAYERS], border="mirror")
    S = reference.activations(style, STYLE_LAYERS, border="mirror")
    for name in STYLE_LAYERS:
        T = [reference.layer_mask(m, name, ["conv4_2", *STYLE_LAYERS]) for m in (left, 1 - left)]
        G = reference.gram(F[name])
        np.testing.assert_allclose(sum(reference.guided_gram(F[name], t) for t in T), G)
        M_l, N_l = T[0].size, CHANNELS[name]
        spread = sum(
            np.sum(t**2) / M_l * np.sum((reference.guided_gram(F[name], t) / np.sum(t**2)
                                         - G / M_l) ** 2)
            for t in T
        ) / (4.0 * N_l**2)  # fmt: skip
        unmasked = reference.style_layer_loss(F[name], S[name])
        np.testing.assert_allclose(actual[f"style_{name}"], unmasked + spread, rtol=2e-4)
        assert spread > 1e-3 * unmasked, name


def test_masks_go_through_coarse_to_fine_style_scale_and_colours(net, small_photo, small_painting):
    content, style = small_photo(48, 64), small_painting(40, 40)
    mask = np.zeros((12, 16), np.float32)
    mask[:, :4] = 1.0  # the photo's left quarter
    settings = StylizeSettings(
        iterations=3, style_scale=1.2, preserve_colors="histogram", init="noise"
    )
    result = stylize(
        content, style, settings, sizes=[32, 64], iterations=[2, 2], masks=StyleMasks((mask,)),
        net=net,
    )  # fmt: skip
    assert result.image.shape == content.shape and len(result.history) == 4
    # The noise starts only under the mask, and beyond the style's reach (conv5_1's 16 px
    # positions touching the mask's 16 columns, at the 64 px scale) the photo stays.
    np.testing.assert_array_equal(result.image[:, 32:], content[:, 32:])
    assert np.abs(result.image[:, :12] - content[:, :12]).mean() > 0.02


def test_masks_refuse_a_wrong_count_and_an_empty_mask(net, small_photo, small_painting):
    content, style = small_photo(48, 64), small_painting(40, 40)
    masks = StyleMasks((np.ones((48, 64)),))
    with pytest.raises(SettingsError, match="1 mask.* for 2 style image"):
        MaskedStyleTransferLoss(net, content, [style, style], masks)
    with pytest.raises(SettingsError, match="zero everywhere"):
        StyleMasks((np.zeros((4, 4)),))


def test_a_masked_loss_after_a_plain_one_of_the_same_painting_has_its_own_regions(
    net, small_photo, small_painting
):
    content, style = small_photo(32, 40), small_painting(36, 36)
    plain = tf_helper.StyleTransferLoss(net, content, style)  # its A is kept for the process
    left = np.zeros((32, 40), np.float32)
    left[:, :20] = 1.0
    masked = MaskedStyleTransferLoss(net, content, style, StyleMasks((left,)))
    for name in plain.style_layers:
        assert tuple(plain.A[name].shape) == (plain.N_l[name],) * 2
        assert tuple(masked.A[name].shape) == (1, *plain.A[name].shape)
        # A_r is the painting's Gram matrix rescaled to the region's M_r positions
        expected = plain.A[name].numpy() * masked.M_r[name][0] / plain.M_l[name]
        np.testing.assert_allclose(masked.A[name][0].numpy(), expected, rtol=1e-5)
