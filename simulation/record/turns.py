"""The turns of a session record: a counselor's or a client's, told apart by ``speaker``."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import ConfigDict, Field, TypeAdapter, model_serializer

from muspsy_sim.simulation.record.record_model import FullyWritten, Number, RecordModel, not_required


class RetrievedRecord(FullyWritten):
    """A memory record a counselor turn retrieved (``memory.MemoryHit``)."""

    id: str | None = None
    client_id: str | None = None
    session_index: int = Field(description="The earlier session the record comes from.")
    kind: str | None = Field(default=None, description="memory or transcript.")
    text: str
    distance: Number | None = Field(default=None, description="Embedding distance to the query (smaller is closer).")


class SafetyRecord(RecordModel):
    """Why a counselor turn is (or includes) a safety step (``agents.counselor.safety``)."""

    reason: str = Field(description="disclosure (risk disclosed this session) or follow_up (an earlier session).")
    category: str | None = None
    phrase: str | None = None
    elements: list[str] = Field(default_factory=list, description="Safety elements the step claims to cover.")


class CounselorTurnRecord(FullyWritten):
    """A counselor turn. ``safety`` is written only for a turn that is (or includes) a safety step."""

    model_config = ConfigDict(json_schema_extra=not_required("safety"))

    speaker: Literal["counselor"]
    text: str
    stage: str | None = Field(default=None, description="opening, middle or closing.")
    source: str | None = Field(default=None, description="model, template, fallback or safety (reference: imported).")
    retrieved: list[RetrievedRecord] = Field(default_factory=list, description="Memories retrieved for this turn.")
    safety: SafetyRecord | None = None

    # No return annotation: the serialization schema stays this model's own.
    @model_serializer(mode="wrap")
    def _omit_missing_safety(self, handler):
        data = handler(self)
        if "safety" in data and data["safety"] is None:
            del data["safety"]
        return data


class TurnState(FullyWritten):
    """The client's distress and trust right after its turn."""

    distress: Number
    trust: Number


class AppraisalRecord(FullyWritten):
    """How the client took the counselor turn before its own (``agents.client.dynamics.Appraisal``)."""

    empathy: Number
    relevance: Number
    push: Number
    reference: Number = 0.0
    reflective: Number = 0.0
    engagement: Number | None = Field(default=None, description="Wants to go on, 0..1 (model appraisal only).")
    source: str | None = Field(default=None, description="rules or model: the appraiser that made it.")
    methods: dict[str, int] = Field(default_factory=dict, description="How the model's items were answered (fallback: filled in).")


class ClientTurnRecord(FullyWritten):
    """A client turn. ``source`` is written only for a person's turn (``human``); the simulated client's has none."""

    model_config = ConfigDict(json_schema_extra=not_required("source"))

    speaker: Literal["client"]
    text: str
    state: TurnState | None = None
    appraisal: AppraisalRecord | None = Field(default=None, description="None for a turn that opens the session.")
    disclosed_fact: int | None = Field(default=None, description="Index of the profile's private fact disclosed.")
    risk_disclosed: bool = Field(default=False, description="Ground truth: this turn discloses the profile's risk "
                                 "(a person's turn: the risk lexicon recognises risk in it).")
    source: str | None = Field(default=None, description="human: a person wrote this turn (practice --as client).")


class TurnRatingRecord(FullyWritten):
    """A person's rating of one counselor turn on one appraisal item (agents/client/prompts/appraisal_items.yaml)."""

    turn: int = Field(ge=0, description="Index in the session's turns of the counselor turn rated.")
    item: str = Field(description="The appraisal item: empathy (felt understood), relevance (addressed what I said), "
                                  "push (felt pushed or judged), engagement (want to go on).")
    rating: int | None = Field(ge=1, le=5, description="1 = not at all .. 5 = completely; null: the person left it "
                                                       "unrated (never filled in).")
    source: str = Field(description="human: the person's own click.")
    rater: str | None = Field(default=None, description="The person's name or code.")


Turn = Annotated[Union[CounselorTurnRecord, ClientTurnRecord], Field(discriminator="speaker")]
TURN = TypeAdapter(Turn)
