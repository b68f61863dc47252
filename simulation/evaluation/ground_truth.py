"""The simulation's own ground truth for memory metrics, read from session records.

What a counselor should remember is what actually happened in the simulation, never
the counselor's own account of it:

* ``heard_assignment(record)``: the assignment the client heard at the end of a
  session, the assignment part of its closing counselor turn (from the first
  "this week", "homework", "assignment" or "try" on; the whole turn when none
  occurs; ``simulation.core.turns.heard_assignment``, which the client's homework
  follows too). A session that did not end on a closing-stage counselor turn (the
  client left) agreed no assignment. The counselor's extracted memory
  (``memory.counseling_assignments``) is its own output and may be invented, so
  it is not ground truth.
* ``planted_facts(record, profile)``: the private facts the client disclosed
  (client turns' ``disclosed_fact``), the events of the week before
  (``week_before``) and the heard assignment.

What a counselor turn does with earlier sessions (``refers_back``, ``repeats``): a turn refers back
when it has a back-reference cue (``agents/reference_cues.py``: ``COUNSELOR_REFERS_BACK``,
``HOMEWORK_CLAIM`` or ``EVENT_CLAIM``, clauses that set new homework aside); a turn whose content words
are exactly those of a counselor turn said before (earlier in the session, or before the close of an
earlier one) repeats it and takes nothing up, however much it overlaps: a model that says one
sentence every turn does not "follow up" an assignment that was that sentence.

Text comparison: ``content_words(text)`` are the lowercase alphabetic words of at
least four letters, minus a stopword list (function words and conversational
filler such as "week", "today", "feel"), with a final plural "s" dropped.
``overlap(ref, text)`` is the share of ``ref``'s content words that also occur in
``text`` (0.0 when ``ref`` has none).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from muspsy_sim.agents.reference_cues import COUNSELOR_REFERS_BACK, EVENT_CLAIM, HOMEWORK_CLAIM, SETS_HOMEWORK
from muspsy_sim.scenarios.profile import CaseProfile

from ..core.turns import ClientTurn, CounselorTurn
from ..core.turns import heard_assignment as heard_in
from ..record.schema import SessionRecord

_WORD = re.compile(r"[a-z]+")
STOPWORDS = frozenset(
    """
    about above after again against also although always among another anything anyway around away back
    because been before being below between both came cannot come could did does doing done down during each
    either else even ever every from further gets getting give goes going gone good got great have having
    here hers herself himself into itself just keep know last least less like made make many maybe might
    more most much must myself need never next none nothing okay once only onto other ought ours ourselves
    over own perhaps quite rather really said same says should since some something sometimes still such
    sure take tell than thank thanks that thats their theirs them themselves then there these they thing
    things think this those though through thus today together told tonight too under until upon very
    want wants well went were what whatever when where whether which while will with within without would
    week weeks yeah year years your yours yourself yourselves feel feels feeling felt shall time times
    """.split()
)

def content_words(text: str | None) -> set[str]:
    """Lowercase words of >= 4 letters minus stopwords, with a final plural 's' dropped."""
    words = set()
    for word in _WORD.findall((text or "").lower()):
        if len(word) < 4 or word in STOPWORDS:
            continue
        if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        words.add(word)
    return words


def overlap(reference: str | set[str] | None, text: str | set[str] | None) -> float:
    """Share of ``reference``'s content words that also occur in ``text`` (0.0 if it has none)."""
    ref = reference if isinstance(reference, set) else content_words(reference)
    other = text if isinstance(text, set) else content_words(text)
    return len(ref & other) / len(ref) if ref else 0.0


def best_overlap(references: Iterable[str], text: str | set[str]) -> float:
    return max((overlap(ref, text) for ref in references), default=0.0)


def heard_assignment(record: SessionRecord | None) -> str | None:
    """The assignment the client heard at the close of ``record`` (see the module notes), or None."""
    heard = heard_in(record.turns) if record is not None else None
    return heard if content_words(heard) else None


def refers_back(text: str) -> bool:
    """Whether a counselor turn refers back to earlier sessions or to what the client said (setting homework aside)."""
    rest = SETS_HOMEWORK.sub(" ", text)
    return bool(COUNSELOR_REFERS_BACK.search(rest) or HOMEWORK_CLAIM.search(rest) or EVENT_CLAIM.search(rest))


def said_before_closing(record: SessionRecord | None) -> list[set[str]]:
    """The content words of each counselor turn of ``record`` before its closing turn."""
    if record is None:
        return []
    return [content_words(t.text) for t in record.turns if isinstance(t, CounselorTurn) and t.stage != "closing"]


def repeats(text: str, said: list[set[str]]) -> bool:
    """Whether ``text`` says again what a counselor turn said before (the same content words, at least one)."""
    words = content_words(text)
    return bool(words) and words in said


def assignments(record: SessionRecord | None) -> list[str]:
    """The heard assignment as a list (empty when none was agreed)."""
    heard = heard_assignment(record)
    return [heard] if heard else []


def disclosed_facts(record: SessionRecord, profile: CaseProfile) -> list[str]:
    facts = profile.private_facts
    texts = []
    for turn in record.turns:
        index = turn.disclosed_fact if isinstance(turn, ClientTurn) else None
        if index is not None and 0 <= index < len(facts) and facts[index].text not in texts:
            texts.append(facts[index].text)
    return texts


def week_events(record: SessionRecord) -> list[str]:
    week = record.week_before
    if week is None:
        return []
    return [e for e in [*week.life_events, *week.random_events] if e.strip()]


def planted_facts(record: SessionRecord, profile: CaseProfile) -> list[str]:
    """Everything the simulation planted in one session: disclosed facts, week-before events, the heard assignment."""
    return [*disclosed_facts(record, profile), *week_events(record), *assignments(record)]
