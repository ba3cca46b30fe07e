"""The command line as the notebook runs it: each run's picture handed over on a line of its own,
only what a learner reads printed, the stop button leaving the best picture saved and shown."""

from __future__ import annotations

import signal

import numpy as np
import pytest
from conftest import pixels

from tutorial import cli_pictures, command_line, pictures, progress

# What `python -m style_transfer` printed in the notebook's sections 8.6 and 8.8 before
# (picture lines aside): the sizes, arithmetic and memory, the loss of every iteration.
PRINTED = [
    "content 96x112 px, style 126x85 px, precision mixed (bfloat16, then float32 for the last "
    "third), peak memory about 831 MiB",
    "iteration 1/5: loss 7.3e+10, estimating the time left",
    "iteration 5/5: loss 2.885e+10",
    "saved /tmp/repeat_1/first.png",
    "saved /tmp/repeat_1/run.json",
    "finished: 5 iterations in 2.0 s; loss 2.885e+10 = content 5.077e+08 + style 2.834e+10",
    "repeating the run recorded in /tmp/repeat_1/run.json",
    "[2/4] /tmp/in_1/broken.jpg",
    "error: /tmp/in_1/broken.jpg is not an image Pillow can read; use a JPEG, PNG, WebP, BMP or "
    "TIFF file (skipped it; the batch goes on)",
    "style-weight 100, content-layer conv3_2: finished, loss 3.931e+09",
    "saved /tmp/out/sheet.jpg",
    "sweep: 4 of 4 combinations on the sheet /tmp/out/sheet.jpg",
    "interrupted: 9 iterations in 2.7 s; loss 7.143e+09 = content 3.623e+07 + style 7.107e+09",
    "interrupted after 9 iterations; saved the best image so far (loss 7.143e+09) to /tmp/x.png",
]


def _terms(total: float) -> dict[str, float]:
    return {"total": total, "weighted_content": total / 4, "weighted_style": total * 3 / 4}


def test_a_picture_line_carries_the_runs_picture_in_8_bits_and_its_terms(rng):
    image = rng.random((12, 16, 3), dtype=np.float32)
    terms = {**_terms(2.5e9), "total": np.float32(2.5e9), "weighted_tv": np.float32(0.5)}
    line = cli_pictures.picture_line(3, "first.png", 7, 20, terms, image)
    assert "\n" not in line
    message = cli_pictures.read_picture_line(line)
    expected = np.floor(image * 255 + 0.5) / 255  # rounded to the nearest of 256 levels
    np.testing.assert_allclose(message["image"], expected, atol=1e-6)
    assert (message["run"], message["label"], message["iteration"], message["iterations"]) == (
        3,
        "first.png",
        7,
        20,
    )
    assert message["terms"] == {"total": 2.5e9, "weighted_content": 6.25e8,
                                "weighted_style": 1.875e9, "weighted_tv": 0.5}  # fmt: skip
    assert cli_pictures.read_picture_line(PRINTED[0]) is None


def test_the_learner_reads_errors_summaries_and_one_line_of_saved_files(capsys):
    output = command_line.CommandLineOutput()
    for line in PRINTED:
        output.read(line)
    command_line._print_saved(output)
    actual = capsys.readouterr().out.splitlines()
    assert actual == [
        PRINTED[8],  # the broken photo, as it came
        "sweep: 4 of 4 combinations on the sheet /tmp/out/sheet.jpg",
        PRINTED[-1],  # where a stopped run's picture went
        "saved first.png, run.json in /tmp/repeat_1",  # the sheet is named on the line above
    ]
    assert output.lines == PRINTED  # all kept for an error message


def test_each_run_gets_its_own_bar_named_after_its_label_or_the_batch_photo(capsys, monkeypatch):
    monkeypatch.setattr(progress, "_cell_handle", lambda figure: None)  # no figure drawn here
    monkeypatch.setattr(progress.LiveProgress, "draw", lambda self: None)
    output = command_line.CommandLineOutput()
    grey = np.full((8, 8, 3), 0.5, np.float32)
    output.read("[1/2] /tmp/in/astronaut.jpg")
    for run, label in ((1, ""), (2, "style-weight 100")):
        for iteration in (1, 2):
            terms = {**_terms(10.0 / iteration), "weighted_tv": 0.0}
            output.read(cli_pictures.picture_line(run, label, iteration, 2, terms, grey))
    bars = capsys.readouterr().err
    assert "astronaut.jpg: 100%" in bars and "style-weight 100: 100%" in bars
    assert output.live is None  # each bar ended with its run's last iteration


def test_pictures_at_true_sizes_keep_their_sizes_relative_to_each_other():
    small = np.zeros((10, 20, 3), np.float32)
    large = np.zeros((20, 40, 3), np.float32)
    large[..., 0] = 1.0  # red
    row = pictures.at_true_sizes([small, large], ["small", "large"], zoom=2.0, gap=4)
    top = row.shape[0] - 40  # both captions above, the large picture reaching the bottom
    assert row.shape[1] == 40 + 4 + 80
    assert row[top : top + 20, :40].max() == 0.0  # the small one, 20 x 40 px
    assert row[top + 20 :, :40].min() == 1.0  # white under it
    np.testing.assert_array_equal(row[top:, 44:], np.broadcast_to([1.0, 0, 0], (40, 80, 3)))


def test_a_saved_sheet_says_where_it_went(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(pictures, "show_file", lambda path: None)
    path = tmp_path / "sheet.jpg"
    pictures.show_sheet([np.zeros((8, 8, 3), np.float32)] * 2, ["a", "b"], save_to=path)
    assert capsys.readouterr().out == f"saved {path}\n"
    assert pixels(path).shape == (8, 20, 3)  # two tiles and the gap between them


class _Pictures:
    """Stands in for the notebook's display: keeps the picture of every drawing of the figure."""

    def __init__(self):
        self.shown: list[np.ndarray] = []

    def display(self, figure, display_id=None):
        self.update(figure)
        return self

    def update(self, figure):
        images = figure.axes[0].get_images()
        if images:
            self.shown.append(np.array(images[-1].get_array()))


@pytest.mark.slow
def test_live_cli_shows_the_picture_forming_and_ends_on_the_saved_one(
    tmp_path, capsys, monkeypatch, small_files
):
    drawn = _Pictures()
    monkeypatch.setattr(progress, "display", drawn.display)
    monkeypatch.setattr(progress.LiveProgress, "__init__", _drawing_every_iteration)
    out = tmp_path / "out.png"
    command_line.live_cli(
        small_files["content"], small_files["style"], "-o", out, "--size", 32,
        "--iterations", 3, "--init", "noise", "--precision", "float32",
    )  # fmt: skip
    assert len(drawn.shown) >= 3
    assert not np.array_equal(drawn.shown[0], drawn.shown[-1])  # it changed as it formed
    np.testing.assert_allclose(drawn.shown[-1], pixels(out), atol=1e-6)  # L-BFGS: the last is best
    printed = capsys.readouterr().out.splitlines()
    assert printed == [f"saved {out}"]  # no sizes, precision, memory or loss lines


_original_init = progress.LiveProgress.__init__


def _drawing_every_iteration(self, *arguments, **options):
    _original_init(self, *arguments, **{**options, "redraw_seconds": 0.0})


@pytest.fixture
def sigint_ignored():
    """SIGINT ignored while the test starts its children, as for a job a script put in the
    background (`jupyter lab &`): each child inherits it."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.slow
def test_the_stop_button_leaves_the_command_lines_best_picture_saved_and_shown(
    tmp_path, monkeypatch, small_files, sigint_ignored
):
    import tutorial.pictures

    shown = []
    monkeypatch.setattr(progress, "display", _Pictures().display)
    monkeypatch.setattr(tutorial.pictures, "show_file", shown.append)
    out = tmp_path / "out.png"
    arguments = [small_files["content"], small_files["style"], "-o", out, "--size", 32]
    output = command_line.CommandLineOutput()
    with command_line.start(*arguments, "--iterations", 500) as process:
        for line in process.stdout:  # until the run is a few iterations in
            output.read(line.rstrip("\n"))
            if output.live is not None and len(output.live.history) >= 3:
                break
        command_line.stop(process, output)
    assert process.returncode == 130  # interrupted, as with one Ctrl-C
    (shown_line,) = output.shown  # one line, not the loss line of the stopped run
    assert shown_line.startswith("interrupted after ") and shown_line.endswith(f"to {out}")
    assert shown == [out] and pixels(out).shape[2] == 3
