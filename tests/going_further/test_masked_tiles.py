"""Spatial control in tiles: the guided Gram matrices summed over the tiles give the whole
picture's masked loss and gradient, within float32 rounding."""

import numpy as np
import pytest
from conftest import errors_against_float32

from going_further.masked_tiles import MaskedTiledLoss
from going_further.settings import StylizeSettings
from going_further.spatial_control import MaskedStyleTransferLoss, StyleMasks
from going_further.stylize import stylize
from optimisation.settings import Settings


def ramp(height: int, width: int) -> np.ndarray:
    """A soft mask: 0 at the left, 1 at the right."""
    return np.broadcast_to(np.linspace(0.0, 1.0, width, dtype=np.float32), (height, width))


@pytest.fixture(scope="module")
def scene(small_photo, small_painting):
    rng = np.random.default_rng(5)
    content = small_photo(133, 200)  # sides that are not multiples of 16: partly pooled edges
    image = np.clip(content + rng.normal(0, 0.1, content.shape), 0, 1).astype(np.float32)
    left = np.zeros((133, 200), np.float32)
    left[:, :70] = 1.0  # a hard edge inside a tile, and a region absent from some tiles
    painting = small_painting(120, 190)  # large enough to be gathered in tiles itself
    styles = [painting, painting[::-1, ::-1].copy()]
    # overlapping, soft, and the second painting's style from its own right half
    masks = StyleMasks((left, 0.8 * ramp(133, 200)), (None, ramp(120, 190)))
    return content, styles, masks, image


@pytest.mark.parametrize(
    ("core", "border", "tiles"), [(48, "mirror", 15), (96, "zero", 6), (256, "mirror", 1)]
)
def test_masked_tiled_loss_and_gradient_match_the_whole_picture(net, scene, core, border, tiles):
    content, styles, masks, image = scene
    settings = Settings(border=border, style_blend=(0.6, 0.4))
    whole = MaskedStyleTransferLoss(net, content, styles, masks, settings)
    expected_terms, expected_gradient = whole.terms_and_gradient(image)
    tiled = MaskedTiledLoss(net, content, styles, masks, settings, core=core)
    assert len(tiled.tiles) == tiles
    actual_terms, actual_gradient = tiled.terms_and_gradient(image)
    for name, expected in expected_terms.items():
        assert actual_terms[name] == pytest.approx(expected, rel=1e-5), name
    error = np.linalg.norm(actual_gradient - expected_gradient) / np.linalg.norm(expected_gradient)
    print(
        f"core {core} px, {len(tiled.tiles)} tiles, {border}: gradient relative error {error:.2e}"
    )
    assert error < 1e-5


def test_bfloat16_masked_evaluations_whole_and_in_tiles_stay_as_close_to_float32(net, scene):
    content, styles, masks, image = scene
    settings = Settings(style_blend=(0.6, 0.4))
    whole = MaskedStyleTransferLoss(net, content, styles, masks, settings, "bfloat16")
    tiled = MaskedTiledLoss(net, content, styles, masks, settings, "bfloat16", core=48)
    exact, [(whole_terms, whole_error), (tiled_terms, tiled_error)] = errors_against_float32(
        image, MaskedStyleTransferLoss(net, content, styles, masks, settings), whole, tiled
    )
    for name in ("total", "content", "style"):
        for terms in (whole_terms, tiled_terms):
            assert terms[name] == pytest.approx(exact[name], rel=1e-2), name
    # bfloat16 really ran in both (float32 agrees with itself to ~1e-6), no worse in tiles
    for terms in (whole_terms, tiled_terms):
        assert abs(terms["style"] / exact["style"] - 1) > 1e-4
    assert 1e-4 < whole_error < 5e-2
    assert 1e-4 < tiled_error < 2 * whole_error
    # terms() reports the float32 loss whatever precision the evaluations use
    for loss in (whole, tiled):
        assert loss.terms(image)["total"] == pytest.approx(exact["total"], rel=1e-5)


def test_tiled_masks_cover_each_layer_once(net, scene):
    content, styles, masks, _ = scene
    tiled = MaskedTiledLoss(net, content, styles, masks, Settings(), core=48)
    whole = MaskedStyleTransferLoss(net, content, styles, masks, Settings())
    for i, name in enumerate(tiled.style_layers):
        pieces = sum(float(np.square(guides[i]).sum()) for guides in tiled._guides)
        assert pieces == pytest.approx(sum(whole.M_r[name]), rel=1e-6), name
        np.testing.assert_allclose(tiled.M_r[name], whole.M_r[name], rtol=1e-6)


def test_stylize_tiles_a_masked_run_past_its_budget_with_the_whole_runs_result(
    net, small_photo, small_painting
):
    content, style = small_photo(48, 64), small_painting(48, 64)
    mask = np.zeros((48, 64), np.float32)
    mask[:, 24:] = 1.0
    masks = StyleMasks((mask,))
    # float32: bfloat16's rounding differs between a tile and the whole picture
    settings = StylizeSettings(iterations=3, seed=1, precision="float32")
    whole = stylize(content, style, settings, masks=masks, net=net)
    tiled = stylize(content, style, settings.replace(tile=32), masks=masks, net=net)
    assert tiled.terms["total"] == pytest.approx(whole.terms["total"], rel=1e-4)
    assert np.abs(tiled.image - whole.image).max() < 2e-3
