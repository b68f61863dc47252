"""Counts over a run's records that its manifest and summary report: faults per role, filled-in answers,
sentences the program added to the client's turns.

The client's answers are its questionnaire items and, under ``appraisal: model``, the items its model
rates each counselor turn on (counted as the instrument ``appraisal``): a filled-in appraisal item moved
the client's state on a number its model did not give, so it counts toward the fallback threshold and
``--strict`` like a filled-in questionnaire answer.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..core.questionnaires import FALLBACK_METHOD, PARTIAL_METHOD
from ..core.turns import ClientTurn
from ..core.usage import RoleUsage
from .schema import (
    AnswerTally,
    CourseEntry,
    FallbackHeavySession,
    FaultCounts,
    SessionRecord,
)


def fault_counts(usage: Mapping[str, RoleUsage], courses: Mapping[str, CourseEntry]) -> dict[str, FaultCounts]:
    """Retries, fallbacks and re-asks per role (recorded sessions), and failed steps per role (failed courses)."""
    counts: dict[str, FaultCounts] = {
        role: FaultCounts(retries=int(fields.retries), fallbacks=int(fields.fallbacks), reasks=int(fields.reasks),
                          failures=0)
        for role, fields in usage.items()
    }
    for course in courses.values():
        failed = course.failed_step if course.status == "failed" else None
        if failed is not None:
            role = counts.setdefault(failed.role, FaultCounts(retries=0, fallbacks=0, reasks=0, failures=0))
            counts[failed.role] = role.model_copy(update={"failures": role.failures + 1})
    return counts


APPRAISAL = "appraisal"  # the model appraisal's items, counted beside the questionnaires


def session_answers(record: SessionRecord) -> dict[str, tuple[int, int]]:
    """(asked, filled in) per instrument of one session's questionnaires, the exit assessment's included, and
    of its model appraisal items (``appraisal``, when the client's model rated the counselor's turns)."""
    counts: dict[str, tuple[int, int]] = {}
    for key, entry in record.questionnaires.all_results() if record.questionnaires is not None else []:
        asked, filled = counts.get(key, (0, 0))
        fallbacks = max(len(entry.filled_in), int(entry.methods.get(FALLBACK_METHOD, 0)))
        counts[key] = (asked + len(entry.answers), filled + fallbacks)
    rated = [t.appraisal for t in record.turns if isinstance(t, ClientTurn) and t.appraisal is not None
             and t.appraisal.methods]
    if rated:
        counts[APPRAISAL] = (sum(sum(a.methods.values()) for a in rated), sum(len(a.filled_in_items()) for a in rated))
    return counts


def appraisal_filled_in(record: SessionRecord) -> dict[int, list[str]]:
    """Turn index -> the appraisal items filled in there (the client's state moved on answers not given)."""
    return {index: turn.appraisal.filled_in_items() for index, turn in enumerate(record.turns)
            if isinstance(turn, ClientTurn) and turn.appraisal is not None and turn.appraisal.filled_in_items()}


def added_sentences(record: SessionRecord) -> list[int]:
    """Indices of the client turns the program appended a sentence to (``ClientTurn.added``: a risk disclosure
    the client's model did not say), which the counselor heard as the client's."""
    return [index for index, turn in enumerate(record.turns) if isinstance(turn, ClientTurn) and turn.added]


def session_partials(record: SessionRecord) -> dict[str, int]:
    """Likelihood answers labelled partial (``PARTIAL_METHOD``) per instrument of one session (``appraisal`` too)."""
    counts: dict[str, int] = {}
    for key, entry in record.questionnaires.all_results() if record.questionnaires is not None else []:
        counts[key] = counts.get(key, 0) + int(entry.methods.get(PARTIAL_METHOD, 0))
    counts[APPRAISAL] = sum(int(t.appraisal.methods.get(PARTIAL_METHOD, 0)) for t in record.turns
                            if isinstance(t, ClientTurn) and t.appraisal is not None)
    return {key: count for key, count in counts.items() if count}


def session_unanswered(record: SessionRecord) -> dict[str, int]:
    """Items left unanswered per instrument (the exit assessment's included): only a person leaves one, and
    nothing is filled in for it (not a fallback)."""
    counts: dict[str, int] = {}
    if record.questionnaires is None:
        return counts
    for key, entry in record.questionnaires.all_results():
        counts[key] = counts.get(key, 0) + len(entry.unanswered_items())
    return counts


PERSON = "person"  # who answered in a session a person played the client (``SessionRecord.played_by_person``)


def answer_tallies(sessions: list[SessionRecord]) -> dict[str, dict[str, AnswerTally]]:
    """Answers by who gave them (the simulated client; a person in the client's chair, ``person``, counted apart,
    as eval's coverage does) and instrument: asked, filled in, and partial likelihoods."""
    tallies: dict[str, dict[str, tuple[int, int, int]]] = {}
    for record in sessions:
        partial = session_partials(record)
        counts = tallies.setdefault(PERSON if record.played_by_person else "client", {})
        for key, (asked, filled) in session_answers(record).items():
            before = counts.get(key, (0, 0, 0))
            counts[key] = (before[0] + asked, before[1] + filled, before[2] + partial.get(key, 0))
    return {role: {key: AnswerTally(asked=asked, fallbacks=filled, **({"partial": part} if part else {}))
                   for key, (asked, filled, part) in sorted(counts.items())}
            for role, counts in sorted(tallies.items()) if counts}


def fallback_heavy_sessions(sessions: list[SessionRecord], threshold: float) -> list[FallbackHeavySession]:
    """Sessions whose share of filled-in answers is above ``threshold``, by client and session."""
    heavy = []
    for record in sorted(sessions, key=lambda r: r.key):
        answers = session_answers(record)
        counts = answers.values()
        asked, filled = sum(a for a, _ in counts), sum(f for _, f in counts)
        if asked and filled / asked > threshold:
            heavy.append(FallbackHeavySession(client_id=record.client_id, session_index=record.session_index,
                                              fallbacks=filled, asked=asked,
                                              appraisal_asked=answers.get(APPRAISAL, (0, 0))[0]))
    return heavy
