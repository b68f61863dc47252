"""Running a prepared campaign: create (or resume) the run directory and run its client courses.

Each course is one LangGraph thread, run by the thread executor (this process) or
by the Ray executor (``config.executor``). When all courses are done the manifest
gets the campaign's usage, faults and risk. A campaign its infrastructure stopped
(a service that stayed away past ``service_retry.max_wait``, a full disk) ends
``interrupted`` with the reason, its records whole: ``resume`` finishes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from muspsy_sim.agents.llm.local.settings import choose_dtype
from muspsy_sim.agents.llm.spec import LOCAL

from ..config import ROLES
from ..core.course import WAITING
from ..core.errors import InputError
from ..core.interruptions import INTERRUPTED, Interruption
from ..core.usage import UsageTable, sum_tables
from ..engine.checkpointers import course_thread_id
from ..engine.components import build_components
from ..engine.states import NoProgress, ProgressEvents, RunContext
from ..evaluation.risk import campaign_risk
from ..record.run_directory import RunDirectory, RunDirectoryBusy
from ..record.schema import CourseEntry, LocalEngineRecord, Manifest, ScoringRecord, SessionRecord
from ..record.tallies import added_sentences, answer_tallies, fallback_heavy_sessions, fault_counts
from .courses import run_courses_in_threads
from .prepare import CampaignPlan
from .ray_executor import run_courses_on_ray


@dataclass
class CampaignResult:
    run_dir: Path
    status: str
    courses: dict[str, CourseEntry]  # the manifest's course entries
    sessions: list[SessionRecord] = field(default_factory=list)
    usage: UsageTable = field(default_factory=dict)
    wall_seconds: float = 0.0
    interruption: str | None = None  # why the campaign stopped before its courses were done (status interrupted)


def run_campaign(plan: CampaignPlan, progress: ProgressEvents | None = None,
                 notice: Callable[[str], None] | None = None) -> CampaignResult:
    """Run the plan's courses; ``notice`` gets what the run says before its first session (per role, what
    its model offers for choosing answers, with a warning when answers rest on its free-form JSON)."""
    run_dir = plan.run_dir
    resuming = run_dir.exists()
    try:
        run_dir.lock()
    except RunDirectoryBusy as error:
        raise InputError(run_dir.path, "", str(error).removeprefix(f"{run_dir.path} ")) from None
    try:
        return _run_locked(plan, run_dir, resuming, progress, notice)
    finally:
        run_dir.unlock()


# While courses run, manifest.json is rewritten at most this often (record.run_directory).
MANIFEST_WRITE_SECONDS = 1.0


def _run_locked(plan: CampaignPlan, run_dir: RunDirectory, resuming: bool, progress, notice) -> CampaignResult:
    config = plan.config
    started = time.perf_counter()
    try:
        run_dir.open(None if resuming else Manifest.new(config, plan.source, [p.id for p in plan.profiles]))
        components = build_components(config, run_dir)
        scoring = _scoring_records(components, notice)
        run_dir.update_manifest(status="running", components=components.describe(), **_engine_fields(config),
                                **({"scoring": scoring} if scoring else {}))
        context = RunContext(
            campaign=config.name,
            seed=config.seed,
            sessions=config.sessions,
            max_turns=config.max_turns,
            models={role: getattr(config.models, role).model.text for role in ROLES},
            progress=progress or NoProgress(),
        )
        started = time.perf_counter()
        threads = {profile.id: course_thread_id(config, profile.id) for profile in plan.profiles}
        run_dir.coalesce_manifest_writes(MANIFEST_WRITE_SECONDS)
        try:
            if config.executor == "ray":
                interruption = run_courses_on_ray(config, plan.profiles, run_dir, context, context.progress, threads)
            else:
                interruption = run_courses_in_threads(config, components, plan.profiles, run_dir, context, threads)
        finally:
            run_dir.coalesce_manifest_writes(0.0)
        return finish_run(run_dir, time.perf_counter() - started, interruption)
    except Interruption as error:
        # Stopped before the courses could be accounted for (a store away at the start, the manifest
        # unwritable): what is on disk stays as it is, whole, and `resume` goes on from it.
        courses = dict(run_dir.read_manifest().courses) if run_dir.exists() else {}
        return CampaignResult(run_dir.path, INTERRUPTED, courses, run_dir.records(),
                              wall_seconds=time.perf_counter() - started, interruption=str(error))


def _scoring_records(components, notice: Callable[[str], None] | None) -> dict[str, ScoringRecord]:
    """What each role's model offers for choosing answers, said (``notice``) and recorded before the first session."""
    records = {}
    for role, offer in components.scoring_offers().items():
        if isinstance(offer, str):
            words = f"WARNING: {role}: what its model offers for answers {offer}"
            records[role] = ScoringRecord(model=getattr(components.client.llm, "model", ""), scoring="?", note=words)
        else:
            words = offer.words(role)
            records[role] = ScoringRecord(model=offer.model, scoring=offer.scoring, logprobs=offer.logprobs,
                                          schema_enforced=offer.schema, free_form=offer.free_form, note=words)
        if notice is not None:
            notice(words)
    return records


def _engine_fields(config) -> dict:
    """The in-process engine's settings for the manifest, when a role runs a ``local/`` model."""
    if not any(getattr(config.models, role).model.serving.provider == LOCAL
               for role in ROLES):
        return {}
    choice = choose_dtype()
    return {"local_engine": LocalEngineRecord(dtype=choice.dtype, reason=choice.reason)}


def finish_run(run_dir: RunDirectory, seconds: float, interruption: str | None = None) -> CampaignResult:
    """The account a run's manifest gets when its courses stop: status, usage, time, sessions, risk, faults,
    answers filled in; with ``answer_fallbacks.strict``, a course with a session above the threshold fails.
    ``interruption``: why the executor stopped the campaign early (then it is ``interrupted``)."""
    sessions = sorted(run_dir.records(), key=lambda r: r.key)
    manifest = run_dir.read_manifest()
    policy = manifest.config.answer_fallbacks
    heavy = fallback_heavy_sessions(sessions, policy.threshold)
    if policy.strict:
        for client_id in sorted({entry.client_id for entry in heavy}):
            over = [e for e in heavy if e.client_id == client_id]
            worst = max(over, key=lambda e: e.fallbacks / e.asked)
            run_dir.set_course(client_id, status="failed", error=(
                f"strict: {len(over)} session(s) above the fallback threshold ({policy.threshold:.0%}); session "
                f"{worst.session_index}: {worst.fallbacks} of {worst.asked} {worst.what()} filled in"))
        manifest = run_dir.read_manifest()
    if interruption is not None or any(c.status == INTERRUPTED for c in manifest.courses.values()):
        status = INTERRUPTED
        interruption = interruption or next(
            (c.error for c in manifest.courses.values() if c.status == INTERRUPTED and c.error),
            "a course was interrupted (no reason recorded)")
    else:
        statuses = {c.status for c in manifest.courses.values()}
        status = "finished" if statuses <= {"finished"} else WAITING if statuses <= {"finished", WAITING} else "failed"
    usage = sum_tables(r.usage for r in sessions)
    courses = dict(manifest.courses)
    run_dir.update_manifest(
        status=status,
        usage=usage,
        wall_seconds=round((manifest.wall_seconds or 0.0) + seconds, 3),
        sessions_recorded=len(sessions),
        risk=campaign_risk(sessions),
        faults=fault_counts(usage, courses),
        answers=answer_tallies(sessions),
        fallback_heavy_sessions=heavy,
        client_sentences_added=sum(len(added_sentences(r)) for r in sessions),
    )
    return CampaignResult(run_dir.path, status, courses, sessions, usage, seconds, interruption)
