"""Videos in and out with imageio-ffmpeg: what a clip holds, its frames, writing, its audio.

Knows nothing of TensorFlow; styling the frames is going_further/video.py's business.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

import helper
import machine

# Frames whose spacing differs by more than this share are a variable frame rate.
FRAME_RATE_TOLERANCE = 0.02
# Audio codecs an .mp4 takes as they are; any other is re-encoded as AAC.
MP4_AUDIO = ("aac", "mp3", "alac", "opus")


class VideoError(ValueError):
    """A video file that cannot be used: not a video, no frames, corrupt, or needing a fix first."""


@dataclass(frozen=True)
class VideoInfo:
    """What a clip holds, from its header and its packets' timestamps (no frame is decoded)."""

    path: Path
    frames: int  # video packets: one per frame
    fps: Fraction  # frames per second, from the timestamps
    width: int  # as stored
    height: int
    rotation: int  # degrees of rotation in its metadata (a phone's portrait video), 0 if none
    audio_codec: str | None  # of its first audio stream, None if it has none


def ffmpeg() -> str:
    """Return the path of imageio-ffmpeg's own ffmpeg binary."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def probe(path: str | os.PathLike) -> VideoInfo:
    """Return what a clip holds; raise VideoError for what cannot be styled as it is (not a
    video, no frames, a variable frame rate, rotation metadata), naming the fix."""
    path = machine.expand(path)
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise VideoError(f"{path} {what}; give the path of a video file")
    if path.suffix.lower() in helper.IMAGE_SUFFIXES:
        raise VideoError(
            f"{path} is a picture, not a video; style it without --video: "
            f"python -m style_transfer {path} STYLE -o OUT.jpg"
        )
    # Copying the packets to a frame-by-frame listing reads timestamps without decoding.
    command = [ffmpeg(), "-hide_banner", "-nostdin", "-i", str(path), "-map", "0:v:0?"]
    command += ["-c", "copy", "-f", "framecrc", "-"]
    done = subprocess.run(command, capture_output=True, text=True, errors="replace")
    header = done.stderr
    if "Input #0" not in header:  # an output error alone: no video stream to copy
        raise VideoError(
            f"{path} is not a video ffmpeg can read; use an MP4, MOV, MKV, WebM or AVI file"
        )
    stream = re.search(r"Stream #0:\d+[^:]*: Video: .*?\b(\d{2,5})x(\d{2,5})\b", header)
    timestamps, time_base = _packet_times(done.stdout)
    if stream is None or not timestamps:
        raise VideoError(f"{path} holds no video frames; give a clip with a picture track")
    rotation = _rotation(header)
    width, height = int(stream.group(1)), int(stream.group(2))
    if rotation % 180:
        raise VideoError(
            f"{path} is stored {width}x{height} px with a rotation of {rotation} degrees in its "
            f"metadata (a phone's portrait video); make it upright first, e.g. ffmpeg -i {path} "
            f"upright.mp4 (re-encoding applies the rotation), and style upright.mp4"
        )
    audio = re.search(r"Stream #0:\d+[^:]*: Audio: (\w+)", header)
    return VideoInfo(
        path=path,
        frames=len(timestamps),
        fps=_constant_rate(path, timestamps, time_base),
        width=width,
        height=height,
        rotation=rotation,
        audio_codec=audio.group(1) if audio else None,
    )


def _packet_times(listing: str) -> tuple[list[int], Fraction]:
    """Return the sorted presentation times of a framecrc listing's packets and its time base."""
    base = re.search(r"^#tb 0: (\d+)/(\d+)", listing, re.MULTILINE)
    times = [
        int(fields[2])
        for line in listing.splitlines()
        if not line.startswith("#") and len(fields := line.split(",")) >= 5
    ]
    return sorted(times), Fraction(int(base.group(1)), int(base.group(2))) if base else Fraction(1)


def _rotation(header: str) -> int:
    """Return the rotation in a header's metadata in degrees (0..359), 0 if there is none."""
    matrix = re.search(r"rotation of (-?[\d.]+) degrees", header)
    tag = re.search(r"rotate\s*:\s*(-?\d+)", header)
    found = matrix or tag
    return round(float(found.group(1))) % 360 if found else 0


def _constant_rate(path: Path, timestamps: Sequence[int], time_base: Fraction) -> Fraction:
    """Return the frame rate of evenly spaced timestamps; refuse a variable frame rate."""
    if len(timestamps) == 1:
        return Fraction(25)  # one frame: any rate shows it
    gaps = np.diff(np.asarray(timestamps, np.int64))
    shortest, longest = int(gaps.min()), int(gaps.max())
    if shortest <= 0 or longest > shortest * (1 + FRAME_RATE_TOLERANCE) + 1:
        fastest = float(1 / (max(shortest, 1) * time_base))
        slowest = float(1 / (longest * time_base))
        raise VideoError(
            f"{path} has a variable frame rate (from {slowest:.3g} to {fastest:.3g} frames a "
            f"second); re-encode it at a constant rate first, e.g. ffmpeg -i {path} -fps_mode cfr "
            f"-r {round(fastest)} constant.mp4"
        )
    span = (timestamps[-1] - timestamps[0]) * time_base
    return Fraction(len(timestamps) - 1) / span


def read_frames(info: VideoInfo) -> Iterator[np.ndarray]:
    """Yield the clip's frames in order as uint8 RGB (H, W, 3); raise VideoError at the first
    frame that cannot be decoded (frames are counted from 1)."""
    import imageio_ffmpeg

    frames = imageio_ffmpeg.read_frames(
        str(info.path),
        input_params=["-err_detect", "explode"],  # a damaged frame ends the decoding ...
        output_params=["-xerror", "-fps_mode", "passthrough"],  # ... and nothing is invented
    )
    meta = next(frames)
    width, height = meta["size"]
    count = 0
    for raw in frames:
        count += 1
        yield np.frombuffer(raw, np.uint8).reshape(height, width, 3)
    if count < info.frames:
        raise VideoError(
            f"{info.path}: frame {count + 1} of {info.frames} is corrupt and cannot be decoded; "
            f"cut the clip before it (e.g. ffmpeg -i {info.path} -frames:v {count} -c copy "
            "cut.mp4) or export it again"
        )


def write_video(
    frames: Sequence[str | os.PathLike], path: str | os.PathLike, fps: Fraction, audio_from=None
) -> Path:
    """Write image files (all one even size) as an H.264 video at `fps`, with the first audio
    track of the video `audio_from` if it has one, atomically: never a half-written file."""
    import imageio_ffmpeg

    first = helper.load_image(frames[0])
    height, width = first.shape[:2]

    def write(name: str) -> None:
        silent = Path(name).with_name(Path(name).stem + ".video.mp4")
        try:
            writer = imageio_ffmpeg.write_frames(
                str(silent),
                (width, height),
                fps=float(fps),
                codec="libx264",
                quality=8,
                macro_block_size=2,
                ffmpeg_log_level="error",
            )
            writer.send(None)  # start ffmpeg
            for frame in frames:
                writer.send(np.ascontiguousarray(helper.to_uint8(helper.load_image(frame))))
            writer.close()
            _add_audio(silent, audio_from, name)
        finally:
            silent.unlink(missing_ok=True)

    return machine.atomic_write(path, write)


def _add_audio(silent: Path, audio_from: VideoInfo | None, path: str) -> None:
    """Copy `silent` to `path` with the audio of `audio_from` (as it is where an .mp4 takes it)."""
    command = [ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(silent)]
    if audio_from is None or audio_from.audio_codec is None:
        command += ["-c", "copy", path]
    else:
        audio = "copy" if audio_from.audio_codec in MP4_AUDIO else "aac"
        command += ["-i", str(audio_from.path), "-map", "0:v:0", "-map", "1:a:0"]
        command += ["-c:v", "copy", "-c:a", audio, "-shortest", path]
    done = subprocess.run(command, capture_output=True, text=True, errors="replace")
    if done.returncode != 0:
        raise OSError(f"ffmpeg could not write {path}: {done.stderr.strip()[-300:]}")


def camera_move(
    photo: np.ndarray, count: int, height: int, width: int, pan: float = 0.04, zoom: float = 0.0
) -> list[np.ndarray]:
    """Return `count` frames (height, width, 3) float32 of a camera moving over a photo (H, W, 3):
    each frame pans right by `pan` of the view's width and zooms in by `zoom` (0.02: 2% closer).
    A clip whose motion is known, made without a download (tests, benchmarks/video_flicker.py)."""
    photo_height, photo_width = photo.shape[:2]
    # The first view: the largest box of the frame's shape that leaves room for the pan.
    view_width = min(photo_width / (1 + pan * (count - 1)), photo_height * width / height)
    frames = []
    for i in range(count):
        w = view_width / (1 + zoom) ** i
        h = w * height / width
        left = i * pan * view_width + (view_width - w) / 2
        top = (photo_height - h) / 2
        box = (round(left), round(top), round(left + w), round(top + h))
        crop = photo[box[1] : box[3], box[0] : box[2]]
        frames.append(helper.resize(crop, height, width))
    return frames
