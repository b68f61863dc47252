"""The short table printed at the end of a campaign."""

from __future__ import annotations


def sessions_table(sessions: list[dict]):
    from rich.table import Table

    table = Table(title="Sessions", show_lines=False)
    table.add_column("client", no_wrap=True)
    table.add_column("session", justify="right")
    table.add_column("turns", justify="right")
    table.add_column("goal", overflow="fold", min_width=24)
    table.add_column("distress\nbefore → after", no_wrap=True)
    table.add_column("ended by", no_wrap=True)
    for record in sorted(sessions, key=lambda r: (r["client_id"], r["session_index"])):
        start, end = record["client_state_start"]["distress"], record["client_state_end"]["distress"]
        goal = record["goal"] if len(record["goal"]) <= 40 else record["goal"][:37] + "..."
        table.add_row(
            record["client_id"], str(record["session_index"]), str(len(record["turns"])), goal,
            f"{start:.1f} → {end:.1f}", record.get("ended_by", ""),
        )
    return table


def usage_line(usage: dict) -> str:
    parts = []
    for role, fields in sorted(usage.items()):
        parts.append(f"{role}: {int(fields['calls'])} calls, {int(fields['prompt_tokens'])}+"
                     f"{int(fields['completion_tokens'])} tokens, {fields['seconds']:.0f} s")
    return "; ".join(parts)
