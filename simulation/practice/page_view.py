"""What the practice page shows, as plain values for the template (which escapes every one of them).

The person sees what a counselor would know: the intake sheet, the dialogue, the client's own
questionnaires and what the client reports of the week, and the model's notes marked as such.
The instructor view adds the simulation's hidden side: the client's state and how each turn
moved it, the profile's private facts and beliefs, and this session's plan.
"""

from __future__ import annotations

from collections.abc import Sequence

from muspsy_sim.agents.client.questionnaires import instruments
from muspsy_sim.agents.client.state import ClientState
from muspsy_sim.scenarios.profile import CaseProfile

from ..config import CampaignConfig
from ..core.course import MEMORY_LABELS, SessionMemory
from ..core.questionnaires import AT_END, AT_START, ExitQuestionnaires, QuestionnaireResult, Questionnaires
from ..core.turns import Appraisal, ClientTurn, Turn, client_turn_count
from .course_driver import CourseStatus

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


def questionnaire(key: str, result: QuestionnaireResult | None) -> dict | None:
    """One self-report: total (of its maximum), severity band, subscales, and each item's answer."""
    if result is None:
        return None
    instrument = instruments()[key]
    answers, total = list(result.answers), result.total
    band = next((name for limit, name in BANDS.get(key, ()) if total is not None and total <= limit), "")
    top = max(instrument.values)
    return {
        "key": key, "title": instrument.title, "band": band,
        # PANAS is read as its two subscales only; a sum of positive and negative affect means nothing.
        "total": None if key == "panas" else total, "maximum": len(instrument.items) * top,
        "subscales": [(name, value, len(instrument.subscales.get(name, ())) * top)
                      for name, value in sorted(result.subscales.items())],
        "items": [{"item": item, "answer": answer, "label": instrument.scale.get(answer, "")}
                  for item, answer in zip(instrument.items, answers)],
        # PHQ-9 item 9 (thoughts of death or self-harm) above "not at all" is what a counselor must not miss.
        "alert": f"item 9: {instrument.scale.get(answers[8], answers[8])}"
        if key == "phq9" and len(answers) == 9 and answers[8] else "",
    }


def questionnaires(results: Questionnaires | ExitQuestionnaires | None, keys: tuple[str, ...]) -> list[dict]:
    """The instruments of ``keys`` that ``results`` holds, as ``questionnaire`` shows them."""
    if results is None:
        return []
    return [shown for key in keys if (shown := questionnaire(key, getattr(results, key, None)))]


def _memory_note(memory: SessionMemory) -> dict:
    return {"session_index": memory.session_index,
            "fields": [(label, getattr(memory, name)) for label, name in MEMORY_LABELS.items() if getattr(memory, name)],
            "filled_in": list(memory.filled_in)}


def _cues(appraisal: Appraisal | None) -> dict[str, float]:
    """An appraisal's cues (numbers); not which appraiser made them, nor how its items were answered."""
    if appraisal is None:
        return {}
    return {name: value for name, value in appraisal
            if isinstance(value, (int, float)) and not isinstance(value, bool)}


def _turns(turns: Sequence[Turn], pseudonym: str) -> list[dict]:
    shown, previous = [], None
    for number, turn in enumerate(turns, start=1):
        client = isinstance(turn, ClientTurn)
        entry = {"number": number, "speaker": "client" if client else "counselor",
                 "label": pseudonym if client else "Counselor (you)", "text": turn.text,
                 "stage": "" if client else turn.stage or "", "source": turn.source or ""}
        if client:
            state = {"distress": turn.state.distress, "trust": turn.state.trust} if turn.state else {}
            entry["state"] = state
            entry["change"] = None if previous is None else {
                k: round(state.get(k, 0) - previous.get(k, 0), 2) for k in ("distress", "trust")}
            entry["appraisal"] = _cues(turn.appraisal)
            entry["disclosed_fact"] = turn.disclosed_fact
            entry["risk_disclosed"] = turn.risk_disclosed
            previous = state
        shown.append(entry)
    return shown


def _state_rows(start: ClientState, now: ClientState) -> list[dict]:
    rows = []
    for name in STATE_FIELDS:
        before, current = getattr(start, name), getattr(now, name)
        rows.append({"name": name, "start": round(before, 2), "now": round(current, 2),
                     "change": round(current - before, 2),
                     "meaning": ClientState.model_fields[name].description or name.replace("_", " ")})
    return rows


def _hidden(profile: CaseProfile, status: CourseStatus, session_index: int) -> dict:
    course, session = status.course, status.session
    now = session.client_state if session is not None and "client_state" in session else course.client_state
    start = course.client_state_start if "client_state_start" in course else course.client_state
    disclosed = set(now.disclosed)
    plan = profile.plan_for(session_index)
    week = course.week
    return {
        "state": _state_rows(start, now),
        "stage_of_change": now.stage_of_change,
        "homework_done": now.homework_done,
        "background": profile.background, "personality": profile.personality,
        "speaking_style": profile.speaking_style, "core_beliefs": list(profile.core_beliefs),
        "automatic_thoughts": list(profile.automatic_thoughts), "risk_flags": list(profile.risk_flags),
        "private_facts": [{"text": fact.text, "threshold": fact.trust_threshold, "disclosed": index in disclosed}
                          for index, fact in enumerate(profile.private_facts)],
        "plan": {"emotional_state": plan.emotional_state, "cognitive_state": plan.cognitive_state,
                 "goal": plan.goal, "life_events": list(plan.life_events)},
        "week": {"distress_change": week.distress_change, "stage_of_change": week.stage_of_change}
        if week is not None else None,
        "trajectory": [{"session": r.session_index, "ended_by": r.ended_by or "",
                        "distress": (r.client_state_start.distress, r.client_state_end.distress),
                        "trust": (r.client_state_start.trust, r.client_state_end.trust)}
                       for r in status.records if r.client_state_start and r.client_state_end],
    }


def _between(status: CourseStatus, session_index: int) -> dict | None:
    """What the client reports between the last session and this one."""
    last = next((r for r in status.records if r.session_index == session_index - 1), None)
    if last is None:
        return None
    week = status.course.week
    return {
        "after": session_index - 1,
        "end_reports": questionnaires(last.questionnaires, AT_END),
        "life_events": [*week.life_events, *week.random_events] if week is not None else [],
        "homework_done": week.homework_done if week is not None else None,
    }


def _working_message(status: CourseStatus, session_index: int) -> str:
    if not status.started:
        return WORKING["start"]
    node = status.next[0] if status.next else "session"
    return WORKING.get(node, "The simulation is working.").format(n=session_index)


def page(status: CourseStatus, profile: CaseProfile, config: CampaignConfig, *, instructor: bool = False, message: str = "", draft: str = "") -> dict:
    """The template's values for the practice page."""
    course = status.course
    session_index = status.session_index
    finished = status.phase == "finished"
    turns = status.turns_now()
    records = [{"session_index": r.session_index, "goal": r.goal or "", "ended_by": r.ended_by or "",
                "turns": _turns(r.turns, profile.pseudonym),
                "start_reports": questionnaires(r.questionnaires, AT_START),
                "end_reports": questionnaires(r.questionnaires, AT_END)}
               for r in status.records]
    last = status.records[-1] if status.records else None
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
        "notes": {"model": config.models.counselor.model.text, "goal": course.goal,
                  "goal_source": course.goal_source or "",
                  "memories": [_memory_note(m) for m in course.memories]},
        "start_reports": [] if finished else questionnaires(course.questionnaires, AT_START),
        "between": None if finished else _between(status, session_index),
        "turns": _turns(turns, profile.pseudonym),
        "client_turns": client_turn_count(turns),
        "request": {"stage": request.get("stage", ""), "position": status.position,
                    "closing": request.get("stage") == "closing",
                    "client_left": status.session is not None and status.session.ended_by == "client"}
        if status.request else None,
        "records": records,
        "dropout": course.dropout if finished else None,  # the simulated client did not come back
        "exit_reports": questionnaires(last.questionnaires.exit, AT_START)
        if finished and last is not None and last.questionnaires is not None else [],
        "hidden": _hidden(profile, status, session_index) if instructor and status.started else None,
    }


class CounselorPage:
    """The page of a person in the counselor's chair (``server.PracticePage``)."""

    template = "practice.html.j2"
    max_fields = 10

    def values(self, status: CourseStatus, course, *, instructor: bool, message: str, posted: dict[str, str]) -> dict:
        return page(status, course.profile, course.config, instructor=instructor, message=message,
                    draft=posted.get("text", ""))

    def post(self, course, form: dict[str, str]) -> None:
        course.submit(form.get("text", ""), form.get("action") == "end", form.get("position", ""))
