"""What the memory store returned, seen by the engine rather than told by the counselor.

A counselor reports the memories it used (``CounselorReply.retrieved``), but a counselor wrote that
list: retrieval recall computed from it could credit hits the store never returned. The engine hands
every counselor a ``WatchedStore`` instead of the store itself: it passes each call through and notes
the ids of the records each search returned, and the session graph records them on the turn
(``CounselorTurn.store_returned``), where the counselor cannot write them.

Courses run concurrently, one thread per course (or one process per course with Ray), and a counselor
is shared by all of a process's courses, so the ids are noted per thread, between ``watching()``'s
start and end around one ``respond`` call. A counselor that searches from threads of its own is not
seen there (its turns record nothing returned).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from muspsy_sim.memory.base import SessionStore
from muspsy_sim.simulation.core.turns import RetrievedMemory


class WatchedStore:
    """A ``SessionStore`` that passes every call to ``store`` and notes what each search returned."""

    def __init__(self, store: SessionStore):
        self.store = store
        self._watch = threading.local()

    def add_session(self, client_id: str, session_index: int, memory_text: str,
                    transcript_chunks: list[str]) -> list[str]:
        return self.store.add_session(client_id, session_index, memory_text, transcript_chunks)

    def search(self, client_id: str, before_session: int, query: str, k: int) -> list[RetrievedMemory]:
        found = self.store.search(client_id, before_session, query, k)
        returned = getattr(self._watch, "returned", None)
        if returned is not None:
            returned.extend(record.id for record in found if record.id)
        return found

    @contextmanager
    def watching(self) -> Iterator[list[str]]:
        """The ids the store returns to this thread's searches until the block ends (in order, repeats kept)."""
        outer = getattr(self._watch, "returned", None)
        self._watch.returned = []
        try:
            yield self._watch.returned
        finally:
            self._watch.returned = outer

    def __getattr__(self, name: str) -> Any:
        # Anything else (the store's campaign, path, embedder) is the wrapped store's.
        if name in ("store", "_watch"):
            raise AttributeError(name)
        return getattr(self.store, name)


def returned_ids(found: list[str]) -> list[str]:
    """The ids a turn's searches returned, each once, in the order first returned."""
    return list(dict.fromkeys(found))
