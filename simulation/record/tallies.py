"""Counts over a run's records that its manifest and summary report: faults per role, filled-in answers."""

from __future__ import annotations

from collections.abc import Mapping

from ..core.questionnaires import FALLBACK_METHOD
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


def session_answers(record: SessionRecord) -> dict[str, tuple[int, int]]:
    """(asked, filled in) per instrument of one session's questionnaires, the exit assessment's included."""
    counts: dict[str, tuple[int, int]] = {}
    if record.questionnaires is None:
        return counts
    for key, entry in record.questionnaires.all_results():
        asked, filled = counts.get(key, (0, 0))
        fallbacks = max(len(entry.filled_in), int(entry.methods.get(FALLBACK_METHOD, 0)))
        counts[key] = (asked + len(entry.answers), filled + fallbacks)
    return counts


def session_unanswered(record: SessionRecord) -> dict[str, int]:
    """Items left unanswered per instrument (the exit assessment's included): only a person leaves one, and
    nothing is filled in for it (not a fallback)."""
    counts: dict[str, int] = {}
    if record.questionnaires is None:
        return counts
    for key, entry in record.questionnaires.all_results():
        counts[key] = counts.get(key, 0) + len(entry.unanswered_items())
    return counts


def answer_tallies(sessions: list[SessionRecord]) -> dict[str, dict[str, AnswerTally]]:
    """Questionnaire answers by role (the client answers them) and instrument: asked, and filled in."""
    tallies: dict[str, tuple[int, int]] = {}
    for record in sessions:
        for key, (asked, filled) in session_answers(record).items():
            before = tallies.get(key, (0, 0))
            tallies[key] = (before[0] + asked, before[1] + filled)
    if not tallies:
        return {}
    return {"client": {key: AnswerTally(asked=asked, fallbacks=filled) for key, (asked, filled) in sorted(tallies.items())}}


def fallback_heavy_sessions(sessions: list[SessionRecord], threshold: float) -> list[FallbackHeavySession]:
    """Sessions whose share of filled-in answers is above ``threshold``, by client and session."""
    heavy = []
    for record in sorted(sessions, key=lambda r: r.key):
        counts = session_answers(record).values()
        asked, filled = sum(a for a, _ in counts), sum(f for _, f in counts)
        if asked and filled / asked > threshold:
            heavy.append(FallbackHeavySession(client_id=record.client_id, session_index=record.session_index,
                                              fallbacks=filled, asked=asked))
    return heavy
