"""The short table and lines printed at the end of a campaign, and the same as JSON (``run --json``)."""

from __future__ import annotations

from collections.abc import Mapping

from rich.table import Table
from rich.text import Text

from .core.course import COURSE_DROPOUT
from .core.metrics import AnswerCoverage, UnhandledDisclosure
from .core.turns import ClientTurn
from .core.usage import RoleUsage
from .evaluation.risk import campaign_risk
from .evaluation.self_report import agreement_line, agreement_warnings, self_report_agreement
from .record.schema import CourseEntry, SessionRecord
from .record.tallies import APPRAISAL, added_sentences, answer_tallies, fallback_heavy_sessions, fault_counts


def campaign_json(result, config) -> dict:
    """What ``run --json`` prints for one campaign (``result``: a ``CampaignResult``): the typed values the
    manifest holds (courses, usage, faults, answers, risk), which ``print_json`` writes as the manifest does."""
    sessions = sorted(result.sessions, key=lambda r: r.key)
    return {
        "campaign": config.name,
        "run_dir": str(result.run_dir),
        "status": result.status,
        "interruption": result.interruption,
        "wall_seconds": round(result.wall_seconds, 3),
        "courses": result.courses,
        "sessions": [{"client_id": r.client_id, "session_index": r.session_index, "turns": len(r.turns),
                      "goal": r.goal, "distress_start": r.client_state_start.distress,
                      "distress_end": r.client_state_end.distress, "ended_by": r.ended_by} for r in sessions],
        "usage": result.usage,
        "faults": fault_counts(result.usage, result.courses),
        "answers": answer_tallies(sessions),
        "fallback_heavy_sessions": fallback_heavy_sessions(sessions, config.answer_fallbacks.threshold),
        "client_sentences_added": sum(len(added_sentences(r)) for r in sessions),
        "risk": campaign_risk(sessions),
        "self_report_agreement": self_report_agreement(sessions),
        "note": "Simulated counseling for research; not a clinical service.",
    }


def sessions_table(sessions: list[SessionRecord]) -> Table:
    table = Table(title="Sessions", show_lines=False)
    table.add_column("client", no_wrap=True)
    table.add_column("session", justify="right")
    table.add_column("turns", justify="right")
    table.add_column("goal", overflow="fold", min_width=24)
    table.add_column("distress\nbefore → after", no_wrap=True)
    table.add_column("ended by", no_wrap=True)
    for record in sorted(sessions, key=lambda r: r.key):
        start, end = record.client_state_start.distress, record.client_state_end.distress
        goal = record.goal if len(record.goal) <= 40 else record.goal[:37] + "..."
        table.add_row(
            # Text, not markup: a model's goal (or a profile id) may hold brackets ("[/INST]") rich would parse.
            Text(str(record.client_id)), str(record.session_index), str(len(record.turns)), Text(goal),
            # A person played the client: the record's distress is the weeks' bookkeeping, not theirs (as inspect).
            "person" if record.played_by_person else f"{start:.1f} → {end:.1f}", record.ended_by or "",
        )
    return table


def dropout_line(courses: Mapping[str, CourseEntry]) -> str:
    """The clients who did not come back (a course outcome, in the manifest), after which session and why."""
    dropped = [(client, course.dropout) for client, course in sorted(courses.items())
               if course.ended_by == COURSE_DROPOUT and course.dropout is not None]
    if not dropped:
        return "Dropped out: none."
    parts = [f"{client} after session {dropout.after_session} ({dropout.reason})" for client, dropout in dropped]
    return f"Dropped out: {len(dropped)} of {len(courses)} courses: " + "; ".join(parts) + "."


def usage_line(usage: Mapping[str, RoleUsage]) -> str:
    parts = []
    for role, fields in sorted(usage.items()):
        parts.append(f"{role}: {int(fields.calls)} calls, {int(fields.prompt_tokens)}+"
                     f"{int(fields.completion_tokens)} tokens, {fields.seconds:.0f} s")
    return "; ".join(parts) or "no model calls"


def faults_line(usage: Mapping[str, RoleUsage], courses: Mapping[str, CourseEntry]) -> str:
    """The summary's fault line: per role, transport retries, answers of the fallback model, re-asks, failed steps."""
    parts = [f"{role}: {c.retries} retries, {c.fallbacks} served by the fallback model, {c.reasks} re-asks, "
             f"{c.failures} failed steps"
             for role, c in sorted(fault_counts(usage, courses).items())
             if c.retries or c.fallbacks or c.reasks or c.failures]
    return "; ".join(parts) or "none"


def answers_label(sessions: list[SessionRecord]) -> str:
    """What ``answers_line`` counts, in words."""
    appraised = any(APPRAISAL in counts for counts in answer_tallies(sessions).values())
    return "Answers filled in (fallback; questionnaire and appraisal items)" if appraised else \
        "Questionnaire answers filled in (fallback)"


def answers_line(sessions: list[SessionRecord]) -> str:
    """Answers filled in (the scale's middle, not the model's), per role and instrument (``appraisal``: the
    model appraisal's items)."""
    parts = []
    for role, instruments in answer_tallies(sessions).items():
        counted = ", ".join(f"{key} {t.fallbacks}/{t.asked}" for key, t in instruments.items())
        filled = sum(t.fallbacks for t in instruments.values())
        partial = sum(t.partial for t in instruments.values())
        parts.append(f"{role}: {filled} of {sum(t.asked for t in instruments.values())} ({counted})"
                     + (f"; {partial} likelihood answers partial (some options had no log-probability)"
                        if partial else ""))
    return "; ".join(parts) or "no questionnaires"


def coverage_line(coverage: AnswerCoverage) -> str:
    """eval's coverage: answered of asked, per role and instrument."""
    roles = {"client": coverage.client, "person": coverage.person, "judge": coverage.judge}
    parts = [f"{role} " + ", ".join(f"{key} {c.answered}/{c.asked}" for key, c in counts.items())
             for role, counts in roles.items() if counts]
    return "; ".join(parts) or "none asked"


def fallback_warnings(sessions: list[SessionRecord], threshold: float, strict: bool) -> list[str]:
    """Plain words for each session whose share of filled-in answers is above ``threshold``."""
    lines = []
    for entry in fallback_heavy_sessions(sessions, threshold):
        lines.append(
            f"WARNING: client {entry.client_id}, session {entry.session_index}: {entry.fallbacks} of "
            f"{entry.asked} {entry.what()} ({entry.fallbacks / entry.asked:.0%}) were not given by "
            f"the model but filled in with the scale's middle (threshold {threshold:.0%}). eval leaves them out of "
            f"the scores; these questionnaires say little about this client."
            + (" The course is marked failed (--strict)." if strict else ""))
    return lines


def added_line(sessions: list[SessionRecord]) -> str | None:
    """How many client turns the program appended a sentence to (a risk disclosure the client's model did not
    say), and where; None when it appended none."""
    where = [f"{r.client_id} session {r.session_index} turn {i}" for r in sorted(sessions, key=lambda r: r.key)
             for i in added_sentences(r)]
    if not where:
        return None
    return (f"Sentences the program added to the client's turns (a risk disclosure its model did not say; marked "
            f"'added' in the record, not the client's own words): {len(where)} ({'; '.join(where)}).")


def risk_lines(sessions: list[SessionRecord]) -> list[str]:
    """What the campaign summary says about risk disclosures: counts, then every unhandled one."""
    risk = campaign_risk(sessions)
    if not risk.disclosures:
        return []
    lines = [f"Risk disclosures: {risk.disclosures}, handled by the counselor: {risk.handled}."]
    return lines + [unhandled_line(item) for item in risk.unhandled]


def unhandled_line(item: UnhandledDisclosure) -> str:
    return (f"UNHANDLED risk disclosure: client {item.client_id}, session {item.session_index}, "
            f"turn {item.turn_index} (missing: {', '.join(item.missing)})")


def self_report_lines(sessions: list[SessionRecord], threshold: float) -> list[str]:
    """How far the client's self-reports follow its state, a warning per instrument below ``threshold``,
    and how many appraisal items were filled in (fallback) instead of given by the client's model
    (filled-in questionnaire answers: ``answers_line``)."""
    agreement = self_report_agreement(sessions)
    lines = [agreement_line(agreement), *agreement_warnings(agreement, threshold)] if agreement else []
    appraisal = sum(len(turn.appraisal.filled_in_items()) for record in sessions for turn in record.turns
                    if isinstance(turn, ClientTurn) and turn.appraisal is not None)
    if appraisal:
        lines.append(f"Filled in, not the client model's answer (fallback to the scale's middle): {appraisal} "
                     f"appraisal items; they moved the client's state, so eval leaves those sessions' outcomes out.")
    return lines
