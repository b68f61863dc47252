"""The short table and lines printed at the end of a campaign."""

from __future__ import annotations

from rich.table import Table

from muspsy_sim.simulation.evaluation.risk import campaign_risk
from muspsy_sim.simulation.evaluation.self_report import (
    agreement_line,
    agreement_warnings,
    answered_questionnaires,
    self_report_agreement,
)
from muspsy_sim.simulation.record.schema import ClientTurnRecord, SessionRecord
from muspsy_sim.simulation.record.tallies import fault_counts


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
            record.client_id, str(record.session_index), str(len(record.turns)), goal,
            f"{start:.1f} → {end:.1f}", record.ended_by or "",
        )
    return table


def usage_line(usage: dict) -> str:
    parts = []
    for role, fields in sorted(usage.items()):
        parts.append(f"{role}: {int(fields['calls'])} calls, {int(fields['prompt_tokens'])}+"
                     f"{int(fields['completion_tokens'])} tokens, {fields['seconds']:.0f} s")
    return "; ".join(parts)


def faults_line(usage: dict, courses: dict) -> str:
    """The summary's fault line: per role, transport retries, fallback answers, re-asks and failed steps."""
    parts = [f"{role}: {c['retries']} retries, {c['fallbacks']} fallbacks, {c['reasks']} re-asks, "
             f"{c['failures']} failed steps"
             for role, c in sorted(fault_counts(usage, courses).items()) if any(c.values())]
    return "; ".join(parts) or "none"


def risk_lines(sessions: list[SessionRecord]) -> list[str]:
    """What the campaign summary says about risk disclosures: counts, then every unhandled one."""
    risk = campaign_risk(sessions)
    if not risk["disclosures"]:
        return []
    lines = [f"Risk disclosures: {risk['disclosures']}, handled by the counselor: {risk['handled']}."]
    return lines + [unhandled_line(item) for item in risk["unhandled"]]


def unhandled_line(item: dict) -> str:
    return (f"UNHANDLED risk disclosure: client {item['client_id']}, session {item['session_index']}, "
            f"turn {item['turn_index']} (missing: {', '.join(item['missing'])})")


def self_report_lines(sessions: list[SessionRecord], threshold: float) -> list[str]:
    """How far the client's self-reports follow its state, a warning per instrument below ``threshold``,
    and how many of the client's item answers were filled in (fallback) instead of given by its model."""
    agreement = self_report_agreement(sessions)
    lines = [agreement_line(agreement), *agreement_warnings(agreement, threshold)] if agreement else []
    questionnaire = sum(answers.methods.get("fallback", 0) for record in sessions
                        for _, answers in answered_questionnaires(record))
    appraisal = sum(turn.appraisal.methods.get("fallback", 0) for record in sessions for turn in record.turns
                    if isinstance(turn, ClientTurnRecord) and turn.appraisal is not None)
    if questionnaire or appraisal:
        lines.append(f"Filled in, not the client model's answer (fallback to the scale's middle): {questionnaire} "
                     f"questionnaire items, {appraisal} appraisal items.")
    return lines
