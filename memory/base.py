"""What the engine needs of a memory store: the ``SessionStore`` interface and the records it returns.

``memory.store.MemoryStore`` (Chroma) implements it; a counselor searches it for
earlier sessions of its client, and the course graph adds each finished session.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

T = TypeVar("T")


@dataclass(frozen=True)
class MemoryHit:
    """One stored record, with its distance to the query (0.0 outside search)."""

    id: str
    client_id: str
    session_index: int
    kind: str
    text: str
    distance: float

    def to_record(self) -> dict[str, Any]:
        """JSON-able dict of all fields."""
        return asdict(self)


@runtime_checkable
class SessionStore(Protocol):
    """Long-term memory of counseling sessions, kept per client."""

    def add_session(self, client_id: str, session_index: int, memory_text: str,
                    transcript_chunks: list[str]) -> list[str]:
        """Store (idempotently) a finished session's memory and transcript chunks; returns their ids."""
        ...

    def search(self, client_id: str, before_session: int, query: str, k: int) -> list[MemoryHit]:
        """The ``k`` records of ``client_id`` from sessions before ``before_session`` nearest ``query``."""
        ...


class CallGuard(Protocol):
    """Runs one call to a store's backend: retried through an outage of a server, say
    (``simulation.engine.service_guard.ServiceGuard``)."""

    def call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T: ...


class DirectCalls:
    """The guard of a store that needs none: each call runs once, as it is."""

    def call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return function(*args, **kwargs)
