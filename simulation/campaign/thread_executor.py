"""Client courses as threads of this process, sharing one compiled course graph and checkpointer."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, as_completed

from langgraph.graph.state import CompiledStateGraph

from muspsy_sim.scenarios.profile import CaseProfile
from muspsy_sim.simulation.campaign.course_runner import run_course
from muspsy_sim.simulation.config import CampaignConfig
from muspsy_sim.simulation.engine.checkpointers import open_checkpointer
from muspsy_sim.simulation.engine.components import Components
from muspsy_sim.simulation.engine.run_context import RunContext
from muspsy_sim.simulation.record.run_directory import RunDirectory


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
