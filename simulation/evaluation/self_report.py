"""Per-session metrics from the client's own questionnaires and state."""

from __future__ import annotations

from muspsy_sim.simulation.record.schema import ClientTurnRecord, QuestionnaireRecord, SessionRecord


def _answers(record: SessionRecord | None, instrument: str) -> QuestionnaireRecord | None:
    if record is None or record.questionnaires is None:
        return None
    return getattr(record.questionnaires, instrument)


def _total(record: SessionRecord | None, instrument: str) -> float | None:
    answers = _answers(record, instrument)
    return float(answers.total) if answers else None


def _subscale(record: SessionRecord | None, instrument: str, name: str) -> float | None:
    answers = _answers(record, instrument)
    return float(answers.subscales[name]) if answers else None


def _change(after: float | None, before: float | None) -> float | None:
    return None if after is None or before is None else round(after - before, 4)


def self_report_metrics(record: SessionRecord, previous: SessionRecord | None,
                        following: SessionRecord | None) -> dict[str, float | None]:
    """WAI-SR and PANAS of this session, and PHQ-9/GAD-7 change to the next measurement.

    PHQ-9 and GAD-7 are taken at the start of each session, so a session's change runs from
    its own start to the next session's start (or to the exit assessment after the last one).
    """
    exit_answers = record.questionnaires.exit if record.questionnaires else None
    metrics: dict[str, float | None] = {
        "wai_total": _total(record, "wai_sr"),
        "wai_goal": _subscale(record, "wai_sr", "goal"),
        "wai_task": _subscale(record, "wai_sr", "task"),
        "wai_bond": _subscale(record, "wai_sr", "bond"),
        "panas_positive": _subscale(record, "panas", "positive"),
        "panas_negative": _subscale(record, "panas", "negative"),
        "phq9": _total(record, "phq9"),
        "gad7": _total(record, "gad7"),
        "distress_start": record.client_state_start.distress,
        "distress_end": record.client_state_end.distress,
        "trust_end": record.client_state_end.trust,
    }
    metrics["distress_change"] = _change(metrics["distress_end"], metrics["distress_start"])
    metrics["panas_positive_change"] = _change(metrics["panas_positive"], _subscale(previous, "panas", "positive"))
    metrics["panas_negative_change"] = _change(metrics["panas_negative"], _subscale(previous, "panas", "negative"))
    for instrument in ("phq9", "gad7"):
        exit_entry = getattr(exit_answers, instrument) if exit_answers else None
        later = _total(following, instrument) if following else (float(exit_entry.total) if exit_entry else None)
        metrics[f"{instrument}_change"] = _change(later, metrics[instrument])
    metrics["client_turns"] = float(sum(1 for t in record.turns if isinstance(t, ClientTurnRecord)))
    metrics["ended_by_client"] = 1.0 if record.ended_by == "client" else 0.0
    return metrics
