"""Nothing lost: Ctrl-C, a NaN loss, checkpoints and --resume, atomic outputs.

Runs are 32 px with the real weights and a handful of iterations. The Ctrl-C test sends a
real SIGINT to a child process once its progress lines show iterations going by.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

import helper
import machine
from optimisation.settings import Settings
from style_transfer import checkpoints, cli, reading
from style_transfer.progress import Recorder


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """A 32 px photo and painting from image_resources, saved small."""
    from conftest import CONTENT_IMAGE, STYLE_IMAGE

    folder = tmp_path_factory.mktemp("inputs")
    paths = []
    for name, source in (("content.png", CONTENT_IMAGE), ("style.png", STYLE_IMAGE)):
        with Image.open(source) as image:
            image.convert("RGB").resize((32, 28)).save(folder / name)
        paths.append(folder / name)
    return paths


@pytest.fixture
def default_sigint():
    """Python's own SIGINT handler for this test, then back to what it was.

    A shell that starts pytest in the background (`cmd &` without job control) makes it
    ignore SIGINT, and Python then keeps ignoring it: Ctrl-C could not be tested.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _default_sigint_in_child() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Python then installs its own handler


def read_pixels(path) -> np.ndarray:
    with Image.open(path) as image:
        image.load()
        return np.asarray(image.convert("RGB"))


@pytest.fixture
def evaluated_losses(monkeypatch):
    """Every total loss L-BFGS evaluates, in order (a spy on StyleTransferLoss)."""
    import tf_helper

    losses = []
    original = tf_helper.StyleTransferLoss.terms_and_gradient

    def spy(self, image):
        terms, gradient = original(self, image)
        losses.append(terms["total"])
        return terms, gradient

    monkeypatch.setattr(tf_helper.StyleTransferLoss, "terms_and_gradient", spy)
    return losses


@pytest.fixture
def first_checkpoint_copy(monkeypatch, tmp_path):
    """Copy the checkpoint directory as it stands after its first (periodic) save."""
    copy = tmp_path / "first.checkpoint"
    save = checkpoints.save_checkpoint

    def save_and_copy(directory, checkpoint):
        path = save(directory, checkpoint)
        if not copy.exists():
            shutil.copytree(directory, copy)
        return path

    monkeypatch.setattr(checkpoints, "save_checkpoint", save_and_copy)
    return copy


def state_of(directory) -> dict:
    return json.loads((directory / checkpoints.STATE_FILE).read_text())


# --- Ctrl-C ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_ctrl_c_saves_the_best_image_gif_and_checkpoint(repo_root, images, tmp_path):
    output, gif, stats = tmp_path / "out.png", tmp_path / "run.gif", tmp_path / "stats.json"
    command = [
        sys.executable, "-m", "style_transfer", str(images[0]), str(images[1]), "-o", str(output),
        "--size", "32", "--iterations", "10000", "--gif", str(gif), "--stats", str(stats),
        "--checkpoint-every", "2",
        # float32 throughout, so that the history's losses and the checkpoint's compare exactly
        "--precision", "float32",
    ]  # fmt: skip
    child = subprocess.Popen(
        command, cwd=repo_root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=_default_sigint_in_child,
    )  # fmt: skip
    seen = []
    deadline = time.monotonic() + 240
    for line in child.stdout:  # progress lines: "iteration 3/10000: loss ..."
        seen.append(line)
        if line.startswith("iteration 3/"):
            child.send_signal(signal.SIGINT)
            break
        assert time.monotonic() < deadline, "no progress lines"
    out, err = child.communicate(timeout=120)
    assert child.returncode == 130, err
    assert "Traceback" not in err
    assert "interrupted after" in err and "saved the best image so far" in err
    assert "interrupted:" in out

    pixels = read_pixels(output)  # a valid image of the right size
    assert pixels.shape == (28, 32, 3) and pixels.std() > 1
    with Image.open(gif) as animation:
        assert animation.n_frames >= 1
    manifest = json.loads(stats.read_text())
    assert manifest["stopped_because"] == "interrupted"
    done = len(manifest["history"])
    assert done >= 3 and [e["iteration"] for e in manifest["history"]] == list(range(1, done + 1))
    # The checkpoint holds exactly the saved image, ready for --resume.
    directory = tmp_path / "out.png.checkpoint"
    state = state_of(directory)
    assert state["iteration"] == done
    best = np.load(directory / state["image"])
    np.testing.assert_array_equal(helper.to_uint8(best), pixels)
    assert state["terms"]["total"] == pytest.approx(min(e["total"] for e in manifest["history"]))


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_sigint_during_a_run_stops_it_and_keeps_the_iterations_done(
    net, small_photo, small_painting, optimizer, default_sigint
):
    import os

    import tf_run

    def interrupt_at_the_second_iteration(iteration, terms, image):
        if iteration == 2:
            os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C would

    with pytest.raises(tf_run.Interrupted) as stopped:  # a KeyboardInterrupt, with the picture
        tf_run.run_style_transfer(
            small_photo(32, 32), small_painting(32, 32), Settings(iterations=50, optimizer=optimizer),
            net=net, callback=interrupt_at_the_second_iteration,
        )  # fmt: skip
    result = stopped.value.result
    assert result.stopped_because == "interrupted"
    assert len(result.history) == 2
    assert result.terms["total"] <= min(row["total"] for row in result.history)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handed back


# --- A loss that stops being a number --------------------------------------------------------


@pytest.mark.slow
def test_nan_loss_stops_and_keeps_the_last_good_image(images, tmp_path, capsys):
    output, stats = tmp_path / "out.png", tmp_path / "stats.json"
    # Adam on a loss scaled by 1e26: the loss is finite (~4e34) but its gradient overflows
    # float32 within two steps, and Adam turns the infinities into a NaN image.
    code = cli.main(
        [str(images[0]), str(images[1]), "-o", str(output), "--size", "32", "--iterations", "20",
         "--optimizer", "adam", "--style-weight", "1e26", "--stats", str(stats),
         "--precision", "float32"]  # the history's losses and the final one compare exactly
    )  # fmt: skip
    error = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert error[-1].startswith("error: the loss became nan after")
    assert "kept the last good image" in error[-1] and "lower --learning-rate" in error[-1]
    manifest = json.loads(stats.read_text())
    assert "nan" in manifest["stopped_because"]
    good = [entry["total"] for entry in manifest["history"]]
    assert good and all(math.isfinite(total) for total in good)
    assert manifest["final"]["total"] == min(good)
    assert f"loss {min(good):.4g}" in error[-1]
    assert read_pixels(output).shape == (28, 32, 3)


@pytest.mark.slow
def test_infinite_loss_at_the_start_is_a_bad_setting(images, tmp_path, capsys):
    output = tmp_path / "out.png"
    code = cli.main(
        [str(images[0]), str(images[1]), "-o", str(output), "--size", "32", "--iterations", "3",
         "--style-weight", "1e38"]
    )  # fmt: skip
    error = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert error[-1].startswith("error: ") and "inf" in error[-1]
    assert "starting image" in error[-1] and "style weight" in error[-1].replace("-", " ")
    assert not output.exists()


# --- Checkpoints and --resume ----------------------------------------------------------------


@pytest.mark.slow
def test_resume_continues_lbfgs_from_the_loss_it_stopped_at(
    images, tmp_path, capsys, evaluated_losses, first_checkpoint_copy
):
    output, stats = tmp_path / "out.png", tmp_path / "stats.json"
    # float32 throughout: a checkpoint's loss and the resumed run's first evaluation compare
    first = [str(images[0]), str(images[1]), "-o", str(output), "--size", "32", "--precision", "float32"]  # fmt: skip
    code = cli.main([*first, "--iterations", "3", "--checkpoint-every", "2", "--stats", str(stats)])
    assert code == 0, capsys.readouterr().err
    periodic, final = state_of(first_checkpoint_copy), state_of(tmp_path / "out.png.checkpoint")
    assert (periodic["iteration"], final["iteration"]) == (2, 3)
    run_losses = list(evaluated_losses)

    # From the periodic checkpoint (as after a crash): the loss of iteration 2's image.
    evaluated_losses.clear()
    resumed = ["--resume", "-o", str(output), "--checkpoint-dir", str(first_checkpoint_copy)]
    assert cli.main([*resumed, "--iterations", "4"]) == 0
    assert evaluated_losses[0] == pytest.approx(periodic["terms"]["total"], rel=1e-5)
    assert any(math.isclose(periodic["terms"]["total"], x, rel_tol=1e-6) for x in run_losses)

    # From the last checkpoint, with options taken from it (size, stats path, ...).
    evaluated_losses.clear()
    assert cli.main(["--resume", "-o", str(output), "--iterations", "5"]) == 0
    assert evaluated_losses[0] == pytest.approx(final["terms"]["total"], rel=1e-5)
    manifest = json.loads(stats.read_text())
    assert [entry["iteration"] for entry in manifest["history"]] == [1, 2, 3, 4, 5]
    assert manifest["resumed_from_iteration"] == 3
    assert manifest["final"]["total"] < final["terms"]["total"]
    assert "resuming at iteration 3" in capsys.readouterr().out


@pytest.mark.slow
def test_resume_continues_adam_from_the_loss_it_stopped_at(
    images, tmp_path, capsys, first_checkpoint_copy
):
    output, stats = tmp_path / "out.png", tmp_path / "stats.json"
    first = [str(images[0]), str(images[1]), "-o", str(output), "--size", "32"]
    options = ["--optimizer", "adam", "--learning-rate", "0.05", "--stats", str(stats)]
    code = cli.main([*first, *options, "--iterations", "3", "--checkpoint-every", "2"])
    assert code == 0, capsys.readouterr().err
    periodic = state_of(first_checkpoint_copy)
    resumed = ["--resume", "-o", str(output), "--checkpoint-dir", str(first_checkpoint_copy)]
    assert cli.main([*resumed, "--iterations", "4"]) == 0
    # Adam reports each step's loss at the image it starts from: the first step resumed is
    # taken from the checkpoint's image, so its loss is the checkpoint's.
    history = json.loads(stats.read_text())["history"]
    first_resumed = history[periodic["iteration"]]
    assert first_resumed["iteration"] == periodic["iteration"] + 1
    assert first_resumed["total"] == pytest.approx(periodic["terms"]["total"], rel=1e-5)


@pytest.mark.slow
def test_the_hint_after_a_finished_run_continues_it(images, tmp_path, capsys):
    import re
    import shlex

    output = tmp_path / "out.png"
    first = [str(images[0]), str(images[1]), "-o", str(output), "--size", "32"]
    assert cli.main([*first, "--iterations", "2", "--checkpoint-every", "1"]) == 0
    hint = re.search(r"\(continue with: (.*)\)", capsys.readouterr().out).group(1)
    assert hint == f"--resume -o {output} --iterations 4"
    assert cli.main(shlex.split(hint)) == 0, capsys.readouterr().err
    assert state_of(tmp_path / "out.png.checkpoint")["iteration"] == 4


@pytest.mark.slow
def test_a_resumed_runs_gif_has_the_frames_asked_for(images, tmp_path, monkeypatch, default_sigint):
    import os

    output, gif = tmp_path / "out.png", tmp_path / "run.gif"
    record = Recorder.__call__

    def record_and_stop_at_the_third(recorder, iteration, terms, image):
        record(recorder, iteration, terms, image)
        if iteration == 3:
            os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C would

    monkeypatch.setattr(Recorder, "__call__", record_and_stop_at_the_third)
    first = [
        str(images[0]), str(images[1]), "-o", str(output), "--size", "32", "--iterations", "8",
        "--gif", str(gif), "--gif-frames", "4", "--checkpoint-every", "100",
    ]  # fmt: skip
    assert cli.main(first) == 130
    with Image.open(gif) as animation:
        assert animation.n_frames == 2  # iteration 2 of 2, 4, 6, 8, and the one it stopped at
    monkeypatch.undo()
    assert cli.main(["--resume", "-o", str(output)]) == 0
    with Image.open(gif) as animation:
        assert animation.n_frames == 4


def write_checkpoint(directory, images, **parameters) -> checkpoints.Checkpoint:
    saved = {
        "content": str(images[0]), "style": str(images[1]), "size": 32, "iterations": 10,
        "style_weight": 1000.0, "content_weight": 1.0, "tv_weight": 0.001,
        "content_layers": ["conv4_2"], "style_layers": ["conv1_1"],
        "content_sha256": machine.file_digest(images[0]),
        "style_sha256": machine.file_digest(images[1]), **parameters,
    }  # fmt: skip
    checkpoint = checkpoints.Checkpoint(
        image=np.random.default_rng(1).random((28, 32, 3), dtype=np.float32),
        iteration=4,
        terms={"total": 12.5, "content": 1.0},
        parameters=saved,
        history=[{"iteration": i, "total": 20.0 - i} for i in range(1, 5)],
        frames=np.zeros((2, 28, 32, 3), np.uint8),
    )
    checkpoints.save_checkpoint(directory, checkpoint)
    return checkpoint


def test_checkpoint_round_trip_is_exact_and_keeps_one_image(tmp_path, images):
    written = write_checkpoint(tmp_path / "c", images)
    written.iteration = 6
    checkpoints.save_checkpoint(tmp_path / "c", written)
    read = checkpoints.load_checkpoint(tmp_path / "c")
    np.testing.assert_array_equal(read.image, written.image)
    assert read.image.dtype == np.float32 and read.iteration == 6
    assert read.terms == written.terms and read.history == written.history
    np.testing.assert_array_equal(read.frames, written.frames)
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == [
        "frames-000006.npy", "image-000006.npy", "state.json",
    ]  # fmt: skip


def test_crash_while_checkpointing_keeps_the_previous_checkpoint(tmp_path, images, monkeypatch):
    written = write_checkpoint(tmp_path / "c", images)

    def disk_full(text, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(machine, "write_text", disk_full)
    later = checkpoints.Checkpoint(
        image=np.zeros_like(written.image), iteration=8, terms={"total": 1.0}, parameters={}
    )
    with pytest.raises(OSError):
        checkpoints.save_checkpoint(tmp_path / "c", later)
    read = checkpoints.load_checkpoint(tmp_path / "c")
    assert read.iteration == 4
    np.testing.assert_array_equal(read.image, written.image)


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--style-weight", "5"], ["--style-weight 5 differs from 1000", "drop --style-weight"]),
        (["--size", "64"], ["--size 64 differs from 32"]),
        (["--style-layers", "conv2_1"], ["--style-layers conv2_1 differs from conv1_1"]),
        (["--iterations", "4"], ["at iteration 4", "give more, e.g. --iterations 8"]),
        # a checkpoint from before the border was recorded ran with zero padding
        (["--border", "mirror"], ["--border mirror differs from zero"]),
    ],
)
def test_resume_refuses_options_that_change_the_loss(tmp_path, images, capsys, extra, words):
    write_checkpoint(tmp_path / "out.png.checkpoint", images)
    code = cli.main(["--resume", "-o", str(tmp_path / "out.png"), *extra])
    error = capsys.readouterr().err.strip()
    assert code == 2 and len(error.splitlines()) == 1 and error.startswith("error: ")
    for word in words:
        assert word in error


@pytest.mark.parametrize(
    ("recorded", "resumed"), [({}, True), ({"no_preconditioner": False}, False)]
)
def test_resume_keeps_the_preconditioner_the_checkpoint_ran_with(
    tmp_path, images, recorded, resumed
):
    """A checkpoint from before the preconditioner was recorded ran without it."""
    write_checkpoint(tmp_path / "out.png.checkpoint", images, **recorded)
    request, _ = reading.parse_arguments(["--resume", "-o", str(tmp_path / "out.png")])
    assert request.no_preconditioner is resumed
    assert request.settings().preconditioner is not resumed


def test_resume_refuses_a_changed_input_image(tmp_path, images, capsys):
    write_checkpoint(tmp_path / "out.png.checkpoint", images)
    other = tmp_path / "other.png"
    Image.new("RGB", (32, 28), (1, 2, 3)).save(other)
    code = cli.main(["--resume", "-o", str(tmp_path / "out.png"), str(other)])
    error = capsys.readouterr().err
    assert code == 2 and "is not the content image the checkpoint" in error


def test_resume_takes_the_images_given_again_if_they_are_the_checkpoints(tmp_path, images, capsys):
    write_checkpoint(tmp_path / "out.png.checkpoint", images)
    again = ["--resume", "-o", str(tmp_path / "out.png"), "--iterations", "5"]
    assert cli.main([str(images[0]), str(images[1]), *again]) == 0, capsys.readouterr().err
    assert "resuming at iteration 4" in capsys.readouterr().out
    other = tmp_path / "other.png"
    Image.new("RGB", (32, 28), (1, 2, 3)).save(other)
    write_checkpoint(tmp_path / "out.png.checkpoint", images)
    assert cli.main([str(images[0]), str(other), *again]) == 2
    assert "other.png is not the style image the checkpoint" in capsys.readouterr().err


@pytest.mark.parametrize("damage", ["no state", "bad json", "no image", "wrong shape"])
def test_damaged_checkpoint_is_named_with_the_fix(tmp_path, images, capsys, damage):
    directory = tmp_path / "out.png.checkpoint"
    write_checkpoint(directory, images)
    state = directory / checkpoints.STATE_FILE
    if damage == "no state":
        state.unlink()
    elif damage == "bad json":
        state.write_text(state.read_text()[:40])
    elif damage == "no image":
        next(directory.glob("image-*.npy")).unlink()
    else:
        np.save(next(directory.glob("image-*.npy")), np.zeros((5, 5, 3), np.float32))
    code = cli.main(["--resume", "-o", str(tmp_path / "out.png")])
    error = capsys.readouterr().err.strip()
    assert code == 2 and len(error.splitlines()) == 1 and str(directory) in error
    assert "--checkpoint-every" in error if damage == "no state" else "delete" in error


# --- Outputs are written whole or not at all -------------------------------------------------


@pytest.mark.parametrize(
    "write",
    [
        lambda path: machine.write_text('{"half": ', path),
        lambda path: helper.save_image(np.zeros((4, 4, 3)), path),
    ],
    ids=["stats", "image"],
)
def test_failed_write_keeps_the_old_file_and_no_partial_one(tmp_path, monkeypatch, write):
    path = tmp_path / "out.png"
    path.write_bytes(b"the previous, complete file")

    def crash(source, destination):
        raise KeyboardInterrupt  # Ctrl-C just before the rename

    monkeypatch.setattr(helper.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        write(path)
    assert path.read_bytes() == b"the previous, complete file"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_the_same_command_again_keeps_the_earlier_checkpoint_and_picture(images, tmp_path, capsys):
    output = tmp_path / "out.png"
    command = [str(images[0]), str(images[1]), "-o", str(output), "--size", "32"]
    command += ["--iterations", "3", "--checkpoint-every", "1"]
    assert cli.main(command) == 0, capsys.readouterr().err
    checkpoint = tmp_path / "out.png.checkpoint"
    kept = {path.name: path.read_bytes() for path in [output, *checkpoint.iterdir()]}
    capsys.readouterr()
    assert cli.main(command) == 2  # as from the shell history: refused before anything runs
    err = capsys.readouterr().err
    assert f"{checkpoint} holds the checkpoint of an earlier run at iteration 3" in err
    assert f"continue it with --resume -o {output}, or start afresh with --overwrite" in err
    now = {path.name: path.read_bytes() for path in [output, *checkpoint.iterdir()]}
    assert now == kept
    assert cli.main([*command, "--overwrite", "--iterations", "1"]) == 0
    assert state_of(checkpoint)["iteration"] == 1


# --- No earlier output replaced unasked --------------------------------------------------------


def test_an_existing_picture_or_stats_is_refused_before_any_work(images, tmp_path, capsys):
    output, stats = tmp_path / "out.png", tmp_path / "stats.json"
    output.write_bytes(b"an earlier run's picture")
    stats.write_bytes(b"an earlier run's stats")
    command = [*map(str, images), "-o", str(output), "--size", "32", "--iterations", "2"]
    assert cli.main([*command, "--stats", str(stats)]) == 2
    out, err = capsys.readouterr()
    assert out == ""  # nothing ran
    assert err == (
        f"error: {output}, {stats} exist; give -o and --stats another path, or pass --overwrite "
        "to replace them\n"
    )
    # Where the picture has a checkpoint, the line also names --resume.
    write_checkpoint(tmp_path / "out.png.checkpoint", images)
    assert cli.main(command) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {output} exists, with the checkpoint of an earlier run at ")
    assert err.endswith(
        f"continue it with --resume -o {output}, or start afresh with --overwrite\n"
    )
    assert output.read_bytes() == b"an earlier run's picture"
    assert stats.read_bytes() == b"an earlier run's stats"


def test_an_earlier_batch_picture_or_sweep_sheet_is_refused(images, tmp_path, capsys):
    folder = tmp_path / "painted"
    folder.mkdir()
    earlier = folder / f"{images[0].stem}_{images[1].stem}.jpg"  # as the batch names it
    earlier.write_bytes(b"an earlier batch's picture")
    batch = ["--batch", str(images[0]), "--style", str(images[1]), "-o", str(folder)]
    assert cli.main([*batch, "--size", "32"]) == 2
    assert capsys.readouterr().err == (
        f"error: {earlier} exists (from an earlier run); give -o another directory, or pass "
        "--overwrite to replace it\n"
    )
    sheet = tmp_path / "sheet.png"
    sheet.write_bytes(b"an earlier sweep's sheet")
    sweep = [*map(str, images), "-o", str(sheet), "--sweep", "tv-weight=0,1"]
    assert cli.main(sweep) == 2
    assert f"error: {sheet} exists; give -o another path" in capsys.readouterr().err
    assert earlier.read_bytes() == b"an earlier batch's picture"
    assert sheet.read_bytes() == b"an earlier sweep's sheet"


def test_a_repeat_does_not_replace_the_picture_of_the_run_it_repeats(images, tmp_path, capsys):
    output = tmp_path / "out.png"
    output.write_bytes(b"the picture of the run")
    manifest = tmp_path / "run.json"
    parameters = {"content": str(images[0]), "styles": [str(images[1])], "output": str(output)}
    inputs = {str(path): machine.file_digest(path) for path in images}
    manifest.write_text(json.dumps({"parameters": parameters, "inputs": inputs}))
    assert cli.main(["--repeat", str(manifest)]) == 2  # it would write where the run wrote
    assert f"error: {output} exists; give -o another path" in capsys.readouterr().err
    assert output.read_bytes() == b"the picture of the run"


def test_a_resume_replaces_its_own_outputs_and_no_others(images, tmp_path, capsys):
    output, other = tmp_path / "out.png", tmp_path / "other.png"
    directory = tmp_path / "saved.checkpoint"
    write_checkpoint(directory, images, output=str(output))
    other.write_bytes(b"someone's picture")
    resume = ["--resume", "--checkpoint-dir", str(directory), "--iterations", "5"]
    assert cli.main([*resume, "-o", str(other)]) == 2
    assert f"error: {other} exists; give -o another path" in capsys.readouterr().err
    assert other.read_bytes() == b"someone's picture"
    output.write_bytes(b"the checkpointed run's picture so far")
    assert cli.main([*resume, "-o", str(output)]) == 0, capsys.readouterr().err
    assert read_pixels(output).shape == (28, 32, 3)


def freeze_while_writing(child, directory, seconds: float = 600) -> list:
    """Stop `child` (SIGSTOP) at random moments until it is frozen in the middle of writing a
    checkpoint over an earlier one: a temporary file of an atomic write (`.NAME.XXXX.npy` or
    `.state.XXXX.json`) in `directory` beside a state.json. Return those temporary files; the
    child is left stopped. Frozen, nothing moves while the directory is read."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(random.uniform(0, 0.005))
        os.kill(child.pid, signal.SIGSTOP)
        _, status = os.waitpid(child.pid, os.WUNTRACED)
        assert os.WIFSTOPPED(status), "the run ended before it could be caught writing"
        writing = sorted(directory.glob(".*")) if directory.is_dir() else []
        if writing and (directory / checkpoints.STATE_FILE).is_file():
            return writing
        os.kill(child.pid, signal.SIGCONT)
    pytest.fail(f"never caught the run writing a checkpoint in {seconds:.0f} s")


@pytest.mark.slow
def test_sigkill_while_a_checkpoint_is_written_leaves_the_previous_one_whole(
    repo_root, images, tmp_path, capsys
):
    import re

    output, log = tmp_path / "out.png", tmp_path / "stderr.txt"
    directory = tmp_path / "out.png.checkpoint"
    command = [
        sys.executable, "-m", "style_transfer", *map(str, images), "-o", str(output),
        "--size", "32", "--iterations", "100000", "--checkpoint-every", "1",
    ]  # fmt: skip
    with open(log, "w") as stderr:
        child = subprocess.Popen(command, cwd=repo_root, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        writing = freeze_while_writing(child, directory)
        state_bytes = (directory / checkpoints.STATE_FILE).read_bytes()
        image_name = json.loads(state_bytes)["image"]
        image_bytes = (directory / image_name).read_bytes()
        child.kill()  # SIGKILL, in the middle of the write
    finally:
        child.kill()
        child.wait()
    assert "Traceback" not in log.read_text()
    # Killed before the write was renamed into place: its temporary file is still there.
    assert [path for path in writing if path.exists()] == writing
    # The iteration being written is the newest image's; the checkpoint is the one before.
    written = [int(re.search(r"image-(\d+)", path.name)[1]) for path in directory.glob("*image-*")]
    state = checkpoints.load_checkpoint(directory)
    assert state.iteration == max(written) - 1 == int(image_name[6:12])
    assert (directory / checkpoints.STATE_FILE).read_bytes() == state_bytes
    assert (directory / image_name).read_bytes() == image_bytes
    # ... and a resume goes on from it, clearing the cut-short write.
    resume = ["--resume", "-o", str(output), "--iterations", str(state.iteration + 1)]
    assert cli.main(resume) == 0, capsys.readouterr().err
    assert state_of(directory)["iteration"] == state.iteration + 1
    assert not list(directory.glob(".*"))
