"""What a counselor is: the interface every counselor (built-in or plugged in) implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from muspsy_sim.agents.counselor.session_memory import SessionMemory
from muspsy_sim.agents.llm.base import Completion
from muspsy_sim.scenarios.profile import CaseProfile

Stage = Literal["opening", "middle", "closing"]


@dataclass(frozen=True)
class SessionContext:
    """What a counselor may know when it works on one session of one client."""

    profile: CaseProfile
    session_index: int
    goal: str = ""
    memories: tuple[SessionMemory, ...] = ()  # earlier sessions, oldest first
    transcripts: tuple[tuple[dict, ...], ...] = ()  # earlier sessions' turns, oldest first

    @property
    def client_id(self) -> str:
        return self.profile.id

    @property
    def last_memory(self) -> SessionMemory | None:
        return self.memories[-1] if self.memories else None


@dataclass(frozen=True)
class PlannedGoal:
    text: str
    source: str  # "model" or "fallback" (the model's output was unusable)
    completions: list[Completion] = field(default_factory=list)


@dataclass(frozen=True)
class CounselorTurn:
    text: str
    retrieved: list[dict] = field(default_factory=list)  # MemoryHit records: id, client_id, session_index, ...
    source: str = "model"  # "model", "template", "fallback" or "safety"
    completions: list[Completion] = field(default_factory=list)
    safety: dict | None = None  # a safety turn's reason and elements (agents.counselor.safety)
    ends_session: bool = False  # the counselor closes the session with this turn (no client reply follows)


@dataclass(frozen=True)
class ExtractedMemory:
    memory: SessionMemory
    completions: list[Completion] = field(default_factory=list)


@runtime_checkable
class Counselor(Protocol):
    """A counselor plans each session's goal, speaks turn by turn, and remembers each session.

    Constructed as ``Class(llm=..., sampling=..., store=..., top_k=..., **options)``;
    ``describe()`` returns what the run log records to rebuild it.
    """

    name: str

    def plan_goal(self, context: SessionContext, seed: int) -> PlannedGoal: ...

    def respond(self, context: SessionContext, turns: list[dict], stage: Stage, seed: int) -> CounselorTurn: ...

    def extract_memory(self, context: SessionContext, turns: list[dict], seed: int) -> ExtractedMemory: ...

    def describe(self) -> dict: ...
