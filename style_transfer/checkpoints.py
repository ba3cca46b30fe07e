"""Checkpoints of a run: the current image as exact float32 .npy and the run state as JSON.

A checkpoint directory holds `state.json` (iteration, loss terms of the saved image, the
parameters, the history so far) and the arrays it names. `state.json` is written last and
atomically, so a crash mid-save leaves the previous checkpoint intact. Knows nothing of
TensorFlow. What is not kept: L-BFGS's curvature pairs (up to 100 image-sized arrays) and
Adam's moment estimates (inside Keras's optimiser), so a resumed run rebuilds them from
scratch; the image, and so the loss, continue exactly.
"""

from __future__ import annotations

import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import machine

STATE_FILE = "state.json"
FORMAT = 1


class CheckpointError(ValueError):
    """A checkpoint that is missing, damaged, or does not belong to the run being resumed."""


@dataclass
class Checkpoint:
    """Everything a resumed run needs: the image, where it stood, and how it was made."""

    image: np.ndarray  # (H, W, 3) float32 in [0, 1]
    iteration: int  # optimiser iterations done before this image
    terms: dict[str, float]  # the loss terms of `image`
    parameters: dict  # the command line's parameters (JSON-able)
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0  # optimisation time spent so far
    frames: np.ndarray | None = None  # GIF frames so far, uint8 (count, H, W, 3)


def default_directory(output: str | os.PathLike) -> Path:
    """Return the checkpoint directory of an output image: `OUTPUT.checkpoint/` next to it."""
    output = Path(output)
    return output.with_name(output.name + ".checkpoint")


def saved_iteration(directory: str | os.PathLike) -> int | None:
    """Return the iteration of the checkpoint in `directory`, or None where it holds none."""
    try:
        return int(json.loads((Path(directory) / STATE_FILE).read_text())["iteration"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return -1  # there, but unreadable: still someone's checkpoint


def own_outputs(checkpoint: Checkpoint, output: str | os.PathLike) -> set[Path]:
    """Return the files the checkpointed run writes (its picture, GIF and stats), which a
    resumed run may replace; `output` stands for the picture where the checkpoint predates
    recording it."""
    parameters = checkpoint.parameters
    paths = [parameters.get("output") or output, parameters.get("gif"), parameters.get("stats")]
    return {Path(path).resolve() for path in paths if path}


def _save_array(array: np.ndarray, path: Path) -> None:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    machine.atomic_write(path, lambda name: Path(name).write_bytes(buffer.getvalue()))


def save_checkpoint(directory: str | os.PathLike, checkpoint: Checkpoint) -> Path:
    """Write the checkpoint into `directory` (arrays first, then state.json); return the state."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    image_name = f"image-{checkpoint.iteration:06d}.npy"
    _save_array(np.asarray(checkpoint.image, dtype=np.float32), directory / image_name)
    frames_name = None
    if checkpoint.frames is not None and len(checkpoint.frames):
        frames_name = f"frames-{checkpoint.iteration:06d}.npy"
        _save_array(np.asarray(checkpoint.frames, dtype=np.uint8), directory / frames_name)
    state = {
        "format": FORMAT,
        "iteration": checkpoint.iteration,
        "image": image_name,
        "frames": frames_name,
        "shape": list(checkpoint.image.shape),
        "terms": checkpoint.terms,
        "seconds": checkpoint.seconds,
        "parameters": checkpoint.parameters,
        "history": checkpoint.history,
    }
    state_path = directory / STATE_FILE
    machine.write_text(json.dumps(state, indent=1), state_path)
    for stale in _stale_files(directory):
        if stale.name not in (image_name, frames_name):
            stale.unlink(missing_ok=True)
    return state_path


def _stale_files(directory: Path) -> list[Path]:
    """Return the arrays of earlier checkpoints, and the temporary files of a save that a
    crash cut short (machine.atomic_write names them `.NAME.XXXX.SUFFIX`)."""
    patterns = ("image-*.npy", "frames-*.npy", ".image-*.npy", ".frames-*.npy", ".state.*.json")
    return [path for pattern in patterns for path in directory.glob(pattern)]


def _load_array(path: Path, directory: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise CheckpointError(
            f"{path} is missing or damaged ({error}); delete {directory} and start the run again"
        ) from error


def load_checkpoint(directory: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint directory, raising CheckpointError with the fix when it is unusable."""
    directory = Path(directory)
    state_path = directory / STATE_FILE
    if not state_path.is_file():
        raise CheckpointError(
            f"{directory} holds no checkpoint ({STATE_FILE} is missing); run with "
            "--checkpoint-every N first, or drop --resume to start afresh"
        )
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
        iteration = int(state["iteration"])
        image_name, shape = state["image"], tuple(state["shape"])
        terms = {key: float(value) for key, value in state["terms"].items()}
        parameters = dict(state["parameters"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise CheckpointError(
            f"{state_path} is damaged ({error}); delete {directory} and start the run again"
        ) from error
    if state.get("format") != FORMAT:
        raise CheckpointError(
            f"{state_path} is of format {state.get('format')!r}, this version reads {FORMAT}; "
            f"delete {directory} and start the run again"
        )
    image = _load_array(directory / image_name, directory)
    if image.shape != shape or image.dtype != np.float32 or not np.isfinite(image).all():
        raise CheckpointError(
            f"{directory / image_name} is not the {shape} float32 image {STATE_FILE} expects; "
            f"delete {directory} and start the run again"
        )
    if not math.isfinite(terms.get("total", math.nan)):
        raise CheckpointError(
            f"{state_path} has no finite loss; delete {directory} and start again"
        )
    frames = None
    if state.get("frames"):
        frames = _load_array(directory / state["frames"], directory)
    return Checkpoint(
        image=image,
        iteration=iteration,
        terms=terms,
        parameters=parameters,
        history=list(state.get("history", [])),
        seconds=float(state.get("seconds", 0.0)),
        frames=frames,
    )
