"""The case profile a simulated client is seeded from.

A profile has static traits (who the client is) and a course plan: for each
session, the client's dynamic state at its start and the counseling goal the
case calls for. The shape follows the MusPsy dataset (static traits plus
per-session recent events, emotional state, cognitive state and goal).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from muspsy_sim.simulation.core.course import trait_bounds
from muspsy_sim.simulation.core.values import PROFILE_ID_PATTERN


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InitialState(_Strict):
    """Where the client stands when the course begins (numeric, see agents.client.state)."""

    distress: float = Field(ge=0, le=10, description="Subjective distress, 0 calm .. 10 overwhelmed.")
    trust: float = Field(default=4.0, ge=0, le=10, description="Trust in the counselor, 0 .. 10.")
    openness: float = Field(default=0.5, ge=0, le=1, description="Willingness to talk about oneself.")
    resistance: float = Field(default=0.3, ge=0, le=1, description="Tendency to push back on suggestions.")
    insight: float = Field(default=0.3, ge=0, le=1, description="Understanding of one's own patterns.")
    readiness: float = Field(default=1.0, ge=0, le=4, description="Stage of change: 0 precontemplation .. 4 maintenance.")


class PrivateFact(_Strict):
    """Something the client only tells a counselor it trusts enough."""

    text: str = Field(min_length=1, max_length=500)
    trust_threshold: float = Field(ge=0, le=10, description="Disclosed only while trust >= this.")


class SessionPlan(_Strict):
    """The client's situation at the start of one session, and the session's goal."""

    life_events: list[str] = Field(default_factory=list, max_length=20)
    emotional_state: str = Field(min_length=1, max_length=1000)
    cognitive_state: str = Field(min_length=1, max_length=1000)
    goal: str = Field(min_length=1, max_length=1000)
    events_fixed: bool = Field(
        default=True,
        description="True when these life events are part of the case; False when a simulation may vary them.",
    )


class TraitPins(_Strict):
    """Traits a profile fixes for its client, instead of drawing them (docs/client_state.md, "Traits").

    Each is optional: a trait left out is drawn from the campaign's distribution, once per client and seed.
    """

    # The ranges are the kernel's (``simulation.core.course.TRAIT_BOUNDS``), those of the traits drawn.
    responsiveness: float | None = Field(
        default=None, **trait_bounds("responsiveness"),
        description="How much a good session helps: 1 typical, near 0 a non-responder.")
    volatility: float | None = Field(
        default=None, **trait_bounds("volatility"), description="Week-to-week noise and setback propensity: 1 typical.")
    sudden_gain_propensity: float | None = Field(
        default=None, **trait_bounds("sudden_gain_propensity"),
        description="Chance per week, with a good alliance, of a sudden large improvement.")
    dropout_propensity: float | None = Field(
        default=None, **trait_bounds("dropout_propensity"), description="Base chance per week of not coming back "
        "(raised by low alliance, no improvement, resistance).")
    event_sensitivity: float | None = Field(
        default=None, **trait_bounds("event_sensitivity"), description="How much life events move distress: 1 typical.")

    def pinned(self) -> dict[str, float]:
        return {name: value for name, value in self.model_dump().items() if value is not None}


class CaseProfile(_Strict):
    id: str = Field(pattern=PROFILE_ID_PATTERN)
    pseudonym: str = Field(min_length=1, max_length=80)
    age: int = Field(ge=10, le=110)
    gender: str = Field(min_length=1, max_length=40)
    occupation: str = Field(min_length=1, max_length=200)
    presenting_problem: str = Field(min_length=1, max_length=1000)
    background: str = Field(min_length=1, max_length=3000)
    personality: str = Field(min_length=1, max_length=1000)
    speaking_style: str = Field(min_length=1, max_length=500)
    core_beliefs: list[str] = Field(default_factory=list, max_length=20)
    automatic_thoughts: list[str] = Field(default_factory=list, max_length=20)
    risk_flags: list[str] = Field(default_factory=list, max_length=20)
    private_facts: list[PrivateFact] = Field(default_factory=list, max_length=20)
    tags: list[str] = Field(default_factory=list, max_length=20)
    initial_state: InitialState
    traits: TraitPins | None = Field(
        default=None, description="Traits this client has whatever the seed; the others are drawn (docs/client_state.md).")
    course_plan: list[SessionPlan] = Field(min_length=1, max_length=20)

    @property
    def session_count(self) -> int:
        return len(self.course_plan)

    def plan_for(self, session_index: int) -> SessionPlan:
        """The plan of a 1-based session; past the plan's end the last entry carries on."""
        return self.course_plan[min(session_index, len(self.course_plan)) - 1]

    def intake(self) -> str:
        """A short intake summary: what a counselor knows before the first session."""
        return (
            f"{self.pseudonym}, {self.age}, {self.gender}, {self.occupation}. "
            f"Presenting problem: {self.presenting_problem}"
        )
