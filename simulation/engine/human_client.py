"""A person in the client's chair: replies, turn ratings and questionnaire answers come from a person.

``HumanClient`` implements the ``Client`` interface (and ``PersonClient``): each call pauses the
course graph with LangGraph's ``interrupt``; the practice page (``simulation/practice``) resumes it
with ``Command(resume={interrupt_id: value})``, so the pause lives in the checkpoint and survives
any restart. The counselor, the memory, the goals and the weeks between sessions run exactly as in a
campaign; only the client's side is the person's.

Nothing is filled in: an appraisal item or a questionnaire item the person leaves unanswered is
recorded as None (a questionnaire's total and the subscales that hold it are then None too), with
``source``/``mode`` "human". The client state the graph carries is the simulation's bookkeeping for
the weeks between sessions (the profile's starting state, moved by the simulated week only): no
dynamics run on the person's turns, and no number of it is shown to them.

The values the page sends are checked here (``reply_of``, ``ratings_of``, ``answers_of``), once for
the page (whose refusals carry the message) and again in the node, which asks again rather than
fail when a value is unusable (the node runs again on every resume, so nothing here has side effects).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from langgraph.types import interrupt

from muspsy_sim.agents.client.appraisal import appraisal_items
from muspsy_sim.agents.client.base import ClientReply
from muspsy_sim.agents.client.dynamics import DynamicsParams
from muspsy_sim.agents.client.questionnaires import instruments
from muspsy_sim.agents.client.state import ClientState
from muspsy_sim.agents.llm import Completion
from muspsy_sim.agents.risk_language import detect_risk
from muspsy_sim.scenarios.profile import CaseProfile

from ..core.course import Week
from ..core.questionnaires import AT_END, QuestionnaireResult
from ..core.turns import HUMAN, CounselorTurn, Turn

MAX_REPLY_CHARS = 2000


def rating_items() -> tuple[str, ...]:
    """The appraisal items a person rates each counselor turn on (the model appraisal's items), by field."""
    return tuple(item.field for item in appraisal_items()[1])


def ratings_of(value) -> dict[str, int | None]:
    """Ratings by appraisal item, each 1..5 or None (unrated); ValueError with a message otherwise."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise ValueError("the ratings are not a set of items")
    items = rating_items()
    unknown = sorted(set(value) - set(items))
    if unknown:
        raise ValueError(f"unknown rating item '{unknown[0]}'")
    low, high = min(appraisal_items()[0]), max(appraisal_items()[0])
    ratings: dict[str, int | None] = {}
    for item in items:
        rating = value.get(item)
        if rating is not None and (isinstance(rating, bool) or not isinstance(rating, int) or not low <= rating <= high):
            raise ValueError(f"a rating is a whole number from {low} to {high}, not {rating!r}")
        ratings[item] = rating
    return ratings


@dataclass(frozen=True)
class PersonReply:
    """What the person sent for one client turn: their words, whether they leave, their ratings."""

    text: str
    end_session: bool
    ratings: dict[str, int | None]

    def to_resume(self) -> dict:
        return {"text": self.text, "end_session": self.end_session, "ratings": dict(self.ratings)}


def reply_of(value) -> PersonReply:
    """The person's reply, its text stripped; ValueError with a message when it cannot be a turn."""
    if not isinstance(value, dict) or not isinstance(value.get("text"), str):
        raise ValueError("a client turn is {'text': str, 'end_session': bool, 'ratings': {...}}")
    text = value["text"].strip()
    if not text:
        raise ValueError("Your reply is empty: write what you say to the counselor, then send it.")
    if len(text) > MAX_REPLY_CHARS:
        raise ValueError(f"Your reply has {len(text):,} characters; a turn may have at most {MAX_REPLY_CHARS:,}. "
                         "Shorten it and send it again.")
    return PersonReply(text, bool(value.get("end_session", False)), ratings_of(value.get("ratings")))


def answers_of(value, keys: tuple[str, ...]) -> dict[str, list[int | None]]:
    """Answers per instrument of ``keys``, one per item, each a scale value or None (unanswered)."""
    answers = value.get("answers") if isinstance(value, dict) else None
    if not isinstance(answers, dict) or set(answers) - set(keys):
        raise ValueError(f"answers are given per instrument: {', '.join(keys)}")
    result = {}
    for key in keys:
        instrument = instruments()[key]
        given = answers.get(key) or [None] * len(instrument.items)
        if not isinstance(given, list) or len(given) != len(instrument.items):
            raise ValueError(f"{instrument.title} has {len(instrument.items)} items")
        for answer in given:
            if answer is not None and (isinstance(answer, bool) or answer not in instrument.scale):
                raise ValueError(f"{answer!r} is not an answer of {instrument.title}")
        result[key] = list(given)
    return result


def person_questionnaire(key: str, answers: list[int | None]) -> QuestionnaireResult:
    """The questionnaire result of a person's answers: totals only over complete items, nothing filled in."""
    instrument = instruments()[key]
    complete = all(answer is not None for answer in answers)
    subscales = {}
    for name, items in instrument.subscales.items():
        values = [answers[i - 1] for i in items]
        subscales[name] = sum(values) if all(v is not None for v in values) else None
    answered = sum(answer is not None for answer in answers)
    return QuestionnaireResult(answers=list(answers), total=sum(answers) if complete else None, subscales=subscales,
                               methods={HUMAN: answered} if answered else {}, latent=[], mode=HUMAN, filled_in=[])


def questionnaire_position(session_index: int, keys: tuple[str, ...], turns: Sequence[Turn]) -> str:
    """Where a questionnaire waits: before the session (no turns yet) or after it (its turns done)."""
    moment = "after" if turns else "before"
    return f"{session_index}.{moment}.{'+'.join(keys)}"


class HumanClient:
    """A person plays the client of ``profile``; ``rater`` names them in every record."""

    self_report = HUMAN
    appraiser = None  # the person rates each counselor turn; no appraiser moves a state

    def __init__(self, params: DynamicsParams, rater: str):
        self.params = params  # the weeks between sessions are simulated as in a campaign
        self.rater = rater

    def reply(self, profile: CaseProfile, session_index: int, state: ClientState, turns: Sequence[Turn],
              week: Week | None, rng: random.Random, seed: int,
              earlier: Sequence[Sequence[Turn]] = ()) -> ClientReply:
        rates = bool(turns) and isinstance(turns[-1], CounselorTurn)
        request = {"kind": "client_turn", "client_id": profile.id, "session_index": session_index,
                   "turn_index": len(turns), "position": f"{session_index}.{len(turns)}", "rate": rates}
        reply = _ask(request, reply_of)
        risk = detect_risk(reply.text) is not None
        return ClientReply(reply.text, state, None, None, reply.end_session, [], risk, source=HUMAN,
                           ratings=reply.ratings if rates else None)

    def rate_last_turn(self, profile: CaseProfile, session_index: int, turns: Sequence[Turn]) -> dict[str, int | None]:
        request = {"kind": "rate_turn", "client_id": profile.id, "session_index": session_index,
                   "turn_index": len(turns) - 1, "position": f"{session_index}.{len(turns) - 1}.rate"}
        return _ask(request, lambda value: ratings_of(value.get("ratings") if isinstance(value, dict) else value))

    def answer_questionnaires(self, profile: CaseProfile, session_index: int, state: ClientState,
                              keys: tuple[str, ...], seed: int, turns: Sequence[Turn] = (),
                              week: Week | None = None) -> tuple[dict[str, QuestionnaireResult], list[Completion]]:
        request = {"kind": "questionnaires", "client_id": profile.id, "session_index": session_index,
                   "keys": list(keys), "moment": "after" if turns else "before",
                   "position": questionnaire_position(session_index, keys, turns), "at_end": keys == AT_END}
        answers = _ask(request, lambda value: answers_of(value, keys))
        return {key: person_questionnaire(key, answers[key]) for key in keys}, []


def _ask(request: dict, parse):
    """Interrupt until the resume value parses; an unusable one (the page refuses those first) is asked again."""
    while True:
        try:
            return parse(interrupt(request))
        except ValueError:
            request = {**request, "asked_again": request.get("asked_again", 0) + 1}
