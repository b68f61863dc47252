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
for these, so there is no inference chat to pair them with. A closing turn the program began
(``prefilled``: the scaffold's prefix "This week, try") is left out too: its first words are the
program's, and the chat without the prefix is not the one the model continued. ``include_filled_in``
exports them too (they keep the chat the counselor would have sent). Earlier
turns, whatever made them, stay in the chat: the counselor saw them.

Only the target is trained. An example's ``trained`` lists the messages to learn; the chat
formats mark every assistant message with ``weight`` 1 (learn it) or 0 (context only), the
field OpenAI's fine-tuning reads (it trains every assistant message without ``weight: 0``) and
Axolotl reads with ``message_field_training: weight``. The per-turn form (one example per
counselor turn, its earlier turns as context with weight 0) trains each turn once, with the
exact chat it was generated from. The per-session form (``session_example``) is one example
per session: weight 1 on the turns the counselor's model wrote, 0 on the program's; each model
turn is trained once, but under one system prompt for the whole session (the middle stage's,
with every memory retrieved during the session), not the turn's own stage instruction and
retrieved memories, which only the per-turn form reproduces exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from muspsy_sim.agents.counselor.base import PromptRenderer, SessionContext
from muspsy_sim.agents.counselor.muspsy import SESSION_START
from muspsy_sim.scenarios.profile import CaseProfile

from ..core.course import SessionMemory
from ..core.errors import InputError
from ..core.provenance import qualified_name
from ..core.turns import CounselorTurn, RetrievedMemory, Turn, by_scaffold

TASKS = ("memory", "goal", "counseling")
# Counselor turn sources the program fills in; every other source (model, reference, human, ...) wrote its turn.
PROGRAM_SOURCES = {"template": "template turns", "safety": "safety turns", "fallback": "fallback turns"}
PREFILLED = "prefilled closings"  # model turns the program began (CounselorTurn.prefilled)
LEFT_OUT = (*PROGRAM_SOURCES.values(), PREFILLED, "fallback goals", "filled-in memories")


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
    trained: tuple[int, ...] | None = None  # the messages to learn (None: the last one); the rest are context

    def targets(self) -> tuple[int, ...]:
        return (len(self.messages) - 1,) if self.trained is None else self.trained

    def weights(self) -> list[int | None]:
        """Per message: 1 (learn it) or 0 (context) for an assistant message, None for any other."""
        targets = set(self.targets())
        return [(1 if i in targets else 0) if m["role"] == "assistant" else None for i, m in enumerate(self.messages)]


def alternating(turns: Sequence[Turn]) -> list[Turn]:
    """Consecutive turns of one speaker merged, so the dialogue strictly alternates (a counselor turn merged
    with one the program wrote counts as the program's: it is no model's output alone)."""
    merged: list[Turn] = []
    for turn in turns:
        if merged and merged[-1].speaker == turn.speaker:
            update = {"text": f"{merged[-1].text} {turn.text}"}
            if isinstance(turn, CounselorTurn) and by_scaffold(turn) and not by_scaffold(merged[-1]):
                update.update(source=turn.source, safety=turn.safety)
            elif isinstance(turn, CounselorTurn) and turn.prefilled:
                update["prefilled"] = turn.prefilled  # the program's words now inside it: not the model's alone
            merged[-1] = merged[-1].model_copy(update=update)
        else:
            merged.append(turn)
    return merged


def filled_in(turn: CounselorTurn) -> str | None:
    """What kind of program text a counselor turn is or holds (one of ``LEFT_OUT``), or None for a model's turn."""
    if turn.safety is not None:
        return "safety turns"  # a safety step, or an opening with a safety check-in
    return PROGRAM_SOURCES.get(turn.source or "") or (PREFILLED if turn.prefilled else None)


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


def _turns_at_the_end(chat: list[dict], turns: list[Turn], counselor: PromptRenderer) -> int:
    """Where the session's turns start in ``chat``: the renderer's contract (``counseling_messages``) is one
    message per turn, in order, at the end. A counselor that renders history otherwise (a window, a summary, a
    message after the turns) would have the weights fall on the wrong messages: refused, naming it."""
    offset = len(chat) - len(turns)
    for position, turn in enumerate(turns):
        message = chat[offset + position] if offset >= 0 else None
        role = "assistant" if isinstance(turn, CounselorTurn) else "user"
        if message is None or message.get("content") != turn.text or message.get("role") != role:
            name = qualified_name(counselor)
            raise InputError(name, "counseling_messages", f"does not render the session's turns as one message each, "
                             f"in order, at the end of the chat (turn {position} is not where it should be), so the "
                             "per-session export cannot tell which messages to train: use --form turn")
    return offset


def session_example(session: Session, earlier: list[Session], counselor: PromptRenderer, *,
                    include_filled_in: bool = False, left_out: dict | None = None) -> Example | None:
    """The per-session counseling example (see the module notes): the whole dialogue under one system prompt,
    the model's counselor turns to learn (the program's too, with ``include_filled_in``), the rest context.
    ``left_out`` counts the program's turns kept as context only. None when no turn is to be learnt."""
    left_out = left_out if left_out is not None else {}
    turns = alternating(session.turns)
    while turns and not isinstance(turns[-1], CounselorTurn):
        turns = turns[:-1]  # the client's last words, after the counselor's: nothing follows them to learn
    memories = tuple(s.memory for s in earlier if s.memory is not None)
    context = SessionContext(session.profile, session.session_index, session.goal, memories,
                             tuple(tuple(s.turns) for s in earlier))
    retrieved: dict[str, RetrievedMemory] = {}
    for turn in turns:
        for item in turn.retrieved if isinstance(turn, CounselorTurn) else ():
            retrieved.setdefault(item.id or item.text, item)
    chat = counselor.counseling_messages(context, turns, "middle", counselor.recalled_text(list(retrieved.values())))
    offset = _turns_at_the_end(chat, turns, counselor)
    trained = []
    for position, turn in enumerate(turns):
        if not isinstance(turn, CounselorTurn):
            continue
        kind = filled_in(turn)
        if kind is None or include_filled_in:
            trained.append(offset + position)
        else:
            left_out[kind] = left_out.get(kind, 0) + 1
    if not trained:
        return None
    return Example("counseling", session.profile.id, session.session_index, chat, tuple(trained))


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
    """OpenAI's chat format; every assistant message carries ``weight``: 1 to learn it, 0 for context."""
    messages = [{**m, "weight": weight} if weight is not None else dict(m)
                for m, weight in zip(example.messages, example.weights())]
    return {"messages": messages, "task": example.task, "client_id": example.client_id,
            "session_index": example.session_index}


def as_sharegpt(example: Example) -> dict:
    """ShareGPT; every ``gpt`` turn carries ``weight``: 1 to learn it, 0 for context (how trainers read it:
    ``simulation/export/trainers.py``)."""
    speaker = {"system": "system", "user": "human", "assistant": "gpt"}
    conversations = [{"from": speaker[m["role"]], "value": m["content"], **({} if w is None else {"weight": w})}
                     for m, w in zip(example.messages, example.weights())]
    return {"conversations": conversations, "task": example.task, "client_id": example.client_id,
            "session_index": example.session_index}


FORMATS = {"muspsy": as_muspsy, "openai": as_openai, "sharegpt": as_sharegpt}
FORMS = ("turn", "session")  # one example per counselor turn, or one per session (the counseling task)
__all__ = ["FORMATS", "FORMS", "LEFT_OUT", "SESSION_START", "TASKS", "Example", "Session", "filled_in",
           "session_example", "session_examples"]
