"""helper.py's image loading, resizing, saving and labels, against images built and read back with
Pillow."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import helper
import machine
import sheets

ORIENTATION = 0x0112  # the EXIF tag


def as_float(pixels: np.ndarray) -> np.ndarray:
    return pixels.astype(np.float64) / 255.0


def reload(path) -> np.ndarray:
    """Read a saved file back with Pillow alone, as float RGB in [0, 1]."""
    with Image.open(path) as image:
        return as_float(np.asarray(image.convert("RGB")))


# --- Every mode Pillow reads --------------------------------------------------------------


def test_rgb_loads_exactly(write_image, rng):
    pixels = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    actual = helper.load_image(write_image(pixels, "rgb.png"))
    assert actual.dtype == np.float32 and actual.shape == (5, 7, 3)
    np.testing.assert_allclose(actual, as_float(pixels), atol=1e-7)


def test_greyscale_becomes_three_equal_channels(write_image, rng):
    grey = rng.integers(0, 256, (6, 4), dtype=np.uint8)
    actual = helper.load_image(write_image(grey, "grey.png"))
    assert actual.shape == (6, 4, 3)
    np.testing.assert_allclose(actual, as_float(np.stack([grey] * 3, axis=-1)), atol=1e-7)


def test_bilevel_image_loads_as_black_and_white(write_image):
    image = Image.new("1", (4, 2), 0)
    image.putpixel((1, 0), 1)
    actual = helper.load_image(write_image(image, "bilevel.png"))
    expected = np.zeros((2, 4, 3))
    expected[0, 1] = 1.0
    np.testing.assert_array_equal(actual, expected)


def test_greyscale_with_alpha_is_composited_on_white(write_image):
    grey = Image.fromarray(np.array([[10, 10, 200]], np.uint8))
    alpha = Image.fromarray(np.array([[0, 255, 128]], np.uint8))
    actual = helper.load_image(write_image(Image.merge("LA", (grey, alpha)), "la.png"))
    a = 128 / 255
    expected = np.array([1.0, 10 / 255, (200 * a + 255 * (1 - a)) / 255])
    np.testing.assert_allclose(actual[0], np.stack([expected] * 3, axis=-1), atol=1.5 / 255)


def test_rgba_fully_transparent_pixel_becomes_white(write_image):
    pixels = np.array(
        [[[0, 0, 0, 0], [255, 0, 0, 0], [20, 40, 60, 255], [0, 0, 255, 64]]], np.uint8
    )
    actual = helper.load_image(write_image(pixels, "rgba.png"))
    a = 64 / 255
    expected = [[1, 1, 1], [1, 1, 1], [20 / 255, 40 / 255, 60 / 255], [1 - a, 1 - a, 1.0]]
    np.testing.assert_allclose(actual[0], expected, atol=1.5 / 255)


def palette_image() -> Image.Image:
    image = Image.new("P", (3, 2))
    colours = [(255, 0, 0), (0, 128, 0), (10, 20, 30)]
    image.putpalette([value for colour in colours for value in colour])
    image.putdata([0, 1, 2, 2, 1, 0])
    return image


def test_palette_image_loads_its_colours(write_image):
    actual = helper.load_image(write_image(palette_image(), "palette.png"))
    red, green, dark = [255, 0, 0], [0, 128, 0], [10, 20, 30]
    expected = as_float(np.array([[red, green, dark], [dark, green, red]]))
    np.testing.assert_allclose(actual, expected, atol=1e-7)


@pytest.mark.parametrize("suffix", [".png", ".gif"])
def test_palette_transparency_becomes_white(write_image, suffix):
    path = write_image(palette_image(), "palette_transparent" + suffix, transparency=1)
    actual = helper.load_image(path)
    np.testing.assert_allclose(actual[0, 1], [1, 1, 1], atol=1e-7)  # index 1 is transparent
    np.testing.assert_allclose(actual[1, 1], [1, 1, 1], atol=1e-7)
    np.testing.assert_allclose(actual[0, 0], [1, 0, 0], atol=1e-7)
    np.testing.assert_allclose(actual[0, 2], as_float(np.array([10, 20, 30])), atol=1e-7)


@pytest.mark.parametrize("suffix", [".tif", ".jpg"])
def test_cmyk_is_converted_to_rgb(write_image, suffix):
    image = Image.new("CMYK", (32, 8))
    for x, cmyk in enumerate([(255, 0, 0, 0), (0, 255, 0, 0), (0, 0, 0, 255), (0, 0, 0, 0)]):
        for y in range(8):
            for dx in range(8):
                image.putpixel((8 * x + dx, y), cmyk)
    actual = helper.load_image(write_image(image, "cmyk" + suffix, quality=100))
    # cyan, magenta, black, white: the centre of each 8x8 block
    expected = [[0, 1, 1], [1, 0, 1], [0, 0, 0], [1, 1, 1]]
    np.testing.assert_allclose(actual[4, 4::8], expected, atol=0.03)


def test_16_bit_greyscale_keeps_its_precision(write_image):
    values = np.array([[0, 200, 255], [32768, 32769, 65535]], np.uint16)
    path = write_image(values, "grey16.png")
    with Image.open(path) as image:
        assert image.mode == "I;16"  # the test really feeds a 16-bit file
    actual = helper.load_image(path)
    np.testing.assert_allclose(actual[..., 0], values / 65535.0, atol=1e-6)
    assert actual[1, 1, 0] > actual[1, 0, 0]  # 32769 > 32768: more than 8 bits survive
    np.testing.assert_array_equal(actual[..., 0], actual[..., 2])


def test_dark_16_bit_greyscale_is_not_mistaken_for_8_bit(write_image):
    values = np.full((2, 3), 200, np.uint16)  # every value below 256
    actual = helper.load_image(write_image(values, "dark16.png"))
    np.testing.assert_allclose(actual, 200 / 65535.0, atol=1e-6)


def marked_landscape() -> np.ndarray:
    """A 20x40 picture with a red top-left and a blue bottom-right corner."""
    pixels = np.full((20, 40, 3), 128, np.uint8)
    pixels[:8, :8] = [255, 0, 0]
    pixels[-8:, -8:] = [0, 0, 255]
    return pixels


@pytest.mark.parametrize(
    ("orientation", "turns", "red_corner"),
    [(6, -1, (0, -1)), (8, 1, (-1, 0)), (3, 2, (-1, -1))],
    ids=["rotate-90-cw", "rotate-90-ccw", "rotate-180"],
)
@pytest.mark.parametrize("max_side", [None, 20])
def test_exif_orientation_is_applied(write_image, orientation, turns, red_corner, max_side):
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    pixels = marked_landscape()
    path = write_image(pixels, f"exif{orientation}.jpg", exif=exif, quality=95)
    actual = helper.load_image(path, max_side=max_side)
    expected = as_float(np.rot90(pixels, turns))  # np.rot90 turns counter-clockwise
    if max_side is None:
        assert actual.shape == expected.shape
        assert np.abs(actual - expected).mean() < 0.02
    else:
        assert actual.shape == (20, 10, 3) if turns % 2 else (10, 20, 3)
    y, x = red_corner
    np.testing.assert_allclose(actual[y, x], [1, 0, 0], atol=0.1)
    np.testing.assert_allclose(actual[-1 - y, -1 - x], [0, 0, 1], atol=0.1)


# --- Sizes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "longest", "expected"),
    [
        ((30, 60), 20, (10, 20)),
        ((61, 33), 30, (30, 16)),
        ((33, 61), 30, (16, 30)),
        ((50, 50), 64, (64, 64)),
    ],
)
def test_resize_to_longest_side_keeps_the_aspect_ratio(rng, shape, longest, expected):
    image = rng.uniform(size=(*shape, 3)).astype(np.float32)
    actual = helper.resize_to_longest_side(image, longest)
    assert actual.shape == (*expected, 3) and actual.dtype == np.float32
    assert 0.0 <= actual.min() and actual.max() <= 1.0


def test_resize_matches_pillow_on_a_smooth_image():
    ramp = np.linspace(0, 255, 90)
    pixels = np.stack(np.broadcast_arrays(ramp[None, :], ramp[::-1, None] / 2, 77.0), -1)
    pixels = np.round(pixels).astype(np.uint8)  # (90, 90, 3) gradients
    actual = helper.resize(as_float(pixels).astype(np.float32), 30, 45)
    expected = as_float(np.asarray(Image.fromarray(pixels).resize((45, 30), Image.BICUBIC)))
    assert actual.shape == (30, 45, 3)
    assert np.abs(actual - expected).max() < 0.02


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_load_image_with_max_side_shrinks_keeping_the_aspect_ratio(write_image, rng, suffix):
    ramp = np.linspace(0, 255, 300).astype(np.uint8)
    pixels = np.stack(np.broadcast_arrays(ramp[None, :], 128, ramp[:120, None]), -1).astype(
        np.uint8
    )
    path = write_image(np.ascontiguousarray(pixels), "large" + suffix, quality=95)
    actual = helper.load_image(path, max_side=50)
    assert actual.shape == (20, 50, 3)
    expected = as_float(np.asarray(Image.fromarray(pixels).resize((50, 20), Image.BICUBIC)))
    assert np.abs(actual - expected).mean() < 0.02
    assert helper.load_image(path, max_side=1000).shape == (120, 300, 3)  # never enlarged


# --- Saving ---------------------------------------------------------------------------------


def test_save_image_never_stretches_the_range(tmp_path, rng):
    image = rng.uniform(0.2, 0.4, size=(16, 24, 3)).astype(np.float32)
    path = helper.save_image(image, tmp_path / "dim.png")
    actual = reload(path)
    np.testing.assert_allclose(actual, image, atol=0.5 / 255 + 1e-6)
    assert actual.min() >= 0.2 - 0.5 / 255 and actual.max() <= 0.4 + 0.5 / 255


def test_save_jpeg_never_stretches_the_range(tmp_path):
    ramp = np.linspace(0.2, 0.4, 32, dtype=np.float32)
    image = np.stack(np.broadcast_arrays(ramp[None, :], ramp[:, None], 0.3), -1).astype(np.float32)
    actual = reload(helper.save_image(image, tmp_path / "dim.jpg"))
    assert actual.shape == (32, 32, 3)
    assert np.abs(actual - image).max() < 0.03
    assert actual.min() > 0.17 and actual.max() < 0.43


def test_save_image_clips_out_of_range_values(tmp_path):
    image = np.array([[[-0.5, 0.0, 0.25], [1.0, 1.5, 7.0]]], np.float32)
    actual = np.asarray(Image.open(helper.save_image(image, tmp_path / "clipped.png")))
    np.testing.assert_array_equal(actual, [[[0, 0, 64], [255, 255, 255]]])


def test_save_image_leaves_only_the_file(tmp_path, rng):
    helper.save_image(rng.uniform(size=(8, 8, 3)), tmp_path / "out" / "picture.webp")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["picture.webp"]


def test_save_image_refuses_an_unknown_suffix(tmp_path):
    with pytest.raises(helper.ImageError, match="picture.txt"):
        helper.save_image(np.zeros((4, 4, 3)), tmp_path / "picture.txt")
    assert not list(tmp_path.iterdir())


def test_save_animation_writes_every_frame_of_a_gif(tmp_path):
    frames = [np.full((12, 16, 3), level, np.float32) for level in (0.0, 0.25, 0.5, 0.75, 1.0)]
    frames[2][:, :8] = [1.0, 0.0, 0.0]
    path = sheets.save_animation(frames, tmp_path / "run.gif")
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.is_animated
        assert gif.n_frames == 5
        assert gif.size == (16, 12)
        gif.seek(2)
        np.testing.assert_allclose(as_float(np.asarray(gif.convert("RGB")))[0, 0], [1, 0, 0])
    assert [p.name for p in tmp_path.iterdir()] == ["run.gif"]
    with Image.open(path) as gif:
        durations = []
        for index in range(gif.n_frames):
            gif.seek(index)
            durations.append(gif.info["duration"])
    assert durations == [120] * 4 + [1500]  # the last frame lingers


def test_save_animation_writes_an_mp4_that_plays_back_the_frames(tmp_path):
    import imageio.v2 as imageio

    frames = [np.full((13, 16, 3), level, np.float32) for level in (0.0, 0.5, 1.0)]
    path = sheets.save_animation(frames, tmp_path / "run.mp4", frame_ms=100, final_ms=300)
    read = imageio.mimread(path, format="FFMPEG")
    assert len(read) == 3 + 2  # the last frame repeated to last 300 ms at 10 frames a second
    assert read[0].shape == (14, 16, 3)  # even sides, as H.264's colour format needs
    np.testing.assert_allclose([r.mean() / 255 for r in read], [0, 0.5, 1, 1, 1], atol=0.03)


# --- Files that are not images --------------------------------------------------------------


def noise_bytes(suffix: str) -> bytes:
    pixels = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    from io import BytesIO

    buffer = BytesIO()
    image.save(buffer, format="JPEG" if suffix == ".jpg" else "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
@pytest.mark.parametrize("keep", [0.5, 0.9, 40], ids=["half", "most", "header"])
@pytest.mark.parametrize("max_side", [None, 32])
def test_truncated_image_raises_clear_error(tmp_path, suffix, keep, max_side):
    data = noise_bytes(suffix)
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(data[: int(len(data) * keep) if keep < 1 else keep])
    with pytest.raises(helper.ImageError) as info:
        helper.load_image(path, max_side=max_side)
    assert str(path) in str(info.value)


def test_zero_byte_file_raises_clear_error(tmp_path):
    path = tmp_path / "empty.jpg"
    path.touch()
    with pytest.raises(helper.ImageError, match="empty"):
        helper.load_image(path)


def test_text_file_raises_clear_error(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("not a picture\n")
    with pytest.raises(helper.ImageError) as info:
        helper.load_image(path)
    assert str(path) in str(info.value)


def test_directory_raises_clear_error(tmp_path):
    with pytest.raises(helper.ImageError, match="directory") as info:
        helper.load_image(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_missing_file_raises_clear_error(tmp_path):
    path = tmp_path / "missing.png"
    with pytest.raises(helper.ImageError, match="does not exist") as info:
        helper.load_image(path)
    assert str(path) in str(info.value)


def test_python_api_raises_image_error(tmp_path):
    with pytest.raises(helper.ImageError, match="does not exist"):
        helper.load_image(tmp_path / "nowhere.png")


# --- Labels ---------------------------------------------------------------------------------


def test_wrap_text_breaks_at_spaces_into_lines_that_fit():
    text = "style-weight 100, content-layer conv4_2"
    lines = sheets.wrap_text(text, lambda line: len(line) <= 14)
    assert lines == ["style-weight", "100,", "content-layer", "conv4_2"]
    assert sheets.wrap_text("short", lambda line: len(line) <= 14) == ["short"]


# --- Files ----------------------------------------------------------------------------------


def test_file_digest_is_the_sha256_of_the_whole_file(tmp_path):
    import hashlib

    path = tmp_path / "data.bin"
    data = np.random.default_rng(0).integers(0, 256, 3 * 2**20 + 5, dtype=np.uint8).tobytes()
    path.write_bytes(data)  # more than one 1 MiB block
    assert machine.file_digest(path) == hashlib.sha256(data).hexdigest()


# --- What a picture has besides its colours --------------------------------------------------


def test_alpha_of_an_opaque_picture_is_none(write_image):
    path = write_image(Image.new("RGBA", (40, 30), (10, 20, 30, 255)), "opaque.png")
    assert helper.load_alpha(path, 30, 40) is None
    assert helper.load_alpha(write_image(Image.new("RGB", (40, 30)), "rgb.jpg"), 30, 40) is None


def test_alpha_is_resized_by_area_without_ringing(write_image):
    rgba = np.zeros((30, 40, 4), np.uint8)
    rgba[:, 20:, 3] = 255  # the right half opaque
    path = write_image(rgba, "half.png")
    actual = helper.load_alpha(path, 15, 20)
    expected = rgba[..., 3].reshape(15, 2, 20, 2).mean(axis=(1, 3)) / 255.0  # 2x2 averages
    np.testing.assert_allclose(actual, expected, atol=1e-6)


def test_saving_with_alpha_keeps_it_only_where_the_format_can(tmp_path):
    image = np.full((8, 10, 3), 0.5, np.float32)
    alpha = np.linspace(0, 1, 80, dtype=np.float32).reshape(8, 10)
    with Image.open(helper.save_image(image, tmp_path / "a.png", alpha=alpha)) as saved:
        assert saved.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(saved.getchannel("A")), helper.to_uint8(alpha))
    with Image.open(helper.save_image(image, tmp_path / "a.jpg", alpha=alpha)) as saved:
        assert saved.mode == "RGB"


def test_tilde_paths_are_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    picture = np.zeros((16, 16, 3), np.float32)
    saved = helper.save_image(picture, "~/out/picture.png")
    assert saved == tmp_path / "out" / "picture.png" and saved.is_file()
    assert helper.load_image("~/out/picture.png").shape == (16, 16, 3)
    assert helper.image_size("~/out/picture.png") == (16, 16)
    assert machine.file_digest("~/out/picture.png") == machine.file_digest(saved)


def test_an_image_over_pillows_pixel_limit_opens_when_memory_allows(tmp_path):
    path = tmp_path / "huge.png"
    Image.new("1", (15000, 12000)).save(path)  # 180 Mpx: Pillow refuses over 179 by default
    assert helper.image_size(path) == (12000, 15000)


def test_an_image_too_large_for_the_memory_names_the_limit(tmp_path, monkeypatch):
    path = tmp_path / "large.png"
    Image.new("1", (4000, 3000)).save(path)
    monkeypatch.setattr(machine, "available_bytes", lambda: 50 * 2**20)
    needed = 4000 * 3000 * helper.DECODE_BYTES_PER_PIXEL / 2**20
    with pytest.raises(helper.ImageError) as refused:
        helper.image_size(path)
    message = str(refused.value)
    assert f"is 4000x3000 px (12 Mpx); decoding it needs about {needed:.0f} MiB" in message
    assert "but 50 MiB is available; shrink it" in message
