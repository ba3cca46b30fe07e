"""Masks in one line (tutorial/masks.py) and the masks shipped for the sample photos."""

import numpy as np
import pytest
from PIL import Image

import helper
from tutorial import masks


def test_rectangle_is_one_inside_the_fractions_of_height_and_width():
    actual = masks.rectangle(np.zeros((10, 20, 3), np.float32), 0.2, 0.5, 0.6, 1.0)
    expected = np.zeros((10, 20), np.float32)
    expected[2:6, 10:20] = 1.0  # rows 0.2 * 10 to 0.6 * 10, columns 0.5 * 20 to 20
    np.testing.assert_array_equal(actual, expected)


def test_brighter_than_thresholds_the_luminance():
    pixels = [[1, 1, 1], [0, 0, 0], [0.4, 0.4, 0.4], [0.6, 0.6, 0.6], [0, 1, 0], [0, 0, 1]]
    image = np.array([pixels], np.float32)  # (1, 6, 3)
    actual = masks.brighter_than(image, 0.5)
    Y = image[0] @ np.array([0.299, 0.587, 0.114])  # green 0.587, blue 0.114
    np.testing.assert_array_equal(actual[0], (Y > 0.5).astype(np.float32))
    np.testing.assert_array_equal(actual[0], [1, 0, 0, 1, 1, 0])


def test_load_gives_the_files_grey_level_at_the_pictures_size(tmp_path):
    grey = np.zeros((40, 80), np.uint8)
    grey[:, :40] = 255  # the left half white
    Image.fromarray(grey).save(tmp_path / "mask.png")
    actual = masks.load(tmp_path / "mask.png", like=np.zeros((10, 20, 3), np.float32))
    assert actual.shape == (10, 20)
    np.testing.assert_allclose(actual[:, :7], 1.0, atol=1e-6)  # the filter reaches 3 px
    np.testing.assert_allclose(actual[:, 13:], 0.0, atol=1e-6)


def test_load_refuses_a_mask_of_another_shape_naming_it(tmp_path):
    Image.new("L", (40, 40), 255).save(tmp_path / "square.png")
    with pytest.raises(helper.ImageError, match=r"square\.png is 40x40 px, not the shape"):
        masks.load(tmp_path / "square.png", like=np.zeros((10, 20, 3), np.float32))


def test_shown_on_keeps_the_photo_under_white_and_fades_it_under_black():
    photo = np.full((2, 2, 3), 0.2, np.float32)
    mask = np.array([[1, 0], [0, 1]], np.float32)
    actual = masks.shown_on(photo, mask, faded=0.75)
    expected = np.full((2, 2, 3), 0.25 * 0.2 + 0.75, np.float32)
    expected[0, 0] = expected[1, 1] = 0.2
    np.testing.assert_allclose(actual, expected, rtol=1e-6)


# (x, y) points of each photo, in its own pixels, read off the photo: inside, and outside, a region
REGIONS = {
    "grace_hopper_background.png": ([(480, 60), (40, 100), (470, 300)], [(262, 240), (262, 500)]),
    "grace_hopper_face.png": ([(262, 240), (220, 200), (300, 300)], [(262, 60), (262, 500)]),
    "astronaut_background.png": ([(470, 40), (420, 200), (60, 60)], [(225, 100), (170, 400)]),
    "astronaut_face.png": ([(225, 100), (225, 40)], [(225, 300), (470, 40)]),
}


@pytest.mark.parametrize("name", sorted(REGIONS))
def test_shipped_masks_are_small_lossless_and_cover_their_region(repo_root, name):
    path = repo_root / "image_resources" / "masks" / name
    photo = repo_root / "image_resources" / "content" / f"{name.rsplit('_', 1)[0]}.jpg"
    with Image.open(path) as image:
        assert (image.format, image.mode) == ("PNG", "1")
        assert image.size == Image.open(photo).size
        mask = np.asarray(image.convert("L"))
    assert path.stat().st_size < 4096
    inside, outside = REGIONS[name]
    assert [mask[y, x] for x, y in inside] == [255] * len(inside)
    assert [mask[y, x] for x, y in outside] == [0] * len(outside)
