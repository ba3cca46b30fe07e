"""Several --video clips: their names in -o, one after another in one process, and one Ray task
each on the local cluster the command starts, whose frames equal those of one process."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from conftest import REPO_ROOT

import helper
from style_transfer import cli, video_files
from style_transfer.reading import parse_arguments

HEIGHT, WIDTH, FRAMES = 32, 48, 3
FAST = ["--size", WIDTH, "--iterations", 2, "--first-frame-iterations", 2, "--seed", 3]


def write_clip(frames, path: Path) -> Path:
    """Write float frames (H, W, 3) as an .mp4 at 8 fps through PNG files; return the path."""
    pictures = []
    for index, frame in enumerate(frames):
        pictures.append(path.with_name(f"{path.stem}_{index}.png"))
        helper.save_image(frame, pictures[-1])
    return video_files.write_video(pictures, path, Fraction(8))


@pytest.fixture(scope="module")
def clips(small_photo, tmp_path_factory) -> list[Path]:
    """Two tiny clips: a camera panning over the sample photo, and one zooming into it."""
    folder = tmp_path_factory.mktemp("clips")
    photo = small_photo(120, 160)
    return [
        write_clip(
            video_files.camera_move(photo, FRAMES, HEIGHT, WIDTH, pan=0.05), folder / "pan.mp4"
        ),
        write_clip(
            video_files.camera_move(photo, FRAMES, HEIGHT, WIDTH, pan=0.0, zoom=0.05),
            folder / "zoom.mp4",
        ),
    ]


def ray_processes_of(driver: int) -> list[int]:
    """Return the ids of the Ray node processes (raylet, gcs_server) of the cluster that the
    process `driver` started: Ray names its session directory after the driver's id."""
    import psutil

    names = {"raylet", "gcs_server"}
    return [
        p.pid
        for p in psutil.process_iter(["pid", "name", "cmdline"])
        if p.info["name"] in names
        and any(f"_{driver}/" in part for part in p.info["cmdline"] or [])
    ]


def frame_bytes(video: Path) -> list[bytes]:
    """Return the bytes of the saved frames (PNG) of a styled video, in order."""
    directory = video.with_name(video.name + ".frames")
    return [path.read_bytes() for path in sorted(directory.glob("frame_*.png"))]


def test_a_style_after_several_clips_is_taken_as_the_style():
    request, _ = parse_arguments(["--video", "a.mp4", "b.mp4", "s.jpg", "-o", "out"])
    assert (request.video, request.styles) == (["a.mp4", "b.mp4"], ["s.jpg"])


@pytest.fixture(scope="module")
def one_process(clips, small_files, tmp_path_factory) -> Path:
    """The two clips styled one after another in this process; return the output directory."""
    output = tmp_path_factory.mktemp("one") / "styled"
    arguments = ["--video", *clips, "--style", small_files["style"], "-o", output, *FAST]
    assert cli.main([str(argument) for argument in arguments]) == 0
    return output


def test_several_clips_in_one_process_each_get_their_video(clips, small_files, one_process):
    for clip in clips:
        output = one_process / f"{clip.stem}_{small_files['style'].stem}.mp4"
        assert video_files.probe(output).frames == FRAMES
        assert len(frame_bytes(output)) == FRAMES


@pytest.mark.slow
def test_clips_on_two_workers_equal_one_process_byte_for_byte(
    clips, small_files, one_process, tmp_path
):
    pytest.importorskip("ray")
    output = tmp_path / "styled"
    command = [
        sys.executable, "-m", "style_transfer", "--video", *map(str, clips), "--style",
        str(small_files["style"]), "-o", str(output), *map(str, FAST), "--workers", "2",
    ]  # fmt: skip
    with subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as done:
        stdout, stderr = done.communicate(timeout=300)
    assert done.returncode == 0, stdout + stderr
    assert "painting 2 clips on 2 Ray worker(s)" in stdout
    for clip in clips:
        name = f"{clip.stem}_{small_files['style'].stem}.mp4"
        assert video_files.probe(output / name).frames == FRAMES
        actual, expected = frame_bytes(output / name), frame_bytes(one_process / name)
        assert len(actual) == FRAMES
        assert actual == expected
    assert ray_processes_of(done.pid) == []  # the command stopped the cluster it started
