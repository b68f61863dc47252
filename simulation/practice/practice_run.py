"""A practice run: one client course whose counselor is a person, in an ordinary run directory.

The config is a campaign config with the human counselor and one scenario, so the run
directory holds what an AI campaign's holds (manifest.json, sessions.jsonl, checkpoints,
chroma/) and `eval`, `report`, `export` and `inspect` read it as they read any run.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from muspsy_sim.agents.llm.usage import sum_usage
from muspsy_sim.scenarios.base.errors import InputError
from muspsy_sim.scenarios.base.package_versions import package_versions
from muspsy_sim.simulation.campaign import RECORDED_PACKAGES, CampaignPlan, prepare_campaign
from muspsy_sim.simulation.config import CampaignConfig, load_config
from muspsy_sim.simulation.evaluation.risk import campaign_risk
from muspsy_sim.simulation.practice.human_counselor import HUMAN_COUNSELOR
from muspsy_sim.simulation.run_directory import RunDirectory
from muspsy_sim.simulation.summary import fault_counts

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


def new_manifest(plan: CampaignPlan) -> dict:
    """The manifest a campaign writes, marked as practice."""
    return {
        "name": plan.config.name,
        "status": "running",
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "config_source": plan.source,
        "config": plan.config.model_dump(mode="json"),
        "seed": plan.config.seed,
        "package_versions": package_versions(RECORDED_PACKAGES),
        "courses": {p.id: {"status": "pending", "sessions_done": 0} for p in plan.profiles},
        "practice": True,
        "note": NOTE,
    }


def finish_manifest(run_dir: RunDirectory, client_id: str, sessions_done: int) -> None:
    """What a finished campaign adds to its manifest: status, usage, sessions, risk account, faults."""
    run_dir.set_course(client_id, status="finished", sessions_done=sessions_done)
    sessions = sorted(run_dir.sessions(), key=lambda r: r["session_index"])
    usage = sum_usage(r.get("usage", {}) for r in sessions)
    courses = run_dir.read_manifest().get("courses", {})
    run_dir.update_manifest(status="finished", usage=usage, sessions_recorded=len(sessions),
                            risk=campaign_risk(sessions), faults=fault_counts(usage, courses))
