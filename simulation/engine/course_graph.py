"""The course graph, one client's course of sessions.

plan -> report_before (PHQ-9, GAD-7) -> session -> report_after (WAI-SR, PANAS) -> memorize -> record
-> evolve (the week between sessions) -> plan ... -> finish.

The client's traits are drawn when its first session is planned (once per client and seed,
``agents.client.traits``). After each week the client may not come back: the course then ends
there (``course_end``: ended by dropout, with the reason), which the course's manifest entry records.
"""

from __future__ import annotations

from typing import Protocol

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from muspsy_sim.agents.client.base import Client
from muspsy_sim.agents.client.dropout import decide_return
from muspsy_sim.agents.client.dynamics import between_sessions
from muspsy_sim.agents.client.questionnaires import AT_END, AT_START
from muspsy_sim.agents.client.state import ClientState
from muspsy_sim.agents.client.traits import draw_traits
from muspsy_sim.agents.counselor.base import Counselor
from muspsy_sim.agents.counselor.session_memory import SessionMemory
from muspsy_sim.agents.llm import add_usage
from muspsy_sim.agents.transcript import exchange_chunks
from muspsy_sim.memory.base import SessionStore
from muspsy_sim.scenarios.profile import CaseProfile
from muspsy_sim.simulation.engine.run_context import RunContext
from muspsy_sim.simulation.engine.session_graph import build_session_graph, session_context, sum_usage_of
from muspsy_sim.simulation.engine.states import CourseState
from muspsy_sim.simulation.record.schema import SessionRecord
from muspsy_sim.simulation.seeding import derive_rng, derive_seed


class SessionRecorder(Protocol):
    """Where finished sessions go (``record.run_directory.RunDirectory``, or a Ray actor's proxy)."""

    def append_session(self, record: SessionRecord) -> bool: ...


def initial_course_state(profile: CaseProfile) -> CourseState:
    return {
        "profile": profile.model_dump(mode="json"),
        "session_index": 1,
        "client_state": ClientState.initial(profile).get_state(),
        "week": None,
        "memories": [],
        "transcripts": [],
    }


def build_course_graph(counselor: Counselor, client: Client, store: SessionStore | None,
                       recorder: SessionRecorder) -> StateGraph:
    """One client's course of sessions. ``store`` (None: none) keeps session memories."""

    def with_traits(state: CourseState, runtime: Runtime[RunContext]) -> dict:
        """The client's state, with its traits drawn if the course has none yet (deterministic: a re-run draws the same)."""
        client_state = state["client_state"]
        if client.params.legacy or client_state.get("traits") is not None:
            return client_state
        profile = CaseProfile.model_validate(state["profile"])
        traits = draw_traits(client.params, lambda name: derive_rng(runtime.context.seed, profile.id, "trait", name),
                             profile.traits)
        return {**client_state, "traits": traits.to_record()}

    def plan(state: CourseState, runtime: Runtime[RunContext]) -> dict:
        context = session_context(state)
        runtime.context.progress.session_started(context.client_id, context.session_index)
        seed = derive_seed(runtime.context.seed, context.client_id, context.session_index, "goal")
        goal = counselor.plan_goal(context, seed)
        client_state = with_traits(state, runtime)
        return {
            "goal": goal.text,
            "goal_source": goal.source,
            "client_state": client_state,
            "client_state_start": client_state,
            "turns": [],
            "ended_by": None,
            "questionnaires": {},
            "usage": {"counselor": sum_usage_of(goal.completions)},
        }

    def _self_report(state: CourseState, runtime: Runtime[RunContext], keys: tuple[str, ...], moment: str) -> dict:
        profile = CaseProfile.model_validate(state["profile"])
        index = state["session_index"]
        seed = derive_seed(runtime.context.seed, profile.id, index, f"questionnaires-{moment}")
        # What happened, in words: this session's turns after it, the week before it at its start.
        answers, completions = client.answer_questionnaires(
            profile, index, ClientState.from_state(state["client_state"]), keys, seed,
            turns=state.get("turns") or [], week=state.get("week"))
        return {
            "questionnaires": {**(state.get("questionnaires") or {}), **answers},
            "usage": add_usage(state["usage"], {"client": sum_usage_of(completions)}),
        }

    def report_before(state: CourseState, runtime: Runtime[RunContext]) -> dict:
        return _self_report(state, runtime, AT_START, "start")

    def report_after(state: CourseState, runtime: Runtime[RunContext]) -> dict:
        update = _self_report(state, runtime, AT_END, "end")
        if state["session_index"] >= runtime.context.sessions:
            # The course's exit assessment: symptoms once more, after the last session.
            exit_state = {**state, **update}
            exit_report = _self_report({**exit_state, "questionnaires": {}}, runtime, AT_START, "exit")
            update = {"questionnaires": {**update["questionnaires"], "exit": exit_report["questionnaires"]},
                      "usage": exit_report["usage"]}
        return update

    def memorize(state: CourseState, runtime: Runtime[RunContext]) -> dict:
        context = session_context(state)
        seed = derive_seed(runtime.context.seed, context.client_id, context.session_index, "memory")
        extracted = counselor.extract_memory(context, state["turns"], seed)
        return {
            "memory": extracted.memory.model_dump(mode="json"),
            "usage": add_usage(state["usage"], {"counselor": sum_usage_of(extracted.completions)}),
        }

    def record(state: CourseState, runtime: Runtime[RunContext]) -> dict:
        # Both writes are idempotent, so re-running this node after a crash
        # cannot duplicate a memory or a session record.
        profile = state["profile"]
        index = state["session_index"]
        memory = state["memory"]
        if store is not None:
            store.add_session(profile["id"], index, SessionMemory.model_validate(memory).as_text(),
                              exchange_chunks(state["turns"]))
        recorder.append_session(SessionRecord(
            campaign=runtime.context.campaign,
            client_id=profile["id"],
            session_index=index,
            counselor=counselor.name,
            models=runtime.context.models,
            seed=runtime.context.seed,
            goal=state["goal"],
            goal_source=state["goal_source"],
            turns=state["turns"],
            ended_by=state.get("ended_by") or "max_turns",
            client_state_start=state["client_state_start"],
            client_state_end=state["client_state"],
            week_before=state.get("week"),
            questionnaires=state["questionnaires"],
            memory=memory,
            usage=state["usage"],
        ))
        client_turns = sum(1 for t in state["turns"] if t["speaker"] == "client")
        runtime.context.progress.session_finished(profile["id"], index, client_turns)
        return {"memories": [memory], "transcripts": [state["turns"]]}

    def evolve(state: CourseState, runtime: Runtime[RunContext]) -> dict:
        profile = CaseProfile.model_validate(state["profile"])
        next_index = state["session_index"] + 1
        rng = derive_rng(runtime.context.seed, profile.id, next_index, "week")
        had_assignment = bool(state["memory"].get("counseling_assignments"))
        after, week = between_sessions(
            ClientState.from_state(state["client_state"]),
            list(profile.plan_for(next_index).life_events),
            had_assignment,
            client.params,
            rng,
        )
        update = {"client_state": after.get_state(), "week": week, "session_index": next_index}
        # Does the client come to the next session? (A client without traits always does.)
        decision = decide_return(after, ClientState.initial(profile), state["session_index"], client.params,
                                 derive_rng(runtime.context.seed, profile.id, next_index, "dropout"))
        if not decision.comes_back:
            update["course_end"] = {"ended_by": "dropout", **decision.to_record(state["session_index"])}
        return update

    def more_sessions(state: CourseState, runtime: Runtime[RunContext]) -> str:
        return "evolve" if state["session_index"] < runtime.context.sessions else END

    def comes_back(state: CourseState) -> str:
        return END if state.get("course_end") else "plan"

    graph = StateGraph(CourseState, context_schema=RunContext)
    graph.add_node("plan", plan)
    graph.add_node("report_before", report_before)
    graph.add_node("session", build_session_graph(counselor, client).compile())
    graph.add_node("report_after", report_after)
    graph.add_node("memorize", memorize)
    graph.add_node("record", record)
    graph.add_node("evolve", evolve)
    graph.add_edge(START, "plan")
    graph.add_edge("plan", "report_before")
    graph.add_edge("report_before", "session")
    graph.add_edge("session", "report_after")
    graph.add_edge("report_after", "memorize")
    graph.add_edge("memorize", "record")
    graph.add_conditional_edges("record", more_sessions, ["evolve", END])
    graph.add_conditional_edges("evolve", comes_back, ["plan", END])
    return graph
