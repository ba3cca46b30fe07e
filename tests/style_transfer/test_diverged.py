"""A run that ends far worse than it started says so and exits 1; working runs do not."""

from __future__ import annotations

import json

import pytest
from conftest import REPO_ROOT, one_error_line, run_cli

from style_transfer import outcome

CONTENT = REPO_ROOT / "image_resources" / "content" / "chelsea.jpg"
STYLE = REPO_ROOT / "image_resources" / "style" / "van_gogh_village_street_auvers.jpg"


def rows(*totals, size=None) -> list[dict]:
    return [{"iteration": k, "total": total, "size": size} for k, total in enumerate(totals, 1)]


def test_only_a_rise_with_nothing_gained_is_a_divergence():
    assert outcome.went_wrong_way([], 1.0) is None
    assert outcome.went_wrong_way(rows(100.0), 100.0) is None  # one step: nothing to judge
    assert outcome.went_wrong_way(rows(100.0, 60.0, 30.0), 30.0) is None  # working
    # Adam overshooting: the picture kept is the start, the optimiser ended 3 times above it
    said = outcome.went_wrong_way(rows(100.0, 900.0, 300.0), 100.0)
    assert said == (
        "the optimiser diverged: its loss rose from 100 at the first iteration to 300 (3.0 "
        "times) and the picture kept (loss 100) is no better than where it started"
    )
    assert "is worse than where it started" in outcome.went_wrong_way(rows(100.0, 300.0), 300.0)
    # It rose, but the picture kept gained more than a tenth: a result, not a divergence
    assert outcome.went_wrong_way(rows(100.0, 50.0, 400.0), 50.0) is None


def test_a_coarse_to_fine_run_is_judged_on_its_last_scale():
    # The loss grows with the pixels: the last scale's start is 40, not the first scale's 10
    history = rows(10.0, 5.0, size=128) + rows(40.0, 30.0, size=256)
    assert outcome.went_wrong_way(history, 30.0) is None
    history = rows(100.0, 50.0, size=128) + rows(40.0, 90.0, size=256)
    assert "rose from 40 at the first iteration to 90" in outcome.went_wrong_way(history, 40.0)


@pytest.mark.slow
def test_adam_at_a_learning_rate_that_overshoots_says_so_and_exits_1(tmp_path, capsys):
    output, stats = tmp_path / "out.png", tmp_path / "stats.json"
    code, out, error = run_cli(
        capsys, CONTENT, STYLE, "-o", output, "--size", 64, "--iterations", 5,
        "--optimizer", "adam", "--learning-rate", 0.9, "--stats", stats,
    )  # fmt: skip
    manifest = json.loads(stats.read_text())
    start, last = manifest["history"][0]["total"], manifest["history"][-1]["total"]
    final = manifest["final"]["total"]
    # Steps of 0.9 on pixels in [0, 1]: the loss ends several times above the start's, and
    # the picture kept is no better than the start (or, with mixed precision, far worse).
    assert last > 2 * start and final >= 0.99 * start
    assert code == 1
    line = one_error_line(error)
    assert line.startswith(
        f"error: the optimiser diverged: its loss rose from {start:.4g} at the first iteration "
        f"to {last:.4g} ({last / start:.1f} times) and the picture kept (loss {final:.4g}) is "
    )
    assert line.endswith(
        f"; saved it to {output} all the same; lower --learning-rate (now 0.9; 0.02 suits "
        "pixels in [0, 1])"
    )
    assert "\ndiverged: 5 iterations in " in out and "finished" not in out
    assert output.is_file()


@pytest.mark.slow
@pytest.mark.parametrize(
    "optimizer", [["--optimizer", "adam"], ["--optimizer", "lbfgs"]], ids=["adam", "lbfgs"]
)
def test_working_runs_finish_with_0(tmp_path, capsys, optimizer):
    code, out, error = run_cli(
        capsys, CONTENT, STYLE, "-o", tmp_path / "out.png", "--size", 64, "--iterations", 3,
        *optimizer,
    )  # fmt: skip
    assert code == 0, error
    assert error == "" and "\nfinished: 3 iterations in " in out
