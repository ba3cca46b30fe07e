"""Run manifests and --repeat: the parameters and input checksums a run records, and what a
repeat takes over from them or refuses.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Iterable
from pathlib import Path

import machine
from style_transfer.arguments import NOT_REPEATED
from style_transfer.errors import UsageError
from tensorflow_vgg.quiet import quiet_start, tensorflow_kernels


def absolute_path(path: str | os.PathLike | None) -> str | None:
    """Return a path as an absolute one (symbolic links kept), None as None."""
    return None if path is None else os.path.abspath(path)


def input_digests(paths: Iterable[str | os.PathLike]) -> dict[str, str | None]:
    """Return {path: sha256} of the input files (None for a file that cannot be read)."""
    digests: dict[str, str | None] = {}
    for path in paths:
        try:
            digests[str(path)] = machine.file_digest(path)
        except OSError:
            digests[str(path)] = None
    return digests


def read_manifest(path: str | os.PathLike) -> dict:
    """Read a --stats manifest for --repeat, refusing a file that is not one."""
    try:
        manifest = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise UsageError(
            f"cannot read {path} ({error.strerror}); give --repeat the JSON file --stats wrote"
        ) from None
    except ValueError as error:
        raise UsageError(
            f"{path} is not JSON ({error}); give --repeat the file --stats wrote"
        ) from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("parameters"), dict):
        raise UsageError(f"{path} has no run parameters; give --repeat the file --stats wrote")
    if not isinstance(manifest.get("inputs"), dict):
        raise UsageError(
            f"{path} records no input checksums (it was written before --repeat existed); "
            "run it again with --stats to get a manifest that can be repeated"
        )
    return manifest


def check_repeatable(manifest: dict, path: str | os.PathLike) -> None:
    """Refuse to repeat a resumed run or one whose input files have changed since."""
    resumed = manifest.get("resumed_from_iteration") or 0
    if resumed:
        raise UsageError(
            f"{path} records a run resumed at iteration {resumed}; the optimiser's memory "
            "restarted there, so it cannot be repeated exactly; repeat a run made in one go"
        )
    for name, recorded in manifest["inputs"].items():
        now = input_digests([name])[name]
        if now == recorded:
            continue
        if now is None:
            raise UsageError(f"{name} (an input of {path}) is missing; restore it to repeat")
        raise UsageError(
            f"{name} has changed since the run of {path} (sha256 {str(recorded)[:12]}... "
            f"recorded, {now[:12]}... now); restore that file to repeat the run exactly"
        )


# What a run used before its manifest or checkpoint recorded the setting (now the default differs).
# The content boost came without its flag in one version; runs older than that were unboosted.
# The preconditioner came with its flag: a run that did not record it ran without it.
RECORDED_BEFORE = {
    "precision": "float32",
    "border": "zero",
    "no_content_boost": True,
    "no_preconditioner": True,
}


def as_run(parameters: dict) -> dict:
    """Return a manifest's or checkpoint's parameters with what older runs used but did not
    record (RECORDED_BEFORE) filled in."""
    return {**RECORDED_BEFORE, **parameters}


def repeat_defaults(manifest: dict, known: Iterable[str]) -> dict:
    """Return the manifest's parameters a repeat takes as its defaults (only `known` names)."""
    known = set(known) - set(NOT_REPEATED)
    parameters = as_run(manifest["parameters"])
    return {key: value for key, value in parameters.items() if key in known}


def version_differences(recorded: dict, current: dict) -> list[str]:
    """Return 'name recorded -> now' for each library whose version differs."""
    return [
        f"{name} {recorded[name]} -> {current.get(name)}"
        for name in sorted(recorded)
        if recorded[name] != current.get(name)
    ]


def versions() -> dict[str, str]:
    """Return the versions of Python, the libraries and the platform, and which kernels
    TensorFlow runs (oneDNN's or Eigen's, whose last bits differ), for a manifest."""
    import numpy
    import PIL
    import scipy

    with quiet_start():
        import tensorflow

    return {
        "python": platform.python_version(),
        "tensorflow": tensorflow.__version__,
        "tensorflow kernels": tensorflow_kernels(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "pillow": PIL.__version__,
        "platform": platform.platform(),
    }


def note_repeat(manifest_path: str | None) -> None:
    """Say which run is repeated (if any), and warn when library versions differ from the
    recorded ones."""
    if manifest_path is None:
        return
    recorded = read_manifest(manifest_path).get("versions", {})
    print(f"repeating the run recorded in {manifest_path}", flush=True)
    differences = version_differences(recorded, versions())
    if differences:
        print(
            "note: versions differ from the recorded run (" + "; ".join(differences) + "), so the "
            "output may differ in its last bits",
            file=sys.stderr,
        )
