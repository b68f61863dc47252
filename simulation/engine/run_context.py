"""Per-run settings handed to graph nodes through LangGraph's runtime context."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class ProgressEvents(Protocol):
    def session_started(self, client_id: str, session_index: int) -> None: ...
    def turn_done(self, client_id: str) -> None: ...
    def session_finished(self, client_id: str, session_index: int, client_turns: int) -> None: ...


class NoProgress:
    def session_started(self, client_id: str, session_index: int) -> None:
        pass

    def turn_done(self, client_id: str) -> None:
        pass

    def session_finished(self, client_id: str, session_index: int, client_turns: int) -> None:
        pass


@dataclass(frozen=True)
class RunContext:
    campaign: str
    seed: int
    sessions: int
    max_turns: int
    models: dict[str, str] = field(default_factory=dict)
    progress: ProgressEvents = field(default_factory=NoProgress)
