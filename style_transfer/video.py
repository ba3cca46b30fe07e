"""--video: a clip styled frame by frame with temporal consistency (going_further/video.py),
each finished frame saved at once in OUTPUT.frames/, so --resume goes on from the next one.
Several clips run one after another, or with --workers/--ray-address one Ray task each
(style_transfer/cluster.py), a clip's frames in order on its worker.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

import helper
import machine
from loss_settings import check_image_side
from optimisation import precisions
from style_transfer import batch, cluster, engine, outputs, preflight, repeat, video_files
from style_transfer.errors import EXIT_FINISHED, EXIT_INTERRUPTED, UsageError
from style_transfer.progress import Progress, Recorder

if TYPE_CHECKING:
    from style_transfer.request import Request

STATE_FILE = "video.json"  # in the frames directory: what the frames were made with
# What a resumed video must share with the run that made its frames.
SAME_FOR_RESUME = (
    "size", "iterations", "first_frame_iterations", "temporal_weight", "seed", "init",
    "precision", "optimizer", "learning_rate", "content_weight", "style_weight", "tv_weight",
    "content_layers", "style_layers", "style_layer_weights", "style_blend", "style_scale",
    "border", "no_preconditioner",
)  # fmt: skip
VIDEO_SUFFIXES = (".mp4",)


def frames_directory(output: str | Path) -> Path:
    """Return where a video's finished frames go: `OUTPUT.frames/` next to it."""
    output = Path(output)
    return output.with_name(output.name + ".frames")


def frame_path(directory: Path, index: int) -> Path:
    """Return the file of frame `index` (from 0): frame_00001.png for the first."""
    return directory / f"frame_{index + 1:05d}.png"


def frame_shape(height: int, width: int, size: int) -> tuple[int, int]:
    """Return the styled frames' (height, width): the longest side `size`, both sides even
    (H.264 in yuv420p needs them so)."""
    h, w = helper.size_for_longest_side(height, width, size)
    return max(2, h - h % 2), max(2, w - w % 2)


def run_video(request: Request) -> int:
    """Style every clip of --video and write each styled clip; return the exit code."""
    if len(request.video) == 1 and not cluster.wanted(request):
        return style_clip(request)
    clips = clip_requests(request)
    if cluster.wanted(request):
        return _style_on_cluster(request, clips)
    code = EXIT_FINISHED
    for clip in clips:
        code = max(code, style_clip(clip))
        if code == EXIT_INTERRUPTED:
            break
    return code


def clip_requests(request: Request) -> list[Request]:
    """Return the request of each clip of --video, its outputs checked: -o itself for one clip,
    OUTPUT/<clip>_<style>.mp4 for several. Raises UsageError with the fix."""
    if len(request.video) == 1:
        paths = [Path(request.output)]
    else:
        directory = Path(request.output)
        if directory.exists() and not directory.is_dir():
            raise UsageError(f"-o {directory}: with several clips, -o is a directory")
        paths = [
            batch.batch_output_path(directory, clip, request.styles, VIDEO_SUFFIXES[0])
            for clip in request.video
        ]
        if len(set(paths)) < len(paths):
            raise UsageError("two clips of --video have one name; rename one of them")
        directory.mkdir(parents=True, exist_ok=True)
    clips = [
        dataclasses.replace(request, video=[clip], output=str(path), workers=None, ray_address=None)
        for clip, path in zip(request.video, paths)
    ]
    for clip in clips:
        _check_outputs(clip)
    return clips


def style_clip(request: Request, progress=None) -> int:
    """Style every frame of the one clip of --video and write the styled clip to -o; return the
    exit code. `progress` (default: a bar here) is told the iterations and lines."""
    info = video_files.probe(request.video[0])
    directory = _check_outputs(request)
    headers = preflight.read_headers(request.styles)
    layers, _, _ = preflight.check_layers(request)
    height, width = frame_shape(info.height, info.width, request.size)
    frame = f"at --size {request.size} a frame of {request.video[0]}"
    check_image_side(frame, height, width, layers)
    for path in request.styles:
        check_image_side(path, *headers[path], layers)
    done = _finished_frames(request, directory, info)
    network = engine.start(request.seed, request=request)
    from going_further.video import VideoStylizer

    styles = [helper.load_image(path) for path in request.styles]
    stylizer = VideoStylizer(
        network(request.weights, request.convolution),
        styles,
        request.settings(),
        request.temporal_weight,
        request.first_frame_iterations,
    )
    counts = [stylizer.iterations(i) for i in range(info.frames)]
    kinds = [
        k for n in counts for k, c in precisions.phases(request.precision, n) for _ in range(c)
    ]
    header = (
        f"{info.path.name}: {info.frames} frames at {float(info.fps):.4g} fps, styled at "
        f"{width}x{height} px, {counts[0]} iterations for the first frame and "
        f"{request.iterations} for each other, temporal weight {request.temporal_weight:g}, "
        f"precision {request.precision}; frames go to {directory}"
        + (f"; resuming at frame {done + 1}" if done else "")
    )
    if progress is None:
        print(header, flush=True)
        progress = Progress(sum(counts), sum(counts[:done]), None, kinds)
    else:
        progress.write(header)
    try:
        shape = (height, width)
        code = _style_frames(request, info, stylizer, shape, directory, done, counts, progress)
    finally:
        progress.close()
    if code != EXIT_FINISHED:
        return code
    frames = [frame_path(directory, i) for i in range(info.frames)]
    saved = outputs.save(
        lambda path: video_files.write_video(frames, path, info.fps, info),
        request.output,
        "the video",
    )
    return EXIT_FINISHED if saved else 1


def _style_frames(request, info, stylizer, shape, directory: Path, done, counts, progress) -> int:
    """Style the frames after the first `done`, saving each as it ends; return the exit code."""
    previous = None
    decoded = video_files.read_frames(info)
    try:
        for index, raw in enumerate(decoded):
            frame = helper.resize(raw.astype(np.float32) / 255.0, *shape)
            if index < done:
                previous = (frame, helper.load_image(frame_path(directory, index)))
                continue
            recorder = Recorder(request, progress, frame, offset=sum(counts[:index]))
            styled = stylizer.stylize(
                index, frame, previous, callback=recorder, frame_every=recorder.frame_every
            )
            # The next frame starts from this one as saved, so a resumed run goes on as the
            # uninterrupted run would have.
            image = helper.to_uint8(styled.result.image).astype(np.float32) / 255.0
            helper.save_image(image, frame_path(directory, index))
            progress.write(
                f"frame {index + 1}/{info.frames}: loss {styled.result.terms['total']:.4g}"
                + _temporal_note(styled)
            )
            previous = (frame, image)
    except KeyboardInterrupt:  # tf_run.Interrupted too: the frame in progress is dropped
        finished = len(list(directory.glob("frame_*.png")))
        print(
            f"interrupted; {finished} of {info.frames} frames are saved in {directory}; the "
            "same command with --resume goes on from the next one",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except video_files.VideoError as error:
        finished = len(list(directory.glob("frame_*.png")))
        raise video_files.VideoError(
            f"{error}; the {finished} frame(s) styled before it are kept in {directory}"
        ) from None
    return EXIT_FINISHED


def _temporal_note(styled) -> str:
    """Say how much of the frame the flow trusted and what the temporal term came to."""
    if styled.c is None:
        return ""
    terms = styled.result.terms
    return f" (temporal {terms['weighted_temporal']:.3g}; the flow trusted {styled.c.mean():.0%})"


def _check_outputs(request: Request) -> Path:
    """Refuse an output that is not .mp4, is an input, or exists (unless --overwrite), and a
    frames directory of an earlier run (unless --resume or --overwrite); return the directory."""
    output = Path(request.output)
    if output.suffix.lower() not in VIDEO_SUFFIXES:
        raise UsageError(f"-o {output}: with --video, -o is an .mp4 file")
    for path in [*request.video, *request.styles]:
        if output.exists() and output.resolve() == Path(path).resolve():
            raise UsageError(f"{output} is an input; -o would overwrite it, choose another path")
    if output.is_dir():
        raise UsageError(f"{output} is a directory; give -o a file name inside it")
    directory = frames_directory(output)
    earlier = sorted(directory.glob("frame_*.png")) if directory.is_dir() else []
    if request.overwrite:
        for path in earlier:
            path.unlink()
    elif output.exists() and not request.resume:
        raise UsageError(
            f"{output} exists; give -o another path, or pass --overwrite to replace it"
        )
    elif earlier and not request.resume:
        raise UsageError(
            f"{directory} holds {len(earlier)} styled frame(s) of an earlier run; continue it with "
            "the same command and --resume, or start afresh with --overwrite"
        )
    if request.resume and not earlier and not (directory / STATE_FILE).is_file():
        raise UsageError(f"{directory} holds no frames to resume; run without --resume first")
    fix = "give -o a path in a writable directory"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot write {directory} ({error.strerror}); {fix}") from None
    preflight.check_writable(directory, str(directory), fix)
    return directory


def _finished_frames(request: Request, directory: Path, info) -> int:
    """Record what the frames are made with (refusing a resume with other options or inputs);
    return how many frames are already styled, in order from the first."""
    state = {name: request.parameters()[name] for name in SAME_FOR_RESUME}
    state["video_sha256"] = machine.file_digest(info.path)
    state["styles_sha256"] = [machine.file_digest(path) for path in request.styles]
    state_path = directory / STATE_FILE
    if request.resume and state_path.is_file():
        saved = repeat.as_run(json.loads(state_path.read_text()))  # older: what they ran
        for name, value in state.items():
            if saved.get(name) != json.loads(json.dumps(value)):
                flag = "the inputs" if name.endswith("sha256") else "--" + name.replace("_", "-")
                raise UsageError(
                    f"{flag} differ(s) from the run whose frames are in {directory}; give the "
                    "same command with --resume, or start afresh with --overwrite"
                )
    machine.write_text(json.dumps(state, indent=1), state_path)
    done = 0
    while done < info.frames and frame_path(directory, done).is_file():
        done += 1
    return done


def style_clip_remote(request: Request, images, index: int, board) -> tuple[dict, float]:
    """Style one clip in a Ray worker (cluster.paint_all's task); return ({"code": its exit
    code}, its seconds). A task run again after its worker died goes on from the frames saved."""
    cluster.start_worker(request.seed)
    if any(frames_directory(request.output).glob("frame_*.png")):
        # The command checked the outputs before handing the clip out, so these frames are those
        # of this task's earlier try.
        request = dataclasses.replace(request, resume=True, overwrite=False)
    started = time.perf_counter()
    code = style_clip(request, cluster.BoardProgress(board, index))
    return {"code": code}, time.perf_counter() - started


def _style_on_cluster(request: Request, clips: list[Request]) -> int:
    """Style the clips on a Ray cluster, one task each; return the exit code."""
    from going_further.video import frame_iterations

    first = request.first_frame_iterations
    iterations = [
        sum(frame_iterations(video_files.probe(clip.video[0]).frames, request.iterations, first))
        for clip in clips
    ]

    def finish(clip: Request, result, seconds: float, progress) -> dict:
        progress.write(f"{clip.video[0]} -> {clip.output} ({seconds:.0f} s)")
        entry = {"video": clip.video[0], "output": clip.output, "failed": bool(result.code)}
        if result.code == EXIT_INTERRUPTED:
            entry["stopped_because"] = "interrupted"
        return entry

    _, code, seconds = cluster.paint_all(
        request,
        clips,
        iterations,
        prepare=lambda clip: (clip, None),
        finish=finish,
        task=style_clip_remote,
        noun="clips",
    )
    print(f"styled {len(clips)} clips in {seconds:.0f} s", flush=True)
    return code
