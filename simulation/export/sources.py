"""Where sessions to export come from: a run directory, imported MusPsy profiles, or a MusPsy release."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from muspsy_sim.agents.counselor.session_memory import SessionMemory
from muspsy_sim.scenarios.base.errors import InputError
from muspsy_sim.scenarios.loader import load_profile
from muspsy_sim.scenarios.muspsy_import import import_muspsy
from muspsy_sim.simulation.export.examples import Session
from muspsy_sim.simulation.record.files import MANIFEST
from muspsy_sim.simulation.record.run_log import RunLog


def sessions_from_run(run_dir: Path) -> list[Session]:
    run = RunLog.open(run_dir)
    metrics = {(r["client_id"], r["session_index"]): r["metrics"] for r in run.metrics or []}
    profiles = run.profiles()
    sessions = []
    for record in run.sessions:
        questionnaires = record.questionnaires
        wai = questionnaires.wai_sr.total if questionnaires and questionnaires.wai_sr else None
        sessions.append(Session(
            profile=profiles[record.client_id], session_index=record.session_index, goal=record.goal,
            turns=record.to_dict()["turns"], memory=SessionMemory.model_validate(record.memory.to_dict()),
            seed=record.seed, metrics={"wai_total": wai, **metrics.get(record.key, {})},
        ))
    return sessions


def _memory_from_plan(profile, index: int) -> SessionMemory:
    """What an imported profile knows of a reference session: its states and goal."""
    plan = profile.course_plan[index - 1]
    return SessionMemory(
        session_index=index,
        emotion_and_cognitive_state=f"{plan.emotional_state} {plan.cognitive_state}".strip(),
        session_goal=plan.goal,
    )


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
            turns = [{"speaker": t["speaker"], "text": t["text"], "stage": "middle", "source": "reference"}
                     for t in entry["turns"]]
            counselor_turns = [t for t in turns if t["speaker"] == "counselor"]
            if counselor_turns:
                counselor_turns[0]["stage"] = "opening" if turns[0]["speaker"] == "counselor" else "middle"
            sessions.append(Session(profile, index, profile.course_plan[index - 1].goal, turns,
                                    _memory_from_plan(profile, index)))
    if not sessions:
        raise InputError(directory, "", "no *.dialogues.json with sessions here (import a MusPsy release first)")
    return sessions


def load_sessions(source: Path) -> list[Session]:
    if (source / MANIFEST).is_file():
        return sessions_from_run(source)
    if any(source.glob("*.dialogues.json")):
        return sessions_from_imported(source)
    if (source / "memories").is_dir() or any(source.glob("memories_*.txt")):
        imported = Path(tempfile.mkdtemp(prefix="muspsy-import-"))
        import_muspsy(source, imported)
        return sessions_from_imported(imported)
    raise InputError(source, "", "not a run directory, imported MusPsy profiles, or a MusPsy release")
