"""What the engine needs of a memory store: the ``SessionStore`` interface.

``memory.store.MemoryStore`` (Chroma) implements it; a counselor searches it for earlier sessions of
its client (``RetrievedMemory`` records, a kernel value), and the course graph adds each finished session.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from muspsy_sim.simulation.core.turns import RetrievedMemory

# How many records a counselor retrieves per turn unless the campaign says otherwise (``memory.top_k``).
DEFAULT_TOP_K = 3


@runtime_checkable
class SessionStore(Protocol):
    """Long-term memory of counseling sessions, kept per client."""

    def add_session(self, client_id: str, session_index: int, memory_text: str,
                    transcript_chunks: list[str]) -> list[str]:
        """Store (idempotently) a finished session's memory and transcript chunks; returns their ids."""
        ...

    def search(self, client_id: str, before_session: int, query: str, k: int) -> list[RetrievedMemory]:
        """The ``k`` records of ``client_id`` from sessions before ``before_session`` nearest ``query``."""
        ...
