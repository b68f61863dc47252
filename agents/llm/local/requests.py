"""What the local engine serves: generation and scoring requests, and the queue worker that serves them.

Courses run in threads; every call they make to a local model becomes a request on that model's
queue, served by one worker thread per model (and batch settings). Both batchers
(``static_batching``, ``continuous_batching``) and the decoding rules build on these types.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from .settings import BatchSettings


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
