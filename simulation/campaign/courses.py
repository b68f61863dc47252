"""Running client courses: one course on a compiled course graph (the step every executor runs, here
and in a Ray task, ``ray_executor``), and a campaign's courses as threads of this process, sharing one
compiled graph and checkpointer.

A course its infrastructure stopped (a service that stayed away, a full disk: a kernel
``Interruption``) is ``interrupted``, not failed, and the first one stops the campaign (``CampaignStop``):
courses not yet started stay, running ones stop at their next turn. Ctrl+C stops it the same way.
``resume`` finishes them.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import replace

from langgraph.graph.state import CompiledStateGraph

from muspsy_sim.agents.llm import failure_entry
from muspsy_sim.scenarios.profile import CaseProfile

from ..config import CampaignConfig
from ..core.course import COURSE_COMPLETED, COURSE_DROPOUT
from ..core.interruptions import INTERRUPTED, CampaignStop, Interruption
from ..engine.checkpointers import open_checkpointer
from ..engine.components import Components
from ..engine.course_graph import initial_course_state
from ..engine.states import RunContext, StateView
from ..record.run_directory import RunDirectory


def run_course(graph: CompiledStateGraph, profile: CaseProfile, context: RunContext, thread_id: str) -> dict:
    """Run or resume one client course; returns its manifest entry (status, sessions_done, failure).

    A course its infrastructure stopped (a service that stayed away, a full disk) is ``interrupted``,
    without ``sessions_done``: the store that would say has just failed, so the executor counts them (as
    for a failed course whose checkpoints cannot be read).
    """
    thread = {"configurable": {"thread_id": thread_id}, "recursion_limit": 10_000}
    try:
        # Any checkpoint means the course has started: resuming with None lets LangGraph
        # apply writes saved before a crash and go on. (An empty `next` alone is not
        # "finished": a kill between a node's writes and the next checkpoint leaves one.)
        started = graph.get_state(thread).metadata is not None
        # durability="sync": each step's checkpoint is saved before the next step runs. With LangGraph's
        # default ("async") a save that fails (a full disk, a database away) surfaces only when the graph
        # exits, after later steps already wrote their session to the record and called the models;
        # `resume` would then run those steps again, and the record and the course's state would disagree.
        graph.invoke(None if started else initial_course_state(profile), thread, context=context,
                     durability="sync")
        state = graph.get_state(thread)
    except Interruption as error:
        return {"status": INTERRUPTED, "error": str(error)}
    except Exception as error:  # one failed course must not stop the others
        try:
            done = StateView(graph.get_state(thread).values).sessions_done
        except Interruption as stopped:
            return {"status": INTERRUPTED, "error": str(stopped)}
        except Exception:  # the checkpoints cannot be read either: the executor counts the recorded sessions
            return {"status": "failed", **failure_entry(error)}
        # A FailedStep's reason reads "<role> <step>: <reason>"; other errors keep their type.
        return {"status": "failed", "sessions_done": done, **failure_entry(error)}
    done = StateView(state.values).sessions_done
    if state.interrupts:  # a counselor or client that waits for a person (simulation/practice): `practice` goes on
        return {"status": "waiting", "sessions_done": done}  # core.course.WAITING
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


STOPPED_BY_USER = "stopped by Ctrl+C"


def run_courses_in_threads(config: CampaignConfig, components: Components, profiles: list[CaseProfile],
                           run_dir: RunDirectory, context: RunContext, thread_ids: dict[str, str]) -> str | None:
    """Run every course, at most ``config.workers`` at a time; each course's outcome goes into the manifest.

    Returns why the campaign was interrupted (the first course's reason), or None.
    """
    stop = CampaignStop()
    context = replace(context, stop=stop)
    with open_checkpointer(config, run_dir.path) as checkpointer:
        graph = components.course_graph().compile(checkpointer=checkpointer)
        with ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="course") as pool:
            futures = [pool.submit(_run_one, graph, profile, context, run_dir, thread_ids[profile.id], stop)
                       for profile in profiles]
            try:
                for future in as_completed(futures):
                    future.result()
            except KeyboardInterrupt:
                # Courses not started stay pending; running ones stop at their next turn, interrupted (a
                # second Ctrl+C ends the process at once: `resume` finds those courses running).
                stop.record(STOPPED_BY_USER)
                pool.shutdown(wait=True, cancel_futures=True)
    return stop.reason


def _run_one(graph: CompiledStateGraph, profile: CaseProfile, context: RunContext, run_dir: RunDirectory,
             thread_id: str, stop: CampaignStop) -> None:
    if stop.stopping:
        return  # the campaign is stopping: this course keeps its status and waits for `resume`
    try:
        run_dir.set_course(profile.id, status="running")
        entry = run_course(graph, profile, context, thread_id)
    except Interruption as error:  # the manifest could not be written (a full disk)
        entry = {"status": INTERRUPTED, "error": str(error)}
    if entry["status"] == INTERRUPTED:
        stop.record(entry["error"])
    entry.setdefault("sessions_done", run_dir.sessions_recorded(profile.id))
    try:
        run_dir.set_course(profile.id, **entry)
    except Interruption as error:
        stop.record(str(error))  # the manifest keeps the course's earlier status; `resume` runs it again
