"""--batch: quoted globs, outputs that would clash, and a broken photo among good ones."""

from __future__ import annotations

import json

import pytest
from conftest import SMALL_HEIGHT as HEIGHT
from conftest import SMALL_WIDTH as WIDTH
from conftest import pixels, run_cli
from PIL import Image

from style_transfer import batch, request
from style_transfer.errors import UsageError


def test_batch_glob_keeps_image_files_and_plain_paths_as_given(tmp_path):
    for name in ("b.jpg", "a.png", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "folder.jpg").mkdir()
    actual = request.expand_contents([str(tmp_path / "*"), str(tmp_path / "missing.jpg")])
    expected = [str(tmp_path / "a.png"), str(tmp_path / "b.jpg"), str(tmp_path / "missing.jpg")]
    assert actual == expected
    with pytest.raises(UsageError, match="matches no image file"):
        request.expand_contents([str(tmp_path / "*.webp")])


def test_batch_outputs_that_would_clash_are_refused(tmp_path):
    first, second = tmp_path / "a" / "photo.jpg", tmp_path / "b" / "photo.png"
    assert batch.batch_output_path(tmp_path / "out", str(first), ["x/wave.jpg", "y/k.png"]) == (
        tmp_path / "out" / "photo_wave+k.jpg"
    )
    with pytest.raises(UsageError, match="would both be written to"):
        batch.check_batch_outputs(tmp_path / "out", [str(first), str(second)], ["wave.jpg"])
    with pytest.raises(UsageError, match="looks like an image file"):
        batch.check_batch_outputs(tmp_path / "out.jpg", [str(first)], ["wave.jpg"])


@pytest.mark.slow
def test_batch_with_an_unreadable_file_still_writes_the_other_outputs(
    small_files, tmp_path, capsys
):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.open(small_files["content"]).save(photos / "one.png")
    Image.open(small_files["content"]).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(
        photos / "two.png"
    )
    (photos / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    out = tmp_path / "out"
    stats = tmp_path / "batch.json"
    code, stdout, error = run_cli(
        capsys, "--batch", photos / "*.png", "--style", small_files["style"], "-o", out,
        "--size", WIDTH, "--iterations", 2, "--stats", stats,
    )  # fmt: skip
    assert code == 1
    errors = error.strip().splitlines()
    assert len(errors) == 1 and str(photos / "broken.png") in errors[0]
    assert "the batch goes on" in errors[0]
    written = sorted(path.name for path in out.iterdir() if path.name != batch.RECORD)
    assert written == ["one_style.jpg", "two_style.jpg"]
    for name in ("one_style.jpg", "two_style.jpg"):
        assert pixels(out / name).shape == (HEIGHT, WIDTH, 3)
    assert "batch: 2 of 3 images done" in stdout
    numbers = [line.split()[1] for line in stdout.splitlines() if line.startswith("iteration")]
    assert numbers[-1] == "6/6:"  # one count over the whole batch (the broken file skipped)
    runs = json.loads(stats.read_text())["runs"]
    assert [("error" in entry) for entry in runs] == [True, False, False]
