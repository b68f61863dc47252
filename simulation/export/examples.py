"""Training examples from sessions, rendered by the prompts of the counselor that ran.

One session yields the three MusPsy tasks: memory extraction (task 1), goal
planning (task 2) and one counseling-generation example per counselor turn
(task 3). Each example is the exact chat the counselor saw at inference, plus
the output it should produce, so a model trained on them plugs straight back in:
the chats come from the counselor's public prompt-rendering methods
(``PromptRenderer`` in agents/counselor/base.py), called on the counselor class
the run recorded, built without a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from muspsy_sim.agents.counselor.base import PromptRenderer, SessionContext
from muspsy_sim.agents.counselor.muspsy import SESSION_START
from muspsy_sim.agents.counselor.session_memory import SessionMemory
from muspsy_sim.scenarios.profile import CaseProfile

TASKS = ("memory", "goal", "counseling")


@dataclass(frozen=True)
class Session:
    """What the exporter needs of one session, whatever its source."""

    profile: CaseProfile
    session_index: int
    goal: str
    turns: list[dict]
    memory: SessionMemory | None  # this session's memory (task 1's output), when known
    seed: int | None = None
    metrics: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Example:
    task: str
    client_id: str
    session_index: int
    messages: list[dict]  # the inference chat, ending with the target assistant message


def alternating(turns: list[dict]) -> list[dict]:
    """Consecutive turns of one speaker merged, so the dialogue strictly alternates."""
    merged: list[dict] = []
    for turn in turns:
        if merged and merged[-1]["speaker"] == turn["speaker"]:
            merged[-1] = {**merged[-1], "text": f"{merged[-1]['text']} {turn['text']}"}
        else:
            merged.append(dict(turn))
    return merged


def session_examples(session: Session, earlier: list[Session], counselor: PromptRenderer,
                     tasks=TASKS) -> list[Example]:
    """The examples of one session, ``earlier`` being the client's earlier sessions, oldest first,
    rendered by ``counselor`` (the counselor that ran, built without a model)."""
    session = Session(session.profile, session.session_index, session.goal, alternating(session.turns),
                      session.memory, session.seed, session.metrics)
    # What the counselor knew of earlier sessions: their memories and (full-history) their transcripts.
    memories = tuple(s.memory for s in earlier if s.memory is not None)
    transcripts = tuple(tuple(s.turns) for s in earlier)
    context = SessionContext(session.profile, session.session_index, session.goal, memories, transcripts)
    client_id, index = session.profile.id, session.session_index
    examples = []
    if "memory" in tasks and session.memory is not None:
        examples.append(Example("memory", client_id, index, [
            {"role": "user", "content": counselor.memory_prompt(context, session.turns)},
            {"role": "assistant", "content": session.memory.as_extraction_output()},
        ]))
    if "goal" in tasks and session.goal:
        examples.append(Example("goal", client_id, index, [
            {"role": "user", "content": counselor.goal_prompt(context)},
            {"role": "assistant", "content": session.goal},
        ]))
    if "counseling" in tasks:
        for position, turn in enumerate(session.turns):
            if turn["speaker"] != "counselor" or turn.get("source") == "fallback":
                continue
            recalled = counselor.recalled_text(turn.get("retrieved") or [])
            stage = turn.get("stage") or ("opening" if position == 0 else "middle")
            chat = counselor.counseling_messages(context, session.turns[:position], stage, recalled)
            examples.append(Example("counseling", client_id, index,
                                    [*chat, {"role": "assistant", "content": turn["text"]}]))
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
__all__ = ["FORMATS", "SESSION_START", "TASKS", "Example", "Session", "session_examples"]
