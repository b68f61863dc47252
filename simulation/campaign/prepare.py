"""Preparing a campaign: validate the config, the profiles, the models and the counselor; write nothing.

``prepare_campaign`` returns the plan ``campaign.run.run_campaign`` runs. A run directory
that already exists is resumed, but only with the settings it was started with.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from muspsy_sim.agents.client.dynamics import LEGACY, DynamicsParameterError, DynamicsParams
from muspsy_sim.agents.counselor.registry import (
    BUILTIN_COUNSELORS,
    UnknownCounselor,
    build_prompt_renderer,
    resolve_counselor_class,
)
from muspsy_sim.agents.llm import UnknownModel
from muspsy_sim.agents.llm.routing import fault_injector_for, servable
from muspsy_sim.scenarios.loader import load_library
from muspsy_sim.scenarios.profile import CaseProfile
from muspsy_sim.scenarios.selection import select_profiles

from ..config import ROLES, CampaignConfig
from ..core.errors import InputError
from ..engine.checkpointers import check_checkpointer
from ..record.run_directory import RunDirectory
from ..record.run_log import RunLog
from .ray_executor import check_ray_settings

# Settings that may change when a run is resumed; everything else must match. client.rater: another person may
# go on with a course a person played (each session's record names its own rater). service_retry: how long to
# wait for a service that went away is the machine's business, not the study's. output_dir: the config found this
# run directory there, so it names the same place, relative or absolute (a fork records the path it was given).
RESUMABLE_DIFFERENCES = frozenset({"workers", "executor", "ray_address", "client.rater", "service_retry",
                                   "output_dir"})


@dataclass
class CampaignPlan:
    config: CampaignConfig
    source: str
    profiles: list[CaseProfile]
    run_dir: RunDirectory


def prepare_campaign(config: CampaignConfig, source: str | Path) -> CampaignPlan:
    """Validate everything a campaign needs before anything is written."""
    source = str(source)
    scenario_dir = Path(config.scenario_dir)
    if not scenario_dir.is_dir():
        raise InputError(source, "scenario_dir", f"not a directory: {scenario_dir}")
    profiles = select_profiles(
        config.scenarios, load_library(scenario_dir), source, sample=config.scenario_sample, seed=config.seed
    )
    for role in ROLES:
        settings = getattr(config.models, role)
        specs = []
        for key in ("model", "fallback"):
            try:
                if getattr(settings, key) is not None:
                    specs.append(servable(getattr(settings, key)))
            except UnknownModel as error:
                raise InputError(source, f"models.{role}.{key}", str(error)) from None
        try:
            fault_injector_for(specs, settings.params)
        except ValueError as error:
            raise InputError(source, f"models.{role}.params", str(error)) from None
    try:
        DynamicsParams.from_overrides(config.client_dynamics)
    except DynamicsParameterError as error:
        raise InputError(source, f"client_dynamics.{error.field}", str(error)) from None
    try:
        resolve_counselor_class(config.counselor)
    except UnknownCounselor as error:
        raise InputError(source, "counselor", str(error)) from None
    if config.counselor in BUILTIN_COUNSELORS:
        # Built without a model: its options (safety, scaffold, ...) are checked before anything runs.
        try:
            build_prompt_renderer(config.counselor, top_k=config.memory.top_k, options=config.counselor_options)
        except UnknownCounselor as error:
            raise InputError(source, "counselor_options", str(error)) from None
    check_ray_settings(config, source)
    run_dir = RunDirectory(config.run_dir())
    if run_dir.exists():
        check_resumable(run_dir, config)
        config = config.model_copy(update={"client_dynamics": continued_dynamics(RunLog.open(run_dir.path).manifest)})
    check_checkpointer(config, source, [p.id for p in profiles], fresh=not run_dir.exists())
    return CampaignPlan(config, source, profiles, run_dir)


def continued_dynamics(manifest) -> dict:
    """The ``client_dynamics`` a recorded run goes on with (resumed or forked): its own, and the ``legacy``
    preset for a run that began before dynamics presets existed (its clients ran by those rules)."""
    dynamics = dict(manifest.config.client_dynamics)
    components = manifest.components
    if components is not None and components.client.dynamics_preset is None and "preset" not in dynamics:
        dynamics["preset"] = LEGACY
    return dynamics


def check_resumable(run_dir: RunDirectory, config: CampaignConfig) -> None:
    """``config`` may continue the run in ``run_dir``: its settings match the recorded ones."""
    # The manifest's config is validated on reading, so settings added since the run began compare at their defaults.
    recorded = RunLog.open(run_dir.path).config.model_dump(mode="json")
    wanted = config.model_dump(mode="json")
    for path in (key for key in RESUMABLE_DIFFERENCES if "." in key):
        *parents, leaf = path.split(".")
        for data in (recorded, wanted):
            for part in parents:
                data = data.get(part) or {}
            data.pop(leaf, None)
    changed = sorted(k for k in wanted.keys() | recorded.keys()
                     if k not in RESUMABLE_DIFFERENCES and wanted.get(k) != recorded.get(k))
    if changed:
        raise InputError(
            run_dir.manifest_path, f"config.{changed[0]}",
            "this run directory holds a campaign with different settings; choose another --name or delete it",
        )
