"""How the client's state moves: transparent rules with seeded noise.

Within a session, the client appraises each counselor turn with lexical cues
(empathy, whether it takes up what the client just said, whether it pushes)
and the state moves by fixed weights. Between sessions, distress drifts with
the alliance reached, the homework and the week's events. docs/client_state.md
writes the rules out; the weights are ``DynamicsParams``.
"""

from __future__ import annotations

import random
import re
from dataclasses import asdict, dataclass

from agents.client.state import ClientState

_EMPATHY = re.compile(
    r"\b(sounds like|i hear|understand|makes sense|must be|that is hard|that's hard|i'm sorry|"
    r"it seems|you feel|feeling|thank you for sharing|of course|valid)\b",
    re.IGNORECASE,
)
_PUSHY = re.compile(r"\b(you should|you must|you need to|just|simply|stop|always|never)\b", re.IGNORECASE)
_WORD = re.compile(r"[a-z']{4,}")
_STOPWORDS = frozenset(
    "that this with have been from they them what when your about would there their will just feel "
    "really like very much some more than then also into because were know think".split()
)


@dataclass(frozen=True)
class DynamicsParams:
    trust_per_empathy: float = 0.5
    trust_per_relevance: float = 0.6
    trust_per_push: float = -0.6
    distress_relief: float = 0.35
    distress_per_push: float = 0.3
    resistance_per_empathy: float = -0.03
    resistance_per_push: float = 0.05
    leave_below_trust: float = 1.0
    turn_noise: float = 0.1
    weekly_relief_per_trust: float = 0.12
    homework_relief: float = 0.6
    event_load: float = 0.3
    weekly_noise: float = 0.4

    def to_record(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Appraisal:
    """How the client took one counselor turn (each cue in 0..1)."""

    empathy: float
    relevance: float
    push: float

    def to_record(self) -> dict:
        return asdict(self)


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS}


def appraise(counselor_text: str, last_client_text: str) -> Appraisal:
    empathy = min(1.0, len(_EMPATHY.findall(counselor_text)) / 2)
    push = min(1.0, len(_PUSHY.findall(counselor_text)) / 2)
    said = _content_words(last_client_text)
    relevance = len(said & _content_words(counselor_text)) / len(said) if said else 0.5
    return Appraisal(empathy=empathy, relevance=min(1.0, 2 * relevance), push=push)


def _clamp(value: float, low: float, high: float) -> float:
    return round(min(high, max(low, value)), 4)


def after_counselor_turn(state: ClientState, appraisal: Appraisal, params: DynamicsParams, rng: random.Random) -> ClientState:
    """The state after the client hears one counselor turn."""
    # A resistant client discounts warmth and bristles more at pushing.
    receptive = 1.0 - 0.5 * state.resistance
    trust = state.trust + receptive * (
        params.trust_per_empathy * appraisal.empathy + params.trust_per_relevance * (appraisal.relevance - 0.3)
    ) + params.trust_per_push * appraisal.push * (0.5 + state.resistance)
    relief = params.distress_relief * appraisal.empathy * (trust / 10)
    distress = state.distress - relief + params.distress_per_push * appraisal.push + rng.gauss(0, params.turn_noise)
    resistance = (
        state.resistance + params.resistance_per_empathy * appraisal.empathy + params.resistance_per_push * appraisal.push
    )
    openness = state.openness + 0.03 * (trust - state.trust)
    return state.model_copy(
        update={
            "trust": _clamp(trust, 0, 10),
            "distress": _clamp(distress, 0, 10),
            "resistance": _clamp(resistance, 0, 1),
            "openness": _clamp(openness, 0, 1),
        }
    )


def wants_to_leave(state: ClientState, params: DynamicsParams) -> bool:
    return state.trust < params.leave_below_trust


def between_sessions(
    state: ClientState, life_events: list[str], had_assignment: bool, params: DynamicsParams, rng: random.Random
) -> tuple[ClientState, dict]:
    """The client's week: homework done or not, the planned events, symptom drift.

    Returns the state at the start of the next session and a record of the week.
    """
    homework_done = None
    if had_assignment:
        chance = _clamp(0.15 + 0.06 * state.trust - 0.3 * state.resistance, 0.05, 0.95)
        homework_done = rng.random() < chance
    drift = (
        -params.weekly_relief_per_trust * (state.trust - 5)
        - (params.homework_relief if homework_done else 0.0)
        + params.event_load * len(life_events)
        + rng.gauss(0, params.weekly_noise)
    )
    after = state.model_copy(update={"distress": _clamp(state.distress + drift, 0, 10), "homework_done": homework_done})
    week = {"life_events": list(life_events), "homework_done": homework_done, "distress_change": round(after.distress - state.distress, 4)}
    return after, week
