"""A run's overview as plain data: what `inspect --json` prints (the table of ``inspect_run.run_overview``).

Per client its course (status, sessions done, error, how it ended: completed or a dropout with why) and per session the turns, who ended it,
and distress, trust, PHQ-9 and GAD-7 from start to end (the exit assessment's after the last).
"""

from __future__ import annotations

from pathlib import Path

from ..core.questionnaires import Questionnaires
from ..record.run_log import RunLog
from ..record.schema import SessionRecord


def _total(questionnaires: Questionnaires | None, key: str, at_exit: bool = False) -> int | None:
    block = questionnaires.exit if questionnaires is not None and at_exit else questionnaires
    entry = getattr(block, key, None) if block is not None else None
    return entry.total if entry is not None else None


def _session(record: SessionRecord) -> dict:
    start, end = record.client_state_start, record.client_state_end
    return {
        "session_index": record.session_index,
        "turns": len(record.turns),
        "ended_by": record.ended_by,
        "goal": record.goal,
        "distress": [getattr(start, "distress", None), getattr(end, "distress", None)],
        "trust": [getattr(start, "trust", None), getattr(end, "trust", None)],
        "phq9": [_total(record.questionnaires, "phq9"), _total(record.questionnaires, "phq9", at_exit=True)],
        "gad7": [_total(record.questionnaires, "gad7"), _total(record.questionnaires, "gad7", at_exit=True)],
    }


def overview_data(run_dir: str | Path) -> dict:
    """The run, then per client its course and sessions (``[start, end]`` pairs; None where not recorded)."""
    run = RunLog.open(run_dir)
    manifest, config = run.manifest, run.config
    courses = {}
    for client_id in run.clients():
        course = manifest.courses.get(client_id)
        courses[client_id] = {
            "status": course.status if course else None,
            "sessions_done": len(run.course(client_id)),
            "error": course.error if course else None,
            "ended_by": course.ended_by if course else None,  # completed or dropout, once the course is over
            "dropout": course.dropout.to_dict() if course and course.dropout else None,
            "sessions": [_session(record) for record in run.course(client_id)],
        }
    return {
        "run": manifest.name,
        "path": str(run.path),
        "status": manifest.status,
        "counselor": config.counselor,
        "models": {role: getattr(config.models, role).model.text for role in type(config.models).model_fields},
        "sessions_planned": config.sessions,
        "max_turns": config.max_turns,
        "seed": manifest.seed if manifest.seed is not None else config.seed,
        "created_at": manifest.created_at,
        "courses": courses,
    }
