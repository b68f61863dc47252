"""The page of a person in the client's chair (``practice --as client``): what it shows, what its forms send.

The person sees what a client in a role-play needs: the persona card (who they play, what they
bring, what they keep to themselves), this session's situation (how they feel and think, the week's
events) and the dialogue; never the simulated state's numbers. After each counselor turn they reply
and rate the turn on the four appraisal items (one click each, optional); the session's last
counselor turn is rated on its own; questionnaires come before (PHQ-9, GAD-7) and after (WAI-SR,
PANAS) each session, every item optional. An item left out is recorded as unanswered, never filled in.
"""

from __future__ import annotations

from collections.abc import Sequence

from muspsy_sim.agents.client.appraisal import appraisal_items
from muspsy_sim.agents.client.questionnaires import instruments
from muspsy_sim.scenarios.profile import CaseProfile

from ..core.course import Week
from ..core.turns import ClientTurn, CounselorTurn, Turn, client_turn_count
from ..engine.human_client import answers_of, ratings_of, reply_of
from .course_driver import CourseStatus, PracticeCourse, Refused
from .free_profile import FREE_ID

WORKING = {
    "start": "Starting: the counselor model plans the first session.",
    "plan": "Preparing session {n}: the counselor model plans its goal.",
    "session": "The counselor is answering.",
    "memorize": "Session {n} has ended: the counselor model writes its memory of the session.",
    "record": "Session {n} has ended: it is being recorded.",
    "evolve": "Session {n} has ended: the week until the next session goes by.",
}


def _turns(turns: Sequence[Turn]) -> list[dict]:
    return [{"speaker": turn.speaker, "label": "You" if isinstance(turn, ClientTurn) else "Counselor",
             "text": turn.text, "source": "", "stage": (turn.stage or "") if isinstance(turn, CounselorTurn) else ""}
            for turn in turns]


def persona(profile: CaseProfile) -> dict:
    """The role: who the person plays and what they bring; the private facts without their thresholds."""
    return {"pseudonym": profile.pseudonym, "age": profile.age, "gender": profile.gender,
            "occupation": profile.occupation, "presenting_problem": profile.presenting_problem,
            "background": profile.background, "personality": profile.personality,
            "speaking_style": profile.speaking_style, "core_beliefs": list(profile.core_beliefs),
            "automatic_thoughts": list(profile.automatic_thoughts),
            "private_facts": [fact.text for fact in profile.private_facts], "risk_flags": list(profile.risk_flags),
            "free": profile.id == FREE_ID}


def situation(profile: CaseProfile, session_index: int, week: Week | None) -> dict:
    """This session's situation in words: how the client feels and thinks, and what happened in the week."""
    plan = profile.plan_for(session_index)
    events = list(plan.life_events) + (list(week.random_events) if week is not None else [])
    homework = week.homework_done if week is not None and profile.id != FREE_ID else None
    return {"emotional_state": plan.emotional_state, "cognitive_state": plan.cognitive_state, "events": events,
            "homework_done": homework}


def _rating_form(posted: dict[str, str]) -> dict:
    scale, items = appraisal_items()
    return {"scale": sorted(scale.items()),
            "items": [{"field": item.field, "text": item.text, "chosen": posted.get(f"rate_{item.field}", "")}
                      for item in items]}


def _questionnaire_form(keys: list[str], posted: dict[str, str]) -> list[dict]:
    shown = []
    for key in keys:
        instrument = instruments()[key]
        shown.append({"key": key, "title": instrument.title, "instructions": instrument.instructions,
                      "scale": sorted(instrument.scale.items()),
                      "items": [{"number": n, "text": text, "chosen": posted.get(f"q_{key}_{n}", "")}
                                for n, text in enumerate(instrument.items, start=1)]})
    return shown


def _moment(request: dict, sessions: int) -> str:
    index = request["session_index"]
    if request.get("moment") == "before":
        return f"Before session {index}"
    if not request.get("at_end") and index >= sessions:
        return "After the last session"
    return f"After session {index}"


def client_values(status: CourseStatus, course: PracticeCourse, *, message: str = "",
                  posted: dict[str, str] | None = None) -> dict:
    """The template's values for the client's page."""
    posted = posted or {}
    profile, config = course.profile, course.config
    session_index = status.session_index
    finished = status.phase == "finished"
    turns = status.turns_now()
    request = status.request or {}
    node = status.next[0] if status.next else "session"
    working = WORKING.get(node, "The counselor is working.") if status.started else WORKING["start"]
    form = None
    if request:
        form = {"kind": request.get("kind"), "position": status.position, "rate": bool(request.get("rate")),
                "ratings": _rating_form(posted), "draft": posted.get("text", ""),
                "questionnaires": _questionnaire_form(list(request.get("keys") or []), posted),
                "moment": _moment(request, config.sessions) if request.get("kind") == "questionnaires" else "",
                "closing": request.get("kind") == "rate_turn"}
    return {
        "phase": status.phase, "message": message, "error": status.error or "", "instructor": False,
        "working": working.format(n=session_index) if status.phase == "working" else "",
        "persona": persona(profile),
        "situation": None if finished else situation(profile, session_index, status.course.week),
        "course": {"name": config.name, "session_index": session_index, "sessions": config.sessions,
                   "max_turns": config.max_turns, "counselor": config.counselor,
                   "counselor_model": config.models.counselor.model.text, "rater": config.client.rater or ""},
        "turns": _turns(turns),
        "client_turns": client_turn_count(turns),
        "form": form,
        "records": [{"session_index": r.session_index, "ended_by": r.ended_by or "", "turns": _turns(r.turns)}
                    for r in status.records],
    }


def _choice(form: dict[str, str], name: str, allowed, what: str) -> int | None:
    raw = form.get(name, "").strip()
    if not raw:
        return None
    if not raw.lstrip("-").isdigit() or int(raw) not in allowed:
        raise Refused(f"{what}: '{raw[:20]}' is not one of the answers; nothing was sent.")
    return int(raw)


def ratings_from_form(form: dict[str, str]) -> dict[str, int | None]:
    scale, items = appraisal_items()
    return {item.field: _choice(form, f"rate_{item.field}", scale, f"'{item.text}'") for item in items}


def answers_from_form(form: dict[str, str], keys: tuple[str, ...]) -> dict[str, list[int | None]]:
    answers = {}
    for key in keys:
        instrument = instruments()[key]
        answers[key] = [_choice(form, f"q_{key}_{n}", instrument.scale, f"{instrument.title} item {n}")
                        for n in range(1, len(instrument.items) + 1)]
    return answers


def _keys_of(position: str) -> tuple[str, ...]:
    keys = tuple(position.rpartition(".")[2].split("+"))
    if not position or any(key not in instruments() for key in keys):
        raise Refused("This form does not belong to a questionnaire of the course; nothing was sent.")
    return keys


class ClientPage:
    """The page of a person in the client's chair (``server.PracticePage``)."""

    template = "client.html.j2"
    max_fields = 64  # WAI-SR and PANAS together have 32 items

    def values(self, status: CourseStatus, course: PracticeCourse, *, instructor: bool, message: str,
               posted: dict[str, str]) -> dict:
        return client_values(status, course, message=message, posted=posted)

    def post(self, course: PracticeCourse, form: dict[str, str]) -> None:
        kind, position = form.get("form", ""), form.get("position", "")
        try:
            if kind == "client_turn":
                reply = reply_of({"text": form.get("text", ""), "end_session": form.get("action") == "end",
                                  "ratings": ratings_from_form(form)})
                course.send(reply.to_resume(), position, expected=kind)
            elif kind == "rate_turn":
                course.send({"ratings": ratings_of(ratings_from_form(form))}, position, expected=kind)
            elif kind == "questionnaires":
                keys = _keys_of(position)
                answers = answers_of({"answers": answers_from_form(form, keys)}, keys)
                course.send({"answers": answers}, position, expected=kind)
            else:
                raise Refused("This form does not belong to the course; nothing was sent.")
        except ValueError as problem:  # the checks the client node applies too
            if isinstance(problem, Refused):
                raise
            raise Refused(str(problem)) from None

