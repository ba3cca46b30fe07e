"""Coarse to fine: each scale starts from the one before, iterations number on, frames full-size."""

import numpy as np

from going_further.coarse_to_fine import carry_to_finer_scale
from going_further.stylize import stylize


def test_carry_to_finer_scale_adds_only_the_coarse_change():
    rng = np.random.default_rng(0)
    fine_content = rng.uniform(0.3, 0.7, (32, 48, 3)).astype(np.float32)
    coarse_content = rng.uniform(0.3, 0.7, (16, 24, 3)).astype(np.float32)
    unchanged = carry_to_finer_scale(coarse_content, coarse_content, fine_content)
    np.testing.assert_allclose(unchanged, fine_content, atol=1e-6)
    shifted = carry_to_finer_scale(coarse_content + 0.1, coarse_content, fine_content)
    np.testing.assert_allclose(shifted, fine_content + 0.1, atol=1e-5)


def test_coarse_to_fine_numbers_iterations_on_and_ends_at_full_size(
    net, small_photo, small_painting
):
    content, style = small_photo(48, 64), small_painting(40, 60)
    frames = []
    result = stylize(
        content, style, sizes=[32, 64], iterations=[3, 4], net=net,
        callback=lambda i, terms, image: frames.append((i, None if image is None else image.shape)),
        frame_every=1,
    )  # fmt: skip
    assert result.image.shape == content.shape
    assert [row["iteration"] for row in result.history] == list(range(1, len(result.history) + 1))
    assert [row["size"] for row in result.history][0] == 32
    assert [row["size"] for row in result.history][-1] == 64
    seconds = [row["seconds"] for row in result.history]
    assert seconds == sorted(seconds)
    sizes = [shape[:2] for _, shape in frames]
    assert sizes[0] == (24, 32) and sizes[-1] == content.shape[:2]  # each scale's own size


def test_ctrl_c_at_a_coarse_scale_hands_back_a_full_size_picture(net, small_photo, small_painting):
    import pytest

    import tf_run

    content, style = small_photo(48, 64), small_painting(40, 60)

    def stop_at_the_second(iteration, terms, image):
        if iteration == 2:
            raise KeyboardInterrupt

    with pytest.raises(tf_run.Interrupted) as stopped:
        stylize(
            content, style, sizes=[32, 64], iterations=[3, 4], net=net, callback=stop_at_the_second
        )
    result = stopped.value.result
    assert result.image.shape == content.shape  # the coarse picture's change, carried up
    assert [row["size"] for row in result.history] == [32, 32]


def test_a_scale_that_stops_early_leaves_the_next_scales_numbers_as_planned(
    net, small_photo, small_painting, monkeypatch
):
    import tf_run
    from going_further import coarse_to_fine

    run = tf_run.run_style_transfer
    calls = []

    def first_scale_stops_after_two(content, styles, settings, **options):
        calls.append(settings.iterations)
        if len(calls) == 1:  # as if L-BFGS had converged after 2 of its 5 iterations
            settings = settings.replace(iterations=2)
        return run(content, styles, settings, **options)

    monkeypatch.setattr(coarse_to_fine.tf_run, "run_style_transfer", first_scale_stops_after_two)
    seen = []
    result = stylize(
        small_photo(32, 48), small_painting(32, 48), sizes=[24, 48], iterations=[5, 3], net=net,
        callback=lambda i, terms, image: seen.append(i),
    )  # fmt: skip
    assert calls == [5, 3]
    assert [(row["iteration"], row["size"]) for row in result.history] == [
        (1, 24), (2, 24), (6, 48), (7, 48), (8, 48),
    ]  # fmt: skip
    assert seen == [1, 2, 6, 7, 8]
