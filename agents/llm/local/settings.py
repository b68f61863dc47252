"""How the local engine batches, how many torch threads it uses, and in which dtype: read from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from muspsy_sim.simulation.core.provenance import available_cores

MAX_BATCH_ENV = "MUSPSY_LOCAL_MAX_BATCH"
WAIT_MS_ENV = "MUSPSY_LOCAL_BATCH_WAIT_MS"
THREADS_ENV = "MUSPSY_LOCAL_THREADS"
PREFIX_CACHE_TOKENS_ENV = "MUSPSY_LOCAL_PREFIX_CACHE_TOKENS"
DTYPE_ENV = "MUSPSY_LOCAL_DTYPE"
# CPU features (/proc/cpuinfo flags) with native bf16 matrix arithmetic; without them torch emulates bf16.
NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16")
_DTYPE_NAMES = {"bf16": "bfloat16", "bfloat16": "bfloat16", "fp32": "float32", "float32": "float32"}


@dataclass(frozen=True)
class BatchSettings:
    """How the local provider batches: read from the environment on every call, so it can change between runs."""

    max_batch: int = 16
    wait_seconds: float = 0.02
    threads: int = 0  # torch threads of the worker; 0 = chosen per batch by threads_for_load
    prefix_cache_tokens: int = 32768  # prompt positions kept for reuse (continuous batching only)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> "BatchSettings":
        environ = os.environ if environ is None else environ
        max_batch = _positive_int(environ, MAX_BATCH_ENV, cls.max_batch)
        wait_ms = _positive_int(environ, WAIT_MS_ENV, int(cls.wait_seconds * 1000), allow_zero=True)
        threads = _positive_int(environ, THREADS_ENV, 0, allow_zero=True)
        prefix_tokens = _positive_int(environ, PREFIX_CACHE_TOKENS_ENV, cls.prefix_cache_tokens, allow_zero=True)
        return cls(max_batch, wait_ms / 1000, threads, prefix_tokens)

    def worker_threads(self) -> int:
        """Torch threads for the next batch or step: the setting, or what the machine's load leaves."""
        return self.threads or threads_for_load(available_cores(), os.getloadavg()[0])


def _positive_int(environ: Mapping[str, str], name: str, default: int, allow_zero: bool = False) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < (0 if allow_zero else 1):
        raise ValueError(f"environment variable {name}: expected a {'non-negative' if allow_zero else 'positive'} "
                         f"integer, got {raw!r}")
    return value


def threads_for_load(cores: int, load_average: float) -> int:
    """Every core while the machine is otherwise idle, one thread once other work competes.

    OpenMP threads wait for each other at every op: when another process holds one of 2 cores,
    2 threads ran 4-7x slower than 1 here (3 short generations: 30 s vs 7.9 s at load 9-11).
    The load average counts this worker's own threads, hence the half-core slack.
    """
    if load_average < cores + 0.5:
        return cores
    return max(1, cores - int(load_average - cores + 0.5))


@dataclass(frozen=True)
class DtypeChoice:
    """The dtype local models run in, and why (recorded in manifest.json)."""

    dtype: str  # "float32" or "bfloat16" (torch's names)
    reason: str


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    """The CPU's feature flags (the first "flags" line of /proc/cpuinfo); empty where there is none."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as file:
                cpuinfo = file.read()
        except OSError:
            return frozenset()
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


def choose_dtype(environ: Mapping[str, str] | None = None, flags: frozenset[str] | None = None) -> DtypeChoice:
    """bf16 where the CPU computes it natively (AMX or AVX512-BF16), fp32 elsewhere; ``MUSPSY_LOCAL_DTYPE`` overrides.

    Measured (docs/design.md, "Local inference"): where bf16 is emulated (AVX2 only) it was 1.9x
    slower on a whole request; with AVX512-BF16 the engine ran 1.3-1.9x faster in bf16. In bf16 a
    row's sums depend on the batch it rides in; fp32 keeps batched and alone output identical.
    """
    environ = os.environ if environ is None else environ
    raw = environ.get(DTYPE_ENV, "").strip().lower()
    if raw in _DTYPE_NAMES:
        return DtypeChoice(_DTYPE_NAMES[raw], f"{DTYPE_ENV}={raw}")
    if raw not in ("", "auto"):
        raise ValueError(f"environment variable {DTYPE_ENV}: expected auto, bf16 or fp32, got {raw!r}")
    flags = cpu_flags() if flags is None else flags
    native = [flag for flag in NATIVE_BF16_FLAGS if flag in flags]
    if native:
        return DtypeChoice("bfloat16", f"the CPU computes bf16 natively ({', '.join(native)})")
    return DtypeChoice("float32", "the CPU has no native bf16 (no AMX or AVX512-BF16): bf16 would be emulated")
