"""Chroma-backed long-term memory: per-session summaries and transcript chunks."""

from __future__ import annotations

import heapq
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np

from muspsy_sim.simulation.core.turns import RetrievedMemory

from .base import CallGuard, DirectCalls
from .embeddings import Embedder

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

KIND_MEMORY = "memory"
KIND_TRANSCRIPT = "transcript"
# On a memory record: how many transcript chunks its session has (ids chunk0 .. chunkN-1). With it a
# session's records are found by id, which costs the same in a store of ten sessions or of thousands;
# a metadata filter scans the collection. Records written before it was kept are found by a filter.
CHUNKS_KEY = "chunks"
# Candidate sets kept for exact search (one per client and session being run).
_CANDIDATE_CACHE_SIZE = 256


@dataclass(frozen=True)
class _Candidates:
    """A filtered record set ready for exact ranking (matrix None when empty)."""

    hits: tuple[RetrievedMemory, ...]
    matrix: Any
    norms: Any


def parse_chroma_url(url: str) -> tuple[str, int, bool]:
    """Split "http(s)://host[:port]" into (host, port, ssl)."""
    parsed = urlparse(url if "://" in url else f"http://{url}")
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"unsupported Chroma url: {url!r}")
    ssl = parsed.scheme == "https"
    port = parsed.port or (443 if ssl else 8000)
    return parsed.hostname, port, ssl


def chroma_unreachable(error: BaseException) -> bool:
    """Whether ``error`` (or one it came from) says a Chroma server could not be reached: a refused,
    dropped or timed-out connection, or a gateway's 502-504 while it restarts."""
    import httpx  # lazy: only asked about an error, which chromadb (that imports httpx) raised

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (httpx.TransportError, ConnectionError)):
            return True
        if isinstance(current, httpx.HTTPStatusError) and current.response.status_code in (502, 503, 504):
            return True
        current = current.__cause__ or current.__context__
    return False


def record_id(campaign: str, client_id: str, session_index: int, suffix: str) -> str:
    """The id of a stored record: ``CAMPAIGN:CLIENT:sN:memory`` or ``CAMPAIGN:CLIENT:sN:chunkI``.

    Evaluation rebuilds these ids from the session records (``simulation/evaluation/retrieval.py``)
    to check that what a counselor says it retrieved is in the store.
    """
    return f"{campaign}:{client_id}:s{int(session_index)}:{suffix}"


def chroma_where(*conditions: dict[str, Any]) -> dict[str, Any]:
    """A Chroma ``where`` filter that holds when every condition holds."""
    # Chroma rejects "$and" with fewer than two operands.
    return conditions[0] if len(conditions) == 1 else {"$and": list(conditions)}


class MemoryStore:
    """Chroma-backed store of session memories and transcript chunks.

    All records of one store share a campaign; every read is scoped to it.
    Embeddings are always computed by `embedder` and passed explicitly, and the
    collection is opened without an embedding function, so Chroma never loads
    (or downloads) its default model.

    `search` ranks exactly when the filtered candidate set has at most
    `exact_search_limit` records, because Chroma's filtered HNSW query can drop
    matches when vectors are duplicated (e.g. identical short utterances); larger
    sets fall back to Chroma's approximate index. 0 always uses the index.

    The candidate set of a (client, before_session) pair is read from Chroma
    once and kept: every turn of a session searches the same earlier sessions,
    and re-reading them cost more than the rest of a turn. `add_session` drops
    the client's kept sets. This assumes a client's records are written through
    one store at a time, which holds because a run directory is locked to one
    process and each course writes only its own client's records.

    Every call to Chroma goes through ``guard`` (a server that restarts is waited for:
    ``simulation.engine.service_guard``); by default each runs once.
    """

    def __init__(
        self,
        campaign: str,
        embedder: Embedder,
        *,
        path: Path | None = None,
        url: str | None = None,
        collection: str = "muspsy_memory",
        exact_search_limit: int = 2000,
        guard: CallGuard | None = None,
    ) -> None:
        if not campaign:
            raise ValueError("campaign must be a non-empty string")
        if (path is None) == (url is None):
            raise ValueError("pass exactly one of path= or url=")
        self.campaign = campaign
        self.embedder = embedder
        self.path = Path(path) if path is not None else None
        self.url = url
        self.exact_search_limit = max(0, int(exact_search_limit))
        self.guard = guard or DirectCalls()
        self._candidates: dict[tuple[str, int], _Candidates | None] = {}
        self._candidates_lock = threading.Lock()
        self._writes: dict[str, int] = {}  # per client: a search that overlapped a write keeps nothing
        self._client = self.guard.call(self._make_client)
        self._collection: Collection = self.guard.call(
            self._client.get_or_create_collection,
            collection,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
        )

    def _make_client(self) -> ClientAPI:
        # lazy: chromadb takes about half a second to import; only a store that is opened needs it
        import chromadb
        from chromadb.config import Settings

        settings = Settings(anonymized_telemetry=False)
        if self.path is not None:
            self.path.mkdir(parents=True, exist_ok=True)
            return chromadb.PersistentClient(path=str(self.path), settings=settings)
        assert self.url is not None
        host, port, ssl = parse_chroma_url(self.url)
        return chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=settings)

    def _record_id(self, client_id: str, session_index: int, suffix: str) -> str:
        return record_id(self.campaign, client_id, session_index, suffix)

    def _embed(self, texts: list[str]) -> list[list[float]]:
        vectors = self.embedder.embed(texts)
        if len(vectors) != len(texts):
            raise ValueError(f"embedder returned {len(vectors)} vectors for {len(texts)} texts")
        return [list(map(float, v)) for v in vectors]

    def _scope(self, client_id: str | None = None, session_index: int | None = None,
               kind: str | None = None) -> dict[str, Any]:
        conditions: list[dict[str, Any]] = [{"campaign": {"$eq": self.campaign}}]
        if client_id is not None:
            conditions.append({"client_id": {"$eq": client_id}})
        if session_index is not None:
            conditions.append({"session_index": {"$eq": int(session_index)}})
        if kind is not None:
            conditions.append({"kind": {"$eq": kind}})
        return chroma_where(*conditions)

    def add_session(
        self,
        client_id: str,
        session_index: int,
        memory_text: str,
        transcript_chunks: list[str],
    ) -> list[str]:
        """Upsert a session's memory and transcript chunks; returns their ids.

        Idempotent: re-adding a session overwrites its records and drops chunk
        records the new call no longer has. Its records are addressed by id (the memory
        record keeps the chunk count), so the cost does not grow with the store.
        """
        if not client_id:
            raise ValueError("client_id must be a non-empty string")
        session_index = int(session_index)
        self._forget_candidates(client_id)
        ids = [self._record_id(client_id, session_index, KIND_MEMORY)]
        ids += [self._record_id(client_id, session_index, f"chunk{i}")
                for i in range(len(transcript_chunks))]
        texts = [memory_text, *transcript_chunks]
        kinds = [KIND_MEMORY] + [KIND_TRANSCRIPT] * len(transcript_chunks)
        metadatas: list[dict[str, Any]] = [
            {"campaign": self.campaign, "client_id": client_id,
             "session_index": session_index, "kind": kind}
            for kind in kinds
        ]
        metadatas[0][CHUNKS_KEY] = len(transcript_chunks)
        embeddings = self._embed(texts)
        previous = self._chunk_counts([ids[0]])
        self.guard.call(self._collection.upsert, ids=ids, embeddings=embeddings, documents=texts,
                        metadatas=metadatas)
        # Upsert first, then prune, so readers never see the session half-missing.
        if previous is None:  # a record written before chunk counts were kept: find its chunks by filter
            existing = self.guard.call(
                self._collection.get, where=self._scope(client_id, session_index, KIND_TRANSCRIPT), include=[]
            )["ids"]
        else:
            existing = [self._record_id(client_id, session_index, f"chunk{i}")
                        for i in range(previous.get(ids[0], 0))]
        stale = sorted(set(existing) - set(ids))
        if stale:
            self.guard.call(self._collection.delete, ids=stale)
        self._forget_candidates(client_id)  # again: a search meanwhile may have read a half-written session
        return ids

    def prepare(self, texts: list[str]) -> None:
        """A hint that ``texts`` will be stored soon (a session's transcript chunks, as its turns come): an
        embedder that can (``prefetch``) starts on them in the background, so the session's end need not
        wait for them. What ``add_session`` stores is the same either way."""
        prefetch = getattr(self.embedder, "prefetch", None)
        if prefetch is not None and texts:
            prefetch(list(texts))

    def search(self, client_id: str, before_session: int, query: str, k: int) -> list[RetrievedMemory]:
        """Nearest records of `client_id` from sessions < `before_session`, best first."""
        if k <= 0:
            return []
        where = chroma_where(
            {"campaign": {"$eq": self.campaign}},
            {"client_id": {"$eq": client_id}},
            {"session_index": {"$lt": int(before_session)}},
        )
        candidates = (self._exact_candidates(client_id, int(before_session), where)
                      if self.exact_search_limit > 0 else None)
        if candidates is not None and candidates.matrix is None:
            return []  # nothing stored before this session (a first session): no query to embed
        query_vector = self._embed([query])[0]
        hits = self._search_exact(query_vector, candidates, int(k))
        if hits is None:
            hits = self._search_index(query_vector, where, int(k))
        # Belt and braces: the filter above is the isolation guarantee, but a
        # leak across clients or into the future would corrupt a simulation silently.
        hits = [h for h in hits if h.client_id == client_id and h.session_index < before_session]
        return sorted(hits, key=lambda h: (h.distance, h.session_index, h.id))[:k]

    def _chunk_counts(self, memory_ids: list[str]) -> dict[str, int] | None:
        """The chunk count each stored memory record of ``memory_ids`` keeps (absent ones: none stored);
        None when one of them was written before the counts were kept."""
        got = self.guard.call(self._collection.get, ids=memory_ids, include=["metadatas"])
        counts = {}
        for id_, metadata in zip(got["ids"], got["metadatas"] or []):
            count = (metadata or {}).get(CHUNKS_KEY)
            if not isinstance(count, int) or isinstance(count, bool):
                return None
            counts[id_] = count
        return counts

    def _forget_candidates(self, client_id: str) -> None:
        with self._candidates_lock:
            self._writes[client_id] = self._writes.get(client_id, 0) + 1
            for key in [key for key in self._candidates if key[0] == client_id]:
                del self._candidates[key]

    def _exact_candidates(self, client_id: str, before_session: int,
                          where: dict[str, Any]) -> _Candidates | None:
        """The filtered records with their row norms (kept per pair); None if over the limit."""
        key = (client_id, before_session)
        with self._candidates_lock:
            if key in self._candidates:
                return self._candidates[key]
            writes = self._writes.get(client_id, 0)
        got = self._session_records(client_id, before_session)
        if got is None:  # records from before chunk counts were kept: a filtered read
            got = self.guard.call(
                self._collection.get, where=where, limit=self.exact_search_limit + 1,
                include=["embeddings", "documents", "metadatas"],
            )
        candidates = None
        if len(got["ids"]) <= self.exact_search_limit:
            hits = [_hit(id_, doc, meta, 0.0)
                    for id_, doc, meta in zip(got["ids"], got["documents"] or [], got["metadatas"] or [])]
            # The isolation check of `search`, done once here for the whole candidate set; rows in id order,
            # whatever order Chroma returned them in (it varies with its compaction): a row's dot product
            # with the query can differ in its last bit with the row's place in the matrix (BLAS kernels
            # take rows in blocks), and the distances a turn records must not depend on the store's timing.
            rows = sorted((i for i, h in enumerate(hits) if h.client_id == client_id and h.session_index < before_session),
                          key=lambda i: hits[i].id)
            matrix = np.asarray(got["embeddings"], dtype=np.float64)[rows] if rows else None
            candidates = _Candidates(tuple(hits[i] for i in rows), matrix,
                                     None if matrix is None else np.linalg.norm(matrix, axis=1))
        with self._candidates_lock:
            if self._writes.get(client_id, 0) == writes:
                if len(self._candidates) >= _CANDIDATE_CACHE_SIZE:
                    del self._candidates[next(iter(self._candidates))]
                self._candidates[key] = candidates
        return candidates

    def _session_records(self, client_id: str, before_session: int) -> dict[str, list] | None:
        """Every record of ``client_id``'s sessions before ``before_session``, read by id (memory records,
        then the chunks they count); at most ``exact_search_limit + 1``. None unless every one of those
        sessions has a memory record with its chunk count (as ``add_session`` writes them)."""
        include = ["embeddings", "documents", "metadatas"]
        memory_ids = [self._record_id(client_id, index, KIND_MEMORY) for index in range(1, before_session)]
        if not memory_ids:
            return {key: [] for key in ("ids", *include)}
        counts = self._chunk_counts(memory_ids)
        if counts is None or len(counts) < len(memory_ids):
            return None  # a session without its memory record was not written by add_session: read by filter
        chunk_ids = [self._record_id(client_id, int(id_.rsplit(":", 2)[1][1:]), f"chunk{i}")
                     for id_, count in counts.items() for i in range(count)]
        wanted = [id_ for id_ in memory_ids if id_ in counts] + chunk_ids
        if not wanted:
            return {key: [] for key in ("ids", *include)}
        got = self.guard.call(self._collection.get, ids=wanted[: self.exact_search_limit + 1], include=include)
        return {key: list(got[key] if got[key] is not None else []) for key in ("ids", *include)}

    @staticmethod
    def _search_exact(query_vector: list[float], candidates: _Candidates | None, k: int) -> list[RetrievedMemory] | None:
        """The `k` nearest candidates by brute-force cosine distance; None when there were too many."""
        if candidates is None:
            return None
        if candidates.matrix is None:
            return []
        q = np.asarray(query_vector, dtype=np.float64)
        norms = candidates.norms * (np.linalg.norm(q) or 1.0)
        distances = (1.0 - (candidates.matrix @ q) / np.where(norms == 0.0, 1.0, norms)).tolist()
        hits = candidates.hits
        # The same order as `search`'s final sort, so only the k returned hits are built.
        best = heapq.nsmallest(k, range(len(hits)), key=lambda i: (distances[i], hits[i].session_index, hits[i].id))
        return [hits[i].model_copy(update={"distance": distances[i]}) for i in best]

    def _search_index(self, query_vector: list[float], where: dict[str, Any],
                      k: int) -> list[RetrievedMemory]:
        """Approximate search through Chroma's HNSW index."""
        result = self.guard.call(
            self._collection.query,
            query_embeddings=[query_vector],
            n_results=k,
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        return [
            _hit(id_, doc, meta, dist)
            for id_, doc, meta, dist in zip(
                result["ids"][0],
                (result["documents"] or [[]])[0],
                (result["metadatas"] or [[]])[0],
                (result["distances"] or [[]])[0],
            )
        ]

    def count(self, client_id: str | None = None, session_index: int | None = None) -> int:
        """Number of records in this campaign, optionally narrowed."""
        return len(self.guard.call(self._collection.get, where=self._scope(client_id, session_index), include=[])["ids"])

    def records(self, client_id: str | None = None) -> list[RetrievedMemory]:
        """All records in this campaign (distance 0.0), sorted by client, session, id."""
        got = self.guard.call(self._collection.get, where=self._scope(client_id), include=["documents", "metadatas"])
        hits = [
            _hit(id_, doc, meta, 0.0)
            for id_, doc, meta in zip(got["ids"], got["documents"] or [], got["metadatas"] or [])
        ]
        return sorted(hits, key=lambda h: (h.client_id, h.session_index, h.id))


def _hit(id_: str, document: str | None, metadata: Any, distance: float) -> RetrievedMemory:
    meta = dict(metadata or {})
    return RetrievedMemory(
        id=id_,
        client_id=str(meta.get("client_id", "")),
        session_index=int(meta.get("session_index", -1)),
        kind=str(meta.get("kind", "")),
        text=document or "",
        distance=float(distance),
    )
