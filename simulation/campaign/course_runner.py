"""One client course on a compiled course graph: the step every executor (threads, Ray) runs."""

from __future__ import annotations

from langgraph.graph.state import CompiledStateGraph

from muspsy_sim.agents.llm import failure_entry
from muspsy_sim.scenarios.profile import CaseProfile
from muspsy_sim.simulation.engine.course_graph import initial_course_state
from muspsy_sim.simulation.engine.run_context import RunContext


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
        done = len(graph.get_state(thread).values.get("memories", []))
        # A FailedStep's reason reads "<role> <step>: <reason>"; other errors keep their type.
        return {"status": "failed", "sessions_done": done, **failure_entry(error)}
    state = graph.get_state(thread)
    done = len(state.values.get("memories", []))
    if state.interrupts:  # a counselor that waits for a person (simulation/practice) stopped the course
        return {"status": "failed", "sessions_done": done,
                "error": "the course waits for a person's turn: continue it with `run_sim.py practice`"}
    return {"status": "finished", "sessions_done": done, **course_outcome(state.values)}


def course_outcome(values: dict) -> dict:
    """How a finished course ended, for its manifest entry: completed or dropout (with why), and the client's traits."""
    end = values.get("course_end")
    outcome: dict = {"ended_by": "dropout", "dropout": {k: v for k, v in end.items() if k != "ended_by"}} if end \
        else {"ended_by": "completed"}
    traits = (values.get("client_state") or {}).get("traits")
    if traits is not None:
        outcome["traits"] = traits
    return outcome
