"""How the client's state moves: transparent rules with seeded noise.

Within a session, the client appraises each counselor turn (``agents.client.appraisal``:
lexical rules or the client's own model, both giving an ``Appraisal``) and the state
moves by fixed weights. Between sessions the client's week is
simulated: planned and random life events, homework done or not, symptom
drift. docs/client_state.md writes every rule out; the weights are
``DynamicsParams``, which a campaign config can override (``client_dynamics``).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, fields

from muspsy_sim.simulation.core.course import Week
from muspsy_sim.simulation.core.turns import Appraisal

from .state import ClientState

# A week's chance happenings, with their valence (+1 helps, -1 weighs).
RANDOM_EVENTS = (
    ("had an argument with someone close", -1),
    ("slept badly for several nights", -1),
    ("got unexpected bad news about money", -1),
    ("felt left out by friends", -1),
    ("had a good day with a friend", 1),
    ("got some praise at work or school", 1),
    ("went for a long walk and felt lighter", 1),
)


@dataclass(frozen=True)
class DynamicsParams:
    trust_per_empathy: float = 0.5
    trust_per_relevance: float = 0.6
    trust_per_push: float = -0.6
    trust_per_reference: float = 0.3
    trust_per_engagement: float = 0.4
    distress_relief: float = 0.35
    distress_per_push: float = 0.3
    resistance_per_empathy: float = -0.03
    resistance_per_push: float = 0.05
    insight_per_turn: float = 0.04
    symptom_per_distress: float = 0.3
    affect_rate: float = 0.3
    leave_below_trust: float = 1.0
    turn_noise: float = 0.1
    weekly_relief_per_trust: float = 0.12
    homework_relief: float = 0.6
    event_load: float = 0.2
    random_event_chance: float = 0.5
    random_event_weight: float = 0.5
    readiness_per_homework: float = 0.3
    weekly_noise: float = 0.4

    def to_record(self) -> dict:
        return asdict(self)

    @classmethod
    def from_overrides(cls, overrides: dict) -> "DynamicsParams":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"unknown dynamics parameter '{unknown[0]}'")
        return cls(**{k: float(v) for k, v in overrides.items()})




def trust_change(appraisal: Appraisal, resistance: float, params: DynamicsParams) -> float:
    """How much one appraised turn moves trust (before clamping): the turn's worth to the client.

    The validity harness correlates this with help-seekers' own ratings of a turn.
    """
    # A resistant client discounts warmth and bristles more at pushing.
    receptive = 1.0 - 0.5 * resistance
    change = (
        receptive * (params.trust_per_empathy * appraisal.empathy + params.trust_per_relevance * (appraisal.relevance - 0.3))
        + params.trust_per_push * appraisal.push * (0.5 + resistance)
        + params.trust_per_reference * appraisal.reference
    )
    if appraisal.engagement is not None:
        change += receptive * params.trust_per_engagement * (appraisal.engagement - 0.5)
    return change


def _clamp(value: float, low: float, high: float) -> float:
    return round(min(high, max(low, value)), 4)


def _move_symptoms(state: ClientState, distress_change: float, params: DynamicsParams) -> dict:
    step = params.symptom_per_distress * distress_change
    phq9 = [_clamp(v + step, 0, 3) if (i < 8 or v > 0) else 0.0 for i, v in enumerate(state.phq9)]
    return {"phq9": phq9, "gad7": [_clamp(v + step, 0, 3) for v in state.gad7]}


def after_counselor_turn(state: ClientState, appraisal: Appraisal, params: DynamicsParams, rng: random.Random) -> ClientState:
    """The state after the client hears one counselor turn."""
    receptive = 1.0 - 0.5 * state.resistance
    trust = state.trust + trust_change(appraisal, state.resistance, params)
    trust = _clamp(trust, 0, 10)
    relief = params.distress_relief * appraisal.empathy * (trust / 10)
    distress = _clamp(
        state.distress - relief + params.distress_per_push * appraisal.push + rng.gauss(0, params.turn_noise), 0, 10
    )
    insight = state.insight + params.insight_per_turn * receptive * (appraisal.reflective + appraisal.relevance) / 2
    rate = params.affect_rate
    return state.model_copy(
        update={
            "trust": trust,
            "distress": distress,
            "resistance": _clamp(state.resistance + params.resistance_per_empathy * appraisal.empathy
                                 + params.resistance_per_push * appraisal.push, 0, 1),
            "openness": _clamp(state.openness + 0.03 * (trust - state.trust), 0, 1),
            "insight": _clamp(insight, 0, 1),
            "negative_affect": _clamp((1 - rate) * state.negative_affect + rate * distress / 10, 0, 1),
            "positive_affect": _clamp((1 - rate) * state.positive_affect
                                      + rate * (0.5 * trust / 10 + 0.5 * appraisal.empathy), 0, 1),
            "recent_empathy": _clamp(0.5 * state.recent_empathy + 0.5 * appraisal.empathy, 0, 1),
            "recent_relevance": _clamp(0.5 * state.recent_relevance + 0.5 * appraisal.relevance, 0, 1),
            **_move_symptoms(state, distress - state.distress, params),
        }
    )


def wants_to_leave(state: ClientState, params: DynamicsParams) -> bool:
    return state.trust < params.leave_below_trust


def between_sessions(
    state: ClientState, planned_events: list[str], had_assignment: bool, params: DynamicsParams, rng: random.Random,
    happened: Week | None = None,
) -> tuple[ClientState, Week]:
    """The client's week: events, homework done or not, symptom drift.

    Returns the state at the start of the next session and a record of the week. ``happened`` (a
    recorded week) gives the homework and the chance events instead of drawing them, so a replay
    lives the week a person was told of (``simulation.validity``); the drift's noise is still drawn.
    """
    homework_done = None
    adherence = state.homework_adherence
    if happened is not None:
        homework_done = happened.homework_done if had_assignment else None
        if homework_done is not None:
            adherence = _clamp(0.7 * adherence + 0.3 * float(homework_done), 0, 1)
    elif had_assignment:
        chance = _clamp(0.1 + 0.1 * state.readiness + 0.05 * state.trust - 0.2 * state.resistance, 0.05, 0.95)
        homework_done = rng.random() < chance
        adherence = _clamp(0.7 * adherence + 0.3 * float(homework_done), 0, 1)
    random_events = []
    if happened is not None:
        valence = dict(RANDOM_EVENTS)
        random_events = [(text, valence.get(text, 0)) for text in happened.random_events]
    elif rng.random() < params.random_event_chance:
        random_events.append(RANDOM_EVENTS[rng.randrange(len(RANDOM_EVENTS))])
    drift = (
        -params.weekly_relief_per_trust * (state.trust - 5)
        - (params.homework_relief if homework_done else 0.0)
        + params.event_load * len(planned_events)
        - params.random_event_weight * sum(valence for _, valence in random_events)
        + rng.gauss(0, params.weekly_noise)
    )
    distress = _clamp(state.distress + drift, 0, 10)
    readiness = state.readiness + 0.3 * state.insight + 0.1 * (state.trust - 5) / 5
    if homework_done is not None:
        readiness += params.readiness_per_homework if homework_done else -params.readiness_per_homework / 2
    after = state.model_copy(
        update={
            "distress": distress,
            "homework_done": homework_done,
            "homework_adherence": adherence,
            "readiness": _clamp(readiness, 0, 4),
            "negative_affect": _clamp(0.5 * state.negative_affect + 0.5 * distress / 10, 0, 1),
            **_move_symptoms(state, distress - state.distress, params),
        }
    )
    week = Week(
        life_events=list(planned_events),
        random_events=[text for text, _ in random_events],
        homework_done=homework_done,
        distress_change=round(after.distress - state.distress, 4),
        stage_of_change=after.stage_of_change,
    )
    return after, week
