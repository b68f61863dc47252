"""A session's turns: what the counselor said (with what it retrieved and any safety step), what the
client said (with how it took the counselor's turn before), and the transcript they make; and a
person's ratings of the counselor's turns when a person plays the client (``TurnRating``).

These are the values the agents, the graphs, the evaluation and the record pass each other; a
turn is told apart by ``speaker``. Graph state keeps them as plain dicts (``to_dict()``), read back
with ``TURN.validate_python`` / ``turns_of`` at each graph's one seam (``simulation/engine/states.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Annotated, Any, Literal, Union

from pydantic import ConfigDict, Field, TypeAdapter, model_serializer

from .questionnaires import FALLBACK_METHOD
from .values import FullyWritten, Number, Value, not_required

STAGES = ("opening", "middle", "closing")
# The source of what a person gave in the client's chair (a turn, a turn rating, a questionnaire's answers),
# and a session record's ``client`` when a person played it (``practice --as client``).
HUMAN = "human"


class RetrievedMemory(FullyWritten):
    """A memory record a counselor turn retrieved from the store (or, outside search, a stored record)."""

    model_config = ConfigDict(frozen=True)

    id: str | None = None
    client_id: str | None = None
    session_index: int = Field(description="The earlier session the record comes from.")
    kind: str | None = Field(default=None, description="memory or transcript.")
    text: str
    distance: Number | None = Field(default=None, description="Embedding distance to the query (smaller is closer).")


class SafetyStep(Value):
    """Why a counselor turn is (or includes) a safety step (``agents.counselor.safety``)."""

    model_config = ConfigDict(frozen=True)

    reason: str = Field(description="disclosure (risk disclosed this session) or follow_up (an earlier session).")
    category: str | None = None
    phrase: str | None = None
    elements: list[str] = Field(default_factory=list, description="Safety elements the step claims to cover.")


class Appraisal(FullyWritten):
    """How the client took one counselor turn (each cue in 0..1; reference in -1..1).

    ``engagement`` (wants to go on) is rated by the model appraiser only; None leaves it out
    of the dynamics. ``source`` says which appraiser made it; ``methods`` counts how the
    model's items were answered (a "fallback" item is filled in, not the model's rating).
    """

    model_config = ConfigDict(frozen=True)

    empathy: Number
    relevance: Number
    push: Number
    reference: Number = Field(default=0.0, description="+1 refers back to what really happened, -1 to what did not.")
    reflective: Number = Field(default=0.0, description="1 when the turn asks the client to reflect (a question).")
    engagement: Number | None = Field(default=None, description="Wants to go on, 0..1 (model appraisal only).")
    source: str | None = Field(default="rules", description="rules or model: the appraiser that made it.")
    methods: dict[str, int] = Field(default_factory=dict, description="How the model's items were answered (fallback: filled in).")
    filled_in: list[str] = Field(default_factory=list, description="Items (Appraisal fields) the model gave no valid "
                                 "rating for: the scale's middle was filled in and moved the client's state; eval "
                                 "leaves the session's outcomes out.")

    def filled_in_items(self) -> list[str]:
        """Items filled in; a record from before ``filled_in`` that counted fallbacks says only that some were."""
        if self.filled_in or not self.methods.get(FALLBACK_METHOD):
            return list(self.filled_in)
        return ["unknown"] * int(self.methods[FALLBACK_METHOD])


class TurnState(FullyWritten):
    """The client's distress and trust right after its turn."""

    model_config = ConfigDict(frozen=True)

    distress: Number
    trust: Number


class CounselorTurn(FullyWritten):
    """A counselor turn. ``safety`` is written only for a turn that is (or includes) a safety step,
    ``store_returned`` only when the engine watched a memory store, ``prefilled`` only when the program
    wrote the turn's first words."""

    model_config = ConfigDict(frozen=True, json_schema_extra=not_required("safety", "store_returned", "prefilled"))

    speaker: Literal["counselor"] = "counselor"
    text: str
    stage: str | None = Field(default=None, description="opening, middle or closing.")
    source: str | None = Field(default=None, description="model, template, fallback or safety (reference: imported).")
    retrieved: list[RetrievedMemory] = Field(default_factory=list, description="Memories retrieved for this turn.")
    store_returned: list[str] | None = Field(
        default=None, description="Ids of the records the memory store returned to this turn's searches, as the "
        "engine saw them (the counselor cannot write them; retrieval recall is computed from these). None: not "
        "recorded (a run without a memory store, or an older run).")
    safety: SafetyStep | None = None
    prefilled: str | None = Field(
        default=None, description="The words at the start of `text` that the program wrote, not the counselor's "
        "model (the scaffold's closing prefix, \"This week, try\"): the client heard them, no score credits them "
        "to the model (`own_text`). None: the counselor wrote all of `text`.")

    @property
    def own_text(self) -> str:
        """What the counselor itself said: ``text`` without the program's words at its start (``prefilled``)."""
        if self.prefilled and self.text.startswith(self.prefilled):
            return self.text[len(self.prefilled):].lstrip()
        return self.text

    # No return annotation: the serialization schema stays this model's own.
    @model_serializer(mode="wrap")
    def _omit_missing_safety(self, handler):
        data = handler(self)
        for key in ("safety", "store_returned", "prefilled"):
            if key in data and data[key] is None:
                del data[key]
        return data


class ClientTurn(FullyWritten):
    """A client turn. ``source`` is written only for a person's turn (``human``); the simulated client's has none,
    and a person's turn has no ``state`` (nothing simulated moves with it). ``added`` is written only for a turn
    the program appended a sentence to (``text`` ends with it): what the counselor heard, not the client's own
    words (``own_text``)."""

    model_config = ConfigDict(frozen=True)
    WRITTEN_WHEN_GIVEN = frozenset({"source", "added"})

    speaker: Literal["client"] = "client"
    text: str
    state: TurnState | None = None
    appraisal: Appraisal | None = Field(default=None, description="None for a turn that opens the session.")
    disclosed_fact: int | None = Field(default=None, description="Index of the profile's private fact disclosed.")
    risk_disclosed: bool = Field(default=False, description="Ground truth: this turn discloses the profile's risk "
                                 "(a person's turn: the risk lexicon recognises risk in it).")
    source: str | None = Field(default=None, description="human: a person wrote this turn (practice --as client).")
    added: str | None = Field(default=None, description="The sentence the program appended to the client model's "
                              "words (the end of text): a risk disclosure they did not carry. Not the client's own.")

    @property
    def by_person(self) -> bool:
        return self.source == HUMAN

    @property
    def own_text(self) -> str:
        """What the client itself said: ``text`` without the sentence the program appended (``added``)."""
        if self.added and self.text.endswith(self.added):
            return self.text[:-len(self.added)].rstrip()
        return self.text


class TurnRating(FullyWritten):
    """A person's rating of one counselor turn on one appraisal item (agents/client/prompts/appraisal_items.yaml)."""

    model_config = ConfigDict(frozen=True)

    turn: int = Field(ge=0, description="Index in the session's turns of the counselor turn rated.")
    item: str = Field(description="The appraisal item: empathy (felt understood), relevance (addressed what I said), "
                                  "push (felt pushed or judged), engagement (want to go on).")
    rating: int | None = Field(ge=1, le=5, description="1 = not at all .. 5 = completely; null: the person left it "
                                                       "unrated (never filled in).")
    source: str = Field(default=HUMAN, description="human: the person's own click.")
    rater: str | None = Field(default=None, description="The person's name or code.")


# Counselor turn sources the program wrote in place of the counselor's model (its scaffold). Every other
# source (model, human, reference, ...) is the counselor's own.
SCAFFOLD_SOURCES = ("template", "fallback", "safety")


def by_scaffold(turn: CounselorTurn) -> bool:
    """Whether the program wrote this counselor turn (a template, a fallback, a safety step or check-in),
    not the counselor's model: scaffolding, attributed to the program in every score."""
    return turn.source in SCAFFOLD_SOURCES or turn.safety is not None


Turn = Annotated[Union[CounselorTurn, ClientTurn], Field(discriminator="speaker")]
TURN = TypeAdapter(Turn)
TURNS = TypeAdapter(list[Turn])


def turns_of(data: Iterable[dict[str, Any]]) -> list[Turn]:
    """Turns from their plain dicts (graph state, a record's JSON)."""
    return TURNS.validate_python(list(data))


def client_turn_count(turns: Iterable[Turn]) -> int:
    """How many of ``turns`` the client spoke."""
    return sum(1 for turn in turns if isinstance(turn, ClientTurn))


def last_client_text(turns: Sequence[Turn], default: str = "") -> str:
    """What the client said last in ``turns`` (``default`` when it has not spoken)."""
    return next((turn.text for turn in reversed(turns) if isinstance(turn, ClientTurn)), default)


def last_counselor_index(turns: Sequence[Turn]) -> int:
    """The index of the counselor's last turn in ``turns`` (-1 when it has not spoken)."""
    return max((index for index, turn in enumerate(turns) if isinstance(turn, CounselorTurn)), default=-1)


def last_counselor_text(turns: Sequence[Turn], default: str = "") -> str:
    """What the counselor said last in ``turns`` (``default`` when it has not spoken)."""
    return next((turn.text for turn in reversed(turns) if isinstance(turn, CounselorTurn)), default)


_ASSIGNMENT_START = re.compile(r"\b(?:this week|homework|assignments?|try)\b", re.IGNORECASE)


def heard_assignment(turns: Sequence[Turn]) -> str | None:
    """The assignment the client heard at the close of a session: the assignment part of its closing
    counselor turn (from the first "this week", "homework", "assignment" or "try" on; the whole turn when
    none occurs). None when the session did not end on a closing-stage counselor turn (the client left
    before it) or the turn names nothing beyond those words.

    What the client does between sessions (its homework) and what memory metrics check a follow-up
    against both come from here: the transcript the client heard, never the counselor's memory of it.
    """
    last = turns[-1] if turns else None
    if not isinstance(last, CounselorTurn) or last.stage != "closing":
        return None
    text = last.text.strip()
    start = _ASSIGNMENT_START.search(text)
    heard = text[start.start():] if start else text
    return heard if re.search(r"[A-Za-z]{4,}", _ASSIGNMENT_START.sub(" ", heard)) else None


# --- the transcript as text ------------------------------------------------------------------------

SPEAKER_LABELS = {"counselor": "Counselor", "client": "Client"}


def format_turns(turns: Iterable[Turn]) -> str:
    """The transcript as prompts, exports and stored memory chunks show it: "Counselor: ..." per line."""
    return "\n".join(f"{SPEAKER_LABELS[turn.speaker]}: {turn.text}" for turn in turns)


def exchange_chunks(turns: Sequence[Turn]) -> list[str]:
    """The transcript cut into client-and-counselor exchanges: the records the memory store keeps of it."""
    chunks: list[str] = []
    current: list[Turn] = []
    for turn in turns:
        current.append(turn)
        if isinstance(turn, CounselorTurn) and any(isinstance(t, ClientTurn) for t in current):
            chunks.append(format_turns(current))
            current = []
    if current:
        chunks.append(format_turns(current))
    return chunks
