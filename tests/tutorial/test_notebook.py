"""The tutorial notebook runs top to bottom at tiny settings and writes every picture it promises."""

from __future__ import annotations

import hashlib
import re
import subprocess

import nbformat
import pytest
from PIL import Image

# Tiny sizes and a handful of iterations: the whole notebook in about a minute.
TINY_SETTINGS = {
    "SIZE": 64,
    "FIGURE1_SIZE": 48,
    "FINAL_SIZE": 64,
    "RATIO_SIZE": 48,
    "GRID_SIZE": 48,
    "CONTENT_RECONSTRUCTION_ITERATIONS": 3,
    "STYLE_RECONSTRUCTION_ITERATIONS": 3,
    "NOISE_ITERATIONS": 6,
    "CONTENT_ITERATIONS": 3,
    "FINAL_ITERATIONS": 3,
    "OWN_ITERATIONS": 3,
    "RATIO_ITERATIONS": 2,
    "GRID_ITERATIONS": 2,
    "ADAM_STEPS": 3,
    "GIF_FRAMES": 4,
    "FURTHER_SIZE": 64,
    "FURTHER_ITERATIONS": 2,
    "REPEAT_ITERATIONS": 2,
    "VIDEO_FRAMES": 3,
    "VIDEO_SIZE": 48,
    "VIDEO_ITERATIONS": 2,
}
GRID_GAP = 4  # sheets.image_grid's default gap between tiles, in pixels

EXPECTED_PICTURES = [
    "figure1_content_reconstructions.jpg",
    "figure1_style_reconstructions.jpg",
    "grace_hopper_hokusai_great_wave.jpg",
    "your_images.jpg",
    "alpha_beta_ratios.jpg",
    "final_results.jpg",
    "going_further_style_layers.jpg",
    "going_further_colors.jpg",
    "going_further_blend.jpg",
    "going_further_style_scale.jpg",
    "going_further_coarse_to_fine.jpg",
    "going_further_repeat.jpg",
    "going_further_sweep.jpg",
    "going_further_batch.jpg",
    "going_further_masks.jpg",
    "going_further_masks_face.jpg",
    "going_further_your_mask.jpg",
    "going_further_video.jpg",
    "going_further_ray.jpg",
]


@pytest.fixture(scope="module")
def tiny_run(repo_root, tmp_path_factory):
    """Run the main job's command (papermill) at tiny settings into a temporary folder, once."""
    folder = tmp_path_factory.mktemp("notebook")
    notebook_path = repo_root / "Style_Transfer.ipynb"
    before = hashlib.sha256(notebook_path.read_bytes()).hexdigest()
    parameters = [["-p", name, str(value)] for name, value in TINY_SETTINGS.items()]
    command = [
        "bash",
        str(repo_root / "run.sh"),
        "-o",
        str(folder / "executed.ipynb"),
        "-p",
        "OUTPUT_DIR",
        str(folder / "outputs"),
        *sum(parameters, []),
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, _cell_error(folder / "executed.ipynb") or done.stderr[-3000:]
    after = hashlib.sha256(notebook_path.read_bytes()).hexdigest()
    return {
        "folder": folder,
        "executed": folder / "executed.ipynb",
        "unchanged": before == after,
        "terminal": done.stderr,
    }


def _cell_error(path) -> str:
    """The source and error of the first cell that failed in an executed notebook, if any."""
    if not path.is_file():
        return ""
    for cell in _code_cells(nbformat.read(path, as_version=4)):
        for output in cell.outputs:
            if output.output_type == "error":
                return f"{cell.source}\n{output.ename}: {output.evalue}"
    return ""


def _code_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def test_the_cell_tagged_parameters_follows_the_imports_and_sets_every_tiny_setting(repo_root):
    notebook = nbformat.read(repo_root / "Style_Transfer.ipynb", as_version=4)
    cells = _code_cells(notebook)
    tagged = [cell for cell in cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1
    parameters = tagged[0]
    assert cells.index(parameters) == 1  # the second code cell, right after the imports
    assert cells[0].source.lstrip().startswith(("import ", "from "))
    assigned = {
        line.split("=")[0].strip() for line in parameters.source.splitlines() if "=" in line
    }
    overridden = set(TINY_SETTINGS) | {"OUTPUT_DIR"}
    assert overridden - assigned == set()


@pytest.mark.slow
def test_tiny_run_overrides_right_after_the_parameters_cell(tiny_run):
    notebook = nbformat.read(tiny_run["executed"], as_version=4)
    tags = [cell.metadata.get("tags", []) for cell in notebook.cells]
    index = next(i for i, cell_tags in enumerate(tags) if "parameters" in cell_tags)
    injected = notebook.cells[index + 1]
    assert "injected-parameters" in tags[index + 1]
    assert "SIZE = 64\n" in injected.source
    assert f'OUTPUT_DIR = "{tiny_run["folder"] / "outputs"}"\n' in injected.source


@pytest.mark.slow
def test_tiny_run_shows_progress_cell_by_cell_on_the_terminal(tiny_run):
    cells = len(nbformat.read(tiny_run["executed"], as_version=4).cells)  # markdown counts too
    assert "Executing: 100%" in tiny_run["terminal"]
    assert f"{cells}/{cells}" in tiny_run["terminal"]


@pytest.mark.slow
def test_tiny_run_saves_every_progress_bar_in_its_final_state(tiny_run):
    notebook = nbformat.read(tiny_run["executed"], as_version=4)
    bars = [
        output.data["text/plain"]
        for cell in _code_cells(notebook)
        for output in cell.outputs
        if "application/vnd.jupyter.widget-view+json" in output.get("data", {})
        and "%|" in output.data["text/plain"]  # a tqdm meter: "desc:  40%|####      | 2/5"
    ]
    assert len(bars) >= 20  # a bar for every run
    unfinished = [text for text in bars if "100%" not in text]
    assert unfinished == []
    noise_bar = next(text for text in bars if text.startswith("from noise"))
    assert f"{TINY_SETTINGS['NOISE_ITERATIONS']}/{TINY_SETTINGS['NOISE_ITERATIONS']}" in noise_bar
    assert notebook.metadata["widgets"]  # and their state, for a trusted notebook


@pytest.mark.slow
def test_tiny_run_executes_every_cell_without_error(tiny_run):
    notebook = nbformat.read(tiny_run["executed"], as_version=4)
    cells = _code_cells(notebook)
    assert all(cell.execution_count is not None for cell in cells)
    errors = [o for cell in cells for o in cell.outputs if o.output_type == "error"]
    assert errors == []


@pytest.mark.slow
def test_tiny_run_leaves_the_committed_notebook_untouched(tiny_run):
    assert tiny_run["unchanged"]


@pytest.mark.slow
@pytest.mark.parametrize("name", EXPECTED_PICTURES)
def test_tiny_run_writes_a_valid_picture(tiny_run, name):
    path = tiny_run["folder"] / "outputs" / name
    assert path.is_file(), f"{name} was not written"
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "JPEG"
        assert min(image.size) > 0


@pytest.mark.slow
def test_tiny_run_writes_an_animated_gif(tiny_run):
    with Image.open(tiny_run["folder"] / "outputs" / "style_transfer.gif") as gif:
        assert gif.format == "GIF"
        assert gif.n_frames > 1
        assert gif.is_animated


@pytest.mark.slow
def test_results_grid_has_a_row_per_photo_and_a_column_per_painting(tiny_run, repo_root):
    photos = [
        p for p in (repo_root / "image_resources" / "content").iterdir() if p.suffix == ".jpg"
    ]
    paintings = [
        p for p in (repo_root / "image_resources" / "style").iterdir() if p.suffix == ".jpg"
    ]
    side = TINY_SETTINGS["GRID_SIZE"]
    rows, columns = 1 + len(photos), 1 + len(paintings)  # plus the header row and column
    expected = (columns * side + (columns - 1) * GRID_GAP, rows * side + (rows - 1) * GRID_GAP)
    with Image.open(tiny_run["folder"] / "outputs" / "final_results.jpg") as sheet:
        assert sheet.size == expected


def _printed(notebook, marker: str) -> str:
    """What the code cell whose source contains `marker` printed to stdout."""
    cell = next(c for c in _code_cells(notebook) if marker in c.source)
    return "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")


@pytest.mark.slow
def test_luminance_only_run_keeps_the_photos_colour_channels(tiny_run):
    notebook = nbformat.read(tiny_run["executed"], as_version=4)
    printed = _printed(notebook, "photo_IQ")
    change = {
        line.split(":")[0].strip(): float(line.rsplit("=", 1)[1])
        for line in printed.splitlines()
        if "|I, Q" in line
    }
    assert set(change) == {"none", "luminance", "histogram"}
    assert change["luminance"] < 0.01  # only clipping to [0, 1] may move I and Q
    assert change["luminance"] < change["none"] / 3


@pytest.mark.slow
def test_command_line_repeat_in_the_notebook_gives_identical_bytes(tiny_run):
    notebook = nbformat.read(tiny_run["executed"], as_version=4)
    printed = _printed(notebook, '"--repeat"')
    assert "identical bytes: True" in printed


@pytest.mark.slow
def test_sweep_sheet_has_two_rows_of_two_tiles(tiny_run, repo_root):
    import helper
    import sheets
    from style_transfer import arguments, sweep

    height, width = helper.size_for_longest_side(
        *helper.image_size(repo_root / "image_resources/content/grace_hopper.jpg"),
        TINY_SETTINGS["FURTHER_SIZE"],
    )
    if height < sweep.SHEET_MIN_TILE_HEIGHT:  # small pictures are enlarged for their labels
        height, width = (
            sweep.SHEET_MIN_TILE_HEIGHT,
            round(width * sweep.SHEET_MIN_TILE_HEIGHT / height),
        )
    # the notebook's sweep: two style weights (rows) by two content layers
    specs = ["style-weight=1e2,1e4", "content-layer=conv3_2,conv4_2"]
    labels = [sweep.label(combination) for combination in arguments.parse_sweep(specs)]
    strips = [  # each row's labels in a strip above it, as tall as its tallest label
        max(sheets.caption(label, width, max(10, height // 24)).shape[0] for label in row)
        for row in (labels[0:2], labels[2:4])
    ]
    with Image.open(tiny_run["folder"] / "outputs" / "going_further_sweep.jpg") as sheet:
        assert sheet.size == (2 * width + GRID_GAP, sum(strips) + 2 * height + GRID_GAP)


@pytest.mark.slow
def test_batch_in_the_notebook_reports_the_broken_file_and_paints_the_others(tiny_run, repo_root):
    notebook = nbformat.read(tiny_run["executed"], as_version=4)
    printed = _printed(notebook, '"--batch"')
    assert "broken.jpg" in printed
    photos = [p for p in (repo_root / "image_resources/content").iterdir() if p.suffix == ".jpg"]
    side = TINY_SETTINGS["FURTHER_SIZE"]
    with Image.open(tiny_run["folder"] / "outputs" / "going_further_batch.jpg") as sheet:
        assert sheet.size[1] == 2 * side + GRID_GAP  # the photos above, their results below
        assert sheet.size[0] > len(photos) * side // 2  # one column per readable photo


@pytest.mark.slow
@pytest.mark.parametrize("marker", ['"--repeat"', '"--sweep"', '"--batch"'])
def test_command_line_cells_show_their_runs_and_no_developer_lines(tiny_run, marker):
    notebook = nbformat.read(tiny_run["executed"], as_version=4)
    cell = next(c for c in _code_cells(notebook) if marker in c.source)
    live = [o for o in cell.outputs if "image/png" in o.get("data", {})]  # the live figure
    bars = [
        o.data["text/plain"]
        for o in cell.outputs
        if "%|" in o.get("data", {}).get("text/plain", "")
    ]
    assert len(live) == 1 and bars and all("100%" in bar for bar in bars)
    printed = _printed(notebook, marker)
    for developer in ["precision", "peak memory", "iteration ", "finished", "loss", "repeating"]:
        assert developer not in printed
    assert re.search(r"/\S+\.(jpg|png)\b", printed)  # where its picture went
    assert len(printed.splitlines()) <= 5


@pytest.mark.slow
def test_spatial_control_shows_its_code_checks_it_and_leaves_the_face_near_the_photo(tiny_run):
    notebook = nbformat.read(tiny_run["executed"], as_version=4)
    listing = next(
        c for c in _code_cells(notebook) if "spatial_control.guided_gram_matrix," in c.source
    )
    shown = "".join(str(o.get("data", {})) for o in listing.outputs)
    assert "def guided_gram_matrix(" in shown and "def layer_masks(" in shown
    assert "all-ones mask gives the Gram matrix: True" in _printed(notebook, "G_ones")
    printed = _printed(notebook, "face_kept")
    inside, elsewhere = (
        float(x) for x in re.findall(r"face ([\d.]+), elsewhere ([\d.]+)", printed)[0]
    )
    assert inside < elsewhere / 3  # no mask on the face: it starts and mostly stays the photo


@pytest.mark.slow
def test_alpha_beta_row_begins_with_the_photo_and_the_painting(tiny_run, repo_root):
    import helper

    photo = helper.image_size(repo_root / "image_resources/content/grace_hopper.jpg")  # (h, w)
    painting = helper.image_size(repo_root / "image_resources/style/hokusai_great_wave.jpg")
    height, width = helper.size_for_longest_side(*photo, TINY_SETTINGS["RATIO_SIZE"])
    painting_width = height * painting[1] / painting[0]  # shown at the photo's height
    ratios = 4  # the parameters cell's RATIOS
    expected = (1 + ratios) * width + painting_width + (1 + ratios) * GRID_GAP
    with Image.open(tiny_run["folder"] / "outputs" / "alpha_beta_ratios.jpg") as sheet:
        assert sheet.size[1] == height
        assert abs(sheet.size[0] - expected) <= 2  # the painting is sized in whole pixels twice


# --- The notebook as committed: what it shows, and the run it records ------------------------


def _committed(repo_root):
    return nbformat.read(repo_root / "Style_Transfer.ipynb", as_version=4)


def test_code_cells_are_small(repo_root):
    cells = _code_cells(_committed(repo_root))
    lines = [len(cell.source.splitlines()) for cell in cells]
    others = [
        n for cell, n in zip(cells, lines) if "parameters" not in cell.metadata.get("tags", [])
    ]
    assert sorted(lines)[(len(lines) - 1) // 2] <= 8  # the median (the lower one of an even count)
    assert max(others) <= 20


@pytest.mark.parametrize(
    "function",
    [
        "gram_matrix",
        "content_loss",
        "style_layer_loss",
        "style_loss",
        "total_loss",
        "total_variation_loss",
    ],
)
@pytest.mark.slow
def test_each_equation_shows_its_function_read_from_the_module(tiny_run, function):
    notebook = nbformat.read(tiny_run["executed"], as_version=4)
    shown = [
        i
        for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code"
        and "listing.show(" in cell.source
        and f"tf_helper.{function}" in cell.source
    ]
    assert len(shown) == 1, f"{function} is not shown with listing.show"
    index = shown[0]
    assert (
        notebook.cells[index - 1].cell_type == "markdown"
        and "$" in notebook.cells[index - 1].source
    )
    output = "".join(str(o.get("data", {})) for o in notebook.cells[index].outputs)
    assert f"def {function}(" in output  # the executed cell shows the module's own code
    try_it = notebook.cells[index + 2]  # the "try it" cell after its markdown
    assert try_it.cell_type == "code" and try_it.outputs


def test_spatial_control_shows_the_guided_gram_matrix_under_its_formula(repo_root):
    cells = _committed(repo_root).cells
    index = next(
        i
        for i, cell in enumerate(cells)
        if cell.cell_type == "code"
        and "listing.show(spatial_control.guided_gram_matrix" in cell.source
    )
    assert cells[index - 1].cell_type == "markdown" and "G^l_r" in cells[index - 1].source
    assert cells[index + 1].source.startswith("**Try it**")
    assert "guided_gram_matrix(F, tf.ones_like(" in cells[index + 2].source


def test_step_4_shows_the_optimisation_loop_itself(repo_root):
    loop = next(c for c in _code_cells(_committed(repo_root)) if "tf.GradientTape" in c.source)
    for piece in ["tf.Variable(", "tape.gradient(", "apply_gradients(", "tf.clip_by_value("]:
        assert piece in loop.source
    assert 10 <= len(loop.source.splitlines()) <= 17


def test_the_committed_run_answers_in_seconds(repo_root):
    notebook = _committed(repo_root)
    durations = [cell.metadata["papermill"]["duration"] for cell in notebook.cells]
    assert max(durations) <= 90
    assert sum(durations) <= 600
    assert (repo_root / "Style_Transfer.ipynb").stat().st_size < 5_000_000


def test_the_notebook_ends_with_five_to_eight_exercises(repo_root):
    notebook = _committed(repo_root)
    exercises = next(c for c in notebook.cells if c.source.startswith("## Exercises"))
    numbered = [line for line in exercises.source.splitlines() if line[:3].rstrip(". ").isdigit()]
    assert 5 <= len(numbered) <= 8
