"""The simulation's own ground truth for memory metrics, read from session records.

What a counselor should remember is what actually happened in the simulation, never
the counselor's own account of it:

* ``heard_assignment(record)``: the assignment the client heard at the end of a
  session, the assignment part of its closing counselor turn (from the first
  "this week", "homework", "assignment" or "try" on; the whole turn when none
  occurs). A session that did not end on a closing-stage counselor turn (the
  client left) agreed no assignment. The counselor's extracted memory
  (``memory.counseling_assignments``) is its own output and may be invented, so
  it is not ground truth.
* ``planted_facts(record, profile)``: the private facts the client disclosed
  (client turns' ``disclosed_fact``), the events of the week before
  (``week_before``) and the heard assignment.

Text comparison: ``content_words(text)`` are the lowercase alphabetic words of at
least four letters, minus a stopword list (function words and conversational
filler such as "week", "today", "feel"), with a final plural "s" dropped.
``overlap(ref, text)`` is the share of ``ref``'s content words that also occur in
``text`` (0.0 when ``ref`` has none).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from muspsy_sim.scenarios.profile import CaseProfile

from ..core.turns import ClientTurn, CounselorTurn
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

_ASSIGNMENT_START = re.compile(r"\b(?:this week|homework|assignments?|try)\b", re.IGNORECASE)


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
    last = record.turns[-1] if record is not None and record.turns else None
    if not isinstance(last, CounselorTurn) or last.stage != "closing":
        return None
    text = last.text.strip()
    start = _ASSIGNMENT_START.search(text)
    heard = text[start.start():] if start else text
    return heard if content_words(heard) else None


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
