"""Memory-consistency metrics, measured against the simulation's own ground truth.

A simulated course plants facts the counselor should remember. For one client
and session ``k`` the ground truth read from the session records
(``ground_truth.py``) is what happened, never the counselor's account of it:

* the assignment the client heard at the end of session ``k``: the assignment part
  of the closing counselor turn (``turns[-1]`` with stage ``closing``). The counselor's
  extracted memory (``memory.counseling_assignments``) is its own output, so a
  counselor that quotes an invented memory back does not score a follow-up;
* the private facts disclosed in session ``k``: client turns whose ``disclosed_fact``
  is an index into ``profile.private_facts``;
* the events of the week before session ``k``: ``week_before.life_events`` and
  ``week_before.random_events``;
* the client's pseudonym (``profile.pseudonym``).

``consistency_metrics(records, profile)`` takes all session records of one client
and returns, per ``session_index``, a ``SessionConsistency`` with the metrics below. Each is
credited to whoever wrote the counselor turns it looks at: the metrics over the turns the
counselor's model wrote, and beside them (``scaffold()``) the same over the turns the program
wrote (``core.turns.by_scaffold``: the session-2+ template check-in, safety steps, fallback
turns), which never count as the model's. A turn the program began (``CounselorTurn.prefilled``: the
scaffold's closing prefix "This week, try") is checked on the model's words only (``own_text``); the
ground truth, the assignment the client heard, is the whole turn. Every check is
a plain lexical heuristic, deliberately simple so that its errors are easy to see (the cue
phrases quoted below are the named patterns of ``agents/reference_cues.py``; the text
comparison, ``content_words`` and ``overlap``, is described in ``ground_truth.py``).

``followed_up_assignment`` (None for session 1, or when the previous session is
    missing or agreed no assignment)
    1.0 when one of the model's turns among the session's first two counselor turns
    covers >= 0.5 of the previous heard assignment's content words, or names the
    assignment (homework, assignment, "last time", "last session", "last week", "we
    agreed") and covers >= 0.3 of them, without repeating a counselor turn said before
    (``ground_truth.repeats``); else 0.0, also when the program wrote both turns. The
    scaffold's share: the same over the program's turns among the two (None when it wrote
    neither). The built-in check-in "Welcome back, {pseudonym}. Last time we agreed on this
    assignment: {assignment} How did it go this week?" is the program's: it quotes the
    counselor's memory of the assignment, so it scores 1.0 (for the scaffold) only when that
    memory matches what was said.

``recall_at_k``, ``referred_items`` and ``referring_turns`` (None / 0 for session 1)
    Per planted fact (or previous session) a client turn refers to and the counselor's
    next turn takes up, whether the memory store returned to that turn a record that
    holds it; see ``retrieval.py`` (``SessionConsistency.recall``). For a counselor that
    does not retrieve (``retrieves=False``) recall is not measured (None: "not
    applicable", not 0; eval marks the row's ``not_applicable``).

``references_back``
    How many of the session's counselor turns the model wrote refer back to an earlier
    session or to what the client said (``ground_truth.refers_back``: ``COUNSELOR_REFERS_BACK``,
    ``HOMEWORK_CLAIM`` or ``EVENT_CLAIM``, not counting clauses that set new homework): the
    claims the contradiction checks can test. The scaffold's share: how many of the
    program's turns do (None when it wrote none). Read ``contradiction_rate`` beside it: a
    counselor that never refers back has nothing to contradict.

``contradiction_rate`` and ``contradictions``
    The share of the model's counselor turns with at least one contradiction (None when
    the model wrote none; the scaffold's share: the same over the program's turns);
    ``contradictions`` lists each, of either author, as ``{turn_index, kind, evidence}``. Kinds:

    * ``wrong_name``: a capitalised word in an address position -- after a
      greeting ("Hi X", "Hello X", "Welcome back, X", "Thank you, X", "Good to see
      you, X"), as "X," at the very start of the turn, or as a vocative ", X." at
      the end of a sentence -- that is not (part of) the pseudonym and not a
      common word (I, You, The, Today, Thank, Let, That, ...). In the two weaker
      positions (turn start, vocative) words ending in "-ly" are taken for
      adverbs ("Honestly,", "Sadly,"), not names.
    * ``invented_homework``: a clause that refers to an earlier assignment
      ("homework", "assignment", "we agreed", "you agreed", "we planned", "we
      decided") when the previous session agreed none (always so in session 1),
      or, later, when the claim -- the rest of the sentence from the cue's clause
      on, plus the next sentence when it ends in ":" -- has content words and
      overlaps the real previous assignment by < 0.2 (the better of the two
      overlap directions). Not counted: closing-stage turns and clauses that set
      new homework ("for homework", "as an assignment", "homework for this week",
      "a new assignment"), and claims that cover >= 0.3 of what the client said
      earlier in the same session (an agreement made within the session).
    * ``wrong_event``: "you told me", "you mentioned", "you said", "you shared" or
      "last time you" followed (to the end of the sentence) by content whose
      content words overlap < 0.2 with everything the client said so far (earlier
      sessions and this one up to the turn), the presenting problem, and the facts
      planted in earlier sessions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from muspsy_sim.agents.reference_cues import (
    COUNSELOR_REFERS_BACK,
    EVENT_CLAIM,
    HOMEWORK_CLAIM,
    SETS_HOMEWORK,
)
from muspsy_sim.scenarios.profile import CaseProfile

from ..core.metrics import ConsistencyDetail, Contradiction
from ..core.turns import CounselorTurn, Turn, by_scaffold
from ..record.schema import SessionRecord
from .ground_truth import (
    assignments,
    best_overlap,
    content_words,
    heard_assignment,
    overlap,
    planted_facts,
    refers_back,
    repeats,
)
from .retrieval import Recall, session_recall

__all__ = ["SessionConsistency", "consistency_metrics", "content_words", "heard_assignment", "overlap", "planted_facts"]

_NAME = r"(?:(?:Mr|Mrs|Ms|Miss|Dr)\.?\s+)?([A-Z][a-z]+(?:-[A-Za-z]+)?)\b"
_ADDRESS_PATTERNS = (
    # After a greeting: "Hi X", "Hello again, X", "Welcome back, X", "Thank you, X".
    re.compile(
        r"(?i:\b(?:hi|hello|hey|dear|welcome(?:\s+back)?|good\s+(?:morning|afternoon|evening)|thanks|thank\s+you|"
        r"(?:good|nice|great)\s+to\s+see\s+you)(?:\s+again|\s+there)?)\s*,?\s+" + _NAME
    ),
    # "X," at the very start of the turn.
    re.compile(r"^\s*" + _NAME + r"\s*,"),
    # A vocative closing a sentence: "That makes sense, X."
    re.compile(r",\s+" + _NAME + r"\s*[.!?]"),
)
_NOT_NAMES = frozenset(
    """
    i you we he she it they me my your our the a an this that these those there here today tonight now
    so well okay ok yes no yeah right alright sure great good fine thank thanks let lets let's please hi
    hello hey welcome again also and but or then first next finally last before after when what how why
    where who which honestly absolutely certainly of course perhaps maybe remember together everyone
    monday tuesday wednesday thursday friday saturday sunday january february march april may june july
    august september october november december mom mum dad mother father sir madam friend
    oh ah hmm wow indeed really actually understood exactly true sounds it's that's
    sometimes often usually anyway overall meanwhile otherwise instead however therefore besides still yet
    later earlier afterwards look listen see imagine notice so-called definitely obviously sorry gosh
    """.split()
)


# --- per-session checks -------------------------------------------------------------------------------


def _counselor_indices(turns: list[Turn]) -> list[int]:
    return [i for i, t in enumerate(turns) if isinstance(t, CounselorTurn)]


def _follow_up(turns: list[Turn], indices: list[int], assignment: list[str], said: list[set[str]]) -> int | None:
    """The first counselor turn at ``indices`` that takes up ``assignment`` (see the module notes), or None."""
    for index in indices:
        text = turns[index].own_text
        before = said + [content_words(t.own_text) for t in turns[:index] if isinstance(t, CounselorTurn)]
        if repeats(text, before):
            continue
        score = best_overlap(assignment, text)
        if score >= 0.5 or (COUNSELOR_REFERS_BACK.search(text) and score >= 0.3):
            return index
    return None


def _said_before_its_close(record: SessionRecord | None, follow_ups: set[int]) -> list[set[str]]:
    """What the counselor said in ``record`` before its close, its own follow-ups of an earlier assignment
    aside (a check-in on the same homework two weeks running is a follow-up both times, not a repeat)."""
    if record is None:
        return []
    return [content_words(t.own_text) for i, t in enumerate(record.turns)
            if isinstance(t, CounselorTurn) and t.stage != "closing" and i not in follow_ups]


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


def _name_ok(name: str, pseudonym: str) -> bool:
    key = name.lower().replace("-", "")
    parts = {p.lower().replace("-", "") for p in re.split(r"[\s.]+", pseudonym) if p}
    return key in _NOT_NAMES or key == pseudonym.lower().replace("-", "") or key in parts


def _wrong_names(text: str, pseudonym: str) -> list[str]:
    found: dict[str, str] = {}  # one piece of evidence per wrong name
    for number, pattern in enumerate(_ADDRESS_PATTERNS):
        for match in pattern.finditer(text):
            name = match.group(1)
            if number > 0 and name.lower().endswith("ly"):
                continue  # "Honestly," / "Sadly," at a weak address position: an adverb
            if not _name_ok(name, pseudonym):
                found.setdefault(name, match.group(0).strip())
    return list(found.values())


def _invented_homework(text: str, assignment: list[str], said_this_session: set[str]) -> list[str]:
    found = []
    sentences = _sentences(text)
    for position, sentence in enumerate(sentences):
        clauses = re.split(r"(?<=[,;])\s+", sentence)
        for at, clause in enumerate(clauses):
            if not HOMEWORK_CLAIM.search(clause) or SETS_HOMEWORK.search(clause):
                continue
            claim = " ".join(clauses[at:])
            if sentence.rstrip().endswith(":") and position + 1 < len(sentences):
                claim += " " + sentences[position + 1]
            words = content_words(HOMEWORK_CLAIM.sub(" ", claim))
            if words and overlap(words, said_this_session) >= 0.3:
                continue  # an agreement made earlier in this very session
            if assignment:
                if not words or max(best_overlap(assignment, words), overlap(words, " ".join(assignment))) >= 0.2:
                    continue
            found.append(claim.strip())
            break
    return found


def _wrong_events(text: str, known: set[str]) -> list[str]:
    found = []
    for sentence in _sentences(text):
        for match in EVENT_CLAIM.finditer(sentence):
            claim = sentence[match.end():]
            words = content_words(claim)
            if words and overlap(words, known) < 0.2:
                found.append(sentence[match.start():].strip())
    return found


def _rate(flagged: set[int], indices: list[int]) -> float | None:
    """The share of the turns at ``indices`` with a contradiction (None when there are none)."""
    return sum(1 for i in indices if i in flagged) / len(indices) if indices else None


# --- the metric ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionConsistency:
    """One session's memory-consistency metrics, the model's (see the module notes), and the scaffold's beside them."""

    followed_up_assignment: float | None = None
    recall: Recall = field(default_factory=Recall)
    contradiction_rate: float | None = None
    references_back: int | None = None
    contradictions: tuple[Contradiction, ...] = ()
    scaffold_followed_up: float | None = None
    scaffold_contradiction_rate: float | None = None
    scaffold_references_back: int | None = None

    def metrics(self) -> dict[str, float | int | None]:
        """The row's metrics (what the counselor's model did), in their order in metrics.jsonl."""
        return {"followed_up_assignment": self.followed_up_assignment, "recall_at_k": self.recall.recall_at_k,
                "contradiction_rate": self.contradiction_rate, "references_back": self.references_back}

    def scaffold(self) -> dict[str, float | int | None]:
        """The same metrics over the turns the program wrote: the scaffold's share, reported beside them."""
        return {"followed_up_assignment": self.scaffold_followed_up, "recall_at_k": self.recall.scaffold_recall_at_k,
                "contradiction_rate": self.scaffold_contradiction_rate,
                "references_back": self.scaffold_references_back}

    def detail(self) -> ConsistencyDetail:
        """What the row keeps beside the metrics: each contradiction, and what recall was measured on."""
        return ConsistencyDetail(contradictions=list(self.contradictions), referring_turns=self.recall.referring_turns,
                                 referred_items=self.recall.referred_items)


def consistency_metrics(records: list[SessionRecord], profile: CaseProfile, *, campaign: str | None = None,
                        retrieves: bool = True) -> dict[int, SessionConsistency]:
    """Memory-consistency metrics per session_index for all session records of one client (any order).

    ``campaign``: the run's name, for records that do not carry their own (the store's record ids
    start with it); ``retrieves``: False for a counselor that never retrieves (recall not applicable).
    """
    client_ids = {r.client_id for r in records}
    if len(client_ids) > 1:
        raise ValueError(f"records of one client expected, got {sorted(client_ids)}")
    if client_ids and profile.id not in client_ids:
        raise ValueError(f"records are of {client_ids.pop()}, the profile is {profile.id}")
    pseudonym = profile.pseudonym

    by_session: dict[int, SessionRecord] = {}
    for record in records:
        by_session[record.session_index] = record  # a later duplicate (e.g. a resumed run) wins
    planted = {s: planted_facts(r, profile) for s, r in by_session.items()}
    intake = profile.presenting_problem

    results: dict[int, SessionConsistency] = {}
    follow_ups: dict[int, set[int]] = {}  # per session, the turns that followed up the previous assignment
    client_said_before: set[str] = content_words(intake)
    for session in sorted(by_session):
        record = by_session[session]
        turns = record.turns
        previous = by_session.get(session - 1)
        previous_assignment = assignments(previous)

        early = _counselor_indices(turns)[:2]
        program_early = [i for i in early if by_scaffold(turns[i])]
        model_early = [i for i in early if i not in program_early]
        if session <= 1 or previous is None or not previous_assignment:
            followed = scaffold_followed = None
        else:
            said = _said_before_its_close(previous, follow_ups.get(session - 1, set()))
            model_turn = _follow_up(turns, model_early, previous_assignment, said)
            program_turn = _follow_up(turns, program_early, previous_assignment, said)
            follow_ups[session] = {i for i in (model_turn, program_turn) if i is not None}
            followed = 0.0 if model_turn is None else 1.0
            scaffold_followed = None if not program_early else 0.0 if program_turn is None else 1.0
        if session <= 1 or not retrieves:
            recall = Recall()
        else:
            recall = session_recall(record, by_session, planted, record.campaign or campaign or "")

        earlier_planted = set().union(*(content_words(f) for s, fs in planted.items() if s < session for f in fs))
        contradictions: list[Contradiction] = []
        said_this_session: set[str] = set()
        client_said = set(client_said_before)
        counselor_turns = _counselor_indices(turns)
        for index, turn in enumerate(turns):
            # A counselor turn is checked on what its author wrote: not the program's prefilled words.
            text = turn.own_text if isinstance(turn, CounselorTurn) else turn.text
            if isinstance(turn, CounselorTurn):
                for evidence in _wrong_names(text, pseudonym) if pseudonym else []:
                    contradictions.append(Contradiction(turn_index=index, kind="wrong_name", evidence=evidence))
                if turn.stage != "closing":
                    assignment = previous_assignment if session > 1 else []
                    for evidence in _invented_homework(text, assignment, said_this_session):
                        contradictions.append(Contradiction(turn_index=index, kind="invented_homework",
                                                            evidence=evidence))
                for evidence in _wrong_events(text, client_said | earlier_planted):
                    contradictions.append(Contradiction(turn_index=index, kind="wrong_event", evidence=evidence))
            else:
                client_said |= content_words(text)
                said_this_session |= content_words(text)
        client_said_before = client_said

        flagged = {c.turn_index for c in contradictions}
        program = [i for i in counselor_turns if by_scaffold(turns[i])]
        model = [i for i in counselor_turns if i not in program]
        results[session] = SessionConsistency(
            followed_up_assignment=followed,
            recall=recall,
            contradiction_rate=_rate(flagged, model),
            references_back=sum(1 for i in model if refers_back(turns[i].own_text)),
            contradictions=tuple(contradictions),
            scaffold_followed_up=scaffold_followed,
            scaffold_contradiction_rate=_rate(flagged, program),
            scaffold_references_back=sum(1 for i in program if refers_back(turns[i].own_text)) if program else None,
        )
    return results
