"""Retrieval recall: did the counselor retrieve the stored records that hold what a client turn refers to?

The store's records are rebuilt from the session records, exactly as the course
graph wrote them (``memory.store.record_id``): per finished session, one memory
record (``SessionMemory.as_text()``) and one record per exchange of the transcript
(``simulation.core.turns.exchange_chunks``), under the campaign name the session ran in.
So what a counselor *says* it retrieved counts only when the id is a record the
store held when the turn was generated (a record of an earlier session of this
client), and only for what that record actually holds (its stored text, not the
text the counselor recorded beside the id).

Per client turn of session ``k >= 2``, the items it refers to are:

* each planted fact of an earlier session (``ground_truth.planted_facts``) that
  the turn covers >= 0.3 of, provided a stored record holds it (covers >= 0.5 of
  its content words): a fact no record holds cannot be retrieved, and is not asked for;
* when no planted fact matches but the turn has a reference cue
  (``CLIENT_REFERS_BACK``: "last time", "like I told you", ...): the previous
  session, held by each of its records.

An item is recalled when the counselor's next turn retrieved a record that holds
it. ``recall_at_k`` = recalled items / items over the session (None when no client
turn referred back before a counselor turn); ``referred_items`` counts the items,
``referring_turns`` the client turns they came from. A counselor that does not
retrieve at all (no-memory, full-history: ``retrieves = False`` on its class, or
``memory.top_k`` 0) gets "not applicable", not a 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from muspsy_sim.agents.reference_cues import CLIENT_REFERS_BACK
from muspsy_sim.memory.store import KIND_MEMORY, record_id

from ..core.turns import ClientTurn, CounselorTurn, exchange_chunks
from ..record.schema import SessionRecord
from .ground_truth import content_words, overlap

REFERS_TO_FACT = 0.3  # share of a fact's content words a client turn covers to refer to it
HOLDS_FACT = 0.5  # share of a fact's content words a stored record covers to hold it


@dataclass(frozen=True)
class Recall:
    """One session's retrieval recall (None: no client turn referred back, or not applicable)."""

    recall_at_k: float | None = None
    referred_items: int = 0
    referring_turns: int = 0


def _memory_text(record: SessionRecord) -> str | None:
    if record.memory is None:
        return None
    memory = record.memory
    if memory.session_index is None:
        memory = memory.model_copy(update={"session_index": record.session_index})
    return memory.as_text()


def stored_records(record: SessionRecord, campaign: str) -> dict[str, str]:
    """The records the store held of one finished session (id -> text), as the course graph wrote them."""
    client_id, index = record.client_id, record.session_index
    stored = {}
    memory = _memory_text(record)
    if memory is not None:
        stored[record_id(campaign, client_id, index, KIND_MEMORY)] = memory
    for number, chunk in enumerate(exchange_chunks(record.turns)):
        stored[record_id(campaign, client_id, index, f"chunk{number}")] = chunk
    return stored


def session_recall(record: SessionRecord, earlier: dict[int, SessionRecord], planted: dict[int, list[str]],
                   campaign: str) -> Recall:
    """``recall_at_k``, ``referred_items`` and ``referring_turns`` of one session (see the module notes).

    ``earlier``: the client's records of earlier sessions by index; ``planted``: their planted facts by index.
    """
    session = record.session_index
    store: dict[str, set[str]] = {}  # id -> content words of the stored text
    by_session: dict[int, set[str]] = {}
    for index, earlier_record in earlier.items():
        if index < session:
            records = stored_records(earlier_record, campaign)
            store.update({key: content_words(text) for key, text in records.items()})
            by_session[index] = set(records)
    holders = {}
    for index, facts in planted.items():
        if index < session:
            for fact in facts:
                held = {key for key, words in store.items() if overlap(fact, words) >= HOLDS_FACT}
                if held:
                    holders[fact] = held
    turns = record.turns
    recalled = items = referring = 0
    for position, turn in enumerate(turns):
        if not isinstance(turn, ClientTurn):
            continue
        words = content_words(turn.text)
        referred = [held for fact, held in holders.items() if overlap(fact, words) >= REFERS_TO_FACT]
        if not referred and CLIENT_REFERS_BACK.search(turn.text) and by_session.get(session - 1):
            referred = [by_session[session - 1]]
        reply = next((t for t in turns[position + 1:] if isinstance(t, CounselorTurn)), None)
        if not referred or reply is None:
            continue
        retrieved = {item.id for item in reply.retrieved if item.id in store}
        recalled += sum(1 for held in referred if held & retrieved)
        items += len(referred)
        referring += 1
    return Recall(recalled / items if items else None, items, referring)
