"""The notebook as a learner uses it: opened in JupyterLab, run with Run All in a real browser,
re-run a step after changing a parameter, stopped with the stop button, saved and reopened.

JupyterLab runs on 127.0.0.1 from this project's .venv, on a copy of the project's files;
Playwright drives Debian's Chromium (never a downloaded browser). Slow: a few minutes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from jupyterlab_session import CHROMIUM, CHROMIUM_FLAGS, Lab, Notebook
from PIL import Image
from test_notebook import EXPECTED_PICTURES, TINY_SETTINGS

pytestmark = pytest.mark.slow

NOTEBOOK = "Style_Transfer.ipynb"
PLOTS = """() => {
  // Every value each plot image takes while the notebook runs: a live plot takes several.
  window.plotValues = {};
  const record = () => document.querySelectorAll('.jp-Notebook .jp-Cell').forEach((cell, i) => {
    cell.querySelectorAll('.jp-OutputArea-output[data-mime-type="image/png"] img').forEach((img, j) => {
      const key = i + ':' + j;
      (window.plotValues[key] = window.plotValues[key] || new Set()).add(img.src.slice(-64));
    });
  });
  new MutationObserver(record).observe(document.body,
    {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
}"""


def tiny(**changes) -> str:
    """The lines a learner would add to the parameters cell for a quick run."""
    values = {**TINY_SETTINGS, **changes}
    return "\n# quick settings\n" + "".join(
        f"{name} = {value!r}\n" for name, value in values.items()
    )


@pytest.fixture(scope="module")
def project(repo_root, tmp_path_factory) -> Path:
    """A copy of the project's files, as a clone has them, with the weights linked in."""
    copy = tmp_path_factory.mktemp("project")
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in tracked:
        if (repo_root / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(repo_root / name, copy / name)
    (copy / "tensorflow_vgg" / "vgg16.npy").symlink_to(repo_root / "tensorflow_vgg" / "vgg16.npy")
    with Image.open(repo_root / "image_resources" / "content" / "chelsea.jpg") as cat:
        cat.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(copy / "my_cat.png")
    return copy


@pytest.fixture(scope="module")
def notebook(project, tmp_path_factory):
    """JupyterLab on the copy, the notebook open in Chromium; everything stopped afterwards."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (test.sh does, as root)")
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is missing")
    home = tmp_path_factory.mktemp("home")
    lab = Lab(project, home, {})
    # Matplotlib builds its font cache once per folder, and says so on stderr: not here.
    subprocess.run(
        [sys.executable, "-c", "import matplotlib.font_manager"], env=lab.env, check=True
    )
    lab.start()
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        try:
            yield Notebook(page, lab, NOTEBOOK).open()
        finally:
            page.screenshot(path=str(home / "last.png"))
            browser.close()
            lab.stop()


@pytest.fixture(scope="module")
def ran(notebook, project):
    """Quick settings typed into the parameters cell, then Run All; the cells as they ended."""
    # Opening the notebook, its saved widgets restored (Notebook.open), does not mark it modified.
    assert not notebook.dirty(), (
        "opening the notebook marked it modified; is its widget state committed?"
    )
    parameters = notebook.index("# Every knob")
    notebook.set_source(parameters, notebook.cells()[parameters]["source"] + tiny())
    notebook.page.evaluate(PLOTS)
    started = time.time()
    notebook.command("notebook:run-all-cells")
    notebook.wait_command(timeout=900_000)
    notebook.wait_done(timeout=120_000)
    return {"cells": notebook.cells(), "started": started}


def test_the_committed_notebook_keeps_no_widget_state(repo_root):
    # JupyterLab, saving widget state (scripts/setup.sh), marks a notebook modified as it
    # rebuilds each saved widget on opening: run.sh gives the committed form text bars instead.
    notebook = json.loads((repo_root / NOTEBOOK).read_text())
    views = [
        output
        for cell in notebook["cells"]
        for output in cell.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in output.get("data", {})
    ]
    assert ("widgets" in notebook["metadata"], len(views)) == (False, 0), (
        "run: .venv/bin/python scripts/static_widget_outputs.py Style_Transfer.ipynb"
    )


def outputs(cell: dict, kind: str) -> list[dict]:
    return [output for output in cell["outputs"] if output["output_type"] == kind]


def test_run_all_gives_no_error_and_no_stderr(ran):
    code = [cell for cell in ran["cells"] if cell["type"] == "code"]
    errors = [(o["ename"], o["evalue"]) for cell in code for o in outputs(cell, "error")]
    assert errors == []
    assert [cell["source"][:40] for cell in code if cell["count"] is None] == []
    stderr = [o["text"] for cell in code for o in outputs(cell, "stream") if o["name"] == "stderr"]
    assert stderr == []  # no TensorFlow start-up lines, no warnings


def test_progress_bars_are_widgets(notebook, ran):
    widgets = [
        output
        for cell in ran["cells"]
        for output in outputs(cell, "display_data")
        if "application/vnd.jupyter.widget-view+json" in output["data"]
        and "%|" in output["data"]["text/plain"]  # a progress bar, not the upload buttons
    ]
    bars = notebook.page.locator(".jp-OutputArea-output .widget-hprogress")
    assert len(widgets) >= 20 and bars.count() == len(widgets)
    assert "Error displaying widget" not in notebook.page.content()


def test_each_plotted_run_has_one_live_plot_that_changed_during_it(notebook, ran):
    values = notebook.page.evaluate(
        "() => Object.fromEntries(Object.entries(window.plotValues).map(([k, v]) => [k, v.size]))"
    )
    live = [
        index
        for index, cell in enumerate(ran["cells"])
        if cell["type"] == "code"
        and any(call in cell["source"] for call in ("live_run(", "LiveProgress(", "live_cli("))
        # Ray's workers paint in processes of their own, which send the command no pictures
        and "--workers" not in cell["source"]
    ]
    assert len(live) >= 13
    for index in live:  # the picture and the loss plot, redrawn while the run goes
        changed = [
            key for key, count in values.items() if key.startswith(f"{index}:") and count > 1
        ]
        assert changed, (ran["cells"][index]["source"][:80], values)
    notebook.screenshot(notebook.find("from_noise_settings ="), "run_all_from_noise")


def test_every_picture_is_written_and_shown(project, ran):
    for name in [*EXPECTED_PICTURES, "style_transfer.gif"]:
        path = project / "image_resources" / "outputs" / name
        assert path.stat().st_mtime >= ran["started"], f"{name} was not written by this run"
    for cell in ran["cells"]:
        if cell["type"] == "code" and "pictures.show" in cell["source"]:
            shown = [
                output
                for output in outputs(cell, "display_data")
                if {"image/jpeg", "image/png"} & set(output["data"])
                or "<img" in output["data"].get("text/html", "")
            ]
            assert shown, cell["source"][:80]


def test_your_own_photo_is_uploaded_and_used(notebook, project, ran):
    upload = notebook.page.locator(".widget-upload", has_text="your photo")
    with notebook.page.expect_file_chooser() as chooser:
        upload.click()
    chooser.value.set_files(str(project / "my_cat.png"))
    notebook.page.get_by_text("my_cat.png, uploaded").wait_for(timeout=30_000)
    run = notebook.index("own_settings")
    notebook.run_cell(run)
    cell = notebook.cells()[run]
    printed = "".join(o["text"] for o in outputs(cell, "stream"))
    assert outputs(cell, "error") == []
    assert "photo: my_cat.png" in printed


def test_a_step_rerun_after_changing_the_painting_uses_the_new_painting(notebook, project, ran):
    cells = ran["cells"]
    parameters, final = notebook.index("# Every knob"), notebook.index("final_content")
    from_noise, from_content = (
        notebook.find("from_noise_settings ="),
        notebook.find("runs_from = {}"),
    )
    before = "".join(o["text"] for o in outputs(cells[from_content], "stream"))
    source = notebook.cells()[parameters]["source"].replace(
        "hokusai_great_wave.jpg", "kandinsky_composition_viii.jpg"
    )
    notebook.set_source(parameters, source)
    for index in [parameters, *range(from_noise, final + 1)]:
        if cells[index]["type"] == "code":
            notebook.run_cell(index)
    after_cells = notebook.cells()
    after = "".join(o["text"] for o in outputs(after_cells[from_content], "stream"))
    assert "init=content: total loss" in after and after != before
    saved = project / "image_resources" / "outputs" / "grace_hopper_kandinsky_composition_viii.jpg"
    assert saved.is_file() and saved.stat().st_mtime >= ran["started"]
    printed = "".join(o["text"] for o in outputs(after_cells[final], "stream"))
    assert f"saved {Path('image_resources/outputs') / saved.name}" in printed


def test_a_saved_and_reopened_notebook_shows_its_bars_without_widget_errors(notebook, ran):
    notebook.save()
    notebook.js("return panel.sessionContext.shutdown();")
    notebook.open()
    notebook.page.locator(".jp-OutputArea-output .widget-hprogress").first.wait_for(timeout=60_000)
    time.sleep(3)
    content = notebook.page.content()
    assert "Error displaying widget" not in content
    saved = [
        output
        for cell in notebook.cells()
        for output in outputs(cell, "display_data")
        if "%|" in output["data"].get("text/plain", "")
    ]
    bars = notebook.page.locator(".jp-OutputArea-output .widget-hprogress")
    assert len(saved) >= 20 and bars.count() == len(saved)  # each drawn from its saved state
    noise = TINY_SETTINGS["NOISE_ITERATIONS"]
    assert f"{noise}/{noise}" in notebook.page.inner_text(".jp-Notebook")
    notebook.screenshot(notebook.find("from_noise_settings ="), "reopened")


def test_the_stop_button_stops_run_all_and_keeps_the_best_picture(notebook, project, ran):
    parameters, final = notebook.index("# Every knob"), notebook.index("final_content")
    source = notebook.cells()[parameters]["source"] + "FINAL_ITERATIONS = 400\n"
    notebook.set_source(parameters, source)
    counts = [cell["count"] for cell in notebook.cells()]
    notebook.command("notebook:run-all-cells")
    notebook.page.wait_for_function(  # the final run is under way, a few iterations in
        f"""() => {{ const c = document.querySelectorAll('.jp-Notebook .jp-Cell')[{final}];
             return /\\b[3-9]\\/400\\b|\\b[1-9][0-9]+\\/400\\b/.test(c.innerText); }}""",
        timeout=600_000,
    )
    notebook.stop_button()
    notebook.wait_idle(timeout=120_000)
    time.sleep(2)
    cells = notebook.cells()
    errors = outputs(cells[final], "error")
    assert [error["ename"] for error in errors] == ["Interrupted"]
    printed = "".join(o["text"] for o in outputs(cells[final], "stream"))
    assert "stopped at iteration" in printed and "the picture below is partial" in printed
    # a stopped run's picture never takes the name of a finished one
    kept = project / "image_resources/outputs/grace_hopper_kandinsky_composition_viii_partial.jpg"
    assert f"saved to {kept}" in printed or f"saved to {kept.relative_to(project)}" in printed
    after = [cell["count"] for cell in cells]
    later = [i for i in range(final + 1, len(cells)) if cells[i]["type"] == "code"]
    assert all(after[i] is None or after[i] == counts[i] for i in later)  # none of them ran
    notebook.screenshot(final, "stopped")
