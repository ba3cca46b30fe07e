"""--style-masks and --style-image-masks: refused in one line before the run when they cannot
be used, recorded by their sha256 in --stats, repeated byte for byte, and held to on --resume."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from conftest import SMALL_HEIGHT as HEIGHT
from conftest import SMALL_WIDTH as WIDTH
from conftest import one_error_line, run_cli

EXIT_BAD_INPUT = 2


def halves(height: int = HEIGHT, width: int = WIDTH) -> tuple[np.ndarray, np.ndarray]:
    """Return a white-left and a white-right mask (uint8)."""
    left = np.zeros((height, width), np.uint8)
    left[:, : width // 2] = 255
    return left, 255 - left


@pytest.fixture
def two_styles(small_files) -> list:
    return [small_files["content"], "--style", small_files["style"], small_files["other"]]


def refusal(capsys, tmp_path, *arguments) -> str:
    """Return the one error line of a run that must be refused before it writes anything."""
    output = tmp_path / "out.png"
    code, _, error = run_cli(capsys, *arguments, "-o", output, "--iterations", 1)
    assert code == EXIT_BAD_INPUT and not output.exists()
    return one_error_line(error)


def test_a_mask_count_other_than_the_paintings_is_refused(
    two_styles, write_image, capsys, tmp_path
):
    left, _ = halves()
    mask = write_image(left, "left.png")
    line = refusal(capsys, tmp_path, *two_styles, "--style-masks", mask)
    assert "--style-masks gives 1 mask(s) for 2 style image(s); give one mask per style" in line
    line = refusal(capsys, tmp_path, *two_styles, "--style-image-masks", mask, mask)
    assert "--style-image-masks needs --style-masks" in line
    line = refusal(
        capsys, tmp_path, *two_styles, "--style-masks", mask, mask, "--style-image-masks", mask
    )
    assert "--style-image-masks gives 1 mask(s) for 2 style image(s)" in line


def test_an_unreadable_an_empty_and_a_misshapen_mask_are_refused(
    two_styles, write_image, capsys, tmp_path
):
    left, right = halves()
    good = write_image(right, "right.png")
    unreadable = tmp_path / "notes.png"
    unreadable.write_text("not an image")
    line = refusal(capsys, tmp_path, *two_styles, "--style-masks", unreadable, good)
    assert f"{unreadable} is not an image Pillow can read" in line
    black = write_image(np.zeros((HEIGHT, WIDTH), np.uint8), "black.png")
    line = refusal(capsys, tmp_path, *two_styles, "--style-masks", black, good)
    assert f"the mask {black} is black everywhere" in line
    # 28x32 for a 32x28 photo: a resize would stretch it 23% (28/32 against 32/28), beyond the 2% tolerance.
    turned = write_image(left.T.copy(), "turned.png")
    line = refusal(capsys, tmp_path, *two_styles, "--style-masks", good, turned)
    assert f"the mask {turned} is {HEIGHT}x{WIDTH} px, not the shape of" in line
    assert "resizing it would stretch it 23%" in line
    # A painting's own mask is held to the painting's shape (the small paintings are 32x28).
    line = refusal(
        capsys, tmp_path, *two_styles, "--style-masks", good, good,
        "--style-image-masks", good, turned,
    )  # fmt: skip
    assert f"the mask {turned} is {HEIGHT}x{WIDTH} px" in line


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_masks_are_recorded_repeated_byte_for_byte_and_held_to_on_resume(
    two_styles, write_image, capsys, tmp_path
):
    left, right = halves(HEIGHT // 2, WIDTH // 2)  # half size, the photo's shape
    masks = [write_image(left, "left.png"), write_image(right, "right.png")]
    # 33 px wide for the painting's 32: within a pixel's rounding of its shape.
    own = [write_image(np.full((HEIGHT, WIDTH + 1), 255, np.uint8), "own.png")] * 2
    first, stats = tmp_path / "first.png", tmp_path / "first.json"
    run = [*two_styles, "--style-masks", *masks, "--style-image-masks", *own]
    run += ["--size", WIDTH, "--iterations", 3, "--init", "noise", "--seed", 5]
    code, _, error = run_cli(capsys, *run, "-o", first, "--stats", stats)
    assert code == 0, error
    manifest = json.loads(stats.read_text())
    for path in [*masks, own[0]]:
        assert manifest["inputs"][str(path)] == sha256(path)
    assert manifest["parameters"]["style_masks"] == [str(path) for path in masks]

    again = tmp_path / "again.png"
    assert run_cli(capsys, "--repeat", stats, "-o", again)[0] == 0
    assert again.read_bytes() == first.read_bytes()
    unmasked = tmp_path / "unmasked.png"
    assert run_cli(capsys, *run[: run.index("--style-masks")], *run[-8:], "-o", unmasked)[0] == 0
    assert unmasked.read_bytes() != first.read_bytes()

    resumed = tmp_path / "resumed.png"
    code, _, error = run_cli(capsys, *run, "-o", resumed, "--checkpoint-every", 1)
    assert code == 0, error
    write_image(right, "left.png")  # the first mask changes
    code, _, error = run_cli(capsys, "--resume", "-o", resumed, "--iterations", 5)
    line = one_error_line(error)
    assert (
        code == EXIT_BAD_INPUT and f"{masks[0]} is not the style mask image the checkpoint" in line
    )
    code, _, error = run_cli(capsys, "--repeat", stats, "-o", tmp_path / "third.png")
    assert code == EXIT_BAD_INPUT and f"{masks[0]} has changed since the run" in one_error_line(
        error
    )


def test_masks_run_in_tiles_with_the_whole_runs_picture(two_styles, write_image, capsys, tmp_path):
    from PIL import Image

    left, right = halves()
    masks = [write_image(left, "left.png"), write_image(right, "right.png")]
    run = [*two_styles, "--style-masks", *masks, "--size", WIDTH, "--iterations", 3]
    run += ["--seed", 5, "--precision", "float32"]
    pictures = {}
    for name, extra in (("whole", []), ("tiled", ["--tile", 16])):
        output = tmp_path / f"{name}.png"
        code, out, error = run_cli(capsys, *run, *extra, "-o", output)
        assert code == 0, error
        assert ("tiles of 16 px" in out + error) == bool(extra)
        with Image.open(output) as image:
            pictures[name] = np.asarray(image, np.float32)
    assert pictures["tiled"].shape == pictures["whole"].shape
    assert np.abs(pictures["tiled"] - pictures["whole"]).max() <= 2.0  # levels of 255
