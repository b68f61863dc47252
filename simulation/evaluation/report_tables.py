"""Tables printed by `eval`."""

from __future__ import annotations

from rich.table import Table

from ..core.metrics import CampaignSummary, SelfReportAgreement
from .realism_table import realism_table
from .self_report import INSTRUMENT_NAMES

SHOWN = ("wai_total", "phq9", "gad7", "phq9_change", "gad7_change", "distress_change", "followed_up_assignment",
         "recall_at_k", "contradiction_rate", "references_back", "judge_helpfulness", "judge_coherence",
         "judge_empathy", "judge_guidance", "ctrs_homework")


def summary_table(summary: CampaignSummary) -> Table:
    table = Table(title=f"Run '{summary.run}': {summary.clients} clients, {summary.sessions} sessions")
    table.add_column("metric")
    table.add_column("mean", justify="right")
    table.add_column("n", justify="right")
    for name in SHOWN:
        entry = summary.metrics.get(name)
        if entry:
            if entry.not_applicable:
                mean = "not applicable"
            else:
                mean = "-" if entry.mean is None else f"{entry.mean:.2f}"
            table.add_row(name, mean, str(entry.n))
    dropped = [f"{client} (after session {course.dropout_session - 1})" if course.dropout_session else client
               for client, course in summary.courses.items() if course.dropped_out]
    table.caption = (f"dropped out: {', '.join(dropped) or 'none'}; recall_at_k \"-\": no client turn referred back, "
                     "\"not applicable\": the counselor does not retrieve; all metrics in metrics.jsonl")
    return table


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
