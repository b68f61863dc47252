"""Tables printed by `eval`."""

from __future__ import annotations

from rich.table import Table

from ..core.metrics import CampaignSummary, SelfReportAgreement
from .realism_table import realism_table
from .self_report import INSTRUMENT_NAMES

SHOWN = ("wai_total", "phq9", "gad7", "phq9_change", "gad7_change", "distress_change", "scaffold_turn_share",
         "followed_up_assignment", "recall_at_k", "contradiction_rate", "references_back", "judge_helpfulness",
         "judge_coherence", "judge_empathy", "judge_guidance", "ctrs_homework")
# Counselor metrics: credited to the counselor's model, the scaffold's share beside them.
CREDITED = ("followed_up_assignment", "recall_at_k", "contradiction_rate", "references_back", "judge_empathy")


def scaffold_label(metric: str) -> str:
    """What the figure beside a counselor metric is: the same metric over the scaffold's turns, or for a judge
    rating (which cannot be split by turn) the share of counselor turns the program wrote, masked for the judge:
    a share, not a rating."""
    return "scaffold turns (masked)" if metric.startswith(("judge_", "ctrs_")) else "scaffold"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def summary_table(summary: CampaignSummary) -> Table:
    table = Table(title=f"Run '{summary.run}': {summary.clients} clients, {summary.sessions} sessions")
    table.add_column("metric")
    table.add_column("mean", justify="right")
    table.add_column("n", justify="right")
    table.add_column("beside: the scaffold's", justify="right")
    for name in SHOWN:
        entry = summary.metrics.get(name)
        if entry:
            if entry.not_applicable:
                mean = "not applicable"
            else:
                mean = _number(entry.mean) + (" (model)" if entry.scaffold is not None else "")
            beside = "" if entry.scaffold is None else \
                f"{scaffold_label(name)} {_number(entry.scaffold.mean)} (n {entry.scaffold.n})"
            table.add_row(name, mean, str(entry.n), beside)
    dropped = [f"{client} (after session {course.dropout_session - 1})" if course.dropout_session else client
               for client, course in summary.courses.items() if course.dropped_out]
    table.caption = (f"dropped out: {', '.join(dropped) or 'none'}; counselor metrics credit the counselor's model "
                     "(the program's template, safety and fallback turns left out, masked for the judge), the "
                     "scaffold's share beside (for judge ratings the share of counselor turns the program wrote, "
                     "masked for the judge: no rating); recall_at_k \"-\": no model turn took up a client's reference back, "
                     "\"not applicable\": the counselor does not retrieve; all metrics in metrics.jsonl")
    return table


def credit_lines(summary: CampaignSummary) -> list[str]:
    """The counselor metrics in words, the model's and the scaffold's, the sessions whose outcomes were left out,
    and the client turns the program added a sentence to."""
    parts = [f"{name}: {_number(entry.mean)} (model), {scaffold_label(name)} {_number(entry.scaffold.mean)}"
             for name in CREDITED if (entry := summary.metrics.get(name)) is not None and entry.scaffold is not None
             and not entry.not_applicable]
    lines = ["Credited to the counselor's model, the scaffold's share beside: " + "; ".join(parts) + "."] if parts else []
    if summary.prefilled_closings:
        counts = ", ".join(f"{count} {how}" for how, count in summary.prefilled_closings.items())
        lines.append(f"Closing turns the program began with its prefix ({counts}; joined: the model ignored it): "
                     "scored on the model's words only.")
    for left in summary.left_out_sessions:
        lines.append(f"Left out of the scores: client {left.client_id}, session {left.session_index}: "
                     f"{', '.join(left.metrics)}, because {left.reason}.")
    if summary.client_sentences_added:
        lines.append(f"Client turns the program appended a sentence to (a risk disclosure the client's model did not "
                     f"say): {summary.client_sentences_added}; the counselor heard them, no score reads them as the "
                     f"client's own words.")
    return lines


def agreement_table(agreement: SelfReportAgreement) -> Table:
    """Per instrument: how far the client's answers follow its latent levels (``self_report_agreement``)."""
    table = Table(title="Self-reports vs the client's state")
    for column in ("instrument", "Spearman", "items", "answered by"):
        table.add_column(column, justify="left" if column in ("instrument", "answered by") else "right")
    for key, entry in agreement.instruments.items():
        rho = "-" if entry.rho is None else f"{entry.rho:.2f}"
        how = "latent readout" if entry.modes == ["latent"] else "the client's model"
        table.add_row(INSTRUMENT_NAMES.get(key, key), rho, str(entry.n), how)
    threshold = "-" if agreement.threshold is None else f"{agreement.threshold:.2f}"
    table.caption = f"warned below {threshold}; latent readouts agree by construction"
    return table


def eval_tables(summary: CampaignSummary) -> list[Table]:
    """What `eval` prints: the summary, self-report agreement, then the trajectory realism table."""
    tables = [summary_table(summary)]
    if summary.self_report_agreement.instruments:
        tables.append(agreement_table(summary.self_report_agreement))
    if summary.trajectory_realism is not None:
        tables.append(realism_table(summary.trajectory_realism))
    return tables
