"""How the client's state moves: transparent rules with seeded noise.

Within a session, the client appraises each counselor turn (``agents.client.appraisal``:
lexical rules or the client's own model, both giving an ``Appraisal``) and the state
moves by fixed weights. Between sessions the client's week is
simulated: planned and random life events, homework done or not, symptom
drift, setbacks and sudden gains. How strongly each of these acts on one client
is its traits (``agents.client.traits``, carried in ``ClientState.traits``).
docs/client_state.md writes every rule out; the weights are ``DynamicsParams``,
which a campaign config can override (``client_dynamics``), starting from a named
preset: ``calibrated`` (the default) or ``legacy`` (the rules before traits, dropout
and sudden gains existed, reproducing earlier runs).
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass, fields, replace

from muspsy_sim.simulation.core.course import Week
from muspsy_sim.simulation.core.turns import Appraisal

from .state import ClientState
from .traits import NEUTRAL, ClientTraits

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

DEFAULT_PRESET = "calibrated"
LEGACY = "legacy"


class DynamicsParameterError(ValueError):
    """A ``client_dynamics`` entry that cannot be used; ``field`` names it ("preset" or the weight)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def _check_range(name: str, value: float) -> None:
    """A weight must be a finite number; a chance or share a probability, a spread (``_sd``) not negative."""
    if not math.isfinite(value):
        raise DynamicsParameterError(name, f"must be a finite number, not {value}")
    if name.endswith(("_chance", "_share")) and not 0.0 <= value <= 1.0:
        raise DynamicsParameterError(name, f"a chance or share must be between 0 and 1, not {value:g}")
    if name.endswith("_sd") and value < 0:
        raise DynamicsParameterError(name, f"a standard deviation must be 0 or more, not {value:g}")


@dataclass(frozen=True)
class DynamicsParams:
    """The weights of the client's rules; the defaults are the ``calibrated`` preset (docs/client_state.md)."""

    trust_per_empathy: float = 0.5
    trust_per_relevance: float = 0.6
    trust_per_push: float = -0.6
    trust_per_reference: float = 0.3
    trust_per_engagement: float = 0.4
    distress_relief: float = 0.04
    relief_per_relevance: float = 1.0
    distress_per_push: float = 0.02
    resistance_per_empathy: float = -0.03
    resistance_per_push: float = 0.05
    insight_per_turn: float = 0.04
    symptom_per_distress: float = 0.3
    affect_rate: float = 0.3
    leave_below_trust: float = 1.0
    turn_noise: float = 0.15
    weekly_relief: float = 0.2
    weekly_relief_per_trust: float = 0.005
    homework_relief: float = 0.06
    event_load: float = 0.12
    random_event_chance: float = 0.5
    random_event_weight: float = 0.3
    readiness_per_homework: float = 0.3
    weekly_noise: float = 0.3
    setback_chance: float = 0.04
    setback_size: float = 0.8
    sudden_gain_share: float = 0.3
    dropout_early: float = 1.0
    dropout_per_low_trust: float = 1.0
    dropout_per_no_progress: float = 0.6
    dropout_per_resistance: float = 0.8
    # The distribution clients' traits are drawn from (agents.client.traits).
    trait_nonresponder_share: float = 0.25
    trait_responsiveness_sd: float = 0.4
    trait_volatility_sd: float = 0.4
    trait_sudden_gain_rate: float = 0.05
    trait_sudden_gain_sd: float = 0.6
    trait_dropout_rate: float = 0.016
    trait_dropout_sd: float = 0.6
    trait_event_sensitivity_sd: float = 0.3
    preset: str = DEFAULT_PRESET

    @property
    def legacy(self) -> bool:
        """The rules before issue 23: no traits, no dropout or sudden gains, the old lexical cues."""
        return self.preset == LEGACY

    def to_record(self) -> dict:
        """The weights as numbers (the preset is recorded beside them)."""
        return {name: value for name, value in asdict(self).items() if name != "preset"}

    @classmethod
    def from_overrides(cls, overrides: dict) -> "DynamicsParams":
        """The named ``preset`` (default calibrated) with single weights overridden; ``DynamicsParameterError``
        (naming the entry) for an unknown preset or weight, or a value that is not a finite number in its range."""
        overrides = dict(overrides)
        preset = overrides.pop("preset", DEFAULT_PRESET)
        if preset not in PRESETS:
            raise DynamicsParameterError("preset", f"unknown dynamics preset '{preset}' (one of {', '.join(PRESETS)})")
        known = {f.name for f in fields(cls)} - {"preset"}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise DynamicsParameterError(unknown[0], f"unknown dynamics parameter '{unknown[0]}'")
        values = {}
        for name, value in overrides.items():
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise DynamicsParameterError(name, f"dynamics parameter '{name}' must be a number")
            try:
                values[name] = float(value)
            except ValueError:
                raise DynamicsParameterError(name, f"dynamics parameter '{name}' must be a number, not '{value}'") \
                    from None
            _check_range(name, values[name])
        return replace(PRESETS[preset], **values)


PRESETS: dict[str, DynamicsParams] = {
    DEFAULT_PRESET: DynamicsParams(),
    # Today's rules before traits (issue 23): every new mechanism off, the weights as they were.
    LEGACY: DynamicsParams(
        distress_relief=0.35, relief_per_relevance=0.0, distress_per_push=0.3, symptom_per_distress=0.3,
        turn_noise=0.1, weekly_relief=0.0, weekly_relief_per_trust=0.12, homework_relief=0.6, event_load=0.2,
        random_event_chance=0.5, random_event_weight=0.5, weekly_noise=0.4, setback_chance=0.0, preset=LEGACY),
}


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


def traits_of(state: ClientState) -> ClientTraits:
    """The client's traits; a client without (legacy dynamics) has the neutral ones."""
    return state.traits or NEUTRAL


def after_counselor_turn(state: ClientState, appraisal: Appraisal, params: DynamicsParams, rng: random.Random) -> ClientState:
    """The state after the client hears one counselor turn."""
    traits = traits_of(state)
    receptive = 1.0 - 0.5 * state.resistance
    trust = state.trust + trust_change(appraisal, state.resistance, params)
    trust = _clamp(trust, 0, 10)
    # What helps in a turn: feeling understood and being heard on what one said (relevance), through the alliance.
    helpful = (appraisal.empathy + params.relief_per_relevance * appraisal.relevance) / (1.0 + params.relief_per_relevance)
    relief = params.distress_relief * helpful * (trust / 10) * traits.responsiveness
    distress = _clamp(
        state.distress - relief + params.distress_per_push * appraisal.push
        + rng.gauss(0, params.turn_noise * traits.volatility), 0, 10
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


def _weekly_relief(state: ClientState, params: DynamicsParams, traits: ClientTraits) -> float:
    """The week's relief from being in counseling and from the alliance, as far as the client responds to it."""
    return traits.responsiveness * (params.weekly_relief + params.weekly_relief_per_trust * (state.trust - 5))


def between_sessions(
    state: ClientState, planned_events: list[str], had_assignment: bool, params: DynamicsParams, rng: random.Random,
    happened: Week | None = None,
) -> tuple[ClientState, Week]:
    """The client's week: events, homework done or not, symptom drift, a setback or a sudden gain.

    Returns the state at the start of the next session and a record of the week. ``happened`` (a
    recorded week) gives the homework, the chance events and (for a client with traits) the setback
    and sudden gain instead of drawing them, so a replay lives the week a person was told of
    (``simulation.validity``); the drift's noise and the sizes are still drawn.
    """
    traits = traits_of(state)
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
        -_weekly_relief(state, params, traits)
        - (params.homework_relief * traits.responsiveness if homework_done else 0.0)
        + params.event_load * len(planned_events) * traits.event_sensitivity
        - params.random_event_weight * sum(valence for _, valence in random_events) * traits.event_sensitivity
        + rng.gauss(0, params.weekly_noise * traits.volatility)
    )
    setback = sudden_gain = False
    if state.traits is not None:  # the legacy client (no traits) draws nothing more, so its weeks stay as they were
        if happened is not None:
            setback = bool(happened.setback)
        elif params.setback_chance > 0 and rng.random() < min(0.9, params.setback_chance * traits.volatility):
            setback = True
        if setback:
            drift += params.setback_size * rng.uniform(0.5, 1.5)
        # Sudden gains come with a good alliance more often (Tang & DeRubeis 1999), but not only with one.
        gain_chance = traits.sudden_gain_propensity * (0.5 + 0.5 * state.trust / 10) * min(1.0, traits.responsiveness)
        if happened is not None:
            sudden_gain = bool(happened.sudden_gain)
        elif gain_chance > 0 and rng.random() < gain_chance:
            sudden_gain = True
        if sudden_gain:
            drift -= params.sudden_gain_share * max(0.0, state.distress + drift)
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
        # Only a client with traits has setbacks and sudden gains (a legacy week is written as before).
        setback=setback if state.traits is not None else None,
        sudden_gain=sudden_gain if state.traits is not None else None,
    )
    return after, week
