"""Tests for memory.MemoryStore (Chroma); the MiniLM embedder has its own (test_minilm.py)."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from muspsy_sim.memory import MemoryStore
from muspsy_sim.memory.store import parse_chroma_url
from muspsy_sim.simulation.core.turns import RetrievedMemory

REPO = Path(__file__).resolve().parents[1]
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}


class HashEmbedder:
    """Deterministic hashed bag-of-words embedder: fast, no model."""

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.calls = 0

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        out = []
        for text in texts:
            vec = [0.0] * self.dim
            for token in re.findall(r"\w+", text.lower()):
                vec[int(hashlib.md5(token.encode()).hexdigest(), 16) % self.dim] += 1.0
            norm = math.sqrt(sum(x * x for x in vec)) or 1.0
            out.append([x / norm for x in vec] if any(vec) else [1.0] + [0.0] * (self.dim - 1))
        return out


@pytest.fixture(autouse=True)
def forbid_chroma_default_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chroma's default embedding function downloads an ONNX model: make any use fail."""
    for key, value in OFFLINE_ENV.items():
        monkeypatch.setenv(key, value)
    from chromadb.api.types import DefaultEmbeddingFunction
    from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

    def boom(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("Chroma's default embedding function was invoked")

    monkeypatch.setattr(DefaultEmbeddingFunction, "__call__", boom)
    monkeypatch.setattr(ONNXMiniLM_L6_V2, "__call__", boom)
    monkeypatch.setattr(ONNXMiniLM_L6_V2, "_download_model_if_not_exists", boom)


def text(client: str, session: int, part: str) -> str:
    return f"{part} note for client {client} in session {session} token{client}{session}{part}"


def populate(store: MemoryStore, clients=("a", "b"), sessions=(1, 2, 3)) -> None:
    for client in clients:
        for s in sessions:
            store.add_session(
                client, s, text(client, s, "memory"),
                [text(client, s, "chunk0"), text(client, s, "chunk1")],
            )


@pytest.fixture(params=[2000, 0], ids=["exact", "hnsw"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> MemoryStore:
    """Populated store; searched exactly or through Chroma's HNSW index."""
    s = MemoryStore("camp1", HashEmbedder(), path=tmp_path / "chroma",
                    exact_search_limit=request.param)
    populate(s)
    return s


# --- isolation ---------------------------------------------------------------


def test_search_only_returns_same_client_earlier_sessions(store: MemoryStore) -> None:
    # Queries that match client b / session 2 / session 3 text exactly must not leak.
    for query in (text("b", 1, "memory"), text("a", 3, "chunk0"), text("a", 2, "memory"),
                  text("a", 1, "chunk1")):
        hits = store.search("a", before_session=2, query=query, k=50)
        assert {(h.client_id, h.session_index) for h in hits} == {("a", 1)}
        assert sorted(h.id for h in hits) == [
            "camp1:a:s1:chunk0", "camp1:a:s1:chunk1", "camp1:a:s1:memory"]


def test_search_ranks_best_first(store: MemoryStore) -> None:
    hits = store.search("a", before_session=4, query=text("a", 2, "chunk1"), k=3)
    assert len(hits) == 3
    assert hits[0].id == "camp1:a:s2:chunk1"
    assert hits[0].distance == pytest.approx(0.0, abs=1e-5)
    assert [h.distance for h in hits] == sorted(h.distance for h in hits)
    assert all(h.client_id == "a" and h.session_index < 4 for h in hits)


def test_search_empty_cases(store: MemoryStore) -> None:
    assert store.search("a", before_session=1, query=text("a", 1, "memory"), k=5) == []
    assert store.search("a", before_session=0, query="anything", k=5) == []
    assert store.search("nobody", before_session=9, query=text("a", 1, "memory"), k=5) == []
    assert store.search("a", before_session=3, query="anything", k=0) == []


def test_a_first_sessions_search_embeds_no_query(tmp_path: Path) -> None:
    # Every search of a course's first session finds nothing; embedding its query (~12 ms of MiniLM a turn)
    # would be work for no answer. A later session's search embeds it.
    embedder = HashEmbedder()
    store = MemoryStore("camp1", embedder, path=tmp_path / "chroma", exact_search_limit=2000)
    populate(store)
    before = embedder.calls
    assert store.search("a", before_session=1, query="anything", k=5) == []
    assert store.search("nobody", before_session=9, query="anything", k=5) == []
    assert embedder.calls == before
    assert store.search("a", before_session=2, query="anything", k=5)
    assert embedder.calls == before + 1
    assert store.search("a", before_session=3, query="anything", k=-1) == []


def test_search_k_larger_than_matches(store: MemoryStore) -> None:
    hits = store.search("b", before_session=3, query="note", k=100)
    assert len(hits) == 6
    assert {h.session_index for h in hits} == {1, 2}


def test_other_campaign_in_same_dir_is_invisible(tmp_path: Path) -> None:
    path = tmp_path / "chroma"
    one = MemoryStore("camp1", HashEmbedder(), path=path)
    two = MemoryStore("camp2", HashEmbedder(), path=path)
    one.add_session("a", 1, "shared words about anxiety", ["chunk from camp1"])
    two.add_session("a", 1, "shared words about anxiety", ["chunk from camp2"])

    hits = one.search("a", before_session=2, query="chunk from camp2", k=10)
    assert {h.id.split(":")[0] for h in hits} == {"camp1"}
    assert "chunk from camp2" not in {h.text for h in hits}
    assert one.count() == 2 and two.count() == 2
    assert all(r.id.startswith("camp2:") for r in two.records())


def test_exact_search_keeps_duplicate_vectors(tmp_path: Path) -> None:
    # Regression: with many identical vectors (hash collisions here; repeated short
    # utterances with MiniLM) Chroma's filtered HNSW query sometimes drops matches.
    s = MemoryStore("dup", HashEmbedder(), path=tmp_path)
    ids, texts, metas = [], [], []
    for c in range(60):
        for sess in range(1, 9):
            for i in range(6):
                ids.append(f"dup:c{c}:s{sess}:chunk{i}")
                texts.append(f"chunk {i} of {c} {sess} generic")
                metas.append({"campaign": "dup", "client_id": f"c{c}",
                              "session_index": sess, "kind": "transcript"})
    vectors = s.embedder.embed(texts)
    for i in range(0, len(ids), 1000):
        s._collection.upsert(ids=ids[i:i + 1000], embeddings=vectors[i:i + 1000],
                             documents=texts[i:i + 1000], metadatas=metas[i:i + 1000])
    for c in range(60):
        hits = s.search(f"c{c}", 9, "generic chunk", k=1000)
        assert len(hits) == 48 and {h.client_id for h in hits} == {f"c{c}"}


# --- writes ------------------------------------------------------------------


def test_add_session_ids_and_metadata(tmp_path: Path) -> None:
    s = MemoryStore("c", HashEmbedder(), path=tmp_path)
    ids = s.add_session("x", 4, "mem", ["t0", "t1"])
    assert ids == ["c:x:s4:memory", "c:x:s4:chunk0", "c:x:s4:chunk1"]
    got = s._collection.get(ids=ids, include=["metadatas"])
    metas = dict(zip(got["ids"], got["metadatas"]))
    assert metas["c:x:s4:memory"] == {"campaign": "c", "client_id": "x",
                                      "session_index": 4, "kind": "memory", "chunks": 2}
    assert metas["c:x:s4:chunk1"]["kind"] == "transcript"
    assert isinstance(metas["c:x:s4:chunk1"]["session_index"], int)


def test_add_session_is_idempotent(store: MemoryStore) -> None:
    before = store.count()
    assert before == 2 * 3 * 3
    populate(store)
    assert store.count() == before
    assert store.count("a", 2) == 3


def test_add_session_drops_stale_chunks(store: MemoryStore) -> None:
    store.add_session("a", 2, "new memory", ["only chunk"])
    assert store.count("a", 2) == 2
    texts = {r.id: r.text for r in store.records("a") if r.session_index == 2}
    assert texts == {"camp1:a:s2:memory": "new memory", "camp1:a:s2:chunk0": "only chunk"}
    # Other sessions and clients untouched.
    assert store.count("a", 1) == 3 and store.count("b", 2) == 3

    store.add_session("a", 2, "memory only", [])
    assert store.count("a", 2) == 1


def test_count_and_records(store: MemoryStore) -> None:
    assert store.count("a") == 9
    assert store.count(session_index=3) == 6
    assert store.count("zzz") == 0
    recs = store.records("b")
    assert len(recs) == 9 and all(r.client_id == "b" and r.distance == 0.0 for r in recs)
    assert [(r.client_id, r.session_index, r.id) for r in recs] == sorted(
        (r.client_id, r.session_index, r.id) for r in recs)
    everything = store.records()
    assert [r.client_id for r in everything] == ["a"] * 9 + ["b"] * 9
    json.dumps([r.to_dict() for r in everything])
    assert set(everything[0].to_dict()) == {
        "id", "client_id", "session_index", "kind", "text", "distance"}


# --- persistence ---------------------------------------------------------------


def test_reopen_same_path_keeps_records(tmp_path: Path) -> None:
    path = tmp_path / "chroma"
    first = MemoryStore("camp1", HashEmbedder(), path=path)
    populate(first, clients=("a",), sessions=(1, 2))
    del first
    again = MemoryStore("camp1", HashEmbedder(), path=path)
    assert again.count() == 6
    assert [h.id for h in again.search("a", 2, text("a", 1, "chunk0"), 1)] == ["camp1:a:s1:chunk0"]


def test_persists_across_processes(tmp_path: Path) -> None:
    # A fresh process rules out Chroma's in-process client cache masking a missing flush.
    path = tmp_path / "chroma"
    script = textwrap.dedent(f"""
        from pathlib import Path
        from muspsy_sim.memory import MemoryStore
        class Unit:
            def embed(self, texts):
                return [[1.0, 0.0, 0.0] for _ in texts]
        s = MemoryStore("camp1", Unit(), path=Path({str(path)!r}))
        s.add_session("a", 1, "remembered", ["c0", "c1"])
    """)
    subprocess.run([sys.executable, "-c", script], cwd=REPO, check=True, timeout=60,
                   env={**os.environ, **OFFLINE_ENV})
    reopened = MemoryStore("camp1", HashEmbedder(dim=3), path=path)
    assert [r.text for r in reopened.records("a")] == ["c0", "c1", "remembered"]


# --- no Chroma default embedding function ------------------------------------------


def test_collection_has_no_embedding_function(store: MemoryStore) -> None:
    col = store._collection
    assert col._embedding_function is None
    assert col.configuration_json["embedding_function"] == {"type": "legacy"}
    # Without our vectors Chroma has nothing to embed with (and must not fall back).
    with pytest.raises(ValueError, match="must provide an embedding function"):
        col.query(query_texts=["anything"], n_results=1)


def test_default_embedding_function_guard_is_armed() -> None:
    from chromadb.api.types import DefaultEmbeddingFunction

    with pytest.raises(AssertionError, match="default embedding function"):
        DefaultEmbeddingFunction()(["x"])


# --- misc -------------------------------------------------------------------------


def test_constructor_validation(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        MemoryStore("c", HashEmbedder())
    with pytest.raises(ValueError):
        MemoryStore("c", HashEmbedder(), path=tmp_path, url="http://localhost:8000")
    with pytest.raises(ValueError):
        MemoryStore("", HashEmbedder(), path=tmp_path)


def test_parse_chroma_url() -> None:
    assert parse_chroma_url("http://localhost:8000") == ("localhost", 8000, False)
    assert parse_chroma_url("https://chroma.example.org") == ("chroma.example.org", 443, True)
    assert parse_chroma_url("http://db") == ("db", 8000, False)
    assert parse_chroma_url("10.0.0.5:9000") == ("10.0.0.5", 9000, False)
    with pytest.raises(ValueError):
        parse_chroma_url("ftp://x")


def test_import_is_light() -> None:
    code = ("import sys, memory; heavy = {'chromadb', 'torch', 'sentence_transformers', 'tokenizers', 'safetensors'}; "
            "print(sorted(heavy & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60,
                         capture_output=True, text=True).stdout.strip()
    assert out == "[]"


def test_memory_hit_is_frozen() -> None:
    hit = RetrievedMemory(id="i", client_id="a", session_index=1, kind="memory", text="t", distance=0.5)
    with pytest.raises(ValidationError, match="frozen"):
        hit.text = "other"  # type: ignore[misc]


def test_memory_search_sees_a_session_rewritten_after_a_search(tmp_path):
    """The store keeps a session's candidate records between turns (for speed); a rewrite must drop them."""
    from muspsy_sim.bench.common import HashingEmbedder
    from muspsy_sim.memory.store import MemoryStore

    store = MemoryStore("c", HashingEmbedder(), path=tmp_path)
    store.add_session("ana", 1, "homework: breathing exercise", ["Client: my cat Pip is ill"])
    assert "Client: my cat Pip is ill" in [h.text for h in store.search("ana", 2, "cat", 5)]
    store.add_session("ana", 1, "homework: breathing exercise", ["Client: my dog Rex ran away"])
    texts = [h.text for h in store.search("ana", 2, "dog", 5)]
    assert "Client: my dog Rex ran away" in texts and "Client: my cat Pip is ill" not in texts
    store.add_session("ana", 2, "homework: walks", ["Client: the walks helped"])
    assert "Client: the walks helped" in [h.text for h in store.search("ana", 3, "walks", 5)]


def test_sessions_are_read_by_id_and_records_without_chunk_counts_by_filter(tmp_path: Path) -> None:
    """A session's records are found by id (a filter scans the whole collection, which grows with the
    campaign); records written before memory records kept their chunk count still read, by filter."""
    s = MemoryStore("ids", HashEmbedder(), path=tmp_path)
    s.add_session("a", 1, "slept badly all week", ["work was tense", "tried the breathing"])
    s.add_session("b", 1, "other client", ["not a's"])
    filtered = []
    real_get = s._collection.get

    def get(*args, **kwargs):
        if kwargs.get("where") is not None:
            filtered.append(kwargs["where"])
        return real_get(*args, **kwargs)

    s._collection.get = get
    hits = s.search("a", 2, "breathing", k=5)
    assert {h.id for h in hits} == {"ids:a:s1:memory", "ids:a:s1:chunk0", "ids:a:s1:chunk1"} and not filtered
    s.add_session("a", 2, "second", ["only one chunk"])
    s.add_session("a", 2, "second again", [])  # fewer chunks: the stale one is dropped, by id
    assert not filtered and s.count("a", 2) == 1
    # An older record (no chunk count): the same answers, through a filtered read.
    memory = real_get(ids=["ids:a:s1:memory"], include=["embeddings", "documents", "metadatas"])
    older = {k: v for k, v in memory["metadatas"][0].items() if k != "chunks"}
    real_get.__self__.delete(ids=["ids:a:s1:memory"])
    real_get.__self__.add(ids=memory["ids"], embeddings=memory["embeddings"], documents=memory["documents"],
                          metadatas=[older])
    s._forget_candidates("a")
    filtered.clear()
    assert {h.id for h in s.search("a", 2, "breathing", k=5)} == {h.id for h in hits} and filtered


def test_exact_distances_do_not_depend_on_the_order_chroma_returns_records_in(tmp_path: Path) -> None:
    """Chroma's order of a read varies with its compaction; a row's dot product with the query can differ in its
    last bit with the row's place in the matrix. The distances a turn records are the same bits either way."""
    class Scattered:
        """Vectors of full-precision floats (a hashed bag of words sums exact small integers: no rounding)."""

        def embed(self, texts: list[str]) -> list[list[float]]:
            return [np.random.default_rng(int(hashlib.md5(t.encode()).hexdigest(), 16) % 2**32).standard_normal(384)
                    .tolist() for t in texts]

    s = MemoryStore("order", Scattered(), path=tmp_path)
    for session in (1, 2, 3):
        s.add_session("a", session, f"memory of session {session} about sleep and work",
                      [f"chunk {i} of session {session}: walks, breathing, the manager, week {i}" for i in range(5)])
    as_stored = s.search("a", 4, "breathing at work", k=20)
    real_get = s._collection.get

    def reversed_get(*args, **kwargs):
        got = real_get(*args, **kwargs)
        return {key: list(reversed(value)) if value is not None and key in ("ids", "embeddings", "documents", "metadatas")
                else value for key, value in got.items()}

    s._collection.get = reversed_get
    s._forget_candidates("a")
    reordered = s.search("a", 4, "breathing at work", k=20)
    assert [(h.id, h.distance) for h in reordered] == [(h.id, h.distance) for h in as_stored]
