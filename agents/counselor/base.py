"""What a counselor is: the interface every counselor (built-in or plugged in) implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from muspsy_sim.scenarios.profile import CaseProfile
from muspsy_sim.simulation.core.course import SessionMemory
from muspsy_sim.simulation.core.turns import RetrievedMemory, SafetyStep, Turn

from ..llm import Completion

Stage = Literal["opening", "middle", "closing"]


@dataclass(frozen=True)
class SessionContext:
    """What a counselor may know when it works on one session of one client."""

    profile: CaseProfile
    session_index: int
    goal: str = ""
    memories: tuple[SessionMemory, ...] = ()  # earlier sessions, oldest first
    transcripts: tuple[tuple[Turn, ...], ...] = ()  # earlier sessions' turns, oldest first

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
class CounselorReply:
    """A counselor's next turn, as the counselor gives it; the session graph records it as a ``CounselorTurn``."""

    text: str
    retrieved: list[RetrievedMemory] = field(default_factory=list)  # what the memory store returned for this turn
    source: str = "model"  # "model", "template", "fallback" or "safety"
    completions: list[Completion] = field(default_factory=list)
    safety: SafetyStep | None = None  # a safety turn's reason and elements (agents.counselor.safety)
    ends_session: bool = False  # the counselor closes the session with this turn (no client reply follows)
    # The words at the start of ``text`` the program wrote (the scaffold's closing prefix); None: the counselor's all.
    prefilled: str | None = None


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

    def respond(self, context: SessionContext, turns: Sequence[Turn], stage: Stage, seed: int) -> CounselorReply: ...

    def extract_memory(self, context: SessionContext, turns: Sequence[Turn], seed: int) -> ExtractedMemory: ...

    def describe(self) -> dict: ...


@runtime_checkable
class PromptRenderer(Protocol):
    """A counselor that renders, without a model, exactly what it sends its model at each step.

    The training export (``simulation/export``) builds the counselor class a run
    recorded, without a model or a memory store, and renders every example through
    these methods, so a model trained on the export sees at inference what it was
    trained on. The built-in counselors implement it; a plugged-in counselor that
    does not cannot have its runs exported.
    """

    def goal_prompt(self, context: SessionContext) -> str:
        """Goal planning's instruction (MusPsy task 2)."""
        ...

    def memory_prompt(self, context: SessionContext, turns: Sequence[Turn]) -> str:
        """Memory extraction's instruction for a session's turns (MusPsy task 1)."""
        ...

    def recalled_text(self, retrieved: Sequence[RetrievedMemory]) -> str:
        """The retrieved memory records (a turn's ``retrieved``) as the counseling prompt shows them."""
        ...

    def counseling_messages(self, context: SessionContext, turns: Sequence[Turn], stage: Stage,
                            recalled: str) -> list[dict]:
        """The chat a counseling turn is generated from (MusPsy task 3), ``recalled`` from ``recalled_text``.

        Contract: the chat ends with ``turns``, one message per turn in order, its text unchanged (a counselor
        turn as "assistant", a client turn as "user"); anything else (system prompt, session start) comes
        before them. The per-session export marks which messages to train by that position and refuses a
        counselor whose chat breaks it (a window over the history, a summary, a message after the turns).
        """
        ...
