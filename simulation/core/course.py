"""What carries a course from one session to the next: the counselor's memory of a session (MusPsy's
"Counseling Memory"), and the client's week before the next one."""

from __future__ import annotations

from pydantic import Field

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
