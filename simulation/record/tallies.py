"""Counts over a run's records that its manifest and summary report: faults per role, filled-in answers."""

from __future__ import annotations

from muspsy_sim.simulation.record.schema import QuestionnaireRecord, SessionRecord

FALLBACK = "fallback"  # the method of an answer filled in (agents.llm.FALLBACK_METHOD)


def fault_counts(usage: dict[str, dict], courses: dict[str, dict]) -> dict[str, dict[str, int]]:
    """Retries, fallbacks and re-asks per role (recorded sessions), and failed steps per role (failed courses).

    Takes plain data (the manifest's ``usage`` and ``courses``), as the campaign summary has it.
    """
    counts: dict[str, dict[str, int]] = {}
    for role, fields in usage.items():
        counts[role] = {name: int(fields.get(name, 0)) for name in ("retries", "fallbacks", "reasks")}
        counts[role]["failures"] = 0
    for course in courses.values():
        failed = course.get("failed_step") if course.get("status") == "failed" else None
        if failed:
            role = counts.setdefault(failed["role"], {"retries": 0, "fallbacks": 0, "reasks": 0, "failures": 0})
            role["failures"] += 1
    return counts


def session_answers(record: SessionRecord, with_unanswered: bool = False) -> dict[str, tuple[int, ...]]:
    """(asked, filled in) per instrument of one session's questionnaires, the exit assessment's included.

    ``with_unanswered`` adds a third count: items left unanswered (None; only a person leaves one), which
    are not filled in: nothing stands in their place.
    """
    counts: dict[str, tuple[int, ...]] = {}
    questionnaires = record.questionnaires
    if questionnaires is None:
        return counts
    entries = [*questionnaires_of(questionnaires)]
    if questionnaires.exit is not None:
        entries += [*questionnaires_of(questionnaires.exit)]
    for key, entry in entries:
        asked, filled, unanswered = counts.get(key, (0, 0, 0))
        fallbacks = max(len(entry.filled_in), int(entry.methods.get(FALLBACK, 0)))
        counts[key] = (asked + len(entry.answers), filled + fallbacks,
                       unanswered + sum(answer is None for answer in entry.answers))
    return counts if with_unanswered else {key: (asked, filled) for key, (asked, filled, _) in counts.items()}


def questionnaires_of(holder) -> list[tuple[str, QuestionnaireRecord]]:
    """(instrument, its answers) of a ``Questionnaires`` or ``ExitQuestionnaires`` record, known and extra keys."""
    named = [(key, getattr(holder, key)) for key in type(holder).model_fields if key != "exit"]
    extra = list((holder.model_extra or {}).items())
    return [(key, entry) for key, entry in named + extra if isinstance(entry, QuestionnaireRecord)]


def answer_tallies(sessions: list[SessionRecord]) -> dict[str, dict[str, dict[str, int]]]:
    """Questionnaire answers by role (the client answers them) and instrument: asked, and filled in."""
    tallies: dict[str, dict[str, int]] = {}
    for record in sessions:
        for key, (asked, filled) in session_answers(record).items():
            tally = tallies.setdefault(key, {"asked": 0, "fallbacks": 0})
            tally["asked"] += asked
            tally["fallbacks"] += filled
    return {"client": dict(sorted(tallies.items()))} if tallies else {}


def fallback_heavy_sessions(sessions: list[SessionRecord], threshold: float) -> list[dict]:
    """Sessions whose share of filled-in answers is above ``threshold``, by client and session."""
    heavy = []
    for record in sorted(sessions, key=lambda r: r.key):
        counts = session_answers(record).values()
        asked, filled = sum(a for a, _ in counts), sum(f for _, f in counts)
        if asked and filled / asked > threshold:
            heavy.append({"client_id": record.client_id, "session_index": record.session_index,
                          "fallbacks": filled, "asked": asked})
    return heavy
