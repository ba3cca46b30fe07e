"""The machine's real float32 matrix-multiply peak, and what CPU it was measured on.

These machines set OPENBLAS_CORETYPE=Haswell (and OPENBLAS_L2_SIZE), which makes OpenBLAS run
its AVX2 kernel even where the CPU has AVX-512: NumPy then measures about half the peak. The
peak is measured in a child process with both unset (the parent and the tests keep them),
the kernel that ran is named by threadpoolctl, and TensorFlow's own float32 matmul is
timed as a cross-check; the higher of the two is the peak a "% of peak" refers to.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np

SIDE, REPEATS = 4096, 5

_NUMPY_PEAK = """
import json, time
import numpy as np
from threadpoolctl import threadpool_info
rng = np.random.default_rng(0)
a, b = rng.random((SIDE, SIDE), np.float32), rng.random((SIDE, SIDE), np.float32)
a @ b
best = float("inf")
for _ in range(REPEATS):
    start = time.perf_counter(); a @ b; best = min(best, time.perf_counter() - start)
blas = [info for info in threadpool_info() if info.get("user_api") == "blas"]
kernel = ", ".join(f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}" for i in blas)
print(json.dumps({"gflops": 2 * SIDE**3 / best / 1e9, "kernel": kernel}))
"""


def cpu() -> dict:
    """Return the CPU's model name, family, model number and AVX-512 flags, from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            first = info.read().split("\n\n")[0]  # the first processor is enough
    except OSError:
        return {}
    fields = dict(
        (key.strip(), value.strip())
        for key, _, value in (line.partition(":") for line in first.splitlines())
    )
    flags = fields.get("flags", "").split()
    return {
        "model": fields.get("model name"),
        "family": fields.get("cpu family"),
        "model_number": fields.get("model"),
        "avx512": "avx512f" in flags,
        "avx512_bf16": "avx512_bf16" in flags,
    }


def numpy_peak() -> dict:
    """Return NumPy's float32 GEMM rate (GFLOP/s) and BLAS kernel with the OpenBLAS pins unset."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    }
    code = _NUMPY_PEAK.replace("SIDE", str(SIDE)).replace("REPEATS", str(REPEATS))
    done = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def tensorflow_peak() -> float:
    """Return TensorFlow's float32 matmul rate (GFLOP/s) on SIDE x SIDE matrices, best of REPEATS."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    a = tf.constant(rng.random((SIDE, SIDE), np.float32))
    b = tf.constant(rng.random((SIDE, SIDE), np.float32))
    tf.linalg.matmul(a, b).numpy()
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        tf.linalg.matmul(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * SIDE**3 / best / 1e9


def measure() -> dict:
    """Return the CPU, both rates and the peak (the higher); print one line on each."""
    numpy_rate, tf_rate = numpy_peak(), tensorflow_peak()
    report = {
        "cpu": cpu(),
        "numpy_gflops": numpy_rate["gflops"],
        "numpy_kernel": numpy_rate["kernel"],
        "tensorflow_gflops": tf_rate,
        "peak_gflops": max(numpy_rate["gflops"], tf_rate),
    }
    info = report["cpu"]
    print(
        f"CPU: {info.get('model')} (family {info.get('family')}, model {info.get('model_number')})"
    )
    print(
        f"float32 GEMM peak, n={SIDE}: NumPy {numpy_rate['gflops']:.0f} GFLOP/s "
        f"({numpy_rate['kernel']}, OPENBLAS_CORETYPE unset), TensorFlow {tf_rate:.0f} GFLOP/s; "
        f"% of peak below are of {report['peak_gflops']:.0f}"
    )
    return report
