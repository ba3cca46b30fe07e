"""--video on tiny clips made here: the styled clip read back, resuming, and one line for each
clip that cannot be used."""

from __future__ import annotations

import subprocess
from fractions import Fraction

import imageio_ffmpeg
import numpy as np
import pytest
from conftest import one_error_line, pixels, run_cli

import helper
from style_transfer import video_files

WIDTH, HEIGHT, FPS, FRAMES = 64, 48, 8, 4
FAST = ["--size", WIDTH, "--iterations", 2, "--first-frame-iterations", 3]


def write_clip(path, frames, fps=FPS, codec="libx264"):
    """Write float frames as a video with imageio-ffmpeg; return the path."""
    writer = imageio_ffmpeg.write_frames(
        str(path), (WIDTH, HEIGHT), fps=fps, codec=codec, macro_block_size=2,
        ffmpeg_log_level="error",
    )  # fmt: skip
    writer.send(None)
    for frame in frames:
        writer.send(helper.to_uint8(frame))
    writer.close()
    return path


def ffmpeg(*arguments):
    subprocess.run(
        [video_files.ffmpeg(), "-y", "-loglevel", "error", *map(str, arguments)], check=True
    )


@pytest.fixture(scope="module")
def pan(small_photo):
    """Four frames of a camera panning right over the sample photo."""
    return video_files.camera_move(small_photo(120, 160), FRAMES, HEIGHT, WIDTH, pan=0.05)


@pytest.fixture(scope="module")
def clip_with_audio(pan, tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    silent = write_clip(folder / "silent.mp4", pan)
    clip = folder / "clip.mp4"
    tone = f"sine=frequency=440:duration={FRAMES / FPS}"
    ffmpeg("-i", silent, "-f", "lavfi", "-i", tone, "-c:v", "copy", "-c:a", "aac", clip)
    return clip


def read_back(path):
    """Return (frames, metadata) of a video as imageio-ffmpeg reads it."""
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    return [np.frombuffer(raw, np.uint8) for raw in reader], meta


def test_video_is_styled_with_its_frame_rate_size_and_audio(
    clip_with_audio, small_files, tmp_path, capsys
):
    out = tmp_path / "styled.mp4"
    code, stdout, error = run_cli(
        capsys, "--video", clip_with_audio, "--style", small_files["style"], "-o", out, *FAST
    )
    assert code == 0, error
    frames, meta = read_back(out)
    assert len(frames) == FRAMES
    assert meta["size"] == (WIDTH, HEIGHT)
    assert meta["fps"] == FPS
    assert meta.get("audio_codec") == "aac"
    saved = sorted((tmp_path / "styled.mp4.frames").glob("frame_*.png"))
    assert [path.name for path in saved] == [f"frame_0000{i}.png" for i in range(1, FRAMES + 1)]
    assert "frame 2/4" in stdout and "the flow trusted" in stdout
    iterations = [line.split()[1] for line in stdout.splitlines() if line.startswith("iteration")]
    assert iterations[-1] == f"{3 + 2 * (FRAMES - 1)}/{3 + 2 * (FRAMES - 1)}:"
    # the clip holds the saved frames (H.264 is lossy: close, not equal)
    first = frames[0].reshape(HEIGHT, WIDTH, 3) / 255.0
    assert np.abs(first - pixels(saved[0])).mean() < 0.05

    code, _, error = run_cli(
        capsys, "--video", clip_with_audio, "--style", small_files["style"], "-o", out, *FAST
    )
    assert code == 2 and "exists" in one_error_line(error) and "--overwrite" in error


def test_resume_goes_on_from_the_next_frame_as_the_whole_run_would(
    pan, small_files, tmp_path, capsys
):
    clip = write_clip(tmp_path / "clip.mp4", pan)
    whole, resumed = tmp_path / "whole.mp4", tmp_path / "resumed.mp4"
    command = ["--video", clip, "--style", small_files["style"], *FAST]
    assert run_cli(capsys, *command, "-o", whole)[0] == 0
    # A run stopped after frame 2: its first two frames and what they were made with.
    (tmp_path / "resumed.mp4.frames").mkdir()
    for name in ("frame_00001.png", "frame_00002.png", "video.json"):
        data = (tmp_path / "whole.mp4.frames" / name).read_bytes()
        (tmp_path / "resumed.mp4.frames" / name).write_bytes(data)

    code, _, error = run_cli(capsys, *command, "-o", resumed)
    assert code == 2 and "holds 2 styled frame(s)" in one_error_line(error)
    code, _, error = run_cli(capsys, *command, "-o", resumed, "--resume", "--temporal-weight", 5)
    assert code == 2 and "--temporal-weight" in one_error_line(error)

    code, stdout, error = run_cli(capsys, *command, "-o", resumed, "--resume")
    assert code == 0, error
    assert "resuming at frame 3" in stdout
    assert "frame 1/4" not in stdout and "frame 3/4" in stdout
    iterations = [line.split()[1] for line in stdout.splitlines() if line.startswith("iteration")]
    assert iterations[0] == "6/9:"  # 3 + 2 done of 3 + 2 + 2 + 2: the progress goes on from frame 3
    for index in range(1, FRAMES + 1):
        name = f"frame_{index:05d}.png"
        actual = pixels(tmp_path / "resumed.mp4.frames" / name)
        expected = pixels(tmp_path / "whole.mp4.frames" / name)
        np.testing.assert_array_equal(actual, expected)
    assert len(read_back(resumed)[0]) == FRAMES


def corrupt_third_frame(path):
    """Garble the image data of the third JPEG of an MJPEG clip, keeping its size."""
    data = bytearray(path.read_bytes())
    starts = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]
    scan = data.index(b"\xff\xda", starts[2])
    for i in range(scan + 20, starts[3] - 40):  # up to the end of its data
        data[i] = (data[i] * 7 + 13) % 255
    path.write_bytes(bytes(data))


def test_a_corrupt_frame_is_named_and_the_frames_before_it_are_kept(
    pan, small_files, tmp_path, capsys
):
    clip = write_clip(tmp_path / "clip.avi", pan, codec="mjpeg")
    corrupt_third_frame(clip)
    out = tmp_path / "out.mp4"
    code, _, error = run_cli(
        capsys, "--video", clip, "--style", small_files["style"], "-o", out, *FAST
    )
    line = one_error_line(error)
    assert code == 2
    assert "frame 3 of 4 is corrupt" in line and "the 2 frame(s) styled before it are kept" in line
    assert len(list((tmp_path / "out.mp4.frames").glob("frame_*.png"))) == 2
    assert not out.exists()


@pytest.fixture
def bad_clips(pan, tmp_path):
    """{what is wrong: path} of clips that cannot be styled as they are."""
    clip = write_clip(tmp_path / "clip.mp4", pan)
    not_a_video = tmp_path / "notes.mp4"
    not_a_video.write_text("not a video\n")
    no_frames = tmp_path / "empty.y4m"
    no_frames.write_text(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{FPS}:1 Ip A1:1 C420jpeg\n")
    variable = tmp_path / "variable.mp4"  # the third frame dropped, the others kept in time
    ffmpeg("-i", clip, "-vf", r"select=not(eq(n\,2))", "-fps_mode", "vfr", variable)
    portrait = tmp_path / "portrait.mp4"
    ffmpeg("-display_rotation", 90, "-i", clip, "-c", "copy", portrait)
    return {
        "is not a video ffmpeg can read": not_a_video,
        "holds no video frames": no_frames,
        "has a variable frame rate (from 4 to 8 frames a second)": variable,
        "with a rotation of 90 degrees in its metadata": portrait,
    }


def test_clips_that_cannot_be_used_are_refused_in_one_line(bad_clips, small_files, capsys):
    for message, clip in bad_clips.items():
        out = clip.with_name(clip.stem + "_styled.mp4")
        code, _, error = run_cli(
            capsys, "--video", clip, "--style", small_files["style"], "-o", out, *FAST
        )
        assert code == 2 and message in one_error_line(error), (clip, error)
        assert not out.exists()


def test_probe_reads_frames_and_rate_from_the_timestamps(pan, tmp_path):
    clip = write_clip(tmp_path / "clip.mp4", pan, fps=Fraction(30000, 1001))
    info = video_files.probe(clip)
    assert (info.frames, info.width, info.height) == (FRAMES, WIDTH, HEIGHT)
    assert info.fps == pytest.approx(30000 / 1001, rel=1e-4)
    assert info.audio_codec is None


def test_options_that_do_not_go_with_video_are_refused(small_files, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    for extra, message in (
        (["--scales", "32,64"], "--scales does not go with --video"),
        (["--gif", tmp_path / "a.gif"], "--gif does not go with --video"),
        ([small_files["content"]], "drop the image"),
    ):
        code, _, error = run_cli(
            capsys, "--video", "clip.mp4", "--style", small_files["style"], "-o", out, *extra
        )
        assert code == 2 and message in one_error_line(error), error
    code, _, error = run_cli(
        capsys, "--video", "clip.mp4", small_files["style"], "-o", tmp_path / "out.gif"
    )
    assert code == 2 and "clip.mp4 does not exist" in one_error_line(error)
