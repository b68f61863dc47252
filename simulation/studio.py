"""The course graph for LangGraph's own tooling (``langgraph dev`` / LangGraph Studio).

``langgraph.json`` at the repository root points at ``make_graph``, a factory:
importing this module loads nothing heavy and writes nothing. The factory reads
a campaign config (``configs/default.yaml`` unless ``MUSPSY_SIM_STUDIO_CONFIG`` or
the run config's ``configurable.campaign_config`` names another), builds the
campaign's agents, and keeps the memory store and session records in a fresh
temporary directory, so runs started from Studio never touch ``runs/``.

The graph is compiled without a checkpointer: the LangGraph server brings its own.
A run needs the run context and an initial state, e.g. from ``example_context()``
and ``example_input()``: context ``{"campaign": "studio", "seed": 7, "sessions": 3,
"max_turns": 3}`` and input ``initial_course_state(profile)``.

Simulated counseling for research; not a clinical service.
"""

import os
import tempfile
from pathlib import Path

from muspsy_sim.agents.llm.environment import configure_offline_environment
from muspsy_sim.scenarios.loader import load_library
from muspsy_sim.scenarios.selection import select_profiles
from muspsy_sim.simulation.config import ROLES, Overrides, load_config
from muspsy_sim.simulation.record.run_directory import RunDirectory
from muspsy_sim.simulation.record.schema import Manifest

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO / "configs" / "default.yaml"
CONFIG_ENVIRONMENT = "MUSPSY_SIM_STUDIO_CONFIG"


def _config_path(config_path=None) -> Path:
    return Path(config_path or os.environ.get(CONFIG_ENVIRONMENT) or DEFAULT_CONFIG)


def load_studio_config(config_path=None, overrides: Overrides | None = None):
    """The campaign config Studio runs with; a relative ``scenario_dir`` is taken from the repository root."""
    path = _config_path(config_path)
    config = load_config(path, overrides)
    if not Path(config.scenario_dir).is_absolute() and not Path(config.scenario_dir).is_dir():
        config = config.model_copy(update={"scenario_dir": str(REPO / config.scenario_dir)})
    return config


def build_studio_graph(config_path=None, overrides: Overrides | None = None, work_dir=None):
    """The compiled course graph with the config's agents (models load lazily, on first call).

    ``overrides`` replace config settings by dotted key (``{"models.counselor.model": "testdouble/scripted"}``);
    ``work_dir`` holds the memory store and sessions.jsonl (a new temporary directory by default).
    """
    from muspsy_sim.simulation.engine.components import build_components  # lazy: langgraph, the agents, chromadb

    configure_offline_environment()
    config = load_studio_config(config_path, overrides)
    work = Path(work_dir) if work_dir is not None else Path(tempfile.mkdtemp(prefix="muspsy-studio-"))
    run_dir = RunDirectory(work / config.name)
    run_dir.open(Manifest.new(config, str(_config_path(config_path)), [], status="studio"))
    return build_components(config, run_dir).course_graph().compile()


def make_graph(config: dict | None = None):
    """Factory named in langgraph.json; ``config`` is the LangGraph run config (a RunnableConfig)."""
    configurable = (config or {}).get("configurable") or {}
    return build_studio_graph(configurable.get("campaign_config"))


def example_context(config_path=None) -> dict:
    """A run context for Studio, from the campaign config."""
    config = load_studio_config(config_path)
    return {"campaign": config.name, "seed": config.seed, "sessions": config.sessions,
            "max_turns": config.max_turns, "models": {role: getattr(config.models, role).model.text for role in ROLES}}


def example_input(profile_id: str | None = None, config_path=None) -> dict:
    """An initial course state for Studio: ``profile_id`` or the config's first scenario."""
    from muspsy_sim.simulation.engine.course_graph import initial_course_state  # lazy: langgraph

    config = load_studio_config(config_path)
    path = _config_path(config_path)
    profiles = select_profiles([profile_id] if profile_id else config.scenarios,
                               load_library(Path(config.scenario_dir)), str(path))
    return initial_course_state(profiles[0])
