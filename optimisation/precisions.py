"""Which number format the loss evaluations of a run use, and when.

No TensorFlow here, so that the command line can offer the choices without importing it.

* "float32": every evaluation in float32.
* "bfloat16": every evaluation with bfloat16 convolutions (targets and reported loss stay
  float32). Faster where the CPU has AVX512_BF16 or AMX-BF16, slower where it must emulate.
* "mixed": bfloat16 for the first two thirds of the iterations, float32 for the rest. The
  optimiser keeps its L-BFGS pairs across the switch, and the run ends at float32's loss
  (benchmarks/README.md has the figures).
* "auto" (the default): "mixed" where the CPU has native bfloat16, else "float32".
"""

from __future__ import annotations

from pathlib import Path

from tensorflow_vgg.quiet import onednn_limited_below_avx512, onednn_turned_off

PRECISIONS = ("auto", "float32", "bfloat16", "mixed")
EVALUATION_PRECISIONS = ("float32", "bfloat16")  # what one evaluation can run in
# The float32 share of a mixed run. bfloat16's gradient error (about 2%) only starts to
# cost once the gradient is small, late in a run.
MIXED_FLOAT32_SHARE = 1 / 3
CPUINFO = Path("/proc/cpuinfo")
NATIVE_BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")


class PrecisionError(ValueError):
    """A precision that is not one of PRECISIONS."""


def check(precision: str) -> str:
    """Return `precision` if it is one of PRECISIONS, else raise PrecisionError naming them."""
    if precision not in PRECISIONS:
        raise PrecisionError(
            f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}"
        )
    return precision


def cpu_has_native_bfloat16(cpuinfo: Path | None = None) -> bool:
    """Return whether the CPU flags (Linux's /proc/cpuinfo) include AVX512_BF16 or AMX-BF16,
    and oneDNN runs them: not turned off (TF_ENABLE_ONEDNN_OPTS=0, where Eigen's kernels emulate
    bfloat16), nor limited below AVX-512 (ONEDNN_MAX_CPU_ISA), which would leave it none."""
    if onednn_turned_off() or onednn_limited_below_avx512():
        return False
    return any(flag in cpu_flags(cpuinfo) for flag in NATIVE_BFLOAT16_FLAGS)


def cpu_flags(cpuinfo: Path | None = None) -> set[str]:
    """Return the first CPU's flags in Linux's /proc/cpuinfo, or none where it cannot be read."""
    try:
        text = (cpuinfo or CPUINFO).read_text(errors="replace")
    except OSError:  # not Linux, or no /proc: no flags known
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def resolve(precision: str, cpuinfo: Path | None = None) -> str:
    """Return the precision a run uses: "auto" becomes "mixed" or "float32" by the CPU."""
    if check(precision) != "auto":
        return precision
    return "mixed" if cpu_has_native_bfloat16(cpuinfo) else "float32"


def phases(precision: str, iterations: int, done: int = 0) -> list[tuple[str, int]]:
    """Return [(evaluation precision, iterations), ...] left of a run after `done` iterations.

    "auto" must be resolved first. A resumed mixed run keeps the split of the whole run, so
    one stopped in its float32 tail goes on in float32.
    """
    if check(precision) == "auto":
        raise PrecisionError('resolve "auto" with precisions.resolve() before planning a run')
    if not 0 <= done < iterations:
        raise PrecisionError(f"{done} of {iterations} iterations done leaves none to plan")
    if precision != "mixed":
        return [(precision, iterations - done)]
    in_float32 = max(1, round(iterations * MIXED_FLOAT32_SHARE))
    in_bfloat16 = iterations - in_float32
    schedule = [
        ("bfloat16", max(0, in_bfloat16 - done)),
        ("float32", in_float32 - max(0, done - in_bfloat16)),
    ]
    return [(name, count) for name, count in schedule if count > 0]
