"""Start TensorFlow without its start-up lines on the process's own stderr, and with its oneDNN
kernels on any x86 CPU.

TensorFlow's C++ side writes a few lines when it loads, whatever TF_CPP_MIN_LOG_LEVEL says:
they would bury a one-line error of the command line and show as a red box in a notebook.

On Linux, TensorFlow turns its oneDNN kernels on by itself only where the CPU has AVX512_VNNI,
AVX512_BF16, AVX_VNNI or AMX. On an AVX2-only CPU such as an AMD Zen 3 its convolutions and
products are then Eigen's, which the TensorFlow wheel builds without AVX2 and FMA; oneDNN's
kernels choose AVX2, FMA or AVX-512 when they run, and make an evaluation much faster there
(benchmarks/README.md). Both settings are defaults: a value already in the environment wins.
A script of your own that imports tf_helper, tf_run or going_further directly gets the same
by calling `set_environment()` before them.

A process that runs nothing but this project's network, whose weights never change, can also
tell oneDNN so (`FROZEN_WEIGHTS`, `set_engine_environment()`): each convolution then reorders
its kernel into oneDNN's own layout once, not at every call. The command line does when its
picture is evaluated whole (style_transfer/engine.py), and so do the benchmarks.
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys
import tempfile
from collections.abc import Iterator

# Read by TensorFlow once, when it loads.
ENVIRONMENT = {"TF_CPP_MIN_LOG_LEVEL": "2"}
if sys.platform.startswith("linux") and platform.machine().lower() in ("x86_64", "amd64"):
    ENVIRONMENT["TF_ENABLE_ONEDNN_OPTS"] = "1"


# Read by TensorFlow once, as it makes its first oneDNN convolution (or product fused with a
# bias): such a node that has read its kernel keeps oneDNN's reordered copy for the life of the
# process, even when given another kernel, eagerly too. Right for the network, whose every
# convolution node only ever sees its own layer's kernel (Vgg16.__call__); silently wrong
# for a network trained in the same process, so the notebook's kernel, where a learner may run
# anything, does not get it, nor do the tests.
FROZEN_WEIGHTS = {"TF_ONEDNN_ASSUME_FROZEN_WEIGHTS": "1"}


# Values of oneDNN's ISA limit that keep it below AVX-512.
BELOW_AVX512 = ("SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2")


class BFloat16Error(ValueError):
    """bfloat16 asked of oneDNN's kernels on a CPU where they have no bfloat16 convolution."""


def onednn_isa_limit() -> str:
    """Return oneDNN's ISA limit, ONEDNN_MAX_CPU_ISA (or its older name DNNL_MAX_CPU_ISA), in
    capitals; "" where none is set."""
    names = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")
    return next((os.environ[name].upper() for name in names if os.environ.get(name)), "")


def onednn_turned_off() -> bool:
    """Return whether the environment turns TensorFlow's oneDNN kernels off (Eigen's instead)."""
    return os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "0"


def onednn_limited_below_avx512() -> bool:
    """Return whether oneDNN's ISA limit (`onednn_isa_limit`) stops it below AVX-512."""
    return onednn_isa_limit() in BELOW_AVX512


# Every name ENVIRONMENT may hold, whatever the machine.
SETTINGS = ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS", *FROZEN_WEIGHTS)
# NAME=value,... of the defaults set_environment set: child processes inherit it with them, so
# that they too tell a default from a choice.
DEFAULTED = "STYLE_TRANSFER_TF_DEFAULTS"


def set_environment(frozen_weights: bool = False) -> None:
    """Put ENVIRONMENT's defaults, and FROZEN_WEIGHTS' if `frozen_weights`, into os.environ;
    call it before TensorFlow is first imported."""
    defaulted = defaults_set()
    defaults = {**ENVIRONMENT, **(FROZEN_WEIGHTS if frozen_weights else {})}
    for name, value in defaults.items():
        if name not in os.environ:
            os.environ[name] = defaulted[name] = value
    if defaulted:
        _record_defaults(defaulted)


def set_engine_environment() -> None:
    """set_environment with FROZEN_WEIGHTS, for a process that runs only this project's network
    with its fixed weights (`engine.freeze_weights_unless_tiled`, the benchmarks); it holds
    from the process's first oneDNN convolution on."""
    set_environment(frozen_weights=True)


def withdraw_frozen_weights() -> None:
    """Take FROZEN_WEIGHTS out of os.environ where it is set_environment's default (here or in
    a parent process), not the user's choice: for a process that will not assume it."""
    (name,) = FROZEN_WEIGHTS
    defaulted = defaults_set()
    if name in defaulted and os.environ.get(name) == defaulted.pop(name):
        del os.environ[name]
        _record_defaults(defaulted)


def weights_frozen() -> bool:
    """Return whether the environment tells oneDNN that weights are frozen (FROZEN_WEIGHTS)."""
    return os.environ.get(*FROZEN_WEIGHTS, "").lower() in ("1", "true")


def _record_defaults(defaulted: dict[str, str]) -> None:
    """Write {name: value} of the defaults set into DEFAULTED, for child processes to read."""
    os.environ[DEFAULTED] = ",".join(f"{name}={value}" for name, value in defaulted.items())


def defaults_set() -> dict[str, str]:
    """Return {name: value} that set_environment set here or in a parent process."""
    pairs = (item.split("=", 1) for item in os.environ.get(DEFAULTED, "").split(",") if "=" in item)
    return {name: value for name, value in pairs}


def chosen_environment() -> dict[str, str]:
    """Return SETTINGS as the user gave them, leaving out set_environment's defaults (a value
    changed since counts as chosen): what another machine's Ray worker takes from this one."""
    defaulted = defaults_set()
    given = {name: os.environ[name] for name in SETTINGS if name in os.environ}
    return {name: value for name, value in given.items() if defaulted.get(name) != value}


def tensorflow_kernels() -> str:
    """Return which library runs TensorFlow's convolutions and products: "oneDNN" or "Eigen"."""
    from tensorflow.python.util import _pywrap_util_port  # no public API says it

    return "oneDNN" if _pywrap_util_port.IsMklEnabled() else "Eigen"


@contextlib.contextmanager
def quiet_start() -> Iterator[None]:
    """Send file descriptor 2 to a temporary file for the block; replay it if the block fails.

    ENVIRONMENT's defaults are set first, for a TensorFlow imported in the block."""
    set_environment()
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
