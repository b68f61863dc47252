"""The simulated client's explicit, numeric state.

Everything the client says is conditioned on this state, and the state moves
by the rules in ``agents.client.dynamics`` after every counselor turn and
between sessions. It is plain data (JSON-able) so that LangGraph can
checkpoint it and a session record can store it before and after.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from scenarios.profile import CaseProfile


class ClientState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    distress: float = Field(ge=0, le=10, description="Subjective distress, 0 calm .. 10 overwhelmed.")
    trust: float = Field(ge=0, le=10, description="Trust in the counselor (alliance), 0 .. 10.")
    openness: float = Field(ge=0, le=1, description="Willingness to talk about oneself.")
    resistance: float = Field(ge=0, le=1, description="Tendency to push back on the counselor.")
    disclosed: list[int] = Field(default_factory=list, description="Indices of the profile's private facts shared so far.")
    homework_done: bool | None = Field(default=None, description="Whether the last assignment was done (None before any).")

    @classmethod
    def initial(cls, profile: CaseProfile) -> "ClientState":
        start = profile.initial_state
        return cls(distress=start.distress, trust=start.trust, openness=start.openness, resistance=start.resistance)

    def get_state(self) -> dict:
        return self.model_dump(mode="json")

    @classmethod
    def set_state(cls, data: dict) -> "ClientState":
        return cls.model_validate(data)
