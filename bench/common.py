"""Helpers shared by the benchmarks: machine facts, percentiles, timers, printing.

Benchmarks print figures; they never assert timings. Each prints the machine's
core count and load so a figure can be read against how busy the machine was.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from muspsy_sim.simulation.core.provenance import available_cores


class BenchParser(argparse.ArgumentParser):
    """A benchmark's options: a bad one ends the command with one line and exit code 2, as the CLI's bad input does."""

    def error(self, message: str):
        self.exit(2, f"error: {self.prog}: {message}\n")


def whole_numbers(text: str) -> list[int]:
    """An option's comma-separated whole numbers (``--sizes 10,100``), for argparse's ``type``."""
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not comma-separated whole numbers") from None


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "n/a"
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile, q in [0, 100]; nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def p50_p90(values_ms: Sequence[float]) -> str:
    return f"p50 {percentile(values_ms, 50):7.2f} ms  p90 {percentile(values_ms, 90):7.2f} ms  (n={len(values_ms)})"


def ratio(ours: float, baseline: float) -> str:
    if not baseline or math.isnan(baseline) or math.isnan(ours):
        return "n/a"
    return f"{ours / baseline:.2f}x"


def header(title: str) -> None:
    print(f"== {title} ==")
    print(f"machine: {available_cores()} cores usable (os.cpu_count {os.cpu_count()}), load average {load_average()}")


def verdict(label: str, value: float, target: float, unit: str = "ms") -> str:
    met = "met" if value <= target else "NOT met"
    return f"{label}: {value:.2f} {unit} vs target <= {target:g} {unit}: {met}"


def repository_root() -> Path:
    return Path(__file__).resolve().parent.parent


class Stopwatch:
    """Thread-safe running total of seconds spent inside wrapped calls.

    ``cpu=True`` counts the calling thread's CPU time instead of wall time: for
    work that runs in background threads, where wall time would include waiting.
    """

    def __init__(self, cpu: bool = False) -> None:
        self._lock = threading.Lock()
        self._clock = time.thread_time if cpu else time.perf_counter
        self.seconds = 0.0
        self.calls = 0

    def wrap(self, function: Callable) -> Callable:
        clock = self._clock

        def timed(*args, **kwargs):
            started = clock()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = clock() - started
                with self._lock:
                    self.seconds += elapsed
                    self.calls += 1

        timed.__wrapped__ = function
        return timed


class HashingEmbedder:
    """A zero-cost stand-in for MiniLM: hashed bag of words, L2-normalised.

    Benchmarks that measure orchestration use it so embedding time does not
    swamp what they measure; each says so in its output. It is not a model.
    """

    def __init__(self, dim: int = 384) -> None:
        self.dim = dim

    def embed(self, texts: list[str]) -> list[list[float]]:
        vectors = []
        for text in texts:
            vector = [0.0] * self.dim
            for token in re.findall(r"\w+", text.lower()):
                vector[int.from_bytes(hashlib.blake2b(token.encode(), digest_size=4).digest(), "little") % self.dim] += 1.0
            norm = math.sqrt(sum(x * x for x in vector)) or 1.0
            vectors.append([x / norm for x in vector] if any(vector) else [1.0] + [0.0] * (self.dim - 1))
        return vectors


@contextmanager
def campaigns_embed_with(embedder) -> Iterator[None]:
    """Campaigns run in this process embed with ``embedder`` while the block runs (None: as configured, MiniLM);
    the configured one is put back after it, for what runs next in the process (the CLI's tests run
    benchmarks in process)."""
    # lazy: the engine's components load the memory store's modules
    from muspsy_sim.simulation.engine import components

    original = components.shared_embedder
    if embedder is not None:
        components.shared_embedder = lambda: embedder
    try:
        yield
    finally:
        components.shared_embedder = original


class TimedEmbedder:
    """Wraps an embedder and totals the seconds its ``embed`` takes."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.watch = Stopwatch()
        self.embed = self.watch.wrap(inner.embed)

    @property
    def seconds(self) -> float:
        return self.watch.seconds
