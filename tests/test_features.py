"""Going further: style blends, coarse-to-fine runs, colour preservation through stylize()."""

import numpy as np
import pytest

import color
import tf_helper


def test_blend_one_zero_equals_the_single_style_target_exactly(net, small_photo, small_painting):
    content, first, second = small_photo(32, 40), small_painting(40, 48), small_photo(36, 36)[::-1]
    single = tf_helper.StyleTransferLoss(net, content, first, jit_compile=False)
    blended = tf_helper.StyleTransferLoss(
        net, content, [first, second], style_blend=[1.0, 0.0], jit_compile=False
    )
    for name in tf_helper.DEFAULT_STYLE_LAYERS:
        np.testing.assert_array_equal(blended.A[name].numpy(), single.A[name].numpy())


def test_blend_target_is_the_weighted_mean_of_the_style_grams(net, small_photo, small_painting):
    content, first, second = (
        small_photo(32, 32),
        small_painting(32, 32),
        small_photo(32, 32)[:, ::-1],
    )
    blended = tf_helper.StyleTransferLoss(
        net, content, [first, second], style_blend=[3, 1], jit_compile=False
    )
    for name in ("conv1_1", "conv3_1"):
        grams = []
        for image in (first, second):
            F = (
                net(image[None], [name])[name]
                .numpy()
                .astype(np.float64)
                .reshape(-1, blended.N_l[name])
            )
            grams.append(F.T @ F)
        expected = 0.75 * grams[0] + 0.25 * grams[1]
        np.testing.assert_allclose(blended.A[name].numpy(), expected, rtol=1e-4, atol=1e-3)


def test_carry_to_finer_scale_adds_only_the_coarse_change():
    rng = np.random.default_rng(0)
    fine_content = rng.uniform(0.3, 0.7, (32, 48, 3)).astype(np.float32)
    coarse_content = rng.uniform(0.3, 0.7, (16, 24, 3)).astype(np.float32)
    unchanged = tf_helper.carry_to_finer_scale(coarse_content, coarse_content, fine_content)
    np.testing.assert_allclose(unchanged, fine_content, atol=1e-6)
    shifted = tf_helper.carry_to_finer_scale(coarse_content + 0.1, coarse_content, fine_content)
    np.testing.assert_allclose(shifted, fine_content + 0.1, atol=1e-5)


def test_coarse_to_fine_numbers_iterations_on_and_ends_at_full_size(
    net, small_photo, small_painting
):
    content, style = small_photo(48, 64), small_painting(40, 60)
    frames = []
    result = tf_helper.stylize(
        content, style, sizes=[32, 64], iterations=[3, 4], net=net, jit_compile=False,
        callback=lambda i, terms, image: frames.append((i, None if image is None else image.shape)),
        frame_every=1,
    )  # fmt: skip
    assert result.image.shape == content.shape
    assert [row["iteration"] for row in result.history] == list(range(1, len(result.history) + 1))
    assert [row["size"] for row in result.history][0] == 32
    assert [row["size"] for row in result.history][-1] == 64
    seconds = [row["seconds"] for row in result.history]
    assert seconds == sorted(seconds)
    assert all(shape == content.shape for _, shape in frames)


def test_luminance_mode_keeps_the_content_colours(net, small_photo, small_painting):
    content, style = small_photo(32, 32), small_painting(32, 32)
    result = tf_helper.stylize(
        content, style, iterations=5, preserve_colors="luminance", net=net, jit_compile=False
    )
    chroma_actual = color.rgb_to_yiq(result.image)[..., 1:]
    chroma_expected = color.rgb_to_yiq(content)[..., 1:]
    unclipped = (result.image > 0.01).all(-1) & (result.image < 0.99).all(-1)
    assert unclipped.mean() > 0.8
    np.testing.assert_allclose(chroma_actual[unclipped], chroma_expected[unclipped], atol=2e-3)


def test_unknown_colour_mode_and_bad_style_scale_are_refused(net, small_photo):
    image = small_photo(32, 32)
    with pytest.raises(tf_helper.SettingsError, match="unknown colour mode 'sepia'"):
        tf_helper.stylize(image, image, preserve_colors="sepia", net=net)
    with pytest.raises(tf_helper.SettingsError, match="style scale"):
        tf_helper.stylize(image, image, style_scale=0, net=net)
