"""Where sessions to export come from: a run directory, imported MusPsy profiles, or a MusPsy release.

Each source also names the counselor whose prompts the examples are rendered with:
a run's own counselor (its name and options, as recorded), or the MusPsy counselor
for reference dialogues.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from muspsy_sim.agents.counselor.base import PromptRenderer
from muspsy_sim.agents.counselor.muspsy import MusPsyCounselor
from muspsy_sim.agents.counselor.registry import UnknownCounselor, build_prompt_renderer
from muspsy_sim.scenarios.loader import load_profile
from muspsy_sim.scenarios.muspsy_import import import_muspsy

from ..config import CampaignConfig
from ..core.course import SessionMemory
from ..core.errors import InputError
from ..core.turns import CounselorTurn, Turn, turns_of
from ..record.run_log import RunLog
from ..record.schema import MANIFEST
from .examples import Session


@dataclass(frozen=True)
class SessionsToExport:
    sessions: list[Session]
    counselor: PromptRenderer  # the counselor that ran, built without a model: it renders the examples


def run_counselor(config: CampaignConfig, manifest: Path) -> PromptRenderer:
    """The counselor a run used (name, options, top_k as its config records), built without a model."""
    try:
        return build_prompt_renderer(config.counselor, top_k=config.memory.top_k, options=config.counselor_options)
    except UnknownCounselor as error:
        raise InputError(manifest, "config.counselor", str(error)) from None


def sessions_from_run(run_dir: Path) -> SessionsToExport:
    run = RunLog.open(run_dir)
    counselor = run_counselor(run.config, run_dir / MANIFEST)
    metrics = {row.key: row.metrics for row in run.metrics or []}
    profiles = run.profiles()
    sessions = []
    for record in run.sessions:
        questionnaires = record.questionnaires
        wai = questionnaires.wai_sr.total if questionnaires and questionnaires.wai_sr else None
        sessions.append(Session(
            profile=profiles[record.client_id], session_index=record.session_index, goal=record.goal,
            turns=list(record.turns), memory=record.memory,
            seed=record.seed, metrics={"wai_total": wai, **metrics.get(record.key, {})}, goal_source=record.goal_source,
        ))
    return SessionsToExport(sessions, counselor)


def _memory_from_plan(profile, index: int) -> SessionMemory:
    """What an imported profile knows of a reference session: its states and goal."""
    plan = profile.course_plan[index - 1]
    return SessionMemory(
        session_index=index,
        emotion_and_cognitive_state=f"{plan.emotional_state} {plan.cognitive_state}".strip(),
        session_goal=plan.goal,
    )


def reference_turns(dialogue: list[dict]) -> list[Turn]:
    """A published dialogue's turns (``{"speaker", "text"}``, as ``scenarios import muspsy`` writes them), the
    counselor's marked as reference text; a counselor turn that opens the dialogue is its opening."""
    return [turn.model_copy(update={"stage": "opening" if position == 0 else "middle", "source": "reference"})
            if isinstance(turn, CounselorTurn) else turn
            for position, turn in enumerate(turns_of(dialogue))]


def sessions_from_imported(directory: Path) -> list[Session]:
    """Reference dialogues written by `scenarios import muspsy` (``<id>.dialogues.json`` beside ``<id>.yaml``)."""
    sessions = []
    for dialogues_file in sorted(directory.glob("*.dialogues.json")):
        profile = load_profile(directory / dialogues_file.name.replace(".dialogues.json", ".yaml"))
        dialogues = json.loads(dialogues_file.read_text(encoding="utf-8"))
        for entry in dialogues["sessions"]:
            index = entry["session_index"]
            if index > profile.session_count or not entry["turns"]:
                continue
            sessions.append(Session(profile, index, profile.course_plan[index - 1].goal,
                                    reference_turns(entry["turns"]), _memory_from_plan(profile, index)))
    if not sessions:
        raise InputError(directory, "", "no *.dialogues.json with sessions here (import a MusPsy release first)")
    return sessions


def load_sessions(source: Path) -> SessionsToExport:
    if (source / MANIFEST).is_file():
        return sessions_from_run(source)
    # Reference dialogues: rendered as the MusPsy counselor (whose prompts follow the paper's) would see them.
    if any(source.glob("*.dialogues.json")):
        return SessionsToExport(sessions_from_imported(source), build_prompt_renderer(MusPsyCounselor.name))
    if (source / "memories").is_dir() or any(source.glob("memories_*.txt")):
        imported = Path(tempfile.mkdtemp(prefix="muspsy-import-"))
        import_muspsy(source, imported)
        return SessionsToExport(sessions_from_imported(imported), build_prompt_renderer(MusPsyCounselor.name))
    raise InputError(source, "", "not a run directory, imported MusPsy profiles, or a MusPsy release")
