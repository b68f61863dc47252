"""Running client courses: one course on a compiled course graph (the step every executor runs, here
and in a Ray task, ``ray_executor``), and a campaign's courses as threads of this process, sharing one
compiled graph and checkpointer."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, as_completed

from langgraph.graph.state import CompiledStateGraph

from muspsy_sim.agents.llm import failure_entry
from muspsy_sim.scenarios.profile import CaseProfile

from ..config import CampaignConfig
from ..core.course import COURSE_COMPLETED, COURSE_DROPOUT
from ..engine.checkpointers import open_checkpointer
from ..engine.components import Components
from ..engine.course_graph import initial_course_state
from ..engine.states import RunContext, StateView
from ..record.run_directory import RunDirectory


def run_course(graph: CompiledStateGraph, profile: CaseProfile, context: RunContext, thread_id: str) -> dict:
    """Run or resume one client course; returns its manifest entry (status, sessions_done, failure)."""
    thread = {"configurable": {"thread_id": thread_id}, "recursion_limit": 10_000}
    # Any checkpoint means the course has started: resuming with None lets LangGraph
    # apply writes saved before a crash and go on. (An empty `next` alone is not
    # "finished": a kill between a node's writes and the next checkpoint leaves one.)
    started = graph.get_state(thread).metadata is not None
    try:
        graph.invoke(None if started else initial_course_state(profile), thread, context=context)
    except Exception as error:  # one failed course must not stop the others
        done = StateView(graph.get_state(thread).values).sessions_done
        # A FailedStep's reason reads "<role> <step>: <reason>"; other errors keep their type.
        return {"status": "failed", "sessions_done": done, **failure_entry(error)}
    state = graph.get_state(thread)
    done = StateView(state.values).sessions_done
    if state.interrupts:  # a counselor or client that waits for a person (simulation/practice) stopped the course
        return {"status": "failed", "sessions_done": done,
                "error": "the course waits for a person: continue it with `run_sim.py practice` "
                         "(with --as client when a person plays the client)"}
    return {"status": "finished", "sessions_done": done, **course_outcome(StateView(state.values))}


def course_outcome(course: StateView) -> dict:
    """How a finished course ended, for its manifest entry: completed or dropout (with why), and the client's traits."""
    dropout = course.dropout
    outcome: dict = {"ended_by": COURSE_COMPLETED} if dropout is None else \
        {"ended_by": COURSE_DROPOUT, "dropout": dropout.to_dict()}
    traits = course.client_state.traits if "client_state" in course else None
    if traits is not None:
        outcome["traits"] = traits.to_dict()
    return outcome


def run_courses_in_threads(config: CampaignConfig, components: Components, profiles: list[CaseProfile],
                           run_dir: RunDirectory, context: RunContext, thread_ids: dict[str, str]) -> None:
    """Run every course, at most ``config.workers`` at a time; each course's outcome goes into the manifest."""
    with open_checkpointer(config, run_dir.path) as checkpointer:
        graph = components.course_graph().compile(checkpointer=checkpointer)
        with ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="course") as pool:
            futures = [pool.submit(_run_one, graph, profile, context, run_dir, thread_ids[profile.id])
                       for profile in profiles]
            for future in as_completed(futures):
                future.result()


def _run_one(graph: CompiledStateGraph, profile: CaseProfile, context: RunContext, run_dir: RunDirectory,
             thread_id: str) -> None:
    run_dir.set_course(profile.id, status="running")
    run_dir.set_course(profile.id, **run_course(graph, profile, context, thread_id))
