"""The human counselor: a person speaks the counselor's turns; the model only writes notes.

``respond`` pauses the course graph with LangGraph's ``interrupt`` and returns what the
person sent when the graph is resumed with ``Command(resume=...)``; the pause lives in the
checkpoint, so it may last days and survive any restart. The session goal and the memory
of each session come from a MusPsy counselor on the configured counselor model, and are
shown to the person as machine-written notes.
"""

from __future__ import annotations

from dataclasses import dataclass

from langgraph.types import interrupt

from muspsy_sim.agents.counselor.base import (
    CounselorReply,
    ExtractedMemory,
    PlannedGoal,
    SessionContext,
    Stage,
)
from muspsy_sim.agents.counselor.muspsy import MusPsyCounselor
from muspsy_sim.agents.llm import LanguageModel, Sampling
from muspsy_sim.memory.base import DEFAULT_TOP_K

from ..core.provenance import qualified_name

# The campaign config's `counselor` for practice runs (resolved by the counselor registry).
HUMAN_COUNSELOR = "muspsy_sim.simulation.practice.human_counselor:HumanCounselor"
HUMAN_SOURCE = "human"
MAX_TURN_CHARS = 2000


@dataclass(frozen=True)
class HumanTurn:
    """What the person sent for one counselor turn (the resume value, as plain JSON)."""

    text: str
    end_session: bool = False

    def to_resume(self) -> dict:
        return {"text": self.text, "end_session": self.end_session}

    @classmethod
    def from_resume(cls, value) -> "HumanTurn":
        if isinstance(value, str):
            return cls(value)
        if not isinstance(value, dict) or not isinstance(value.get("text"), str):
            raise ValueError(f"a human counselor turn is {{'text': str, 'end_session': bool}}, not {value!r}")
        return cls(value["text"], bool(value.get("end_session", False)))


def turn_request(context: SessionContext, turns: list[dict], stage: Stage) -> dict:
    """The interrupt's value: where the course waits for the person (all plain JSON)."""
    return {
        "kind": "counselor_turn",
        "client_id": context.client_id,
        "session_index": context.session_index,
        "turn_index": len(turns),
        "stage": stage,
    }


class HumanCounselor:
    """A person in the counselor's chair; the model (MusPsy's prompts) writes the goal and memory notes."""

    name = "human"

    def __init__(self, llm: LanguageModel, sampling: Sampling, store=None, top_k: int = DEFAULT_TOP_K, **options):
        # The notes' writer gets the options a MusPsy counselor takes (memory_max_tokens, ...);
        # its safety step never runs, since the person speaks every turn.
        self.notes = MusPsyCounselor(llm=llm, sampling=sampling, store=store, top_k=top_k, **options)

    def describe(self) -> dict:
        return {
            "name": self.name,
            "class": qualified_name(self),
            "options": {},
            "notes": self.notes.describe(),
        }

    def plan_goal(self, context: SessionContext, seed: int) -> PlannedGoal:
        return self.notes.plan_goal(context, seed)

    def extract_memory(self, context: SessionContext, turns: list[dict], seed: int) -> ExtractedMemory:
        return self.notes.extract_memory(context, turns, seed)

    def respond(self, context: SessionContext, turns: list[dict], stage: Stage, seed: int) -> CounselorReply:
        # The node runs again on every resume, and each interrupt() call returns its own resume
        # value in order: an unusable one (the page refuses those first) is asked for again
        # instead of failing the course. Nothing here may have side effects.
        request = turn_request(context, turns, stage)
        while True:
            turn = usable_turn(interrupt(request))
            if turn is not None:
                return CounselorReply(turn.text, [], HUMAN_SOURCE, [], ends_session=turn.end_session)
            request = {**request, "asked_again": request.get("asked_again", 0) + 1}

    # A person's sessions export as training data in the MusPsy counselor's prompts (PromptRenderer):
    # a model trained on them is prompted at inference the way it was trained.
    def goal_prompt(self, context: SessionContext) -> str:
        return self.notes.goal_prompt(context)

    def memory_prompt(self, context: SessionContext, turns: list[dict]) -> str:
        return self.notes.memory_prompt(context, turns)

    def recalled_text(self, retrieved: list[dict]) -> str:
        return self.notes.recalled_text(retrieved)

    def counseling_messages(self, context: SessionContext, turns: list[dict], stage: Stage,
                            recalled: str) -> list[dict]:
        return self.notes.counseling_messages(context, turns, stage, recalled)


def usable_turn(value) -> HumanTurn | None:
    """The person's turn, stripped, or None when it is empty, too long or not a turn at all."""
    try:
        turn = HumanTurn.from_resume(value)
    except ValueError:
        return None
    text = turn.text.strip()
    if not text or len(text) > MAX_TURN_CHARS:
        return None
    return HumanTurn(text, turn.end_session)
