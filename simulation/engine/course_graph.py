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

from muspsy_sim.agents.client.base import Client, PersonClient
from muspsy_sim.agents.client.dropout import decide_return
from muspsy_sim.agents.client.dynamics import between_sessions
from muspsy_sim.agents.client.state import ClientState
from muspsy_sim.agents.counselor.base import Counselor
from muspsy_sim.agents.llm import usage_of
from muspsy_sim.memory.base import SessionStore
from muspsy_sim.scenarios.profile import CaseProfile

from ..core.course import COURSE_DROPOUT
from ..core.questionnaires import AT_END, AT_START
from ..core.turns import HUMAN, client_turn_count, exchange_chunks, heard_assignment
from ..core.usage import add_tables, plain_table
from ..record.schema import SessionRecord
from ..seeding import derive_rng, derive_seed
from .session_graph import build_session_graph, usage_update
from .states import CourseState, RunContext, StateView, campaign_traits
from .store_watch import WatchedStore


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


def _person_fields(client: Client, view: StateView) -> dict:
    """What a session record adds when a person played the client: who, and their ratings of each counselor turn."""
    if not isinstance(client, PersonClient):
        return {}
    return {"client": HUMAN, "rater": client.rater, "turn_ratings": list(view.turn_ratings)}


def build_course_graph(counselor: Counselor, client: Client, store: SessionStore | None,
                       recorder: SessionRecorder) -> StateGraph:
    """One client's course of sessions. ``store`` (None: none) keeps session memories."""
    # A person's ratings of the last session's turns are replaced at each session's start.
    fresh_ratings = {"turn_ratings": []} if isinstance(client, PersonClient) else {}

    def with_traits(view: StateView, runtime: Runtime[RunContext]) -> dict:
        """The client's state, with its traits drawn if the course has none yet (deterministic: a re-run draws the same).

        None are drawn under the legacy dynamics, or for a person in the client's chair (what a person feels
        and does is theirs; the state only keeps the weeks' bookkeeping)."""
        client_state = view.client_state
        if client.params.legacy or isinstance(client, PersonClient) or client_state.traits is not None:
            return client_state.get_state()
        traits = campaign_traits(client.params, runtime.context.seed, view.profile)
        return client_state.model_copy(update={"traits": traits}).get_state()

    def plan(state: CourseState, runtime: Runtime[RunContext]) -> dict:
        view = StateView(state)
        context = view.counselor_context()
        runtime.context.progress.session_started(context.client_id, context.session_index)
        seed = derive_seed(runtime.context.seed, context.client_id, context.session_index, "goal")
        goal = counselor.plan_goal(context, seed)
        client_state = with_traits(view, runtime)
        return {
            "goal": goal.text,
            "goal_source": goal.source,
            "client_state": client_state,
            "client_state_start": client_state,
            "turns": [],
            "ended_by": None,
            "questionnaires": {},
            "usage": usage_update("counselor", goal.completions),
            **fresh_ratings,
        }

    def _self_report(view: StateView, runtime: Runtime[RunContext], keys: tuple[str, ...], moment: str):
        """The client's answers to ``keys``, and the usage table with their model calls added."""
        profile, index = view.profile, view.session_index
        seed = derive_seed(runtime.context.seed, profile.id, index, f"questionnaires-{moment}")
        # What happened, in words: this session's turns after it, the week before it at its start.
        answers, completions = client.answer_questionnaires(profile, index, view.client_state, keys, seed,
                                                            turns=view.turns, week=view.week)
        return answers, add_tables(view.usage, {"client": usage_of(completions)})

    def report_before(state: CourseState, runtime: Runtime[RunContext]) -> dict:
        view = StateView(state)
        answers, usage = _self_report(view, runtime, AT_START, "start")
        return {"questionnaires": view.questionnaires.answered(answers).to_dict(), "usage": plain_table(usage)}

    def report_after(state: CourseState, runtime: Runtime[RunContext]) -> dict:
        view = StateView(state)
        answers, usage = _self_report(view, runtime, AT_END, "end")
        reported = view.questionnaires.answered(answers)
        if view.session_index >= runtime.context.sessions:
            # The course's exit assessment: symptoms once more, after the last session.
            exit_view = StateView({**state, "usage": plain_table(usage)})
            exit_answers, usage = _self_report(exit_view, runtime, AT_START, "exit")
            reported = reported.answered(exit_answers, exit=True)
        return {"questionnaires": reported.to_dict(), "usage": plain_table(usage)}

    def memorize(state: CourseState, runtime: Runtime[RunContext]) -> dict:
        view = StateView(state)
        context = view.counselor_context()
        seed = derive_seed(runtime.context.seed, context.client_id, context.session_index, "memory")
        extracted = counselor.extract_memory(context, view.turns, seed)
        return {
            "memory": extracted.memory.to_dict(),
            "usage": plain_table(add_tables(view.usage, {"counselor": usage_of(extracted.completions)})),
        }

    def record(state: CourseState, runtime: Runtime[RunContext]) -> dict:
        # Both writes are idempotent, so re-running this node after a crash
        # cannot duplicate a memory or a session record.
        view = StateView(state)
        profile, index, memory = view.profile, view.session_index, view.memory
        if store is not None:
            store.add_session(profile.id, index, memory.as_text(), exchange_chunks(view.turns))
        recorder.append_session(SessionRecord(
            campaign=runtime.context.campaign,
            client_id=profile.id,
            session_index=index,
            counselor=counselor.name,
            models=runtime.context.models,
            seed=runtime.context.seed,
            goal=view.goal,
            goal_source=view.goal_source,
            turns=list(view.turns),
            ended_by=view.ended_by or "max_turns",
            client_state_start=view.client_state_start.get_state(),
            client_state_end=view.client_state.get_state(),
            week_before=view.week,
            questionnaires=view.questionnaires,
            memory=memory,
            usage=view.usage,
            **_person_fields(client, view),
        ))
        runtime.context.progress.session_finished(profile.id, index, client_turn_count(view.turns))
        if index >= runtime.context.sessions:  # every planned session held: the course is over
            runtime.context.progress.course_ended(profile.id, index)
        return {"memories": [memory.to_dict()], "transcripts": [[turn.to_dict() for turn in view.turns]]}

    def evolve(state: CourseState, runtime: Runtime[RunContext]) -> dict:
        view = StateView(state)
        profile = view.profile
        next_index = view.session_index + 1
        rng = derive_rng(runtime.context.seed, profile.id, next_index, "week")
        # The client does homework it heard (the closing turn's assignment), whatever the counselor's memory says.
        had_assignment = heard_assignment(view.turns) is not None
        after, week = between_sessions(view.client_state, list(profile.plan_for(next_index).life_events),
                                       had_assignment, client.params, rng)
        update = {"client_state": after.get_state(), "week": week.to_dict(), "session_index": next_index}
        if isinstance(client, PersonClient):
            return update  # a person decides for themselves whether they come back: no simulated dropout
        # Does the client come to the next session? (A client without traits always does.)
        decision = decide_return(after, ClientState.initial(profile), view.session_index, client.params,
                                 derive_rng(runtime.context.seed, profile.id, next_index, "dropout"))
        if not decision.comes_back:
            update["course_end"] = {"ended_by": COURSE_DROPOUT, **decision.dropout(view.session_index).to_dict()}
            runtime.context.progress.course_ended(profile.id, view.session_index)
        return update

    def more_sessions(state: CourseState, runtime: Runtime[RunContext]) -> str:
        return "evolve" if StateView(state).session_index < runtime.context.sessions else END

    def comes_back(state: CourseState) -> str:
        return END if StateView(state).dropout is not None else "plan"

    graph = StateGraph(CourseState, context_schema=RunContext)
    graph.add_node("plan", plan)
    graph.add_node("report_before", report_before)
    watched = store if isinstance(store, WatchedStore) else None
    graph.add_node("session", build_session_graph(counselor, client, watched).compile())
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
