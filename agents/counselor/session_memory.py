"""The structured memory the counselor keeps of each session (MusPsy "Counseling Memory")."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

# Label in the extraction output -> field name. Order is the template's order.
MEMORY_LABELS = {
    "Emotion and cognitive state": "emotion_and_cognitive_state",
    "Counselor observations": "counselor_observations",
    "Counseling assignments": "counseling_assignments",
    "Session goal": "session_goal",
    "Summary": "summary",
}
_EMPTY = {"", "none", "n/a", "...", "-", "unknown"}


class SessionMemory(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_index: int
    emotion_and_cognitive_state: str = ""
    counselor_observations: str = ""
    counseling_assignments: str = ""
    session_goal: str = ""
    summary: str = ""
    filled_in: list[str] = Field(
        default_factory=list, description="Fields the model's output lacked, filled from the session record instead."
    )

    def as_text(self) -> str:
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


def parse_memory_fields(text: str) -> dict[str, str]:
    """Pick the labelled lines out of a model's memory extraction, tolerating markup and order."""
    fields: dict[str, str] = {}
    labels = "|".join(re.escape(label) for label in MEMORY_LABELS)
    pattern = re.compile(rf"^[\s*#\-\[\]]*({labels})[\s*\]:]*:?\s*(.*)$", re.IGNORECASE | re.MULTILINE)
    by_lower = {label.lower(): name for label, name in MEMORY_LABELS.items()}
    for match in pattern.finditer(text):
        name = by_lower[match.group(1).lower()]
        value = match.group(2).strip().strip("*").strip()
        if value.lower() not in _EMPTY and name not in fields:
            fields[name] = value[:500]
    return fields
