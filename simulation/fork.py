"""Forking a run from a checkpoint (LangGraph time travel).

``fork_run`` starts a new run directory whose client courses continue from the
state the original run had after session K: sessions 1..K are copied as they
were (records, memories, checkpoint), and the rest is simulated again, possibly
by another counselor or model. "What if session 3 had been run by model B?"
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pydantic import ValidationError

from .campaign.prepare import CampaignPlan, continued_dynamics, prepare_campaign
from .config import CampaignConfig, Overrides, with_overrides
from .core.errors import InputError, from_validation_error
from .core.turns import exchange_chunks
from .engine.checkpointers import strict_serializer
from .engine.components import build_components
from .inspection.graphs import compiled_course_graph
from .record.run_log import RunLog
from .record.schema import CHECKPOINTS, ForkOrigin, Manifest


def _state_after_session(graph, client_id: str, after_session: int):
    """The checkpoint where session K is recorded and the week after it simulated (next: plan)."""
    for snapshot in graph.get_state_history({"configurable": {"thread_id": client_id}}):
        values = snapshot.values
        if snapshot.next == ("plan",) and len(values.get("memories", [])) == after_session:
            return snapshot
    return None


def _forked_config(source: RunLog, name: str, clients: list[str], overrides: Overrides) -> CampaignConfig:
    data = source.config.model_dump(mode="json")
    # The fork's clients go on by the rules they began with (legacy for a run from before dynamics presets).
    data["client_dynamics"] = continued_dynamics(source.manifest)
    data = with_overrides(data, overrides, "fork")
    data.update(name=name, scenarios=clients, scenario_sample=None, output_dir=str(source.path.parent))
    try:
        return CampaignConfig.model_validate(data)
    except ValidationError as error:
        problem = from_validation_error("fork", error)
        option = {"name": "--name", "counselor": "--counselor"}.get(problem.field, problem.field)
        raise InputError(option, "", problem.message) from None


def fork_run(source: Path, *, after_session: int, name: str, clients: list[str] | None = None,
             overrides: Overrides | None = None) -> CampaignPlan:
    """Prepare the forked run directory; run it with ``simulation.campaign.run_campaign``.

    ``overrides`` replace the recorded config's settings by dotted key, as ``run``'s do (``config.Overrides``).
    """
    from langgraph.checkpoint.sqlite import SqliteSaver  # lazy: a checkpoint backend

    run = RunLog.open(source)
    original = run.config
    if original.checkpointer_url:
        raise InputError(run.manifest_path, "config.checkpointer_url",
                         "this run keeps its checkpoints in PostgreSQL; fork reads checkpoints.sqlite only")
    if not 1 <= after_session < original.sessions:
        raise InputError("--after-session", "", f"must be between 1 and {original.sessions - 1}")
    records = [r for r in run.sessions if r.session_index <= after_session]
    recorded = sorted({r.client_id for r in records if r.session_index == after_session})
    # A client who did not come back after session K has no rest of the course to re-run from there.
    ended = {client for client, entry in run.manifest.courses.items()
             if entry.dropout is not None and entry.dropout.after_session <= after_session}
    chosen = clients or [client for client in recorded if client not in ended]
    missing = sorted(set(chosen) - set(recorded))
    if missing:
        raise InputError("--client", "", f"'{missing[0]}' has no recorded session {after_session} in {source}")
    gone = sorted(set(chosen) & ended)
    if gone or (not chosen and recorded):
        raise InputError("--client", "", f"'{gone[0] if gone else recorded[0]}' did not come back after session "
                         f"{after_session} (a dropout): fork after an earlier session")

    config = _forked_config(run, name, chosen, overrides or {})
    if config.run_dir().exists():
        raise InputError(config.run_dir(), "", "already exists; choose another --name")
    plan = prepare_campaign(config, run.manifest_path)

    source_graph = compiled_course_graph(checkpointer=SqliteSaver(
        sqlite3.connect(source / CHECKPOINTS, check_same_thread=False), serde=strict_serializer()))
    states = {}
    for client_id in chosen:
        snapshot = _state_after_session(source_graph, client_id, after_session)
        if snapshot is None:
            raise InputError(source / CHECKPOINTS, client_id, f"no checkpoint after session {after_session}")
        states[client_id] = snapshot

    run_dir = plan.run_dir
    origin = ForkOrigin(run=str(source), after_session=after_session,
                        checkpoints={c: s.config["configurable"]["checkpoint_id"] for c, s in states.items()})
    run_dir.open(Manifest.new(config, plan.source, [p.id for p in plan.profiles], forked_from=origin))
    components = build_components(config, run_dir)
    for record in records:
        if record.client_id in states:
            run_dir.append_session(record)
            components.store.add_session(record.client_id, record.session_index, record.memory.as_text(),
                                         exchange_chunks(record.turns))
    connection = sqlite3.connect(run_dir.checkpoints_path, check_same_thread=False)
    try:
        graph = components.course_graph().compile(checkpointer=SqliteSaver(connection, serde=strict_serializer()))
        for client_id, snapshot in states.items():
            # The new thread starts where the old one stood after the week following session K.
            graph.update_state({"configurable": {"thread_id": client_id}}, snapshot.values, as_node="evolve")
    finally:
        connection.close()
    return plan
