"""Retrieval recall: did the memory store return the stored records that hold what a client turn refers to?

The store's records are rebuilt from the session records, exactly as the course
graph wrote them (``memory.store.record_id``): per finished session, one memory
record (``SessionMemory.as_text()``) and one record per exchange of the transcript
(``simulation.core.turns.exchange_chunks``), under the campaign name the session ran in.
What counts is what the store returned to the turn's searches, as the engine saw it
(``CounselorTurn.store_returned``; the counselor cannot write it), and only ids the
store held when the turn was generated (a record of an earlier session of this
client), for what that record actually holds (its stored text). A run from before
``store_returned`` was recorded falls back to the ids the counselor reported
(``Recall.reported_ids``).

Per client turn of session ``k >= 2``, the items its own words (``ClientTurn.own_text``: without a
sentence the program appended) refer to are:

* each planted fact of an earlier session (``ground_truth.planted_facts``) that
  the turn covers >= 0.3 of, provided a stored record holds it (covers >= 0.5 of
  its content words): a fact no record holds cannot be retrieved, and is not asked for;
* when no planted fact matches but the turn has a reference cue
  (``CLIENT_REFERS_BACK``: "last time", "like I told you", ...): the previous
  session, held by each of its records.

The counselor's next turn answers the reference. Recall is credited to whoever wrote that turn,
and only when the turn takes the reference up: it refers back (``ground_truth.refers_back``) or
covers >= 0.3 of the referred fact's content words, without repeating an earlier counselor turn
(``ground_truth.repeats``). Retrieval by itself is the counselor program's; a turn that ignores
what was retrieved earns its model nothing. So ``recall_at_k`` = recalled items / items over the
references a model-written turn took up (None: no model turn took one up), and
``scaffold_recall_at_k`` the same over the turns the program wrote (``core.turns.by_scaffold``).
``referred_items`` and ``referring_turns`` count every reference and the client turns they came
from, taken up or not. A counselor that does not retrieve at all (no-memory, full-history:
``retrieves = False`` on its class, or ``memory.top_k`` 0) gets "not applicable", not a 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from muspsy_sim.agents.reference_cues import CLIENT_REFERS_BACK
from muspsy_sim.memory.store import KIND_MEMORY, record_id

from ..core.turns import CounselorTurn, by_scaffold, exchange_chunks
from ..record.schema import SessionRecord
from .ground_truth import content_words, overlap, refers_back, repeats, said_before_closing

REFERS_TO_FACT = 0.3  # share of a fact's content words a client turn covers to refer to it
HOLDS_FACT = 0.5  # share of a fact's content words a stored record covers to hold it


@dataclass(frozen=True)
class Recall:
    """One session's retrieval recall: the model's, the scaffold's beside it (None: nothing taken up, or not
    applicable), and how many references there were."""

    recall_at_k: float | None = None
    referred_items: int = 0
    referring_turns: int = 0
    scaffold_recall_at_k: float | None = None
    reported_ids: bool = False  # an older run: the ids the counselor reported stood in for what the store returned


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
    """The session's ``Recall`` (see the module notes).

    ``earlier``: the client's records of earlier sessions by index; ``planted``: their planted facts by index.
    """
    session = record.session_index
    store: dict[str, set[str]] = {}  # id -> content words of the stored text
    by_session: dict[int, set[str]] = {}
    said: list[set[str]] = []  # what counselor turns said before (earlier sessions, up to their close)
    for index, earlier_record in sorted(earlier.items()):
        if index < session:
            records = stored_records(earlier_record, campaign)
            store.update({key: content_words(text) for key, text in records.items()})
            by_session[index] = set(records)
            said += said_before_closing(earlier_record)
    holders: dict[str, set[str]] = {}
    for index, facts in planted.items():
        if index < session:
            for fact in facts:
                held = {key for key, words in store.items() if overlap(fact, words) >= HOLDS_FACT}
                if held:
                    holders[fact] = held
    turns = record.turns
    tally = {"model": [0, 0], "scaffold": [0, 0]}  # author -> [recalled, items taken up]
    items = referring = 0
    reported = False
    for position, turn in enumerate(turns):
        if isinstance(turn, CounselorTurn):
            continue
        # The client's own words refer back; a sentence the program appended to them (``added``) does not.
        said_by_client = turn.own_text
        words = content_words(said_by_client)
        referred = [(fact, held) for fact, held in holders.items() if overlap(fact, words) >= REFERS_TO_FACT]
        if not referred and CLIENT_REFERS_BACK.search(said_by_client) and by_session.get(session - 1):
            referred = [(None, by_session[session - 1])]
        at = next((i for i in range(position + 1, len(turns)) if isinstance(turns[i], CounselorTurn)), None)
        if not referred or at is None:
            continue
        reply = turns[at]
        items += len(referred)
        referring += 1
        before = said + [content_words(t.own_text) for t in turns[:at] if isinstance(t, CounselorTurn)]
        if repeats(reply.own_text, before):
            continue
        if reply.store_returned is None:
            reported = True
            returned = {item.id for item in reply.retrieved}
        else:
            returned = set(reply.store_returned)
        returned &= store.keys()
        reply_text = reply.own_text  # the counselor's words, not the program's prefilled start of them
        taken = [held for fact, held in referred
                 if refers_back(reply_text) or (fact is not None and overlap(fact, reply_text) >= REFERS_TO_FACT)]
        author = tally["scaffold" if by_scaffold(reply) else "model"]
        author[0] += sum(1 for held in taken if held & returned)
        author[1] += len(taken)

    def share(author: str) -> float | None:
        recalled, taken_up = tally[author]
        return recalled / taken_up if taken_up else None

    return Recall(share("model"), items, referring, share("scaffold"), reported)
