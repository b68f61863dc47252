"""The run record's schema: pydantic models of each line of sessions.jsonl (the manifest's: ``manifest_schema``).

A run directory holds a ``Manifest`` (the campaign, its config, courses, usage, faults,
risk; ``manifest_schema``) and one ``SessionRecord`` per finished session, with its turns
(``CounselorTurnRecord``, ``ClientTurnRecord``, told apart by ``speaker``). The manifest
carries ``schema_version``; session lines do not. ``manifest_schema.json_schema(kind)`` gives
the JSON Schema for users' own tools.

Rules that keep old runs readable and new fields easy to add:

* Unknown keys are kept (``extra="allow"``): a record written by an older or newer
  writer reads, and writes back, with everything it had.
* Fields the current writer always writes, but older writers did not, have defaults
  (None, empty) so old records still read; in the printed schema (serialization mode)
  they are required, because every record written now has them.
* ``to_dict()`` writes the keys that were given, in the order of the fields below:
  a record read and written again is the same JSON, byte for byte.
* Numbers keep their JSON type: ``Number`` is an int or a float, never converted.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, TypeAdapter, WithJsonSchema, model_serializer

from muspsy_sim.scenarios.profile import PROFILE_ID_PATTERN

SCHEMA_VERSION = 1
NOTE = "Simulated counseling for research; not a clinical service."

# An int or a float, kept as it was (a float field would turn 0 into 0.0 and change the bytes written).
Number = Annotated[Union[StrictInt, StrictFloat], WithJsonSchema({"type": "number"})]
# Client ids name profile files and LangGraph threads: the profile id alphabet only.
ClientId = Annotated[str, Field(pattern=PROFILE_ID_PATTERN)]


def _not_required(*names: str):
    """A ``json_schema_extra`` hook: ``names`` are left out of ``required`` (the writer omits them at times)."""

    def edit(schema: dict[str, Any], model: type) -> None:
        schema["required"] = [name for name in schema.get("required", []) if name not in names]

    return edit


class RecordModel(BaseModel):
    """Base of the record models: unknown keys kept, values written back as they were read."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data: the keys that were set, in field order, then unknown keys."""
        return self.model_dump(exclude_unset=True, by_alias=True)


class FullyWritten(RecordModel):
    """A part of a session record the current writer writes whole (defaults only serve older records)."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


# --- turns ----------------------------------------------------------------------------------------


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

    model_config = ConfigDict(json_schema_extra=_not_required("safety"))

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


class ClientTurnRecord(FullyWritten):
    """A client turn."""

    speaker: Literal["client"]
    text: str
    state: TurnState | None = None
    appraisal: AppraisalRecord | None = Field(default=None, description="None for a turn that opens the session.")
    disclosed_fact: int | None = Field(default=None, description="Index of the profile's private fact disclosed.")
    risk_disclosed: bool = Field(default=False, description="Ground truth: this turn discloses the profile's risk.")


Turn = Annotated[Union[CounselorTurnRecord, ClientTurnRecord], Field(discriminator="speaker")]
TURN = TypeAdapter(Turn)


# --- the rest of a session record -----------------------------------------------------------------


class ClientStateRecord(FullyWritten):
    """The simulated client's state (``agents.client.state.ClientState``)."""

    distress: Number
    trust: Number
    openness: Number | None = None
    resistance: Number | None = None
    insight: Number | None = None
    readiness: Number | None = None
    phq9: list[Number] | None = Field(default=None, description="Latent PHQ-9 item severities, 0..3.")
    gad7: list[Number] | None = Field(default=None, description="Latent GAD-7 item severities, 0..3.")
    positive_affect: Number | None = None
    negative_affect: Number | None = None
    recent_empathy: Number | None = None
    recent_relevance: Number | None = None
    homework_adherence: Number | None = None
    homework_done: bool | None = None
    disclosed: list[int] = Field(default_factory=list, description="Private facts disclosed so far.")


class WeekRecord(FullyWritten):
    """The client's week before a session (``agents.client.dynamics.between_sessions``)."""

    life_events: list[str] = Field(default_factory=list, description="Events the profile planned for the week.")
    random_events: list[str] = Field(default_factory=list)
    homework_done: bool | None = None
    distress_change: Number | None = None
    stage_of_change: str | None = None


class QuestionnaireRecord(FullyWritten):
    """One instrument's answers as the client gave them (``agents.client.questionnaires``)."""

    answers: list[int]
    total: int
    subscales: dict[str, int] = Field(default_factory=dict)
    methods: dict[str, int] = Field(default_factory=dict, description="How many items each scoring method answered.")
    filled_in: list[int] = Field(default_factory=list, description="Items (1-based) the model gave no valid answer "
                                 "to: the scale's middle was filled in (method fallback); eval leaves them out.")


class ExitQuestionnaires(FullyWritten):
    """Symptoms once more after the course's last session."""

    __pydantic_extra__: dict[str, QuestionnaireRecord]

    phq9: QuestionnaireRecord | None = None
    gad7: QuestionnaireRecord | None = None


class Questionnaires(FullyWritten):
    """PHQ-9 and GAD-7 at the start of the session, WAI-SR and PANAS at its end; ``exit`` after the last."""

    __pydantic_extra__: dict[str, QuestionnaireRecord]
    model_config = ConfigDict(json_schema_extra=_not_required("exit"))

    phq9: QuestionnaireRecord | None = None
    gad7: QuestionnaireRecord | None = None
    wai_sr: QuestionnaireRecord | None = None
    panas: QuestionnaireRecord | None = None
    exit: ExitQuestionnaires | None = None


class MemoryRecord(FullyWritten):
    """The memory the counselor extracted (``agents.counselor.session_memory.SessionMemory``)."""

    session_index: int | None = None
    emotion_and_cognitive_state: str = ""
    counselor_observations: str = ""
    counseling_assignments: str = ""
    session_goal: str = ""
    summary: str = ""
    filled_in: list[str] = Field(default_factory=list, description="Fields filled from the record, not the model.")


class RoleUsage(FullyWritten):
    """Model calls of one role (``agents.llm.metering``)."""

    calls: Number = 0
    prompt_tokens: Number = 0
    completion_tokens: Number = 0
    seconds: Number = 0.0
    retries: Number = 0
    fallbacks: Number = 0
    reasks: Number = 0


class SessionRecord(FullyWritten):
    """One finished session: a line of sessions.jsonl."""

    campaign: str | None = None
    client_id: ClientId
    session_index: int = Field(ge=1)
    counselor: str | None = None
    models: dict[str, str] = Field(default_factory=dict, description="Model string per role.")
    seed: int | None = Field(default=None, description="The campaign seed.")
    goal: str | None = None
    goal_source: str | None = Field(default=None, description="model or fallback.")
    turns: list[Turn] = Field(default_factory=list)
    ended_by: str | None = Field(default=None, description="client or max_turns.")
    client_state_start: ClientStateRecord | None = None
    client_state_end: ClientStateRecord | None = None
    week_before: WeekRecord | None = Field(default=None, description="None before the first session.")
    questionnaires: Questionnaires | None = None
    memory: MemoryRecord | None = None
    usage: dict[str, RoleUsage] = Field(default_factory=dict, description="Model calls by role.")

    @property
    def key(self) -> tuple[str, int]:
        return self.client_id, self.session_index

    def to_json_line(self) -> str:
        """The line written to sessions.jsonl (without its newline)."""
        return json.dumps(self.to_dict(), ensure_ascii=False)
