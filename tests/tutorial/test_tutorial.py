"""The tutorial package's pure functions: GIF frame spacing, pictures fitted in squares, the
style loss shared out over its layers."""

import numpy as np
import pytest

from optimisation.settings import Settings
from tutorial import pictures, progress


def test_gif_frames_are_dense_early_and_end_at_the_last_iteration():
    actual = progress.frame_iterations(100, 5)
    expected = [1, 3, 10, 32, 100]  # 100 ** (k / 4) for k = 0..4, rounded
    assert actual == expected


def test_fit_in_square_centres_the_picture_on_white():
    black = np.zeros((10, 20, 3), np.float32)
    actual = pictures.fit_in_square(black, 20)
    assert actual.shape == (20, 20, 3)
    assert actual[5:15].max() == 0.0  # the picture, scaled to 20 x 10, in the middle
    assert actual[:5].min() == 1.0 and actual[15:].min() == 1.0  # white above and below


def test_style_layer_shares_are_beta_times_w_l_times_E_l():
    settings = Settings(beta=200.0, style_layers=["conv1_1", "conv3_1"], layer_weights=[0.25, 3])
    terms = {"style_conv1_1": 2.0, "style_conv3_1": 0.5, "style": 1.0}
    actual = pictures.style_layer_shares(terms, settings)
    assert actual == {"conv1_1": pytest.approx(200 * 0.25 * 2.0), "conv3_1": pytest.approx(300.0)}


def test_load_pair_names_a_picture_it_enlarges_more_than_twice(tmp_path, capsys):
    from PIL import Image

    from tutorial import files

    Image.new("RGB", (24, 18), (200, 100, 50)).save(tmp_path / "photo.png")
    Image.new("RGB", (64, 48), (0, 90, 200)).save(tmp_path / "painting.png")
    content, style = files.load_pair(tmp_path / "photo.png", tmp_path / "painting.png", 72)
    assert content.shape == (54, 72, 3)
    printed = capsys.readouterr().out
    assert "note: (the photo enlarged 3.0x from 24x18 px: expect it blurred)" in printed
    assert "painting" not in printed  # 64x48 px shown at 72x54: under twice


def test_stylize_files_gives_back_the_photos_transparency(net, tmp_path, small_photo):
    from PIL import Image

    from optimisation.settings import Settings
    from tutorial import files

    rgba = np.concatenate([small_photo(32, 32), np.ones((32, 32, 1), np.float32)], axis=-1)
    rgba[:, :10, 3] = 0.0
    Image.fromarray((rgba * 255).astype(np.uint8)).save(tmp_path / "photo.png")
    Image.fromarray((rgba[..., :3] * 255).astype(np.uint8)).save(tmp_path / "painting.png")
    settings = Settings(iterations=1, precision="float32")
    run = files.stylize_files(
        tmp_path / "photo.png",
        tmp_path / "painting.png",
        settings,
        size=32,
        output_path=tmp_path / "out.png",
        net=net,
    )
    with Image.open(run.saved_to) as saved:
        assert saved.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(saved.getchannel("A"))[:, :10], 0)
        np.testing.assert_array_equal(np.asarray(saved.getchannel("A"))[:, 10:], 255)
