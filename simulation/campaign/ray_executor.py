"""Client courses as Ray tasks, on a local Ray instance or a cluster.

Each task builds its own agents from the config and runs the same course graph
(``simulation.campaign.courses.run_course``) as the thread executor. Shared state lives
in services every worker reaches: memories in a Chroma server, checkpoints in
Postgres (or, on a local instance only, the run directory's SQLite file). Session
records reach the driver's ``sessions.jsonl`` through a recorder actor pinned to
the driver's node; the ``record`` node waits for its reply, so a record is on
disk before the checkpoint that follows it, exactly as in the thread executor.
Ray is imported only when a Ray campaign runs.

Workers import this project as the driver's Python environment has it installed (every node of a
cluster installs it the same way), and nothing else of the driver's machine: the one exception is the
package of a plugged-in counselor (``package.module:Class``) that is not installed, which Ray ships to
the workers with the job it starts (``py_modules``; on a Ray instance this process joined already, such a
package must be importable on the workers).
"""

from __future__ import annotations

import importlib.util
import os
import site
import socket
from dataclasses import replace
from pathlib import Path

from muspsy_sim.agents.counselor.registry import BUILTIN_COUNSELORS
from muspsy_sim.agents.llm.environment import OFFLINE_ENVIRONMENT, configure_offline_environment
from muspsy_sim.scenarios.profile import CaseProfile

from ..config import CampaignConfig
from ..core.errors import InputError
from ..core.interruptions import INTERRUPTED, CampaignStop, Interruption
from ..engine.checkpointers import create_checkpoint_tables, open_checkpointer
from ..engine.components import build_components
from ..engine.course_graph import build_course_graph
from ..engine.states import NoProgress, ProgressEvents, RunContext
from ..record.run_directory import RunDirectory
from ..record.schema import SessionRecord
from .courses import run_course

# Environment the workers need besides the offline settings (model cache, API keys stay per node).
_PASSED_THROUGH = ("MUSPSY_SIM_CACHE",)
_POLL_SECONDS = 0.5


def check_ray_settings(config: CampaignConfig, source: str) -> None:
    """A Ray campaign keeps no state in one machine's files (SQLite is allowed on a local instance only)."""
    if config.executor != "ray":
        return
    if importlib.util.find_spec("ray") is None:
        raise InputError(source, "executor", "ray is not installed (pip install 'ray==2.60.0')")
    if config.memory.chroma_url is None:
        raise InputError(source, "memory.chroma_url", "executor ray needs a Chroma server every worker can reach "
                                                      "(chroma run ...); the embedded store is one process's files")
    if config.ray_address is not None and config.checkpointer_url is None:
        raise InputError(source, "checkpointer_url", "a Ray cluster needs a shared checkpointer: a postgresql:// URL "
                                                     "(checkpoints.sqlite is one machine's file)")


def _runtime_env() -> dict:
    env = {name: os.environ.get(name, value) for name, value in OFFLINE_ENVIRONMENT.items()}
    env.update({name: os.environ[name] for name in _PASSED_THROUGH if name in os.environ})
    return {"env_vars": env}


def plugin_modules(config: CampaignConfig) -> list[str]:
    """The folder (or file) of a plugged-in counselor's top-level package when no site directory holds it:
    what the workers cannot import unless Ray ships it."""
    if BUILTIN_COUNSELORS.get(config.counselor) is not None:
        return []
    top = config.counselor.partition(":")[0].split(".")[0]
    if not top or top == "muspsy_sim":
        return []
    # Plugin loading: where the counselor's package is found from here (it is imported by name anyway).
    found = importlib.util.find_spec(top)
    if found is None:
        return []
    location = Path(next(iter(found.submodule_search_locations or []), None) or found.origin or "").resolve()
    installed = [Path(path).resolve() for path in (*site.getsitepackages(), site.getusersitepackages())]
    if not location.exists() or any(location.is_relative_to(path) for path in installed):
        return []
    return [str(location)]


class SessionRecorderActor:
    """Runs on the driver's node: appends session records and queues progress events for the driver."""

    def __init__(self, run_dir: str):
        self.run_dir = RunDirectory(Path(run_dir))
        self.run_dir.open()
        self.events: list[tuple[str, tuple]] = []

    def append_session(self, record: SessionRecord) -> bool:
        return self.run_dir.append_session(record)

    def sessions_recorded(self, client_id: str) -> int:
        return self.run_dir.sessions_recorded(client_id)

    def progress(self, event: str, args: tuple) -> None:
        self.events.append((event, args))

    def drain(self) -> list[tuple[str, tuple]]:
        events, self.events = self.events, []
        return events


class RemoteRecorder:
    """The course graph's recorder inside a task: waits until the driver has the record on disk."""

    def __init__(self, actor):
        self.actor = actor

    def append_session(self, record: SessionRecord) -> bool:
        import ray  # lazy: Ray loads only inside a Ray task

        try:
            return ray.get(self.actor.append_session.remote(record))
        except ray.exceptions.RayTaskError as error:
            if isinstance(error.cause, Interruption):  # the driver's disk is full: the course stops as interrupted
                raise error.cause from None
            raise


class RemoteProgress:
    """Progress events from a task, relayed (without waiting) to the driver's display."""

    def __init__(self, actor):
        self.actor = actor

    def session_started(self, client_id: str, session_index: int) -> None:
        self.actor.progress.remote("session_started", (client_id, session_index))

    def turn_done(self, client_id: str) -> None:
        self.actor.progress.remote("turn_done", (client_id,))

    def session_finished(self, client_id: str, session_index: int, client_turns: int) -> None:
        self.actor.progress.remote("session_finished", (client_id, session_index, client_turns))

    def course_ended(self, client_id: str, sessions_held: int) -> None:
        self.actor.progress.remote("course_ended", (client_id, sessions_held))


def run_course_task(config_data: dict, run_dir: str, profile_data: dict, context: RunContext, actor,
                    thread_id: str) -> dict:
    """One client course inside a Ray worker; returns its manifest entry."""
    configure_offline_environment()
    config = CampaignConfig.model_validate(config_data)
    profile = CaseProfile.model_validate(profile_data)
    components = build_components(config, RunDirectory(Path(run_dir)))
    course = build_course_graph(components.counselor, components.client, components.store, RemoteRecorder(actor))
    with open_checkpointer(config, Path(run_dir), setup=False) as checkpointer:
        graph = course.compile(checkpointer=checkpointer)
        outcome = run_course(graph, profile, replace(context, progress=RemoteProgress(actor)), thread_id)
    # Which machine and process ran the course: where to look for its worker's log.
    return {**outcome, "ran_on": f"{socket.gethostname()} pid {os.getpid()}"}


def run_courses_on_ray(config: CampaignConfig, profiles: list[CaseProfile], run_dir: RunDirectory,
                       context: RunContext, progress: ProgressEvents, thread_ids: dict[str, str]) -> str | None:
    """Run every course as a Ray task, at most ``config.workers`` at a time; the driver keeps the manifest.

    Returns why the campaign was interrupted (the first course's reason), or None.
    """
    # lazy: Ray loads only when a Ray campaign runs
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    create_checkpoint_tables(config, run_dir.path)
    owns_connection = not ray.is_initialized()
    if owns_connection:
        # Joins ray_address; without one, the instance on this machine or a new local one for this command.
        # A plugged-in counselor's package that is not installed travels with the job (Ray ships local
        # folders at the job level only).
        job_env = {"py_modules": plugin_modules(config)} if plugin_modules(config) else None
        ray.init(address=config.ray_address, include_dashboard=False, log_to_driver=False, runtime_env=job_env)
    runtime_env = _runtime_env()
    recorder_class = ray.remote(num_cpus=0, max_restarts=0)(SessionRecorderActor)
    actor = recorder_class.options(
        runtime_env=runtime_env,
        scheduling_strategy=NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False),
    ).remote(str(run_dir.path.resolve()))
    # Ray retries a task whose worker or node died; the retry resumes the course from its checkpoint.
    task = ray.remote(num_cpus=1, max_retries=2)(run_course_task).options(runtime_env=runtime_env)
    config_data = config.model_dump(mode="json")
    # The driver's display cannot travel to a worker; tasks relay through the actor instead.
    quiet_context = replace(context, progress=NoProgress())
    waiting = list(profiles)
    running: dict = {}
    stop = CampaignStop()
    try:
        while running or (waiting and not stop.stopping):
            while waiting and not stop.stopping and len(running) < config.workers:
                profile = waiting.pop(0)
                try:
                    run_dir.set_course(profile.id, status="running")
                except Interruption as error:
                    stop.record(str(error))
                    break
                ref = task.remote(config_data, str(run_dir.path.resolve()), profile.model_dump(mode="json"),
                                  quiet_context, actor, thread_ids[profile.id])
                running[ref] = profile.id
            if not running:
                break
            finished, _ = ray.wait(list(running), num_returns=1, timeout=_POLL_SECONDS)
            _relay(ray.get(actor.drain.remote()), progress)
            for ref in finished:
                client_id = running.pop(ref)
                outcome = _outcome(ref)
                if outcome["status"] == INTERRUPTED:
                    stop.record(outcome["error"])
                    outcome.setdefault("sessions_done", ray.get(actor.sessions_recorded.remote(client_id)))
                elif "sessions_done" not in outcome:
                    outcome["sessions_done"] = ray.get(actor.sessions_recorded.remote(client_id))
                try:
                    run_dir.set_course(client_id, **outcome)
                except Interruption as error:
                    stop.record(str(error))
        _relay(ray.get(actor.drain.remote()), progress)
    finally:
        ray.kill(actor)
        if owns_connection:
            ray.shutdown()
    return stop.reason


def _relay(events: list[tuple[str, tuple]], progress: ProgressEvents) -> None:
    for event, args in events:
        getattr(progress, event)(*args)


def _outcome(ref) -> dict:
    import ray  # lazy: Ray loads only when a Ray campaign runs

    try:
        return ray.get(ref)
    except ray.exceptions.RayError as error:  # the task itself failed (agents not built, worker lost)
        cause = getattr(error, "cause", None) or error
        if isinstance(cause, Interruption):  # the store was away or full while the task built its agents
            return {"status": INTERRUPTED, "error": str(cause)}
        reason = " ".join(str(cause).split())[:500]
        return {"status": "failed", "error": f"{type(cause).__name__}: {reason}"}
