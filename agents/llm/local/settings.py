"""How the local engine batches and how many torch threads it uses: read from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

MAX_BATCH_ENV = "MUSPSY_LOCAL_MAX_BATCH"
WAIT_MS_ENV = "MUSPSY_LOCAL_BATCH_WAIT_MS"
THREADS_ENV = "MUSPSY_LOCAL_THREADS"
PREFIX_CACHE_TOKENS_ENV = "MUSPSY_LOCAL_PREFIX_CACHE_TOKENS"


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


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
