"""Draw the sample photos' masks (image_resources/masks/) from outlines traced by hand.

Each outline is a polygon (or an ellipse's box) in the photo's own pixels, read off the photo in
an image viewer; the masks are 1-bit black and white PNGs of the photo's size, white inside.
Run from the repository's root: .venv/bin/python scripts/make_masks.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

CONTENT = Path("image_resources/content")
MASKS = Path("image_resources/masks")

# The person (with her hat and uniform) against the flag and the blue backdrop, 512x600.
HOPPER_PERSON = [
    (178, 44), (215, 28), (262, 20), (310, 28), (346, 48), (356, 78), (370, 112),
    (374, 165), (370, 215), (360, 268), (350, 300), (340, 320), (400, 349), (460, 373),
    (495, 391), (512, 428), (512, 600), (26, 600), (26, 470), (32, 420), (60, 378),
    (120, 352), (195, 326), (172, 300), (160, 262), (152, 212), (148, 160), (150, 110),
    (168, 84), (176, 62),
]  # fmt: skip
HOPPER_FACE = (160, 140, 368, 338)  # an ellipse's box: left, top, right, bottom

# The astronaut (suit and helmet) against the backdrop, the flag and the shuttle, 512x512.
ASTRONAUT_PERSON = [
    (228, 14), (270, 22), (296, 52), (300, 110), (296, 150), (303, 200), (316, 232),
    (340, 250), (354, 280), (362, 330), (392, 342), (450, 348), (492, 372), (512, 400),
    (512, 512), (20, 512), (18, 440), (22, 330), (30, 280), (45, 250), (70, 220),
    (100, 200), (114, 185), (132, 160), (168, 150), (156, 110), (152, 64), (172, 30),
]  # fmt: skip
ASTRONAUT_FACE = (152, 14, 300, 192)


def mask(size: tuple[int, int], polygon=None, ellipse=None) -> Image.Image:
    """Return a 1-bit mask of `size` (width, height), white inside the polygon or ellipse."""
    image = Image.new("1", size, 0)
    draw = ImageDraw.Draw(image)
    if polygon:
        draw.polygon(polygon, fill=1)
    if ellipse:
        draw.ellipse(ellipse, fill=1)
    return image


def main() -> None:
    MASKS.mkdir(exist_ok=True)
    for photo, person, face in [
        ("grace_hopper", HOPPER_PERSON, HOPPER_FACE),
        ("astronaut", ASTRONAUT_PERSON, ASTRONAUT_FACE),
    ]:
        with Image.open(CONTENT / f"{photo}.jpg") as image:
            width, height = image.size
        person_mask = mask((width, height), polygon=person)
        background = Image.eval(person_mask.convert("L"), lambda v: 255 - v).convert("1")
        for name, image in [
            ("background", background),
            ("face", mask((width, height), ellipse=face)),
        ]:
            path = MASKS / f"{photo}_{name}.png"
            image.save(path, optimize=True)
            print(f"{path}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
