"""A practice run: one client course with a person in one chair, in an ordinary run directory.

The config is a campaign config with one scenario and the human counselor (``practice``) or the
human client (``practice --as client``: ``client.kind: human``), so the run directory holds what an
AI campaign's holds (manifest.json, sessions.jsonl, checkpoints, chroma/) and `eval`, `report`,
`export` and `inspect` read it as they read any run.
"""

from __future__ import annotations

import re
from pathlib import Path

from muspsy_sim.agents.counselor.registry import UnknownCounselor, resolve_counselor_class
from muspsy_sim.agents.llm.routing import servable

from ..campaign.courses import course_outcome
from ..campaign.prepare import CampaignPlan, prepare_campaign
from ..campaign.run import finish_run
from ..config import CampaignConfig, load_config
from ..core.errors import InputError
from ..engine.states import StateView
from ..record.run_directory import RunDirectory
from ..record.schema import Manifest
from .human_counselor import HUMAN_COUNSELOR

DEFAULT_MAX_TURNS = 12  # client turns before the person must close; "End session" closes earlier
NOTE = "Practice with a simulated client: a training simulation, not a clinical service."
CLIENT_NOTE = ("A person played the client of a case profile with a counselor model: research use, not a clinical "
               "service.")
FREE = "free"  # `--scenario free`: the person plays themselves, from a minimal profile they fill in


def run_name(prefix: str, scenario: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "-", f"{prefix}-{scenario}")[:64]


def practice_config(config_path: Path, scenario: str, *, sessions: int | None = None, name: str | None = None,
                    out: Path | None = None, max_turns: int | None = None, client_model: str | None = None,
                    counselor_model: str | None = None) -> CampaignConfig:
    """The campaign config of a practice run: ``config_path`` with one scenario and the human counselor.

    ``counselor_model`` writes the notes (session goal, session memories); ``client_model`` plays the client.
    """
    overrides = {
        "name": name or run_name("practice", scenario),
        "scenarios": [scenario],
        "sessions": sessions,
        "max_turns": max_turns or DEFAULT_MAX_TURNS,
        "counselor": HUMAN_COUNSELOR,
        "models.counselor.model": counselor_model,
        "models.client.model": client_model,
        "workers": 1,
        "executor": "threads",
        "output_dir": str(out) if out else None,
        "variants": {},
    }
    # A sample of one id makes no sense here (None cannot be an override: it means "keep").
    return load_config(config_path, overrides).model_copy(update={"scenario_sample": None})


def client_practice_config(config_path: Path, scenario: str, *, sessions: int | None = None, name: str | None = None,
                           out: Path | None = None, max_turns: int | None = None, counselor: str | None = None,
                           counselor_model: str | None = None, rater: str | None = None) -> CampaignConfig:
    """The campaign config of a practice run with a person as the client (``client.kind: human``).

    The counselor (``counselor``, default the config's) runs on ``counselor_model`` as in any campaign.
    ``rater`` names the person in the records (default: the run's name). With ``scenario`` "free" the
    profile is the one the person fills in, kept in the run directory (``free_profile``).
    """
    run = name or run_name("practice-client", scenario)
    overrides = {
        "name": run,
        "scenarios": [scenario],
        "sessions": sessions,
        "max_turns": max_turns or DEFAULT_MAX_TURNS,
        "counselor": counselor,
        "models.counselor.model": counselor_model,
        "client.kind": "human",
        "client.rater": rater or run,
        "workers": 1,
        "executor": "threads",
        "output_dir": str(out) if out else None,
        "variants": {},
    }
    if scenario == FREE:
        # Playing oneself: no invented events in the weeks between sessions.
        overrides["client_dynamics.random_event_chance"] = 0.0
    config = load_config(config_path, overrides).model_copy(update={"scenario_sample": None})
    if scenario == FREE:
        config = config.model_copy(update={"scenario_dir": str(config.run_dir() / "profile")})
    if config.counselor == HUMAN_COUNSELOR:
        raise InputError("--counselor", "", "a person plays the client here; the counselor must be a model "
                                            "(muspsy, no-memory, full-history or package.module:Class)")
    return config


def check_settings(config: CampaignConfig, source: str | Path) -> None:
    """What ``prepare_practice`` checks besides the profile (a free role-play's is not filled in yet)."""
    try:
        resolve_counselor_class(config.counselor)
    except UnknownCounselor as error:
        raise InputError(source, "counselor", str(error)) from None
    try:
        servable(config.models.counselor.model)
    except ValueError as error:
        raise InputError(source, "models.counselor.model", str(error)) from None


def prepare_practice(config: CampaignConfig, source: str | Path) -> CampaignPlan:
    """Validate a practice config like a campaign's (nothing is written); exactly one client."""
    if config.checkpointer_url:
        raise InputError(source, "checkpointer_url", "practice keeps its checkpoints in the run directory; "
                                                     "remove checkpointer_url")
    plan = prepare_campaign(config, source)
    if len(plan.profiles) != 1:
        raise InputError("--scenario", "", f"'{config.scenarios[0]}' matches {len(plan.profiles)} profiles; "
                                           "give one profile id (`scenarios list`)")
    return plan


def new_manifest(plan: CampaignPlan) -> Manifest:
    """The manifest a campaign writes (the config names the human counselor, or the human client)."""
    note = CLIENT_NOTE if plan.config.client.kind == "human" else NOTE
    return Manifest.new(plan.config, plan.source, [p.id for p in plan.profiles]).model_copy(update={"note": note})


def finish_manifest(run_dir: RunDirectory, client_id: str, course: StateView) -> None:
    """What a finished campaign adds to its manifest: status, how the course ended, usage, sessions, risk, faults.

    ``course`` is the course graph's final state."""
    run_dir.set_course(client_id, status="finished", sessions_done=course.sessions_done, **course_outcome(course))
    finish_run(run_dir, 0.0)
