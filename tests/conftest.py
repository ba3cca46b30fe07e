"""Shared fixtures: the repository on sys.path, the real VGG16, an independent NumPy VGG16, images,
and the helpers of the command line's in-process tests.

`reference` is the independent side of the engine's tests: VGG16's forward pass and the
paper's losses written again in float64 NumPy, sharing nothing with the code under test
but the weights file.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))  # `import helper` works however pytest is started

from tensorflow_vgg.quiet import set_environment  # noqa: E402

set_environment()  # TensorFlow as the notebook starts it, quiet; not assuming frozen weights,
# which the tests that convolve with kernels of their own could not take

CONTENT_IMAGE = REPO_ROOT / "image_resources" / "content" / "grace_hopper.jpg"
STYLE_IMAGE = REPO_ROOT / "image_resources" / "style" / "hokusai_great_wave.jpg"


class NumpyReference:
    """VGG16 and the paper's losses in float64 NumPy, written from the paper and Caffe's conventions."""

    # Caffe's VGG16 input: BGR, 0..255, minus the ImageNet mean (B, G, R).
    MEAN_BGR = np.array([103.939, 116.779, 123.68])
    ORDER = [
        "conv1_1", "conv1_2", "pool1",
        "conv2_1", "conv2_2", "pool2",
        "conv3_1", "conv3_2", "conv3_3", "pool3",
        "conv4_1", "conv4_2", "conv4_3", "pool4",
        "conv5_1", "conv5_2", "conv5_3", "pool5",
    ]  # fmt: skip

    def __init__(self, weights: dict):
        self.weights = {
            name: (np.asarray(W, np.float64), np.asarray(b, np.float64))
            for name, (W, b) in weights.items()
        }

    @staticmethod
    def conv3x3_relu(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
        """ReLU(cross-correlation of (H, W, in) with a (3, 3, in, out) kernel, zero padded, + b)."""
        height, width, _ = x.shape
        padded = np.pad(x, ((1, 1), (1, 1), (0, 0)))
        out = np.zeros((height, width, W.shape[-1]))
        for dy in range(3):
            for dx in range(3):
                out += padded[dy : dy + height, dx : dx + width] @ W[dy, dx]
        return np.maximum(out + b, 0.0)

    @staticmethod
    def pool2x2(x: np.ndarray, pooling: str) -> np.ndarray:
        """2x2 pooling, stride 2; an odd last row/column is pooled over the pixels it has."""
        height, width, channels = x.shape
        padded = np.full((height + height % 2, width + width % 2, channels), np.nan)
        padded[:height, :width] = x
        windows = padded.reshape(padded.shape[0] // 2, 2, padded.shape[1] // 2, 2, channels)
        reduce = np.nanmean if pooling == "avg" else np.nanmax
        return reduce(windows, axis=(1, 3))

    def stride(self, name: str) -> int:
        """Pixels per position of a layer: 2 for each pooling up to and including it."""
        return 2 ** sum(
            layer.startswith("pool") for layer in self.ORDER[: self.ORDER.index(name) + 1]
        )

    def activations(self, rgb: np.ndarray, layers, pooling: str = "avg", border="zero") -> dict:
        """Return {layer: (H_l, W_l, N_l) float64} for an RGB image (H, W, 3) in [0, 1].

        border="mirror": the network runs over the image with a mirrored margin (edge pixel
        repeated) of 16 px, or one position of the deepest layer if that is more, and each
        activation is cut back to the positions over the image.
        """
        deepest = max(self.ORDER.index(name) for name in layers)
        margin = max(16, self.stride(self.ORDER[deepest])) if border == "mirror" else 0
        rgb = np.pad(
            np.asarray(rgb, np.float64), ((margin, margin), (margin, margin), (0, 0)), "symmetric"
        )
        x = rgb[..., ::-1] * 255.0 - self.MEAN_BGR
        out = {}
        for name in self.ORDER[: deepest + 1]:
            if name.startswith("pool"):
                x = self.pool2x2(x, pooling)
            else:
                x = self.conv3x3_relu(x, *self.weights[name])
            if name in layers:
                k = margin // self.stride(name)
                out[name] = x[k : x.shape[0] - k, k : x.shape[1] - k]
        return out

    @staticmethod
    def gram(F: np.ndarray) -> np.ndarray:
        """G = F^T F with F as (M_l positions, N_l filters)."""
        F = np.asarray(F, np.float64).reshape(-1, F.shape[-1])
        return F.T @ F

    @staticmethod
    def content_loss(F: np.ndarray, P: np.ndarray) -> float:
        return 0.5 * float(np.sum((np.asarray(F, np.float64) - P) ** 2))

    @staticmethod
    def style_layer_loss(F: np.ndarray, F_style: np.ndarray) -> float:
        """E_l = sum((G/M_l - A/M_s)^2) / (4 N_l^2): the paper's E_l when both sizes agree."""
        N_l = F.shape[-1]
        M_l = int(np.prod(F.shape[:-1]))
        M_s = int(np.prod(F_style.shape[:-1]))
        G = NumpyReference.gram(F)
        A = NumpyReference.gram(F_style)
        return float(np.sum((G / M_l - A / M_s) ** 2) / (4.0 * N_l**2))

    def layer_mask(self, T: np.ndarray, name: str, layers, border: str = "mirror") -> np.ndarray:
        """Return a mask (H, W) on layer `name`'s grid (H_l, W_l): padded as `activations` pads
        the image, averaged over every 2x2 pooling window up to the layer, cut back."""
        deepest = max(self.ORDER.index(layer) for layer in layers)
        margin = max(16, self.stride(self.ORDER[deepest])) if border == "mirror" else 0
        x = np.pad(np.asarray(T, np.float64), margin, "symmetric")[..., None]
        for layer in self.ORDER[: self.ORDER.index(name) + 1]:
            if layer.startswith("pool"):
                x = self.pool2x2(x, "avg")
        k = margin // self.stride(name)
        return x[k : x.shape[0] - k, k : x.shape[1] - k, 0]

    @staticmethod
    def guided_gram(F: np.ndarray, T: np.ndarray) -> np.ndarray:
        """G_r = F_r^T F_r with F_r = T o F (Gatys et al. 2017, sec. 4.1): F (H_l, W_l, N_l)
        weighted at each position by the mask T (H_l, W_l)."""
        return NumpyReference.gram(np.asarray(F, np.float64) * T[..., None])

    @staticmethod
    def guided_style_layer_loss(F, T, style_F, style_T, shares) -> float:
        """E_l = sum_r lambda_r sum((G_r / M_r - A_r / M_r^S)^2) / (4 N_l^2), the regions' mean
        statistics compared, lambda_r = R s_r M_r / M_l; M_r = sum(T_r^2) (None: all ones)."""
        N_l, M_l = F.shape[-1], F.shape[0] * F.shape[1]
        E = 0.0
        for T_r, S, S_T, s_r in zip(T, style_F, style_T, shares):
            S_T = np.ones(S.shape[:2]) if S_T is None else S_T
            M_r, M_s = np.sum(T_r**2), np.sum(S_T**2)
            G = NumpyReference.guided_gram(F, T_r) / M_r
            A = NumpyReference.guided_gram(S, S_T) / M_s
            E += len(shares) * s_r * M_r / M_l * np.sum((G - A) ** 2) / (4.0 * N_l**2)
        return float(E)

    @staticmethod
    def tv_loss(image: np.ndarray) -> float:
        """Sum of squared neighbour differences of an (H, W, 3) image, in 0..255 units."""
        x = np.asarray(image, np.float64) * 255.0
        return float(np.sum((x[1:] - x[:-1]) ** 2) + np.sum((x[:, 1:] - x[:, :-1]) ** 2))

    def terms(
        self,
        image: np.ndarray,
        content: np.ndarray,
        styles: list[np.ndarray],
        *,
        content_layer: str = "conv4_2",
        style_layers=("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"),
        w_l=None,
        blend=None,
        alpha: float = 1.0,
        beta: float = 1e3,
        gamma: float = 1e-3,
        border: str = "mirror",
        pooling: str = "avg",
    ) -> dict[str, float]:
        """Every loss term of `image`, named as StyleTransferLoss names them."""
        w_l = w_l if w_l is not None else [1.0 / len(style_layers)] * len(style_layers)
        blend = blend if blend is not None else [1.0] * len(styles)
        blend = [share / sum(blend) for share in blend]
        layers = [content_layer, *style_layers]
        F = self.activations(image, layers, pooling, border)
        P = self.activations(content, layers, pooling, border)[content_layer]
        style_features = [self.activations(s, style_layers, pooling, border) for s in styles]
        out = {"content": self.content_loss(F[content_layer], P)}
        for name in style_layers:
            # A blend of styles is the blend of their Gram targets, each at the generated size.
            M_l = int(np.prod(F[name].shape[:-1]))
            A = sum(
                share * self.gram(S[name]) * M_l / np.prod(S[name].shape[:-1])
                for share, S in zip(blend, style_features)
            )
            G = self.gram(F[name])
            N_l = F[name].shape[-1]
            out[f"style_{name}"] = float(np.sum((G - A) ** 2) / (4.0 * N_l**2 * M_l**2))
        out["style"] = sum(w * out[f"style_{name}"] for name, w in zip(style_layers, w_l))
        out["tv"] = self.tv_loss(image)
        out["total"] = alpha * out["content"] + beta * out["style"] + gamma * out["tv"]
        out["weighted_content"] = alpha * out["content"]
        out["weighted_style"] = beta * out["style"]
        out["weighted_tv"] = gamma * out["tv"]
        for name, w in zip(style_layers, w_l):
            out[f"weighted_style_{name}"] = beta * w * out[f"style_{name}"]
        return out


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root (where the style_transfer package lives)."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def content_path() -> Path:
    """A content photo from image_resources/content."""
    return CONTENT_IMAGE


@pytest.fixture(scope="session")
def style_path() -> Path:
    """A painting from image_resources/style."""
    return STYLE_IMAGE


@pytest.fixture(scope="session")
def vgg_weights() -> dict:
    """The real, verified VGG16 convolution weights {name: (W, b)}."""
    from tensorflow_vgg.weights import load_weights

    return load_weights()


@pytest.fixture(scope="session")
def net():
    """The real average-pool VGG16, built once for the whole session."""
    from tensorflow_vgg.vgg16_avg_pool import Vgg16

    return Vgg16()


@pytest.fixture(scope="session")
def reference(vgg_weights) -> NumpyReference:
    """The independent float64 NumPy VGG16 and losses."""
    return NumpyReference(vgg_weights)


@pytest.fixture
def rng() -> np.random.Generator:
    """A NumPy random generator with a fixed seed."""
    return np.random.default_rng(20150826)


def _read_rgb(path: Path, height: int, width: int) -> np.ndarray:
    with Image.open(path) as image:
        resized = image.convert("RGB").resize((width, height), Image.Resampling.BICUBIC)
    return np.asarray(resized, np.float32) / 255.0


@pytest.fixture(scope="session")
def small_photo():
    """Return the content photo as float32 RGB of the given (height, width), read with Pillow."""
    return lambda height, width: _read_rgb(CONTENT_IMAGE, height, width)


@pytest.fixture(scope="session")
def small_painting():
    """Return the style painting as float32 RGB of the given (height, width), read with Pillow."""
    return lambda height, width: _read_rgb(STYLE_IMAGE, height, width)


@pytest.fixture
def write_image(tmp_path):
    """Save a Pillow image (or a uint8/uint16 array) under tmp_path and return the path."""

    def write(image, name: str, **save_options) -> Path:
        if isinstance(image, np.ndarray):
            image = Image.fromarray(image)
        path = tmp_path / name
        image.save(path, **save_options)
        return path

    return write


# --- The command line in-process ---------------------------------------------------------------

SMALL_WIDTH, SMALL_HEIGHT = 32, 28  # of the `small_files`


@pytest.fixture(scope="module")
def small_files(tmp_path_factory) -> dict[str, Path]:
    """A 32x28 photo and two paintings from image_resources, saved small as PNG."""
    second_style = REPO_ROOT / "image_resources" / "style" / "kandinsky_composition_viii.jpg"
    folder = tmp_path_factory.mktemp("inputs")
    paths = {}
    for name, source in (
        ("content", CONTENT_IMAGE),
        ("style", STYLE_IMAGE),
        ("other", second_style),
    ):
        with Image.open(source) as image:
            image.convert("RGB").resize((SMALL_WIDTH, SMALL_HEIGHT)).save(folder / f"{name}.png")
        paths[name] = folder / f"{name}.png"
    return paths


def run_cli(capsys, *arguments) -> tuple[int, str, str]:
    """Run the command line in-process; return the exit code, stdout and stderr."""
    from style_transfer import cli

    code = cli.main([str(argument) for argument in arguments])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error_line(error: str) -> str:
    """Return the one line `error: ...` that stderr must be."""
    lines = error.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), error
    return lines[0]


def pixels(path) -> np.ndarray:
    """Read an image file as float32 RGB in [0, 1] with Pillow."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0


def relative_error(actual, expected) -> float:
    """Return |actual - expected| / |expected| in the Frobenius norm, in float64."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    return float(np.linalg.norm(actual - expected) / np.linalg.norm(expected))


def errors_against_float32(image, exact, *losses) -> tuple[dict, list[tuple[dict, float]]]:
    """Return the float32 loss `exact`'s terms at `image`, and each of `losses`' terms with its
    gradient's relative error against exact's (printed, for the test log)."""
    exact_terms, exact_gradient = exact.terms_and_gradient(image)
    results = []
    for loss in losses:
        terms, gradient = loss.terms_and_gradient(image)
        results.append((terms, relative_error(gradient, exact_gradient)))
    print("against float32: " + ", ".join(f"{error:.2e}" for _, error in results))
    return exact_terms, results
