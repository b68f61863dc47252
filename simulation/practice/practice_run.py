"""A practice run: one client course whose counselor is a person, in an ordinary run directory.

The config is a campaign config with the human counselor and one scenario, so the run
directory holds what an AI campaign's holds (manifest.json, sessions.jsonl, checkpoints,
chroma/) and `eval`, `report`, `export` and `inspect` read it as they read any run.
"""

from __future__ import annotations

import re
from pathlib import Path

from muspsy_sim.scenarios.base.errors import InputError
from muspsy_sim.simulation.campaign.course_runner import course_outcome
from muspsy_sim.simulation.campaign.prepare import CampaignPlan, prepare_campaign
from muspsy_sim.simulation.campaign.run import finish_run
from muspsy_sim.simulation.config import CampaignConfig, load_config
from muspsy_sim.simulation.practice.human_counselor import HUMAN_COUNSELOR
from muspsy_sim.simulation.record.run_directory import RunDirectory
from muspsy_sim.simulation.record.schema import Manifest

DEFAULT_MAX_TURNS = 12  # client turns before the person must close; "End session" closes earlier
NOTE = "Practice with a simulated client: a training simulation, not a clinical service."


def practice_config(config_path: Path, scenario: str, *, sessions: int | None = None, name: str | None = None,
                    out: Path | None = None, max_turns: int | None = None, client_model: str | None = None,
                    counselor_model: str | None = None) -> CampaignConfig:
    """The campaign config of a practice run: ``config_path`` with one scenario and the human counselor.

    ``counselor_model`` writes the notes (session goal, session memories); ``client_model`` plays the client.
    """
    overrides = {
        "name": name or re.sub(r"[^A-Za-z0-9_.-]", "-", f"practice-{scenario}")[:64],
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
    """The manifest a campaign writes (the config names the human counselor)."""
    return Manifest.new(plan.config, plan.source, [p.id for p in plan.profiles]).model_copy(update={"note": NOTE})


def finish_manifest(run_dir: RunDirectory, client_id: str, course: dict) -> None:
    """What a finished campaign adds to its manifest: status, how the course ended, usage, sessions, risk, faults.

    ``course`` is the course graph's final state (its values)."""
    run_dir.set_course(client_id, status="finished", sessions_done=len(course.get("memories", [])),
                       **course_outcome(course))
    finish_run(run_dir, 0.0)
