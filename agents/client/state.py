"""The simulated client's explicit, numeric state (see docs/client_state.md).

Everything the client says and every questionnaire it answers is conditioned
on this state, and the state moves by the rules in ``agents.client.dynamics``
after every counselor turn and between sessions. It is plain data (JSON-able)
so that LangGraph can checkpoint it and a session record can store it.
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict, Field

from muspsy_sim.scenarios.profile import CaseProfile

from .traits import ClientTraits

STAGES_OF_CHANGE = ("precontemplation", "contemplation", "preparation", "action", "maintenance")
# Profiles tagged with these carry their distress mostly as low mood / as anxiety.
MOOD_TAGS = frozenset({"depression", "low-mood", "grief", "burnout", "loneliness", "unemployment", "postnatal",
                       "self-esteem", "retirement", "divorce", "chronic-illness"})
ANXIETY_TAGS = frozenset({"anxiety", "panic", "social-anxiety", "health-anxiety", "insomnia", "ocd", "checking",
                          "perfectionism", "academic-stress", "stress"})


class ClientState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    distress: float = Field(ge=0, le=10, description="Subjective distress, 0 calm .. 10 overwhelmed.")
    trust: float = Field(ge=0, le=10, description="Trust in the counselor (the bond of the alliance), 0 .. 10.")
    openness: float = Field(ge=0, le=1, description="Willingness to talk about oneself.")
    resistance: float = Field(ge=0, le=1, description="Tendency to push back on the counselor.")
    insight: float = Field(default=0.3, ge=0, le=1, description="Understanding of one's own patterns.")
    readiness: float = Field(default=1.0, ge=0, le=4, description="Stage of change, 0 precontemplation .. 4 maintenance.")
    phq9: list[float] = Field(default_factory=lambda: [1.0] * 9, min_length=9, max_length=9, description="PHQ-9 item severities, 0..3.")
    gad7: list[float] = Field(default_factory=lambda: [1.0] * 7, min_length=7, max_length=7, description="GAD-7 item severities, 0..3.")
    positive_affect: float = Field(default=0.4, ge=0, le=1)
    negative_affect: float = Field(default=0.5, ge=0, le=1)
    recent_empathy: float = Field(default=0.5, ge=0, le=1, description="Running mean of perceived empathy.")
    recent_relevance: float = Field(default=0.5, ge=0, le=1, description="Running mean of perceived relevance.")
    homework_adherence: float = Field(default=0.5, ge=0, le=1, description="Running share of assignments done.")
    homework_done: bool | None = Field(default=None, description="Whether the last assignment was done (None before any).")
    disclosed: list[int] = Field(default_factory=list, description="Indices of the profile's private facts shared so far.")
    traits: ClientTraits | None = Field(
        default=None, description="The client's traits for the course (agents.client.traits); None: the neutral traits "
        "of the legacy dynamics, and left out of the state's record.")

    @property
    def stage_of_change(self) -> str:
        return STAGES_OF_CHANGE[min(4, max(0, round(self.readiness)))]

    @classmethod
    def initial(cls, profile: CaseProfile) -> "ClientState":
        start = profile.initial_state
        tags = set(profile.tags)
        mood = 1.0 if tags & MOOD_TAGS else 0.6
        anxiety = 1.0 if tags & ANXIETY_TAGS else 0.6
        base = start.distress / 10 * 3
        phq9 = [_item(base * mood, profile.id, "phq", i) for i in range(9)]
        # Item 9 (thoughts of death or self-harm) is zero unless the case carries a risk flag.
        phq9[8] = _item(base * 0.5, profile.id, "phq", 8) if profile.risk_flags else 0.0
        return cls(
            distress=start.distress,
            trust=start.trust,
            openness=start.openness,
            resistance=start.resistance,
            insight=start.insight,
            readiness=start.readiness,
            phq9=phq9,
            gad7=[_item(base * anxiety, profile.id, "gad", i) for i in range(7)],
            positive_affect=round(0.6 - start.distress / 20, 4),
            negative_affect=round(start.distress / 10, 4),
        )

    def get_state(self) -> dict:
        # A client without traits (legacy dynamics) writes the state exactly as before traits existed.
        return self.model_dump(mode="json", exclude={"traits"} if self.traits is None else None)

    @classmethod
    def from_state(cls, data: dict) -> "ClientState":
        """A new ClientState from the dict ``get_state`` made (as the graph state holds it)."""
        return cls.model_validate(data)


def _item(level: float, profile_id: str, scale: str, index: int) -> float:
    """A symptom item near ``level``, offset by a fixed per-client amount so items differ."""
    digest = hashlib.sha256(f"{profile_id}:{scale}:{index}".encode()).digest()[0]
    return round(min(3.0, max(0.0, level + (digest / 255 - 0.5) * 0.8)), 3)
