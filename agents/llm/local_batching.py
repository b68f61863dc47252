"""Dynamic batching for the in-process ``local/`` provider.

Courses run in threads, and every call they make to a local model becomes a request on that
model's queue, served by one worker thread per model (and batch settings). Two servers:

- ``ContinuousBatcher`` (``continuous_batching.py``) for Llama-family models, the embedded one
  included: requests join and leave the batch at every decode step, and prompts start from a
  cached prefix.
- ``LocalBatcher`` here, for any other causal LM: static batches. It takes up to ``max_batch``
  requests, waiting at most ``wait_seconds`` after the first, and serves them together:
  generation prefills each prompt alone, left-pads the KV caches into one batch and decodes it
  batched; scoring runs one padded forward (prompts sharing a long prefix prefill it once).
  Every row keeps its own max_tokens, stop strings, repetition penalty, temperature/top_p and
  seeded generator, and leaves the batch when it is done.

Either way a row's result does not depend on which requests share its batch. ``max_batch`` 1
serves one request at a time.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field

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


@dataclass
class GenerationRequest:
    input_ids: list[int]
    max_tokens: int
    stop: tuple[str, ...] = ()
    temperature: float = 0.0
    top_p: float = 0.9
    repetition_penalty: float = 1.15
    seed: int | None = None
    result: Future = field(default_factory=Future)


@dataclass
class ScoringRequest:
    input_ids: list[int]
    result: Future = field(default_factory=Future)


@dataclass(frozen=True)
class Generated:
    text: str
    token_ids: tuple[int, ...]


def collect_batch(requests: queue.Queue, max_batch: int, wait_seconds: float,
                  clock: Callable[[], float] = time.monotonic) -> list:
    """Block for one request, then take more until ``max_batch`` or ``wait_seconds`` after the first.

    Whatever is already queued is always taken (up to ``max_batch``), even once the window has passed.
    """
    batch = [requests.get()]
    deadline = clock() + wait_seconds
    while len(batch) < max_batch:
        remaining = deadline - clock()
        try:
            batch.append(requests.get(timeout=remaining) if remaining > 0 else requests.get_nowait())
        except queue.Empty:
            break
    return batch


def split_by_kind(batch: list) -> tuple[list[ScoringRequest], list[GenerationRequest]]:
    return ([r for r in batch if isinstance(r, ScoringRequest)],
            [r for r in batch if isinstance(r, GenerationRequest)])


class QueueWorker:
    """A request queue served by one worker thread, started on first use; callers block on their own result."""

    def __init__(self, settings: BatchSettings):
        self.settings = settings
        self._requests: queue.Queue = queue.Queue()
        self._start = threading.Lock()
        self._worker: threading.Thread | None = None

    def generate(self, request: GenerationRequest) -> Generated:
        return self._submit(request)

    def score(self, request: ScoringRequest):
        """The next-token log-probabilities (a float32 tensor over the vocabulary)."""
        return self._submit(request)

    def _submit(self, request):
        with self._start:
            if self._worker is None:
                # A daemon: a process that is done must not wait for an idle model.
                self._worker = threading.Thread(target=self._serve, name="local-model-batcher", daemon=True)
                self._worker.start()
        self._requests.put(request)
        return request.result.result()

    def _serve(self) -> None:
        raise NotImplementedError


def batcher_for(model, tokenizer, settings: BatchSettings) -> QueueWorker:
    """Continuous batching where the model has the Llama layout it needs, static batches otherwise."""
    from muspsy_sim.agents.llm.packed_llama import supports

    if supports(model):
        from muspsy_sim.agents.llm.continuous_batching import ContinuousBatcher

        return ContinuousBatcher(model, tokenizer, settings)
    return LocalBatcher(model, tokenizer, settings)


class LocalBatcher(QueueWorker):
    """Static batches: requests that arrive together are served together, each batch to its end."""

    def __init__(self, model, tokenizer, settings: BatchSettings):
        super().__init__(settings)
        self.model = model
        self.tokenizer = tokenizer
        self.batch_sizes: list[int] = []  # generation batch sizes served, for benchmarks

    def _serve(self) -> None:
        import torch

        while True:
            batch = collect_batch(self._requests, self.settings.max_batch, self.settings.wait_seconds)
            threads = self.settings.threads or threads_for_load(available_cores(), os.getloadavg()[0])
            if torch.get_num_threads() != threads:
                torch.set_num_threads(threads)
            scoring, generation = split_by_kind(batch)
            # Scoring first: one short forward, and those courses get on with their next call sooner.
            for group, serve in ((scoring, self._score_group), (generation, self._generate_group)):
                if not group:
                    continue
                try:
                    results = serve(group)
                except BaseException as error:  # the callers, not this thread, must see the failure
                    for request in group:
                        request.result.set_exception(error)
                    continue
                for request, result in zip(group, results):
                    request.result.set_result(result)

    def _generate_group(self, group: list[GenerationRequest]) -> list[Generated]:
        from muspsy_sim.agents.llm.local_decoding import generate_batch

        self.batch_sizes.append(len(group))
        return generate_batch(self.model, self.tokenizer, group)

    def _score_group(self, group: list[ScoringRequest]):
        from muspsy_sim.agents.llm.local_decoding import score_batch

        return score_batch(self.model, self.tokenizer.pad_token_id, group)
