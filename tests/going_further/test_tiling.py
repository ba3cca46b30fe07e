"""Tiled evaluation gives the whole picture's loss and gradient, within float32 rounding."""

import numpy as np
import pytest
from conftest import errors_against_float32

import tf_helper
from going_further.settings import StylizeSettings
from going_further.tile_geometry import tiles
from going_further.tiling import TiledLoss
from loss_settings import STYLE_LAYERS
from optimisation import memory
from optimisation.settings import Settings
from tensorflow_vgg.layers import halo

LAYERS = ["conv4_2", *STYLE_LAYERS]


def test_halo_covers_the_zero_padding_of_the_deepest_layer():
    # conv5_1: 4 positions of 16 px spoiled by the padding of 13 convolutions and 4 poolings
    assert halo(LAYERS) == 64
    assert halo(["conv1_1"]) == 1 and halo(["conv1_2"]) == 2
    assert halo(["conv2_1"]) == 4  # conv1_1, conv1_2: 2 rows, pooled to 1, then conv2_1: 2


def test_tile_cores_cover_the_picture_once_and_start_on_the_pooling_grid():
    height, width = 133, 200
    covered = np.zeros((height, width), int)
    for tile in tiles(height, width, 70, LAYERS):
        top, bottom, left, right = tile.core
        covered[top:bottom, left:right] += 1
        assert top % 16 == 0 and left % 16 == 0
        assert tile.window[0] % 16 == 0 and tile.window[2] % 16 == 0
        assert tile.window == (
            max(0, top - 64),
            min(height, bottom + 64),
            max(0, left - 64),
            min(width, right + 64),
        )
    np.testing.assert_array_equal(covered, 1)


@pytest.fixture(scope="module")
def pair(small_photo, small_painting):
    rng = np.random.default_rng(3)
    content = small_photo(133, 200)  # sides that are not multiples of 16: partly pooled edges
    image = np.clip(content + rng.normal(0, 0.1, content.shape), 0, 1).astype(np.float32)
    return content, small_painting(120, 190), image


@pytest.mark.parametrize(("core", "exact"), [(48, True), (96, True), (256, True), (16, False)])
def test_tiled_loss_and_gradient_match_the_whole_picture(net, pair, core, exact):
    content, style, image = pair
    settings = Settings()
    expected_terms, expected_gradient = tf_helper.StyleTransferLoss(
        net, content, style, settings
    ).terms_and_gradient(image)
    tiled = TiledLoss(net, content, style, settings, core=core, exact=exact)
    # One tile: a single pass. Not exact: wide tiles whose windows hold at most (16 + 128)^2 px.
    assert len(tiled.tiles) == {48: 15, 96: 6, 256: 1, 16: 9}[core]
    actual_terms, actual_gradient = tiled.terms_and_gradient(image)
    for name, expected in expected_terms.items():
        assert actual_terms[name] == pytest.approx(expected, rel=1e-5), name
    error = np.linalg.norm(actual_gradient - expected_gradient) / np.linalg.norm(expected_gradient)
    print(f"core {core} px, {len(tiled.tiles)} tiles: gradient relative error {error:.2e}")
    assert error < 1e-5
    assert tiled.terms(image)["total"] == pytest.approx(expected_terms["total"], rel=1e-5)


def test_tiled_loss_with_a_content_boost_matches_the_whole_picture(net, pair):
    content, style, image = pair
    settings = Settings(beta=1.0)  # a style weight at which the content's gradient shows
    whole = tf_helper.StyleTransferLoss(net, content, style, settings)
    tiled = TiledLoss(net, content, style, settings, core=96)
    whole.content_boost = tiled.content_boost = 4.0
    expected_terms, expected_gradient = whole.terms_and_gradient(image)
    actual_terms, actual_gradient = tiled.terms_and_gradient(image)
    assert actual_terms["total"] == pytest.approx(expected_terms["total"], rel=1e-5)
    error = np.linalg.norm(actual_gradient - expected_gradient) / np.linalg.norm(expected_gradient)
    assert error < 1e-5
    tiled.content_boost = 1.0
    unboosted = tiled.terms_and_gradient(image)[1]
    assert np.linalg.norm(unboosted - actual_gradient) > 0.1 * np.linalg.norm(actual_gradient)


def test_a_bfloat16_tiled_evaluation_is_as_close_to_float32_as_the_whole_pictures(net, pair):
    content, style, image = pair
    settings = Settings()
    whole = tf_helper.StyleTransferLoss(net, content, style, settings, "bfloat16")
    tiled = TiledLoss(net, content, style, settings, "bfloat16", core=48)
    assert len(tiled.tiles) == 15
    exact, [(whole_terms, whole_error), (tiled_terms, tiled_error)] = errors_against_float32(
        image, tf_helper.StyleTransferLoss(net, content, style, settings), whole, tiled
    )
    for name in ("total", "content", "style"):
        assert tiled_terms[name] == pytest.approx(exact[name], rel=1e-2), name
        assert tiled_terms[name] == pytest.approx(whole_terms[name], rel=1e-2), name
    # Every tile's Gram matrices were formed in bfloat16, as the whole picture's are: both
    # style terms are that far from float32's, and the gradients as far from its gradient.
    for terms in (whole_terms, tiled_terms):
        assert abs(terms["style"] / exact["style"] - 1) > 1e-4
    assert 1e-4 < tiled_error < 2 * whole_error < 1e-1
    # terms() reports the float32 loss whatever precision the evaluations use
    assert tiled.terms(image)["total"] == pytest.approx(exact["total"], rel=1e-5)


def test_a_blend_of_large_paintings_gives_the_whole_pictures_targets(net, pair, small_painting):
    content, style, image = pair
    settings = Settings(style_blend=(0.3, 0.7))
    other = small_painting(210, 300)[::-1].copy()  # larger than the content: tiled too
    expected = tf_helper.StyleTransferLoss(net, content, [style, other], settings).terms(image)
    actual = TiledLoss(net, content, [style, other], settings, core=64).terms(image)
    assert actual["style"] == pytest.approx(expected["style"], rel=1e-5)


def test_stylize_evaluates_in_tiles_past_the_memory_budget_with_the_same_result(
    net, small_photo, small_painting, monkeypatch
):
    from going_further import coarse_to_fine
    from going_further.stylize import stylize

    built = []

    def counted(*arguments, **options):
        built.append(options["core"])
        return TiledLoss(*arguments, **options)

    monkeypatch.setattr(coarse_to_fine, "TiledLoss", counted)
    content, style = small_photo(48, 64), small_painting(48, 64)
    # float32: bfloat16's rounding differs between a tile and the whole picture
    settings = StylizeSettings(iterations=3, seed=1, precision="float32")
    whole = stylize(content, style, settings, net=net)
    assert built == []
    # 0.5 GiB is below any run's estimate: the notebook's API tiles as the command line does.
    small_budget = settings.replace(memory_budget=0.5)
    tiled = stylize(content, style, small_budget, net=net)
    forced = stylize(content, style, settings.replace(tile=32), net=net)
    assert built == [memory.tile_core(), 32]
    for result in (tiled, forced):
        assert result.terms["total"] == pytest.approx(whole.terms["total"], rel=1e-4)
        assert np.abs(result.image - whole.image).max() < 2e-3


def test_pooling_layers_as_style_layers_are_cropped_at_their_own_stride(net, pair):
    content, style, image = pair
    settings = Settings(style_layers=("conv1_1", "pool1", "pool2", "pool4"))
    expected_terms, expected_gradient = tf_helper.StyleTransferLoss(
        net, content, style, settings
    ).terms_and_gradient(image)
    tiled = TiledLoss(net, content, style, settings, core=48)
    actual_terms, actual_gradient = tiled.terms_and_gradient(image)
    for name in ("style", "style_pool1", "style_pool2", "style_pool4"):
        assert actual_terms[name] == pytest.approx(expected_terms[name], rel=1e-5), name
    error = np.linalg.norm(actual_gradient - expected_gradient) / np.linalg.norm(expected_gradient)
    assert error < 1e-5


def test_adam_runs_on_the_tiled_loss_as_on_the_whole_picture(net, small_photo, small_painting):
    import tf_run

    content, style = small_photo(48, 64), small_painting(48, 64)
    settings = Settings(iterations=4, optimizer="adam", learning_rate=0.05, precision="float32")
    whole = tf_run.run_style_transfer(content, style, settings, net=net)
    tiled_loss = TiledLoss(net, content, style, settings, core=32, exact=True)
    assert len(tiled_loss.tiles) > 1
    tiled = tf_run.run_style_transfer(content, style, settings, net=net, loss=tiled_loss)
    actual = [row["total"] for row in tiled.history]
    expected = [row["total"] for row in whole.history]
    np.testing.assert_allclose(actual, expected, rtol=1e-4)
    assert np.abs(tiled.image - whole.image).max() < 1e-3
