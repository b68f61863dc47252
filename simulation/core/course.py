"""What carries a course from one session to the next: the counselor's memory of a session (MusPsy's
"Counseling Memory"), the client's week before the next one, the client's traits for the whole course,
and, when the client does not come back, why (``Dropout``)."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from .values import FullyWritten, Number

# Label in memory extraction's output -> field name, in the template's order (agents/counselor/prompts).
MEMORY_LABELS = {
    "Emotion and cognitive state": "emotion_and_cognitive_state",
    "Counselor observations": "counselor_observations",
    "Counseling assignments": "counseling_assignments",
    "Session goal": "session_goal",
    "Summary": "summary",
}
MEMORY_FIELDS = tuple(MEMORY_LABELS.values())


class SessionMemory(FullyWritten):
    """The memory the counselor extracted from one session.

    ``filled_in`` lists the fields the model's output lacked that the counselor filled in from the
    session record instead (a documented small-model safeguard): scaffolding, not the model's work.
    """

    session_index: int | None = None
    emotion_and_cognitive_state: str = ""
    counselor_observations: str = ""
    counseling_assignments: str = ""
    session_goal: str = ""
    summary: str = ""
    filled_in: list[str] = Field(default_factory=list, description="Fields filled from the record, not the model.")

    def as_text(self) -> str:
        """The memory as the store keeps it: "Session k." and one labelled line per field that has a value."""
        lines = [f"Session {self.session_index}."]
        for label, name in MEMORY_LABELS.items():
            value = getattr(self, name)
            if value:
                lines.append(f"{label}: {value}")
        return "\n".join(lines)

    def as_extraction_output(self) -> str:
        """The five labelled lines memory extraction asks for (MusPsy task 1's output)."""
        return "\n".join(f"{label}: {getattr(self, name) or 'none'}" for label, name in MEMORY_LABELS.items())

    def brief(self) -> str:
        """A one-line version for small prompts."""
        parts = [self.summary or self.emotion_and_cognitive_state]
        if self.counseling_assignments:
            parts.append(f"Assignment: {self.counseling_assignments}")
        return f"Session {self.session_index}: " + " ".join(p for p in parts if p)


class Week(FullyWritten):
    """The client's week before a session (``agents.client.dynamics.between_sessions``)."""

    life_events: list[str] = Field(default_factory=list, description="Events the profile planned for the week.")
    random_events: list[str] = Field(default_factory=list)
    homework_done: bool | None = None
    distress_change: Number | None = None
    stage_of_change: str | None = None
    # Written only for a client with traits (the calibrated dynamics): a legacy week is written as before.
    setback: bool | None = Field(default=None, description="The week brought a setback (a jump in distress).")
    sudden_gain: bool | None = Field(default=None,
                                     description="The week brought a sudden gain (a large drop in distress).")

    WRITTEN_WHEN_GIVEN = frozenset({"setback", "sudden_gain"})


# How a finished course ended (a manifest course's ``ended_by``): every planned session held, or the client
# did not come back after a week (``Dropout``). A client walking out of one session is neither: the course goes on.
COURSE_COMPLETED = "completed"
COURSE_DROPOUT = "dropout"
# A course (and a campaign whose courses are finished or so) stopped where a person must act: the counselor or
# the client is a person's chair (simulation/practice), as in a fork of a person's course. Neither failed nor
# finished: `practice` continues it.
WAITING = "waiting"

# Each trait's range (inclusive): the one definition that drawn traits (``ClientTraits`` and the draw's clamps,
# ``agents.client.traits``) and a profile's pinned ones (``scenarios.profile.TraitPins``) keep to.
TRAIT_BOUNDS: dict[str, tuple[Number, Number]] = {
    "responsiveness": (0, 3),
    "volatility": (0.1, 4),
    "sudden_gain_propensity": (0, 1),
    "dropout_propensity": (0, 1),
    "event_sensitivity": (0, 4),
}
TRAIT_NAMES = tuple(TRAIT_BOUNDS)


def trait_bounds(name: str) -> dict[str, Number]:
    """The ``ge`` and ``le`` of trait ``name``'s field."""
    low, high = TRAIT_BOUNDS[name]
    return {"ge": low, "le": high}


class ClientTraits(FullyWritten):
    """What makes one client's course unlike another's, drawn once per client and seed
    (``agents.client.traits``; docs/client_state.md, "Traits"). The neutral traits (the defaults) are
    how every client behaved before traits existed; the ``legacy`` dynamics give a client none."""

    model_config = ConfigDict(frozen=True)

    responsiveness: Number = Field(default=1.0, **trait_bounds("responsiveness"),
                                   description="Scales what a session and the alliance relieve.")
    volatility: Number = Field(default=1.0, **trait_bounds("volatility"),
                               description="Scales week-to-week and turn noise, and setbacks.")
    sudden_gain_propensity: Number = Field(default=0.0, **trait_bounds("sudden_gain_propensity"),
                                           description="Weekly chance of a sudden gain (with a good alliance).")
    dropout_propensity: Number = Field(default=0.0, **trait_bounds("dropout_propensity"),
                                       description="Base weekly chance of not coming back.")
    event_sensitivity: Number = Field(default=1.0, **trait_bounds("event_sensitivity"),
                                      description="Scales the weight of life events.")
    pinned: list[str] = Field(default_factory=list, description="Traits the profile fixed; the others were drawn.")

    def drawn(self) -> dict[str, float]:
        """The five traits by name (``pinned`` left out)."""
        return {name: float(getattr(self, name)) for name in TRAIT_NAMES}


class Dropout(FullyWritten):
    """Why a client did not come back after a week between sessions (``agents.client.dropout.decide_return``):
    the course ended there, a course outcome (a manifest course's ``dropout``)."""

    after_session: int = Field(description="The last session the client came to.")
    reason: str | None = Field(default=None, description="'factor: detail', the factor that weighed most.")
    probability: Number | None = Field(default=None, description="The chance, that week, of not coming back.")
    factors: dict[str, Number] = Field(default_factory=dict, description="Each factor's weight on the log-odds.")
