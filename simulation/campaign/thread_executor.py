"""Client courses as threads of this process, sharing one compiled course graph and checkpointer."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, as_completed

from langgraph.graph.state import CompiledStateGraph

from muspsy_sim.scenarios.base.interruptions import Interruption
from muspsy_sim.scenarios.profile import CaseProfile
from muspsy_sim.simulation.campaign.course_runner import INTERRUPTED, CampaignStop, run_course
from muspsy_sim.simulation.config import CampaignConfig
from muspsy_sim.simulation.engine.checkpointers import open_checkpointer
from muspsy_sim.simulation.engine.components import Components
from muspsy_sim.simulation.engine.run_context import RunContext
from muspsy_sim.simulation.record.run_directory import RunDirectory


def run_courses_in_threads(config: CampaignConfig, components: Components, profiles: list[CaseProfile],
                           run_dir: RunDirectory, context: RunContext, thread_ids: dict[str, str]) -> str | None:
    """Run every course, at most ``config.workers`` at a time; each course's outcome goes into the manifest.

    Returns why the campaign was interrupted (the first course's reason), or None.
    """
    stop = CampaignStop()
    with open_checkpointer(config, run_dir.path) as checkpointer:
        graph = components.course_graph().compile(checkpointer=checkpointer)
        with ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="course") as pool:
            futures = [pool.submit(_run_one, graph, profile, context, run_dir, thread_ids[profile.id], stop)
                       for profile in profiles]
            for future in as_completed(futures):
                future.result()
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
