"""Training examples from sessions, rendered by the prompts of the counselor that ran.

One session yields the three MusPsy tasks: memory extraction (task 1), goal
planning (task 2) and one counseling-generation example per counselor turn
(task 3). Each example is the exact chat the counselor saw at inference, plus
the output it should produce, so a model trained on them plugs straight back in:
the chats come from the counselor's public prompt-rendering methods
(``PromptRenderer`` in agents/counselor/base.py), called on the counselor class
the run recorded, built without a model.

Targets are what a model produced. By default an example is left out when its
target was filled in by the program: a counselor turn from a template (the
session-2+ check-in), a safety step or check-in (``source`` safety, or any turn
with a ``safety`` record), a fallback turn, a fallback goal (``goal_source``
fallback), or a memory with fields listed in ``filled_in``. No model was asked
for these, so there is no inference chat to pair them with. ``include_filled_in``
exports them too (they keep the chat the counselor would have sent). Earlier
turns, whatever made them, stay in the chat: the counselor saw them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from muspsy_sim.agents.counselor.base import PromptRenderer, SessionContext
from muspsy_sim.agents.counselor.muspsy import SESSION_START
from muspsy_sim.scenarios.profile import CaseProfile

from ..core.course import SessionMemory
from ..core.turns import CounselorTurn, Turn

TASKS = ("memory", "goal", "counseling")
# Counselor turn sources the program fills in; every other source (model, reference, human, ...) wrote its turn.
PROGRAM_SOURCES = {"template": "template turns", "safety": "safety turns", "fallback": "fallback turns"}
LEFT_OUT = (*PROGRAM_SOURCES.values(), "fallback goals", "filled-in memories")


@dataclass(frozen=True)
class Session:
    """What the exporter needs of one session, whatever its source."""

    profile: CaseProfile
    session_index: int
    goal: str
    turns: list[Turn]
    memory: SessionMemory | None  # this session's memory (task 1's output), when known
    seed: int | None = None
    metrics: dict = field(default_factory=dict)
    goal_source: str | None = None  # "model" or "fallback" (None: not recorded)


@dataclass(frozen=True)
class Example:
    task: str
    client_id: str
    session_index: int
    messages: list[dict]  # the inference chat, ending with the target assistant message


def alternating(turns: Sequence[Turn]) -> list[Turn]:
    """Consecutive turns of one speaker merged, so the dialogue strictly alternates."""
    merged: list[Turn] = []
    for turn in turns:
        if merged and merged[-1].speaker == turn.speaker:
            merged[-1] = merged[-1].model_copy(update={"text": f"{merged[-1].text} {turn.text}"})
        else:
            merged.append(turn)
    return merged


def filled_in(turn: CounselorTurn) -> str | None:
    """What kind of program text a counselor turn is (one of ``LEFT_OUT``), or None for a model's turn."""
    if turn.safety is not None:
        return "safety turns"  # a safety step, or an opening with a safety check-in
    return PROGRAM_SOURCES.get(turn.source or "")


def session_examples(session: Session, earlier: list[Session], counselor: PromptRenderer,
                     tasks=TASKS, *, include_filled_in: bool = False, left_out: dict | None = None) -> list[Example]:
    """The examples of one session, ``earlier`` being the client's earlier sessions, oldest first,
    rendered by ``counselor`` (the counselor that ran, built without a model).

    Examples whose target the program filled in are left out unless ``include_filled_in``
    (see the module notes); ``left_out`` counts them by kind.
    """
    left_out = left_out if left_out is not None else {}

    def keep(kind: str | None) -> bool:
        if kind is None or include_filled_in:
            return True
        left_out[kind] = left_out.get(kind, 0) + 1
        return False

    session = Session(session.profile, session.session_index, session.goal, alternating(session.turns),
                      session.memory, session.seed, session.metrics, session.goal_source)
    # What the counselor knew of earlier sessions: their memories and (full-history) their transcripts.
    memories = tuple(s.memory for s in earlier if s.memory is not None)
    transcripts = tuple(tuple(s.turns) for s in earlier)
    context = SessionContext(session.profile, session.session_index, session.goal, memories, transcripts)
    client_id, index = session.profile.id, session.session_index
    examples = []
    if "memory" in tasks and session.memory is not None \
            and keep("filled-in memories" if session.memory.filled_in else None):
        examples.append(Example("memory", client_id, index, [
            {"role": "user", "content": counselor.memory_prompt(context, session.turns)},
            {"role": "assistant", "content": session.memory.as_extraction_output()},
        ]))
    if "goal" in tasks and session.goal and keep("fallback goals" if session.goal_source == "fallback" else None):
        examples.append(Example("goal", client_id, index, [
            {"role": "user", "content": counselor.goal_prompt(context)},
            {"role": "assistant", "content": session.goal},
        ]))
    if "counseling" in tasks:
        for position, turn in enumerate(session.turns):
            if not isinstance(turn, CounselorTurn) or not keep(filled_in(turn)):
                continue
            recalled = counselor.recalled_text(turn.retrieved)
            stage = turn.stage or ("opening" if position == 0 else "middle")
            chat = counselor.counseling_messages(context, session.turns[:position], stage, recalled)
            examples.append(Example("counseling", client_id, index,
                                    [*chat, {"role": "assistant", "content": turn.text}]))
    return examples


def as_muspsy(example: Example) -> dict:
    """instruction / input / output / history, as in the MusPsy training files.

    Task 3: instruction = the system prompt, history = earlier (client, counselor) pairs in order,
    input = the client's latest utterance, output = the counselor's turn.
    """
    messages = example.messages
    if example.task != "counseling":
        return {"instruction": messages[0]["content"], "input": "", "output": messages[-1]["content"], "history": [],
                "task": example.task, "client_id": example.client_id, "session_index": example.session_index}
    dialogue = messages[1:-1]
    pairs = [[dialogue[i]["content"], dialogue[i + 1]["content"]] for i in range(0, len(dialogue) - 1, 2)]
    return {
        "instruction": messages[0]["content"],
        "input": dialogue[-1]["content"],
        "output": messages[-1]["content"],
        "history": pairs,
        "task": "counseling",
        "client_id": example.client_id,
        "session_index": example.session_index,
    }


def as_openai(example: Example) -> dict:
    return {"messages": example.messages, "task": example.task, "client_id": example.client_id,
            "session_index": example.session_index}


def as_sharegpt(example: Example) -> dict:
    speaker = {"system": "system", "user": "human", "assistant": "gpt"}
    return {"conversations": [{"from": speaker[m["role"]], "value": m["content"]} for m in example.messages],
            "task": example.task, "client_id": example.client_id, "session_index": example.session_index}


FORMATS = {"muspsy": as_muspsy, "openai": as_openai, "sharegpt": as_sharegpt}
__all__ = ["FORMATS", "LEFT_OUT", "SESSION_START", "TASKS", "Example", "Session", "filled_in", "session_examples"]
