"""What the practice page shows, as plain values for the template (which escapes every one of them).

The person sees what a counselor would know: the intake sheet, the dialogue, the client's own
questionnaires and what the client reports of the week, and the model's notes marked as such.
The instructor view adds the simulation's hidden side: the client's state and how each turn
moved it, the profile's private facts and beliefs, and this session's plan.
"""

from __future__ import annotations

from muspsy_sim.agents.client.questionnaires import AT_END, AT_START, instruments
from muspsy_sim.agents.client.state import ClientState
from muspsy_sim.agents.counselor.session_memory import MEMORY_LABELS
from muspsy_sim.scenarios.profile import CaseProfile
from muspsy_sim.simulation.config import CampaignConfig
from muspsy_sim.simulation.practice.course_driver import CourseStatus

# Published severity bands of the totals (Kroenke et al. 2001; Spitzer et al. 2006).
BANDS = {
    "phq9": ((4, "minimal"), (9, "mild"), (14, "moderate"), (19, "moderately severe"), (27, "severe")),
    "gad7": ((4, "minimal"), (9, "mild"), (14, "moderate"), (21, "severe")),
}
WORKING = {
    "start": "Starting the course: the model plans the first session's goal and the client fills in PHQ-9 and GAD-7.",
    "plan": "Preparing session {n}: the model plans its goal.",
    "report_before": "Preparing session {n}: the client fills in PHQ-9 and GAD-7.",
    "session": "The client is answering.",
    "report_after": "Session {n} has ended: the client fills in WAI-SR and PANAS.",
    "memorize": "Session {n} has ended: the model writes its memory of the session.",
    "record": "Session {n} has ended: it is being recorded.",
    "evolve": "Session {n} has ended: the client's week until the next session goes by.",
}
STATE_FIELDS = ("distress", "trust", "openness", "resistance", "insight", "readiness", "positive_affect",
                "negative_affect", "recent_empathy", "recent_relevance", "homework_adherence")


def questionnaire(key: str, result: dict | None) -> dict | None:
    """One self-report: total (of its maximum), severity band, subscales, and each item's answer."""
    if not result:
        return None
    instrument = instruments()[key]
    answers = list(result.get("answers") or [])
    total = result.get("total")
    band = next((name for limit, name in BANDS.get(key, ()) if total is not None and total <= limit), "")
    top = max(instrument.values)
    return {
        "key": key, "title": instrument.title, "band": band,
        # PANAS is read as its two subscales only; a sum of positive and negative affect means nothing.
        "total": None if key == "panas" else total, "maximum": len(instrument.items) * top,
        "subscales": [(name, value, len(instrument.subscales.get(name, ())) * top)
                      for name, value in sorted((result.get("subscales") or {}).items())],
        "items": [{"item": item, "answer": answer, "label": instrument.scale.get(answer, "")}
                  for item, answer in zip(instrument.items, answers)],
        # PHQ-9 item 9 (thoughts of death or self-harm) above "not at all" is what a counselor must not miss.
        "alert": f"item 9: {instrument.scale.get(answers[8], answers[8])}"
        if key == "phq9" and len(answers) == 9 and answers[8] else "",
    }


def questionnaires(results: dict | None, keys: tuple[str, ...]) -> list[dict]:
    results = results or {}
    return [shown for key in keys if (shown := questionnaire(key, results.get(key)))]


def _memory_note(memory: dict) -> dict:
    return {"session_index": memory.get("session_index"),
            "fields": [(label, memory.get(name, "")) for label, name in MEMORY_LABELS.items() if memory.get(name)],
            "filled_in": list(memory.get("filled_in") or [])}


def _turns(turns: list[dict], pseudonym: str) -> list[dict]:
    shown, previous = [], None
    for number, turn in enumerate(turns, start=1):
        client = turn.get("speaker") == "client"
        entry = {"number": number, "speaker": "client" if client else "counselor",
                 "label": pseudonym if client else "Counselor (you)", "text": str(turn.get("text", "")),
                 "stage": turn.get("stage", ""), "source": turn.get("source", "")}
        if client:
            state = turn.get("state") or {}
            entry["state"] = state
            entry["change"] = None if previous is None else {
                k: round(state.get(k, 0) - previous.get(k, 0), 2) for k in ("distress", "trust")}
            # The cues (numbers); not which appraiser made them, nor how its items were answered.
            entry["appraisal"] = {k: v for k, v in (turn.get("appraisal") or {}).items()
                                  if isinstance(v, (int, float)) and not isinstance(v, bool)}
            entry["disclosed_fact"] = turn.get("disclosed_fact")
            entry["risk_disclosed"] = bool(turn.get("risk_disclosed"))
            previous = state
        shown.append(entry)
    return shown


def _state_rows(start: dict, now: dict) -> list[dict]:
    rows = []
    for name in STATE_FIELDS:
        if name not in now:
            continue
        before = start.get(name, now[name])
        rows.append({"name": name, "start": round(before, 2), "now": round(now[name], 2),
                     "change": round(now[name] - before, 2),
                     "meaning": ClientState.model_fields[name].description or name.replace("_", " ")})
    return rows


def _hidden(profile: CaseProfile, status: CourseStatus, session_index: int) -> dict:
    course, session = status.course, status.session
    start = course.get("client_state_start") or course.get("client_state") or {}
    now = session.get("client_state") or course.get("client_state") or {}
    disclosed = set(now.get("disclosed") or [])
    plan = profile.plan_for(session_index)
    week = course.get("week") or {}
    return {
        "state": _state_rows(start, now),
        "stage_of_change": ClientState.from_state(now).stage_of_change if now else "",
        "homework_done": now.get("homework_done"),
        "background": profile.background, "personality": profile.personality,
        "speaking_style": profile.speaking_style, "core_beliefs": list(profile.core_beliefs),
        "automatic_thoughts": list(profile.automatic_thoughts), "risk_flags": list(profile.risk_flags),
        "private_facts": [{"text": fact.text, "threshold": fact.trust_threshold, "disclosed": index in disclosed}
                          for index, fact in enumerate(profile.private_facts)],
        "plan": {"emotional_state": plan.emotional_state, "cognitive_state": plan.cognitive_state,
                 "goal": plan.goal, "life_events": list(plan.life_events)},
        "week": {"distress_change": week.get("distress_change"), "stage_of_change": week.get("stage_of_change")}
        if week else None,
        "trajectory": [{"session": r["session_index"], "ended_by": r.get("ended_by") or "",
                        "distress": (r["client_state_start"]["distress"], r["client_state_end"]["distress"]),
                        "trust": (r["client_state_start"]["trust"], r["client_state_end"]["trust"])}
                       for r in status.records],
    }


def _between(status: CourseStatus, session_index: int) -> dict | None:
    """What the client reports between the last session and this one."""
    last = next((r for r in status.records if r["session_index"] == session_index - 1), None)
    if last is None:
        return None
    week = status.course.get("week") or {}
    return {
        "after": session_index - 1,
        "end_reports": questionnaires(last.get("questionnaires"), AT_END),
        "life_events": list(week.get("life_events") or []) + list(week.get("random_events") or []),
        "homework_done": week.get("homework_done"),
    }


def _working_message(status: CourseStatus, session_index: int) -> str:
    if not status.course:
        return WORKING["start"]
    node = status.next[0] if status.next else "session"
    return WORKING.get(node, "The simulation is working.").format(n=session_index)


def page(status: CourseStatus, profile: CaseProfile, config: CampaignConfig, *, instructor: bool = False, message: str = "", draft: str = "") -> dict:
    """The template's values for the practice page."""
    course = status.course
    session_index = int(course.get("session_index") or 1)
    finished = status.phase == "finished"
    in_session = bool(status.session) and not finished
    turns = status.session.get("turns") if in_session else ([] if finished else course.get("turns"))
    records = [{"session_index": r["session_index"], "goal": r.get("goal", ""), "ended_by": r.get("ended_by") or "",
                "turns": _turns(r.get("turns", []), profile.pseudonym),
                "start_reports": questionnaires(r.get("questionnaires"), AT_START),
                "end_reports": questionnaires(r.get("questionnaires"), AT_END)}
               for r in status.records]
    request = status.request or {}
    return {
        "phase": status.phase,
        "instructor": instructor,
        "message": message,
        "draft": draft,
        "error": status.error or "",
        "working": _working_message(status, session_index) if status.phase == "working" else "",
        "client": {"pseudonym": profile.pseudonym, "age": profile.age, "gender": profile.gender,
                   "occupation": profile.occupation, "presenting_problem": profile.presenting_problem,
                   "id": profile.id},
        "course": {"name": config.name, "session_index": session_index, "sessions": config.sessions,
                   "max_turns": config.max_turns, "client_model": config.models.client.model.text},
        "notes": {"model": config.models.counselor.model.text, "goal": course.get("goal", ""),
                  "goal_source": course.get("goal_source", ""),
                  "memories": [_memory_note(m) for m in course.get("memories", [])]},
        "start_reports": [] if finished else questionnaires(course.get("questionnaires"), AT_START),
        "between": None if finished else _between(status, session_index),
        "turns": _turns(turns or [], profile.pseudonym),
        "client_turns": sum(1 for t in turns or [] if t.get("speaker") == "client"),
        "request": {"stage": request.get("stage", ""), "position": status.position,
                    "closing": request.get("stage") == "closing",
                    "client_left": status.session.get("ended_by") == "client"} if status.request else None,
        "records": records,
        "dropout": (course.get("course_end") or None) if finished else None,
        "exit_reports": questionnaires((status.records[-1].get("questionnaires") or {}).get("exit"), AT_START)
        if finished and status.records else [],
        "hidden": _hidden(profile, status, session_index) if instructor and course else None,
    }
