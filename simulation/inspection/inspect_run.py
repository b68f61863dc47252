"""Looking inside a run directory: an overview, one session's transcript, a course's checkpoints.

Everything here only reads: manifest.json, sessions.jsonl and checkpoints.sqlite
(opened read-only). Bad client ids or session numbers raise ``InputError``
naming the option (``--client``, ``--session``) the command line takes them from.
"""

from __future__ import annotations

from pathlib import Path

from muspsy_sim.scenarios.base.errors import InputError
from muspsy_sim.simulation.run_directory import CHECKPOINTS, MANIFEST, RunDirectory, read_sessions

_SNIPPET = 160


def _path(run_dir) -> Path:
    return run_dir.path if isinstance(run_dir, RunDirectory) else Path(run_dir)


def _manifest(path: Path) -> dict:
    import json

    file = path / MANIFEST
    if not file.is_file():
        raise InputError(path, "run_dir", "not a run directory (no manifest.json)")
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(file, "", f"unreadable manifest: {error}") from None


def _clients(manifest: dict, sessions: list[dict]) -> list[str]:
    return sorted(set(manifest.get("courses", {})) | {r["client_id"] for r in sessions})


def _check_client(path: Path, manifest: dict, sessions: list[dict], client_id: str) -> None:
    known = _clients(manifest, sessions)
    if client_id not in known:
        raise InputError(path, "--client", f"no client '{client_id}' in this run (clients: {', '.join(known) or 'none'})")


def _snippet(text: str, limit: int = _SNIPPET) -> str:
    flat = " / ".join(line.strip() for line in str(text).splitlines() if line.strip())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _arrow(start, end, fmt: str = "{:.1f}") -> str:
    def one(value) -> str:
        return "—" if value is None else fmt.format(value) if isinstance(value, (int, float)) else str(value)

    return f"{one(start)} → {one(end)}"


def _total(questionnaires: dict | None, key: str):
    entry = (questionnaires or {}).get(key)
    return entry.get("total") if isinstance(entry, dict) else None


# --- overview -------------------------------------------------------------------------------------

def run_overview(run_dir):
    """A rich renderable: the campaign, then per client its course status and per session
    the turns, who ended it, and distress, trust, PHQ-9 and GAD-7 from start to end."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    path = _path(run_dir)
    manifest = _manifest(path)
    sessions = read_sessions(path)
    config = manifest.get("config", {})
    planned = config.get("sessions")
    models = config.get("models", {})
    header = Text()
    header.append(f"Run {manifest.get('name', path.name)}", style="bold")
    header.append(f" ({path}): {manifest.get('status', '?')}")
    header.append(f"; counselor {config.get('counselor', '?')}")
    if models:
        header.append("; models " + ", ".join(
            f"{role} {(spec or {}).get('model', '?') if isinstance(spec, dict) else spec}" for role, spec in models.items()))
    header.append(f"; {planned if planned is not None else '?'} sessions × {config.get('max_turns', '?')} client turns"
                  f"; seed {manifest.get('seed', config.get('seed', '?'))}")
    if manifest.get("created_at"):
        header.append(f"; created {manifest['created_at']}")

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
    by_client: dict[str, list[dict]] = {}
    for record in sessions:
        by_client.setdefault(record["client_id"], []).append(record)
    courses = manifest.get("courses", {})
    notes = []
    clients = _clients(manifest, sessions)
    for number, client_id in enumerate(clients):
        course = courses.get(client_id, {})
        records = sorted(by_client.get(client_id, []), key=lambda r: r["session_index"])
        status = course.get("status", "?")
        done = len(records)
        course_cell = f"{status} {done}/{planned if planned is not None else '?'}"
        style = {"finished": "green", "failed": "red", "running": "yellow"}.get(status, "")
        if course.get("error"):
            notes.append(Text(f"{client_id}: {course['error']}", style="red"))
        last = number == len(clients) - 1
        if not records:
            table.add_row(client_id, Text(course_cell, style=style), "—", "", "", "", "", "", "", end_section=not last)
            continue
        for row, record in enumerate(records):
            start, end = record.get("client_state_start") or {}, record.get("client_state_end") or {}
            answers = record.get("questionnaires") or {}
            exit_answers = answers.get("exit") if isinstance(answers.get("exit"), dict) else {}
            table.add_row(
                client_id if row == 0 else "",
                Text(course_cell, style=style) if row == 0 else "",
                str(record["session_index"]),
                str(len(record.get("turns") or [])),
                record.get("ended_by") or "",
                _arrow(start.get("distress"), end.get("distress")),
                _arrow(start.get("trust"), end.get("trust")),
                _self_report_cell(answers, exit_answers, "phq9"),
                _self_report_cell(answers, exit_answers, "gad7"),
                end_section=row == len(records) - 1 and not last,
            )
    parts = [header, table, *notes]
    return Group(*parts)


def _self_report_cell(answers: dict, exit_answers: dict, key: str) -> str:
    start, end = _total(answers, key), _total(exit_answers, key)
    if start is None and end is None:
        return ""
    return str(start) if end is None else _arrow(start, end, "{}")


# --- one session ----------------------------------------------------------------------------------

def _session_record(path: Path, client_id: str, session_index: int) -> dict:
    manifest = _manifest(path)
    sessions = read_sessions(path)
    _check_client(path, manifest, sessions, client_id)
    records = {r["session_index"]: r for r in sessions if r["client_id"] == client_id}
    if session_index not in records:
        recorded = ", ".join(str(i) for i in sorted(records)) or "none yet"
        raise InputError(path, "--session", f"client '{client_id}' has no recorded session {session_index} "
                                            f"(recorded: {recorded})")
    return records[session_index]


def _memory_label(hit: dict) -> str:
    return f"[s{hit.get('session_index', '?')} {hit.get('kind', 'memory')}]"


def _state_table(record: dict):
    from rich.table import Table

    start, end = record.get("client_state_start") or {}, record.get("client_state_end") or {}
    answers = record.get("questionnaires") or {}
    exit_answers = answers.get("exit") if isinstance(answers.get("exit"), dict) else {}
    table = Table(title="Client state", show_header=True)
    table.add_column("measure")
    table.add_column("before", justify="right")
    table.add_column("after", justify="right")
    for key in ("distress", "trust", "openness", "resistance", "insight"):
        if key in start or key in end:
            table.add_row(key, _fmt(start.get(key)), _fmt(end.get(key)))
    for key, title in (("phq9", "PHQ-9 total"), ("gad7", "GAD-7 total")):
        before, after = _total(answers, key), _total(exit_answers, key)
        if before is not None or after is not None:
            table.add_row(title, _fmt(before), _fmt(after) if after is not None else "(exit only)")
    for key, title in (("wai_sr", "WAI-SR total"), ("panas", "PANAS total")):
        after = _total(answers, key)
        if after is not None:
            subscales = (answers[key].get("subscales") or {})
            detail = f" ({', '.join(f'{k} {v}' for k, v in subscales.items())})" if subscales else ""
            table.add_row(title, "", f"{after}{detail}")
    return table


def _fmt(value) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def _week_text(week: dict | None):
    from rich.text import Text

    text = Text()
    text.append("Week before: ", style="bold")
    if not week:
        text.append("— (first session)")
        return text
    events = [*(week.get("life_events") or []), *(week.get("random_events") or [])]
    parts = []
    if events:
        parts.append("events: " + "; ".join(str(e) for e in events))
    if "homework_done" in week:
        parts.append(f"homework {'done' if week['homework_done'] else 'not done'}")
    if week.get("distress_change") is not None:
        parts.append(f"distress {week['distress_change']:+.2f}")
    if week.get("stage_of_change"):
        parts.append(f"stage of change: {week['stage_of_change']}")
    text.append(", ".join(parts) or "nothing recorded")
    return text


def session_transcript(run_dir, client_id: str, session_index: int):
    """A rich renderable of one session: goal, the week before, client state before/after,
    every turn (counselor turns with the memories they retrieved and their source session),
    and the memory extracted at the end."""
    from rich.console import Group
    from rich.rule import Rule
    from rich.text import Text

    path = _path(run_dir)
    record = _session_record(path, client_id, int(session_index))
    parts: list = [Rule(f"{client_id} · session {record['session_index']} · counselor {record.get('counselor', '?')}"
                        f" · ended by {record.get('ended_by') or '?'}")]
    goal = Text()
    goal.append("Goal: ", style="bold")
    goal.append(str(record.get("goal", "")))
    if record.get("goal_source"):
        goal.append(f" ({record['goal_source']})", style="dim")
    parts += [goal, _week_text(record.get("week_before")), _state_table(record), Rule("Turns")]
    for number, turn in enumerate(record.get("turns") or [], start=1):
        line = Text()
        speaker = turn.get("speaker", "?")
        line.append(f"{number:>2}. {speaker.capitalize()}", style="bold cyan" if speaker == "counselor" else "bold magenta")
        tags = [t for t in (turn.get("stage"), turn.get("source")) if t]
        if tags:
            line.append(f" ({', '.join(tags)})", style="dim")
        line.append(": ")
        line.append(str(turn.get("text", "")))
        parts.append(line)
        if speaker == "client":
            state = turn.get("state") or {}
            notes = []
            if state:
                notes.append(", ".join(f"{k} {_fmt(v)}" for k, v in state.items()))
            if turn.get("disclosed_fact") is not None:
                notes.append(f"disclosed fact #{turn['disclosed_fact']}")
            if notes:
                parts.append(Text(f"      state after: {'; '.join(notes)}", style="dim"))
        for hit in turn.get("retrieved") or []:
            memory = Text("      ")
            memory.append(_memory_label(hit), style="yellow")
            memory.append(f" {_snippet(hit.get('text', ''))}")
            if isinstance(hit.get("distance"), (int, float)):
                memory.append(f"  (distance {hit['distance']:.2f})", style="dim")
            parts.append(memory)
    memory = record.get("memory")
    if isinstance(memory, dict):
        parts.append(Rule("Memory extracted"))
        for key, value in memory.items():
            if key in ("session_index", "filled_in") or value in (None, "", []):
                continue
            line = Text()
            line.append(f"{key.replace('_', ' ')}: ", style="bold")
            line.append(str(value))
            parts.append(line)
        if memory.get("filled_in"):
            parts.append(Text(f"filled in by fallback: {', '.join(map(str, memory['filled_in']))}", style="dim"))
    return Group(*parts)


# --- checkpoints ----------------------------------------------------------------------------------

def _open_checkpoints(path: Path):
    import sqlite3

    file = path / CHECKPOINTS
    if not file.is_file():
        if (_manifest(path).get("config") or {}).get("checkpointer_url"):
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
    from langgraph.checkpoint.sqlite import SqliteSaver

    from muspsy_sim.simulation.checkpoint_serde import strict_serializer
    from muspsy_sim.simulation.inspection.graphs import compiled_course_graph

    path = _path(run_dir)
    manifest = _manifest(path)
    _check_client(path, manifest, read_sessions(path), client_id)
    connection = _open_checkpoints(path)
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
    except Exception as error:
        import sqlite3

        if isinstance(error, sqlite3.Error):
            raise InputError(path / CHECKPOINTS, "", f"cannot read checkpoints: {error}") from None
        raise
    finally:
        connection.close()
    return entries


def history_table(entries: list[dict], title: str | None = "Checkpoints"):
    """A rich table of ``checkpoint_history`` entries."""
    from rich.table import Table
    from rich.text import Text

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
