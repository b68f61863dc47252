"""The campaign configuration: a YAML file, overridable from the command line."""

from __future__ import annotations

from collections.abc import Mapping
from copy import deepcopy
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from muspsy_sim.agents.llm.spec import ModelSpec

from .core.errors import InputError, from_validation_error
from .core.files import read_yaml_mapping

DEFAULT_MODEL = "local/smollm2-135m-instruct"
ROLES = ("counselor", "client", "judge")
# Names become directories and Chroma metadata: keep them to a safe alphabet.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


def _model_spec(value: Any) -> Any:
    if isinstance(value, str):
        if not 3 <= len(value) <= 500:
            raise ValueError("a model string has 3 to 500 characters")
        return ModelSpec.parse(value)
    return value


# A model string, parsed once when the config is read; written back as the string it was.
ModelString = Annotated[ModelSpec, BeforeValidator(_model_spec), PlainSerializer(str, return_type=str),
                        WithJsonSchema({"type": "string", "minLength": 3, "maxLength": 500})]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RoleModel(_Strict):
    """Which model plays a role, and how it samples."""

    model: ModelString = Field(default=ModelSpec.parse(DEFAULT_MODEL), validate_default=True)
    api_base: str | None = Field(default=None, max_length=500)
    temperature: float = Field(default=0.7, ge=0, le=2)
    max_tokens: int = Field(default=64, ge=1, le=4096)
    # Faults (docs/design.md, "Faults"): each request is retried, then falls back; agents re-ask for bad output.
    retries: int = Field(default=3, ge=0, le=20, description="Retries of a timeout, connection error, 429 or 5xx, with exponential backoff.")
    timeout: float | None = Field(default=None, gt=0, le=3600, description="Seconds per request; none: the provider's default.")
    fallback: ModelString | None = Field(default=None, description="Model string used when the main one keeps failing.")
    output_retries: int = Field(default=2, ge=0, le=10, description="Re-asks for empty, truncated or malformed output before the step fails.")
    backoff_scale: float = Field(default=1.0, ge=0, le=10, description="Multiplies LiteLLM's retry backoff (tests: 0.001).")
    params: dict[str, Any] = Field(default_factory=dict, description="Extra LiteLLM request parameters; fault_rate, fault_seed, fault_kinds for faulty/... models.")
    scoring: Literal["auto", "logprobs", "json", "json-per-item"] = Field(
        default="auto", description="How questionnaire items and ratings are answered: auto (likelihood where the model "
        "gives log-probabilities, else one JSON request per questionnaire), logprobs, json, json-per-item.")


class Models(_Strict):
    counselor: RoleModel = RoleModel(max_tokens=48, temperature=0.5)
    client: RoleModel = RoleModel(max_tokens=40)
    judge: RoleModel = RoleModel(temperature=0.0, max_tokens=32)

    @field_validator("counselor", "client", "judge", mode="before")
    @classmethod
    def _model_string_shorthand(cls, value: Any) -> Any:
        return {"model": value} if isinstance(value, str) else value


class MemorySettings(_Strict):
    top_k: int = Field(default=3, ge=0, le=50)
    chroma_url: str | None = Field(default=None, max_length=500, description="Use a Chroma server instead of the embedded store.")


class AnswerFallbacks(_Strict):
    """Answers filled in (the scale's middle) because the model gave no valid one: when they are too many."""

    threshold: float = Field(default=0.05, ge=0, le=1, description="Share of a session's questionnaire answers above which the summary warns.")
    strict: bool = Field(default=False, description="Mark a course failed when one of its sessions is above the threshold (run --strict).")


class ClientSettings(_Strict):
    """How the simulated client takes turns and answers questionnaires (docs/client_state.md); or a person."""

    kind: Literal["simulated", "human"] = Field(
        default="simulated", description="simulated: the client agent; human: a person in the client's chair "
        "(`practice --as client`), whose replies, ratings and answers come from the practice page.")
    rater: str | None = Field(
        default=None, max_length=80, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,79}$",
        description="With kind human: the person's name (or code) recorded with every rating and answer.")
    appraisal: Literal["rules", "model"] = Field(
        default="rules", description="rules: lexical cues; model: the client's own model rates each counselor turn.")
    self_report: Literal["model", "latent"] = Field(
        default="model", description="model: the client's model answers each item; latent: the nearest scale value to its state, no model call.")
    min_agreement: float = Field(
        default=0.3, ge=-1, le=1,
        description="Spearman of self-reports with the latent levels below which the run summary and eval warn.")


class ServiceRetry(_Strict):
    """How courses ride out a Chroma server or PostgreSQL that stops answering (README, "Reliability").

    Each call is retried with exponential backoff (``initial_backoff`` doubling up to ``max_backoff``,
    with jitter) until the service answers or has been away ``max_wait`` seconds; then the courses stop
    as interrupted and ``resume`` finishes them. One line is logged when an outage begins and one when
    it ends, however many calls wait.
    """

    max_wait: float = Field(default=120.0, ge=0, le=86_400, description="Seconds a service may stay away before "
                            "the courses stop as interrupted (0: never wait).")
    initial_backoff: float = Field(default=0.5, gt=0, le=60, description="Seconds before the first retry.")
    max_backoff: float = Field(default=10.0, gt=0, le=600, description="Longest pause between two retries.")

    @model_validator(mode="after")
    def _backoff_order(self) -> "ServiceRetry":
        if self.max_backoff < self.initial_backoff:
            raise ValueError("max_backoff must be at least initial_backoff")
        return self


class CampaignConfig(_Strict):
    name: str = Field(default="default", pattern=NAME_PATTERN)
    scenarios: list[str] = Field(
        min_length=1, max_length=10_000, description="Profile ids, globs (gad-*) or tags (tag:anxiety, tag:risk)."
    )
    scenario_sample: int | None = Field(default=None, ge=1, le=100_000, description="Random sample of the matches (campaign seed).")
    scenario_dir: str = "scenarios/library"
    sessions: int = Field(default=3, ge=1, le=20, description="Sessions per client.")
    max_turns: int = Field(default=3, ge=1, le=100, description="Client turns per session before the counselor closes.")
    counselor: str = Field(default="muspsy", min_length=1, max_length=200)
    counselor_options: dict[str, Any] = Field(default_factory=dict)
    client_dynamics: dict[str, float | str] = Field(
        default_factory=dict, description="preset (calibrated, the default, or legacy) and overrides of DynamicsParams "
        "(docs/client_state.md).")
    client: ClientSettings = ClientSettings()
    models: Models = Models()
    memory: MemorySettings = MemorySettings()
    answer_fallbacks: AnswerFallbacks = AnswerFallbacks()
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    workers: int = Field(default=2, ge=1, le=64, description="Client courses run at the same time.")
    executor: Literal["threads", "ray"] = Field(
        default="threads", description="threads: courses in this process; ray: each course a Ray task (README, cluster).")
    ray_address: str | None = Field(
        default=None, max_length=500, description="Ray cluster to join (auto, HOST:6379, ray://HOST:10001); none starts a local one.")
    service_retry: ServiceRetry = ServiceRetry()
    checkpointer_url: str | None = Field(
        default=None, max_length=500, pattern=r"^postgres(ql)?://",
        description="postgresql://USER@HOST:PORT/DB for LangGraph's Postgres checkpointer; none keeps checkpoints.sqlite in the run directory.")
    output_dir: str = "runs"
    variants: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Named overrides; each variant runs as its own campaign NAME-VARIANT on the same clients and seed.",
    )

    @field_validator("checkpointer_url")
    @classmethod
    def _no_password_in_url(cls, value: str | None) -> str | None:
        # The config is copied into manifest.json; libpq reads PGPASSWORD or ~/.pgpass instead.
        if value and urlparse(value).password:
            raise ValueError("put the password in PGPASSWORD or ~/.pgpass, not in the URL (the config is saved in manifest.json)")
        return value

    def run_dir(self) -> Path:
        return Path(self.output_dir) / self.name

    def expand_variants(self, source: str | Path) -> list["CampaignConfig"]:
        """One config per variant (or just this one), each validated."""
        if not self.variants:
            return [self]
        base = self.model_dump(mode="json", exclude={"variants"})
        expanded = []
        for variant, overrides in self.variants.items():
            data = deep_merge(base, overrides)
            data["name"] = f"{self.name}-{variant}"
            try:
                expanded.append(CampaignConfig.model_validate(data))
            except ValidationError as error:
                problem = from_validation_error(source, error)
                raise InputError(source, f"variants.{variant}.{problem.field}", problem.message) from None
        return expanded


def deep_merge(base: dict, overrides: dict) -> dict:
    """``base`` with ``overrides`` applied; nested mappings are merged key by key, not replaced."""
    merged = dict(base)
    for key, value in overrides.items():
        merged[key] = deep_merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


Overrides = Mapping[str, Any]
"""Settings that replace a config's, by dotted key (``{"models.client.model": "openai/gpt-4o-mini"}``); a None
value leaves the setting as it is. The one syntax of every command that overrides a config (run, fork)."""


def with_overrides(data: dict[str, Any], overrides: Overrides | None, source: str | Path) -> dict[str, Any]:
    """Config data with ``overrides`` applied (a copy); ``InputError`` when a key runs into a non-mapping value."""
    data = deepcopy(data)
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        *parents, leaf = dotted.split(".")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise InputError(source, dotted, "cannot override inside a non-mapping value")
        node[leaf] = value
    return data


def load_config(path: Path, overrides: Overrides | None = None) -> CampaignConfig:
    """Read ``path`` and apply ``overrides``."""
    data = with_overrides(read_yaml_mapping(path), overrides, path)
    try:
        return CampaignConfig.model_validate(data)
    except ValidationError as error:
        raise from_validation_error(path, error) from None
