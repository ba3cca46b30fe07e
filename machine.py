"""What the machine gives a run: the memory available, byte counts for people, and files
written whole or not at all, with their digests. No images, no TensorFlow.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def expand(path: str | os.PathLike) -> Path:
    """Return a path with `~` and `~user` expanded: no run ever makes a folder named `~`."""
    return Path(path).expanduser()


def available_bytes(meminfo: str | os.PathLike = "/proc/meminfo") -> int | None:
    """Return MemAvailable from /proc/meminfo in bytes, or None where there is no such file."""
    try:
        text = Path(meminfo).read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return None


def format_bytes(count: float) -> str:
    """Return a byte count for people: '1.4 GiB', '730 MiB'."""
    if count >= 2**30:
        return f"{count / 2**30:.1f} GiB"
    return f"{count / 2**20:.0f} MiB"


def atomic_write(path: str | os.PathLike, write) -> Path:
    """Call `write(temporary_name)` and rename the result to `path`: never a half-written file."""
    path = expand(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent
    )
    os.close(handle)
    try:
        write(temporary)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def file_digest(path: str | os.PathLike) -> str:
    """Return the sha256 of a file as hex, read in 1 MiB blocks (inputs, weights, wheels)."""
    digest = hashlib.sha256()
    with open(expand(path), "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_text(text: str, path: str | os.PathLike) -> Path:
    """Write a text file (e.g. a JSON manifest) atomically."""
    return atomic_write(path, lambda name: Path(name).write_text(text, encoding="utf-8"))
