"""One client course on a compiled course graph: the step every executor (threads, Ray) runs."""

from __future__ import annotations

import threading

from langgraph.graph.state import CompiledStateGraph

from muspsy_sim.agents.llm import failure_entry
from muspsy_sim.scenarios.base.interruptions import Interruption
from muspsy_sim.scenarios.profile import CaseProfile
from muspsy_sim.simulation.engine.course_graph import initial_course_state
from muspsy_sim.simulation.engine.run_context import RunContext

INTERRUPTED = "interrupted"


def run_course(graph: CompiledStateGraph, profile: CaseProfile, context: RunContext, thread_id: str) -> dict:
    """Run or resume one client course; returns its manifest entry (status, sessions_done, failure).

    A course its infrastructure stopped (a service that stayed away, a full disk) is ``interrupted``,
    without ``sessions_done``: the store that would say has just failed, so the executor counts them.
    """
    thread = {"configurable": {"thread_id": thread_id}, "recursion_limit": 10_000}
    try:
        # Any checkpoint means the course has started: resuming with None lets LangGraph
        # apply writes saved before a crash and go on. (An empty `next` alone is not
        # "finished": a kill between a node's writes and the next checkpoint leaves one.)
        started = graph.get_state(thread).metadata is not None
        graph.invoke(None if started else initial_course_state(profile), thread, context=context)
        state = graph.get_state(thread)
    except Interruption as error:
        return {"status": INTERRUPTED, "error": str(error)}
    except Exception as error:  # one failed course must not stop the others
        try:
            done = len(graph.get_state(thread).values.get("memories", []))
        except Interruption as stopped:
            return {"status": INTERRUPTED, "error": str(stopped)}
        # A FailedStep's reason reads "<role> <step>: <reason>"; other errors keep their type.
        return {"status": "failed", "sessions_done": done, **failure_entry(error)}
    done = len(state.values.get("memories", []))
    if state.interrupts:  # a counselor that waits for a person (simulation/practice) stopped the course
        return {"status": "failed", "sessions_done": done,
                "error": "the course waits for a person's turn: continue it with `run_sim.py practice`"}
    return {"status": "finished", "sessions_done": done}


class CampaignStop:
    """Set by the first course its infrastructure interrupted: courses not yet started stay for `resume`.

    A service that stayed away past the wait, or a full disk, would stop every other course too.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reason: str | None = None

    def record(self, reason: str) -> None:
        with self._lock:
            if self.reason is None:
                self.reason = reason

    @property
    def stopping(self) -> bool:
        return self.reason is not None
