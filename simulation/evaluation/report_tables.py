"""Tables printed by `eval`."""

from __future__ import annotations

from rich.table import Table

SHOWN = ("wai_total", "phq9", "gad7", "phq9_change", "gad7_change", "distress_change", "followed_up_assignment",
         "recall_at_k", "contradiction_rate", "judge_helpfulness", "judge_coherence", "judge_empathy",
         "judge_guidance", "ctrs_homework")


def summary_table(summary: dict) -> Table:
    table = Table(title=f"Run '{summary['run']}': {summary['clients']} clients, {summary['sessions']} sessions")
    table.add_column("metric")
    table.add_column("mean", justify="right")
    table.add_column("n", justify="right")
    for name in SHOWN:
        entry = summary["metrics"].get(name)
        if entry:
            mean = "-" if entry["mean"] is None else f"{entry['mean']:.2f}"
            table.add_row(name, mean, str(entry["n"]))
    dropped = [c for c, course in summary["courses"].items() if course["dropped_out"]]
    table.caption = f"dropped out: {', '.join(dropped) or 'none'}; all metrics in metrics.jsonl"
    return table
