"""Retrieval: embedding and Chroma search per query at 10,000 stored memories, and recall@5.

Fills a MemoryStore with synthetic session memories and transcript chunks
across many clients (texts embedded in batches first, timed on their own),
plants distinctive facts in a few clients' earlier sessions, then times each
query's embedding and its search (filtered to one client's earlier sessions)
separately. Baseline, same run and collection: a raw chromadb ``query`` with
the same filter.

    python run_sim.py bench retrieval [--quick] [--memories 10000] [--embedder minilm|hash]
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

from muspsy_sim.agents.llm.environment import configure_offline_environment
from muspsy_sim.memory.embeddings import MiniLMEmbedder
from muspsy_sim.memory.store import MemoryStore, chroma_where

from .common import BenchParser, HashingEmbedder, TimedEmbedder, header, p50_p90, percentile, ratio, verdict

TARGET_SEARCH_MS = 10.0
RECORDS_PER_SESSION = 10  # one session memory and nine transcript chunks
K = 5

# Distinctive facts planted in earlier sessions, each with a query that paraphrases it.
PLANTED = [
    ("My grandmother's parrot Kiwi escaped through the kitchen window during the thunderstorm.",
     "What happened to the pet bird in the storm?"),
    ("I finally told my manager Ingrid that I cannot keep covering the night shifts at the bakery.",
     "Did you talk to your boss about the overnight work?"),
    ("Running the Lisbon half marathon in April is the goal that keeps me getting up early.",
     "Which race are you training for?"),
    ("My brother Tomasz has not spoken to me since the argument about selling our father's boat.",
     "Why is your sibling not talking to you?"),
    ("The panic started in the elevator at the dentist's office on the ninth floor.",
     "Where were you when the first panic attack hit?"),
    ("I started volunteering at the animal shelter on Saturdays to get out of the flat.",
     "What do you do at the weekend now to leave home?"),
    ("The insurance company rejected the claim for the flooded basement twice.",
     "What is going on with the water damage claim?"),
    ("Learning to play the cello again reminds me of my mother, who taught me as a child.",
     "Which musical instrument are you practising?"),
]

_PEOPLE = ["my partner", "my sister", "my boss", "a coworker", "my son", "my daughter", "my neighbour", "my friend",
           "my mother", "my father", "the landlord", "my teacher"]
_FEELINGS = ["anxious", "tired", "angry", "hopeless", "a bit calmer", "overwhelmed", "numb", "guilty", "restless",
             "lonely", "ashamed", "relieved"]
_SITUATIONS = ["at work", "before sleep", "on the bus", "during dinner", "after the phone call", "on Sunday evenings",
               "in meetings", "when I wake up", "at the supermarket", "when I am alone"]
_THOUGHTS = ["I will fail again", "nobody cares", "I should cope better", "something bad will happen",
             "I am a burden", "I cannot change anything", "they are judging me", "I have to be perfect"]
_HOMEWORK = ["a breathing exercise twice a day", "a thought record each evening", "a ten-minute walk after lunch",
             "writing one worry down and one kinder answer", "going to bed at the same time", "calling one friend",
             "noticing one small pleasant moment a day", "planning one activity for the weekend"]


def _filler_session(rng: random.Random, session_index: int) -> tuple[str, list[str]]:
    """One synthetic session: a memory summary and transcript chunks."""
    homework = rng.choice(_HOMEWORK)
    memory = (f"Emotion and cognitive state: feels {rng.choice(_FEELINGS)} {rng.choice(_SITUATIONS)}, thinks "
              f"'{rng.choice(_THOUGHTS)}'. Counseling assignments: {homework}. Summary: session {session_index} "
              f"about {rng.choice(_PEOPLE)}.")
    chunks = []
    for _ in range(RECORDS_PER_SESSION - 1):
        chunks.append(f"Client: I felt {rng.choice(_FEELINGS)} {rng.choice(_SITUATIONS)} because of "
                      f"{rng.choice(_PEOPLE)}, and I kept thinking {rng.choice(_THOUGHTS)}.\n"
                      f"Counselor: What helped a little? Maybe {rng.choice(_HOMEWORK)} could fit.")
    return memory, chunks


class _Precomputed:
    """Serves vectors embedded beforehand in batches, so filling the store does not re-embed."""

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.vectors = vectors

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [self.vectors[text] for text in texts]


def _make_embedder(kind: str):
    if kind == "hash":
        return HashingEmbedder(), "hashing stand-in (not a model)"
    embedder = MiniLMEmbedder()
    started = time.perf_counter()
    embedder.embed(["warm up"])
    return embedder, f"all-MiniLM-L6-v2 on CPU (loaded in {time.perf_counter() - started:.1f} s)"


def _plan(memories: int, seed: int):
    """Sessions to store: (client, session, memory text, chunks); planted facts for a few clients."""
    rng = random.Random(seed)
    sessions_per_client = 10
    clients = max(2, memories // (RECORDS_PER_SESSION * sessions_per_client))
    plan, planted = [], []
    targets = {f"client-{i:04d}": [] for i in range(min(clients, 4))}
    facts = iter(PLANTED)
    for c in range(clients):
        client = f"client-{c:04d}"
        for s in range(1, sessions_per_client + 1):
            memory, chunks = _filler_session(rng, s)
            if client in targets and s < sessions_per_client and s % 4 == 1:
                fact = next(facts, None)
                if fact is not None:
                    chunks[rng.randrange(len(chunks))] = f"Client: {fact[0]}"
                    planted.append((client, s, fact))
            plan.append((client, s, memory, chunks))
    return plan, planted, sessions_per_client


def main(argv: list[str] | None = None) -> int:
    parser = BenchParser(prog="bench retrieval", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 records, hashing embedder, few queries.")
    parser.add_argument("--memories", type=int, default=10_000, help="Records to store (10 per session).")
    parser.add_argument("--queries", type=int, default=200, help="Timed queries.")
    parser.add_argument("--embedder", choices=("minilm", "hash"), default="minilm")
    parser.add_argument("--batch", type=int, default=256, help="Texts per embedding batch when filling.")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.quick:
        args.memories, args.queries, args.embedder = 500, 40, "hash"

    configure_offline_environment()
    header(f"retrieval at {args.memories:,} stored records")
    inner, described = _make_embedder(args.embedder)
    plan, planted, sessions_per_client = _plan(args.memories, args.seed)
    texts = list(dict.fromkeys(t for _, _, memory, chunks in plan for t in (memory, *chunks)))
    started = time.perf_counter()
    vectors: dict[str, list[float]] = {}
    for i in range(0, len(texts), args.batch):
        batch = texts[i:i + args.batch]
        vectors.update(zip(batch, inner.embed(batch)))
    embed_fill = time.perf_counter() - started
    print(f"embedder: {described}; filling: {len(texts):,} distinct texts embedded in batches of {args.batch} in "
          f"{embed_fill:.1f} s ({embed_fill * 1000 / max(1, len(texts)):.2f} ms per text)")

    with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as tmp:
        filler = MemoryStore("bench", _Precomputed(vectors), path=Path(tmp))
        started = time.perf_counter()
        for client, session, memory, chunks in plan:
            filler.add_session(client, session, memory, chunks)
        stored = sum(1 + len(chunks) for *_, chunks in plan)
        print(f"store: {stored:,} records ({len({p[0] for p in plan})} clients x {sessions_per_client} sessions x "
              f"{RECORDS_PER_SESSION}) upserted in {time.perf_counter() - started:.1f} s (embedding excluded)")
        _measure(args, inner, Path(tmp), plan, planted, sessions_per_client)
    return 0


def _measure(args, inner, path: Path, plan, planted, sessions_per_client: int) -> None:
    embedder = TimedEmbedder(inner)
    store = MemoryStore("bench", embedder, path=path)
    index_only = MemoryStore("bench", embedder, path=path, exact_search_limit=0)
    rng = random.Random(args.seed + 1)
    clients = sorted({p[0] for p in plan})
    queries = [rng.choice(PLANTED)[1] if i % 2 else rng.choice(_FEELINGS + _THOUGHTS) for i in range(args.queries)]
    pairs = [(rng.choice(clients), rng.randint(2, sessions_per_client)) for _ in range(args.queries)]

    def timed_search(target: MemoryStore, client: str, before: int, query: str, k: int = K):
        embedded_before = embedder.seconds
        started = time.perf_counter()
        hits = target.search(client, before, query, k)
        total = time.perf_counter() - started
        embedding = embedder.seconds - embedded_before
        return hits, embedding * 1000, (total - embedding) * 1000

    embed_ms, cold_ms, warm_ms, index_ms, raw_ms = [], [], [], [], []
    for (client, before), query in zip(pairs, queries):
        # A fresh pair: the store reads the client's earlier sessions from Chroma.
        store._forget_candidates(client)
        _, embedded, searched = timed_search(store, client, before, query)
        embed_ms.append(embedded)
        cold_ms.append(searched)
        # The same session's next turn: the kept candidate set is ranked again.
        warm_ms.append(timed_search(store, client, before, query)[2])
        index_ms.append(timed_search(index_only, client, before, query)[2])
        vector = inner.embed([query])[0]
        where = chroma_where({"campaign": {"$eq": "bench"}}, {"client_id": {"$eq": client}},
                       {"session_index": {"$lt": before}})
        started = time.perf_counter()
        store._collection.query(query_embeddings=[vector], n_results=K, where=where,
                                include=["documents", "metadatas", "distances"])
        raw_ms.append((time.perf_counter() - started) * 1000)

    print(f"per query ({args.queries} queries, each filtered to one client's sessions before a random session, "
          f"<= {(sessions_per_client - 1) * RECORDS_PER_SESSION} candidates):")
    print(f"  embedding the query:                         {p50_p90(embed_ms)}")
    print(f"  search, first query of a session (Chroma get + exact rank): {p50_p90(cold_ms)}")
    print(f"  search, later turns of the session (kept candidates):       {p50_p90(warm_ms)}")
    print(f"  search through Chroma's HNSW index (exact_search_limit=0):  {p50_p90(index_ms)}")
    print(f"baseline: raw chromadb collection.query, same filter, k={K}: {p50_p90(raw_ms)}")
    base = percentile(raw_ms, 50)
    print(f"ratio (search p50 / baseline p50): first query {ratio(percentile(cold_ms, 50), base)}, "
          f"later turns {ratio(percentile(warm_ms, 50), base)}")
    print(verdict("search p50, first query of a session", percentile(cold_ms, 50), TARGET_SEARCH_MS))
    _recall(store, index_only, planted, sessions_per_client)


def _recall(store, index_only, planted, sessions_per_client: int) -> None:
    found = {"exact": 0, "index": 0}
    for client, session, (_fact, query) in planted:
        for name, target in (("exact", store), ("index", index_only)):
            hits = target.search(client, sessions_per_client, query, K)
            found[name] += any(h.session_index == session and "Client: " + _fact in h.text for h in hits)
    n = max(1, len(planted))
    print(f"recall@{K} of {len(planted)} planted facts (paraphrased queries): store search "
          f"{found['exact'] / n:.2f}, HNSW index {found['index'] / n:.2f}")


if __name__ == "__main__":
    raise SystemExit(main())
