"""Odd but valid images go through the command line's loading path and come out right.

Each kind of odd image is loaded exactly as `python -m style_transfer` loads it (content at
--size, style at the content's area); one end-to-end run takes a mix of them. The big-photo
cases measure peak memory in a child process.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image, ImageOps

import helper
from style_transfer import cli, preflight, reading

ORIENTATION = 0x0112  # the EXIF tag


def load_as_the_cli_does(content, style, size: int = 32):
    request, _ = reading.parse_arguments(
        [str(content), str(style), "-o", "unused.png", "--size", str(size)]
    )
    images = preflight.load_images(request, minimum=16, deepest="conv5_1")
    return images.content, images.style


@pytest.fixture
def painting(tmp_path, rng):
    path = tmp_path / "painting.jpg"
    Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(path)
    return path


def test_greyscale(tmp_path, painting):
    path = tmp_path / "grey.png"
    Image.linear_gradient("L").resize((64, 64)).save(path)
    content, _ = load_as_the_cli_does(path, painting)
    assert content.shape == (32, 32, 3)
    np.testing.assert_array_equal(content[..., 0], content[..., 1])
    np.testing.assert_array_equal(content[..., 0], content[..., 2])
    assert content[0].mean() < 0.1 and content[-1].mean() > 0.9  # the gradient survives


def test_palette_with_transparency(tmp_path, painting):
    path = tmp_path / "palette.png"
    image = Image.new("P", (64, 64), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.paste(1, (0, 0, 64, 32))  # top half red, bottom half transparent black
    image.save(path, transparency=0)
    content, _ = load_as_the_cli_does(path, painting)
    np.testing.assert_allclose(content[4, 16], [1, 0, 0], atol=0.02)
    np.testing.assert_allclose(content[-4, 16], [1, 1, 1], atol=0.02)  # on white, not black


def test_rgba_is_composited_on_white(tmp_path, painting):
    path = tmp_path / "rgba.png"
    Image.new("RGBA", (64, 64), (255, 0, 0, 128)).save(path)
    content, _ = load_as_the_cli_does(path, painting)
    expected = np.array([255, 255 - 128, 255 - 128]) / 255  # alpha 128/255 of red on white
    np.testing.assert_allclose(content[16, 16], expected, atol=0.01)


def test_cmyk_jpeg(tmp_path, painting):
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (64, 64), (0, 255, 255, 0)).save(path, quality=95)
    expected = np.asarray(Image.open(path).convert("RGB"), np.float32)[32, 32] / 255
    content, _ = load_as_the_cli_does(path, painting)
    np.testing.assert_allclose(content[16, 16], expected, atol=0.02)
    assert content[16, 16, 0] > 0.8 and content[16, 16, 1:].max() < 0.2  # red


def test_16_bit_png_keeps_its_precision(tmp_path, painting):
    path = tmp_path / "deep.png"
    values = np.full((64, 64), 16448, np.uint16)  # 0.25098 of full scale; 8-bit would round
    Image.fromarray(values).save(path)
    assert Image.open(path).mode.startswith("I")
    content, _ = load_as_the_cli_does(path, painting)
    np.testing.assert_allclose(content, 16448 / 65535, atol=1e-4)


def test_exif_rotated_jpeg_is_turned_upright(tmp_path, painting):
    path = tmp_path / "rotated.jpg"
    stored = np.zeros((32, 64, 3), np.uint8)  # wide as stored, with a red top-left corner
    stored[:8, :8] = (255, 0, 0)
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(stored).save(path, exif=exif, quality=95)
    upright = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
    content, _ = load_as_the_cli_does(path, painting)
    assert upright.shape == (64, 32, 3) and content.shape == (32, 16, 3)  # tall, as displayed
    red = np.argwhere(upright[..., 0] > 200).mean(axis=0) / upright.shape[:2]
    found = np.argwhere(content[..., 0] > 0.8).mean(axis=0) / content.shape[:2]
    np.testing.assert_allclose(found, red, atol=0.1)


def test_very_wide_panorama(tmp_path, painting):
    path = tmp_path / "panorama.jpg"
    Image.linear_gradient("L").resize((2000, 250)).convert("RGB").save(path)
    content, style = load_as_the_cli_does(path, painting, size=256)
    assert content.shape == (32, 256, 3)  # the short side keeps the 16 px conv5_1 needs
    assert style.shape[0] * style.shape[1] == pytest.approx(32 * 256, rel=0.05)


@pytest.mark.parametrize(("size", "said"), [(64, "enlarged 2.7x from 24x18 px"), (48, None)])
def test_a_photo_enlarged_more_than_twice_is_said_to_be(tmp_path, painting, size, said):
    path = tmp_path / "small.png"
    Image.new("RGB", (24, 18), (200, 100, 50)).save(path)
    request, _ = reading.parse_arguments(
        [str(path), str(painting), "-o", "unused.png", "--size", str(size)]
    )
    images = preflight.load_images(request, minimum=16, deepest="conv5_1")
    assert images.content.shape == (size * 3 // 4, size, 3)
    assert images.content_file == (18, 24)  # read from the file's header
    first_line = preflight.describe(images, request)
    if said:
        assert f"content {size}x{size * 3 // 4} px ({said}: expect a blurry picture)" in first_line
    else:
        assert "enlarged" not in first_line


def test_an_animated_gif_is_told_which_frame_is_used(tmp_path, painting):
    path = tmp_path / "animated.gif"
    colours = ((250, 0, 0), (0, 0, 250), (0, 250, 0))
    first, *others = (Image.new("RGB", (48, 36), colour) for colour in colours)
    first.save(path, save_all=True, append_images=others, duration=100)
    request, _ = reading.parse_arguments([str(path), str(painting), "-o", "unused.png"])
    images = preflight.load_images(request, minimum=16, deepest="conv5_1")
    assert images.content[..., 0].mean() > 0.9 > images.content[..., 2].mean()  # the red one
    first_line = preflight.notes(images, request.output)
    assert "; animated.gif holds 3 frames: the first is used" in first_line
    assert "painting.jpg" not in first_line  # a single frame goes unsaid


def test_wide_style_is_matched_without_distortion(tmp_path, painting):
    path = tmp_path / "wide_style.png"
    Image.new("RGB", (1200, 100), (0, 90, 200)).save(path)
    content, style = load_as_the_cli_does(painting, path, size=64)
    assert style.shape[1] / style.shape[0] == pytest.approx(12, rel=0.1)
    assert style.shape[0] * style.shape[1] == pytest.approx(64 * 48, rel=0.1)


def peak_memory_of(repo_root, statement: str) -> tuple[str, float]:
    """Run `statement` in a fresh child process; return what it printed and its peak growth (MiB).

    The child reads its own high-water mark (VmHWM) before and after: unlike ru_maxrss it does
    not inherit the parent's peak (Linux carries that over through fork and exec).
    """
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(repo_root)!r})
        import helper
        def peak():
            status = open("/proc/self/status").read()
            return int(status.split("VmHWM:")[1].split()[0]) / 1024
        before = peak()
        print({statement})
        print(peak() - before)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    printed, growth = done.stdout.strip().splitlines()
    return printed, float(growth)


@pytest.fixture(scope="session")
def huge_jpeg(tmp_path_factory):
    """A 10000 x 10000 photo-like JPEG (made once per session, in about two seconds)."""
    path = tmp_path_factory.mktemp("huge") / "huge.jpg"
    rng = np.random.default_rng(7)
    small = Image.fromarray(rng.integers(0, 256, (100, 100, 3), dtype=np.uint8))
    small.resize((10000, 10000), Image.Resampling.NEAREST).save(path, quality=80)
    return path


def test_10000_px_jpeg_is_decoded_small(repo_root, huge_jpeg):
    statement = f"helper.load_image({str(huge_jpeg)!r}, max_side=256).shape"
    shape, growth_mib = peak_memory_of(repo_root, statement)
    assert shape == "(256, 256, 3)"
    full_float_mib = 10000 * 10000 * 3 * 4 / 2**20  # 1144 MiB
    full_bytes_mib = 10000 * 10000 * 3 / 2**20  # 286 MiB, what a plain decode holds at least
    assert growth_mib < full_bytes_mib / 4, f"loading grew memory by {growth_mib:.0f} MiB"
    assert growth_mib < full_float_mib / 16


def test_big_png_is_reduced_before_it_becomes_floats(repo_root, tmp_path):
    path = tmp_path / "big.png"
    Image.linear_gradient("L").resize((5000, 5000)).convert("RGB").save(path, compress_level=1)
    statement = f"helper.load_image({str(path)!r}, max_side=256).shape"
    shape, growth_mib = peak_memory_of(repo_root, statement)
    assert shape == "(256, 256, 3)"
    # A PNG has no reduced decoding: Pillow must hold it whole. Floats at full size would add
    # 286 MiB more; reducing first keeps the load to about what decoding alone takes.
    _, decoding_mib = peak_memory_of(repo_root, f"helper.Image.open({str(path)!r}).load()")
    full_float_mib = 5000 * 5000 * 3 * 4 / 2**20
    assert growth_mib < decoding_mib + full_float_mib / 8, (growth_mib, decoding_mib)


def test_big_style_is_decoded_at_the_size_it_is_used(tmp_path, painting, monkeypatch):
    path = tmp_path / "big_style.jpg"
    Image.new("RGB", (4000, 3000), (120, 60, 30)).save(path)
    asked = {}
    load = helper.load_image

    def spy(image_path, max_side=None):
        asked[str(image_path)] = max_side
        return load(image_path, max_side=max_side)

    monkeypatch.setattr(helper, "load_image", spy)
    content, style = load_as_the_cli_does(painting, path, size=64)
    assert content.shape == (48, 64, 3) and style.shape == (48, 64, 3)
    assert asked[str(path)] is not None and asked[str(path)] <= 2 * 64  # not 4000


@pytest.mark.slow
def test_command_line_runs_on_odd_images(tmp_path, capsys):
    content = tmp_path / "cmyk_rotated.jpg"
    exif = Image.Exif()
    exif[ORIENTATION] = 8
    Image.linear_gradient("L").resize((200, 60)).convert("CMYK").save(content, exif=exif)
    style = tmp_path / "palette.gif"
    stripes = np.indices((48, 48)).sum(axis=0) % 12 < 6
    Image.fromarray((stripes * 255).astype(np.uint8)).convert("P").save(style)
    output = tmp_path / "out.png"
    code = cli.main(
        [str(content), str(style), "-o", str(output), "--size", "64", "--iterations", "2"]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "finished" in captured.out
    with Image.open(output) as picture:
        assert picture.size == (19, 64)  # upright: 60x200 as displayed, at --size 64
