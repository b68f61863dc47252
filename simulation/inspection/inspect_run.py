"""Looking inside a run directory: an overview, one session's transcript, a course's checkpoints.

Everything here only reads: the run record through ``RunLog`` and checkpoints.sqlite
(opened read-only). Bad client ids or session numbers raise ``InputError``
naming the option (``--client``, ``--session``) the command line takes them from.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from rich.console import Group
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from ..core.course import Week
from ..core.errors import InputError
from ..core.questionnaires import Questionnaires
from ..core.turns import ClientTurn, RetrievedMemory
from ..engine.checkpointers import strict_serializer
from ..record.run_directory import RunDirectory
from ..record.run_log import RunLog
from ..record.schema import CHECKPOINTS, ClientStateRecord, SessionRecord
from .graphs import compiled_course_graph

_SNIPPET = 160
# A heading's width in a log or a pipe: its console is as wide as the longest table (cli.output.LOG_WIDTH),
# which a rule would fill with thousands of '─' on one line.
HEADING_WIDTH = 80


class Heading:
    """A titled rule: across the screen at a terminal; elsewhere a plain line of at most ``HEADING_WIDTH``
    columns (a longer title is kept whole)."""

    def __init__(self, title: str):
        self.title = title

    def __rich_console__(self, console, options):
        if console.is_terminal:
            yield Rule(self.title)
            return
        line = f"── {self.title} " if self.title else ""
        yield Text(line + "─" * max(2, HEADING_WIDTH - len(line)), style="rule.line")


def _open(run_dir: str | Path | RunDirectory) -> RunLog:
    return RunLog.open(run_dir.path if isinstance(run_dir, RunDirectory) else Path(run_dir))


def _check_client(run: RunLog, client_id: str) -> None:
    known = run.clients()
    if client_id not in known:
        raise InputError(run.path, "--client", f"no client '{client_id}' in this run (clients: {', '.join(known) or 'none'})")


def _snippet(text: str, limit: int = _SNIPPET) -> str:
    flat = " / ".join(line.strip() for line in str(text).splitlines() if line.strip())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _arrow(start, end, fmt: str = "{:.1f}") -> str:
    def one(value) -> str:
        return "—" if value is None else fmt.format(value)

    return f"{one(start)} → {one(end)}"


def _totals(questionnaires: Questionnaires | None, key: str) -> tuple[int | None, int | None]:
    """The total of instrument ``key`` in the session, and in its exit assessment (None where not taken)."""
    if questionnaires is None:
        return None, None
    entry = getattr(questionnaires, key, None)
    exit_entry = getattr(questionnaires.exit, key, None) if questionnaires.exit is not None else None
    return (entry.total if entry else None), (exit_entry.total if exit_entry else None)


def _state(state: ClientStateRecord | None, key: str):
    return getattr(state, key, None) if state is not None else None


# --- overview -------------------------------------------------------------------------------------

def run_overview(run_dir) -> Group:
    """A rich renderable: the campaign, then per client its course status and per session
    the turns, who ended it, and distress, trust, PHQ-9 and GAD-7 from start to end."""
    run = _open(run_dir)
    manifest, config = run.manifest, run.config
    header = Text()
    header.append(f"Run {manifest.name}", style="bold")
    header.append(f" ({run.path}): {manifest.status}")
    header.append(f"; counselor {config.counselor}")
    header.append("; models " + ", ".join(f"{role} {getattr(config.models, role).model}"
                                          for role in type(config.models).model_fields))
    header.append(f"; {config.sessions} sessions × {config.max_turns} client turns"
                  f"; seed {manifest.seed if manifest.seed is not None else config.seed}")
    if manifest.created_at:
        header.append(f"; created {manifest.created_at}")

    table = Table(title="Courses and sessions", show_lines=False)
    table.add_column("client", no_wrap=True)
    table.add_column("course", no_wrap=True)
    table.add_column("session", justify="right")
    table.add_column("turns", justify="right")
    table.add_column("ended by", no_wrap=True)
    table.add_column("distress", no_wrap=True)
    table.add_column("trust", no_wrap=True)
    table.add_column("PHQ-9", no_wrap=True)
    table.add_column("GAD-7", no_wrap=True)
    notes = []
    clients = run.clients()
    for number, client_id in enumerate(clients):
        course = manifest.courses.get(client_id)
        records = run.course(client_id)
        status = course.status if course else "?"
        course_cell = f"{status} {len(records)}/{config.sessions}" + (
            " dropout" if course and course.ended_by == "dropout" else "")
        style = {"finished": "green", "failed": "red", "running": "yellow", "waiting": "cyan"}.get(status, "")
        if course and course.error:
            notes.append(Text(f"{client_id}: {course.error}", style="red"))
        if course and course.dropout:
            notes.append(Text(f"{client_id}: did not come back after session {course.dropout.after_session} "
                              f"({course.dropout.reason})"))
        last = number == len(clients) - 1
        if not records:
            table.add_row(client_id, Text(course_cell, style=style), "—", "", "", "", "", "", "", end_section=not last)
            continue
        for row, record in enumerate(records):
            start, end = record.client_state_start, record.client_state_end
            table.add_row(
                client_id if row == 0 else "",
                Text(course_cell, style=style) if row == 0 else "",
                str(record.session_index),
                str(len(record.turns)),
                record.ended_by or "",
                "person" if record.played_by_person else _arrow(_state(start, "distress"), _state(end, "distress")),
                "person" if record.played_by_person else _arrow(_state(start, "trust"), _state(end, "trust")),
                _self_report_cell(record.questionnaires, "phq9"),
                _self_report_cell(record.questionnaires, "gad7"),
                end_section=row == len(records) - 1 and not last,
            )
    return Group(header, table, *notes)


def _self_report_cell(questionnaires: Questionnaires | None, key: str) -> str:
    start, end = _totals(questionnaires, key)
    if start is None and end is None:
        return ""
    return str(start) if end is None else _arrow(start, end, "{}")


# --- one session ----------------------------------------------------------------------------------

def session_record(run: RunLog, client_id: str, session_index: int) -> SessionRecord:
    """The record of one session; ``InputError`` naming ``--client`` or ``--session`` when there is none."""
    _check_client(run, client_id)
    record = run.session(client_id, session_index)
    if record is None:
        recorded = ", ".join(str(r.session_index) for r in run.course(client_id)) or "none yet"
        raise InputError(run.path, "--session", f"client '{client_id}' has no recorded session {session_index} "
                                                f"(recorded: {recorded})")
    return record


def _memory_label(hit: RetrievedMemory) -> str:
    return f"[s{hit.session_index} {hit.kind or 'memory'}]"


def _state_table(record: SessionRecord) -> Table:
    start, end = record.client_state_start, record.client_state_end
    table = Table(title="Client state", show_header=True)
    table.add_column("measure")
    table.add_column("before", justify="right")
    table.add_column("after", justify="right")
    # A person played the client: no simulated state is theirs (the record's is the weeks' bookkeeping).
    for key in () if record.played_by_person else ("distress", "trust", "openness", "resistance", "insight"):
        before, after = _state(start, key), _state(end, key)
        if before is not None or after is not None:
            table.add_row(key, _fmt(before), _fmt(after))
    for key, title in (("phq9", "PHQ-9 total"), ("gad7", "GAD-7 total")):
        before, after = _totals(record.questionnaires, key)
        if before is not None or after is not None:
            table.add_row(title, _fmt(before), _fmt(after) if after is not None else "(exit only)")
    for key, title in (("wai_sr", "WAI-SR total"), ("panas", "PANAS total")):
        entry = getattr(record.questionnaires, key, None) if record.questionnaires else None
        if entry is not None:
            subscales = entry.subscales
            detail = f" ({', '.join(f'{k} {v}' for k, v in subscales.items())})" if subscales else ""
            table.add_row(title, "", f"{_fmt(entry.total)}{detail}")
    return table


def _fmt(value) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def _week_text(week: Week | None) -> Text:
    text = Text()
    text.append("Week before: ", style="bold")
    if week is None:
        text.append("— (first session)")
        return text
    events = [*week.life_events, *week.random_events]
    parts = []
    if events:
        parts.append("events: " + "; ".join(events))
    if "homework_done" in week.model_fields_set:
        parts.append(f"homework {'done' if week.homework_done else 'not done'}")
    if week.distress_change is not None:
        parts.append(f"distress {week.distress_change:+.2f}")
    if week.stage_of_change:
        parts.append(f"stage of change: {week.stage_of_change}")
    text.append(", ".join(parts) or "nothing recorded")
    return text


def session_transcript(run_dir, client_id: str, session_index: int) -> Group:
    """A rich renderable of one session: goal, the week before, client state before/after,
    every turn (counselor turns with the memories they retrieved and their source session),
    and the memory extracted at the end."""
    record = session_record(_open(run_dir), client_id, int(session_index))
    person = f" · client played by {record.rater or 'a person'}" if record.played_by_person else ""
    parts: list = [Heading(f"{client_id} · session {record.session_index} · counselor {record.counselor or '?'}"
                        f" · ended by {record.ended_by or '?'}{person}")]
    ratings: dict[int, list[str]] = {}
    for rating in record.turn_ratings:
        ratings.setdefault(rating.turn, []).append(f"{rating.item} {_fmt(rating.rating)}")
    goal = Text()
    goal.append("Goal: ", style="bold")
    goal.append(record.goal or "")
    if record.goal_source:
        goal.append(f" ({record.goal_source})", style="dim")
    parts += [goal, _week_text(record.week_before), _state_table(record), Heading("Turns")]
    for number, turn in enumerate(record.turns, start=1):
        line = Text()
        client = isinstance(turn, ClientTurn)
        line.append(f"{number:>2}. {turn.speaker.capitalize()}", style="bold magenta" if client else "bold cyan")
        tags = [] if client else [t for t in (turn.stage, turn.source) if t]
        if tags:
            line.append(f" ({', '.join(tags)})", style="dim")
        line.append(": ")
        line.append(turn.text)
        parts.append(line)
        if number - 1 in ratings:
            parts.append(Text(f"      rated by the client: {', '.join(ratings[number - 1])}", style="dim"))
        if client:
            notes = []
            if turn.state is not None:
                notes.append(", ".join(f"{k} {_fmt(v)}" for k, v in turn.state.to_dict().items()))
            if turn.disclosed_fact is not None:
                notes.append(f"disclosed fact #{turn.disclosed_fact}")
            if notes:
                parts.append(Text(f"      state after: {'; '.join(notes)}", style="dim"))
            if turn.added:
                parts.append(Text(f"      added by the program, not the client's model: {turn.added}", style="yellow"))
            continue
        for hit in turn.retrieved:
            memory = Text("      ")
            memory.append(_memory_label(hit), style="yellow")
            memory.append(f" {_snippet(hit.text)}")
            if hit.distance is not None:
                memory.append(f"  (distance {hit.distance:.2f})", style="dim")
            parts.append(memory)
    if record.memory is not None:
        parts.append(Heading("Memory extracted"))
        for key, value in record.memory.to_dict().items():
            if key in ("session_index", "filled_in") or value in (None, "", []):
                continue
            line = Text()
            line.append(f"{key.replace('_', ' ')}: ", style="bold")
            line.append(str(value))
            parts.append(line)
        if record.memory.filled_in:
            parts.append(Text(f"filled in by fallback: {', '.join(record.memory.filled_in)}", style="dim"))
    return Group(*parts)


# --- checkpoints ----------------------------------------------------------------------------------

def _open_checkpoints(run: RunLog) -> sqlite3.Connection:
    path = run.path
    file = path / CHECKPOINTS
    if not file.is_file():
        if run.config.checkpointer_url:
            raise InputError(path, "checkpointer_url", "this run keeps its checkpoints in PostgreSQL; "
                             "--history reads checkpoints.sqlite only")
        raise InputError(path, CHECKPOINTS, "missing: this run has no checkpoints yet")
    return sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True)


def _wrote(metadata: dict, parent_next: tuple[str, ...] | None) -> tuple[str, ...]:
    writes = metadata.get("writes")
    if isinstance(writes, dict) and writes:
        return tuple(writes)
    source = metadata.get("source")
    if source == "input":
        return ("(input)",)
    if source == "update":
        return ("(update_state)",)
    return tuple(parent_next or ())


def _entries(snapshots, namespace: str) -> list[dict]:
    """History entries (oldest first) for one namespace's snapshots (as given, newest first)."""
    snapshots = list(reversed(list(snapshots)))
    next_by_id = {s.config["configurable"]["checkpoint_id"]: tuple(s.next) for s in snapshots}
    entries = []
    for snapshot in snapshots:
        metadata = dict(snapshot.metadata or {})
        parent_id = (snapshot.parent_config or {}).get("configurable", {}).get("checkpoint_id")
        errors = [f"{task.name}: {task.error}" for task in snapshot.tasks if getattr(task, "error", None)]
        entries.append({
            "namespace": namespace,
            "step": metadata.get("step"),
            "source": metadata.get("source"),
            "wrote": _wrote(metadata, next_by_id.get(parent_id)),
            "next": tuple(snapshot.next),
            "session_index": (snapshot.values or {}).get("session_index"),
            "checkpoint_id": snapshot.config["configurable"]["checkpoint_id"],
            "parent_checkpoint_id": parent_id,
            "parent_course_checkpoint_id": (metadata.get("parents") or {}).get(""),
            "created_at": snapshot.created_at,
            "error": "; ".join(errors) or None,
        })
    return entries


def checkpoint_history(run_dir, client_id: str, include_subgraphs: bool = False) -> list[dict]:
    """The LangGraph checkpoints of one client's course (its thread), oldest first.

    Each entry: ``step``, ``source`` (input / loop / update), ``wrote`` (the node(s)
    whose writes it holds: LangGraph no longer records them in the metadata, so
    they are the previous checkpoint's ``next``), ``next``, ``session_index``,
    ``checkpoint_id``, ``parent_checkpoint_id``, ``created_at``, ``error`` (a failed
    task's error, if any) and ``namespace`` ("" for the course). With
    ``include_subgraphs`` the session subgraph's checkpoints (namespace
    ``session:<task id>``) are interleaved by time; their ``session_index`` comes
    from the course checkpoint they ran under when their own values lack it.
    """
    from langgraph.checkpoint.sqlite import SqliteSaver  # lazy: a checkpoint backend, for --history only

    run = _open(run_dir)
    _check_client(run, client_id)
    connection = _open_checkpoints(run)
    try:
        graph = compiled_course_graph(checkpointer=SqliteSaver(connection, serde=strict_serializer()))
        thread = {"configurable": {"thread_id": client_id}}
        entries = _entries(graph.get_state_history(thread), "")
        if include_subgraphs:
            session_of = {e["checkpoint_id"]: e["session_index"] for e in entries}
            namespaces = [row[0] for row in connection.execute(
                "SELECT DISTINCT checkpoint_ns FROM checkpoints WHERE thread_id = ? AND checkpoint_ns != ''",
                (client_id,))]
            for namespace in namespaces:
                config = {"configurable": {"thread_id": client_id, "checkpoint_ns": namespace}}
                for entry in _entries(graph.get_state_history(config), namespace):
                    if entry["session_index"] is None:
                        entry["session_index"] = session_of.get(entry["parent_course_checkpoint_id"])
                    entries.append(entry)
            entries.sort(key=lambda e: (e["created_at"] or "", e["checkpoint_id"]))
    except sqlite3.Error as error:
        raise InputError(run.path / CHECKPOINTS, "", f"cannot read checkpoints: {error}") from None
    finally:
        connection.close()
    return entries


def history_table(entries: list[dict], title: str | None = "Checkpoints") -> Table:
    """A rich table of ``checkpoint_history`` entries."""
    with_namespaces = any(e.get("namespace") for e in entries)
    table = Table(title=title)
    table.add_column("step", justify="right")
    if with_namespaces:
        table.add_column("graph", no_wrap=True)
    table.add_column("wrote", no_wrap=True)
    table.add_column("next", no_wrap=True)
    table.add_column("session", justify="right", min_width=7)
    utc = bool(entries) and all(str(e.get("created_at") or "").endswith("+00:00") for e in entries)
    table.add_column("created (UTC)" if utc else "created", no_wrap=True)
    table.add_column("checkpoint id", no_wrap=True)
    for entry in entries:
        cells = [str(entry.get("step", ""))]
        if with_namespaces:
            cells.append(entry["namespace"].partition(":")[0] or "course")
        wrote = ", ".join(entry.get("wrote") or ()) or "—"
        cells.append(Text(wrote + (f" ✗ {entry['error']}" if entry.get("error") else ""),
                          style="red" if entry.get("error") else ""))
        cells.append(", ".join(entry.get("next") or ()) or "(end)")
        cells.append("" if entry.get("session_index") is None else str(entry["session_index"]))
        created = entry.get("created_at") or ""
        cells.append(created[5:19].replace("T", " "))  # MM-DD HH:MM:SS; the full stamp is in the entry
        cells.append(entry.get("checkpoint_id") or "")
        table.add_row(*cells, style="dim" if entry.get("namespace") else None)
    return table
