"""The tutorial package: GIF frame spacing, pictures fitted in squares, the style loss shared
out over its layers, live runs, partial pictures kept apart, evaluations counted, code shown."""

import numpy as np
import pytest

from optimisation.settings import Settings
from tutorial import listing, pictures, progress


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


def test_style_layer_shares_are_beta_times_w_l_times_E_l(net, small_photo, small_painting):
    import tf_helper

    settings = Settings(beta=200.0, style_layers=["conv1_1", "conv3_1"], layer_weights=[0.25, 3])
    content, style = small_photo(32, 32), small_painting(32, 32)
    terms = tf_helper.StyleTransferLoss(net, content, style, settings).terms(content)
    actual = pictures.style_layer_shares(terms, settings)
    expected = {"conv1_1": 200 * 0.25 * terms["style_conv1_1"]}
    expected["conv3_1"] = 200 * 3 * terms["style_conv3_1"]
    assert list(actual) == ["conv1_1", "conv3_1"] and min(actual.values()) > 0
    assert actual == {name: pytest.approx(value, rel=1e-6) for name, value in expected.items()}


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


def test_stylize_files_keeps_the_photos_colours_when_asked(
    net, tmp_path, small_photo, small_painting
):
    from PIL import Image

    from going_further import color
    from going_further.settings import StylizeSettings
    from tutorial import files

    for name, image in (("photo", small_photo(32, 32)), ("painting", small_painting(32, 32))):
        Image.fromarray((image * 255).astype(np.uint8)).save(tmp_path / f"{name}.png")
    change = {}
    for mode in (None, "luminance"):
        settings = StylizeSettings(iterations=3, precision="float32", preserve_colors=mode)
        paths = tmp_path / "photo.png", tmp_path / "painting.png"
        run = files.stylize_files(*paths, settings, size=32, net=net)
        photo_IQ = color.rgb_to_yiq(run.content)[..., 1:]
        change[mode] = np.abs(color.rgb_to_yiq(run.result.image)[..., 1:] - photo_IQ).mean()
    print(change)
    assert change["luminance"] < 0.005 and change[None] > 5 * change["luminance"]


def test_stylize_files_gives_back_the_photos_transparency(net, tmp_path, small_photo):
    from PIL import Image

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


def _terms(total: float) -> dict[str, float]:
    return {
        "total": total,
        "weighted_content": total / 2,
        "weighted_style": total / 2,
        "weighted_tv": 0.0,
    }


def _fake_run(iterations_run: int, stop: bool = False):
    """A run in the shape of tf_run.run_style_transfer that calls back with a grey picture."""
    import tf_run

    def run(content, style, settings, callback, frame_every):
        for iteration in range(1, iterations_run + 1):
            image = np.full((64, 64, 3), iteration / 100, np.float32)
            callback(iteration, _terms(10.0 / iteration), image if frame_every else None)
        result = tf_run.RunResult(image=image, terms=_terms(1.0), history=[{}] * iterations_run)
        if stop:
            raise tf_run.Interrupted(result)
        return result

    return run


def test_live_run_takes_its_count_from_the_settings_and_keeps_gif_frames(tmp_path):
    settings = Settings(iterations=20)
    result = progress.live_run(None, None, settings, frames=5, run=_fake_run(20))
    actual = [int(round(frame[-1, -1, 0] * 100)) for frame in result.frames]  # the grey level
    assert actual == progress.frame_iterations(20, 5)
    assert len(result.frames) == 5


def test_a_stopped_run_never_overwrites_the_finished_picture(tmp_path, capsys):
    import helper
    import tf_run

    finished = tmp_path / "result.png"
    helper.save_image(np.ones((8, 8, 3), np.float32), finished)
    before = finished.read_bytes()
    with pytest.raises(tf_run.Interrupted):
        progress.live_run(
            None, None, Settings(iterations=50), save_to=finished, run=_fake_run(3, stop=True)
        )
    assert finished.read_bytes() == before
    partial = tmp_path / "result_partial.png"
    assert partial.is_file()
    assert f"saved to {partial}" in capsys.readouterr().out


def test_counting_loss_records_every_evaluation_of_an_l_bfgs_run(net, small_photo, small_painting):
    import tf_helper
    import tf_run

    settings = Settings(iterations=3, init="content", precision="float32")
    content, style = small_photo(32, 32), small_painting(32, 32)
    counted = pictures.CountingLoss(tf_helper.StyleTransferLoss(net, content, style, settings))
    result = tf_run.run_style_transfer(content, style, settings, net=net, loss=counted)
    assert len(counted.totals) >= len(result.history) == 3
    expected = tf_helper.StyleTransferLoss(net, content, style, settings).terms(content)["total"]
    assert counted.totals[0] == pytest.approx(expected, rel=1e-5)  # the start, evaluated first
    assert min(counted.totals) == pytest.approx(result.terms["total"], rel=1e-5)


def test_listing_shows_the_modules_own_code(monkeypatch):
    import inspect

    import IPython.display

    import tf_helper

    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    listing.show(tf_helper.gram_matrix, tf_helper.content_loss)
    (code,) = shown
    assert isinstance(code, IPython.display.Code)
    assert inspect.getsource(tf_helper.gram_matrix).strip() in code.data
    assert "def content_loss(" in code.data
    assert "<span" in code._repr_html_()  # highlighted


def test_cell_times_list_the_slow_cells_and_the_total(monkeypatch):
    from types import SimpleNamespace

    from tutorial import timing

    clock = iter([100.0, 102.5, 200.0, 200.25])
    monkeypatch.setattr(timing.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(timing, "_cells", [])
    for source in ["\nslow = run()  # a run\n", "fast = 1"]:
        timing._before()
        timing._after(SimpleNamespace(info=SimpleNamespace(raw_cell=source)))
    actual = timing.table().splitlines()
    assert actual == [
        "   2.5 s  slow = run()  # a run",
        "   2.8 s  in all, 2 cells; the longest took 2.5 s",
    ]
