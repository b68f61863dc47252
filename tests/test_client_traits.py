"""Clients differ (issue 23, point 1): traits drawn once per client and seed, pinnable per profile; presets."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from muspsy_sim.agents.client import ClientState
from muspsy_sim.agents.client.dynamics import PRESETS, DynamicsParams, after_counselor_turn, between_sessions
from muspsy_sim.agents.client.traits import NON_RESPONDER_BELOW, draw_traits
from muspsy_sim.scenarios.loader import load_profile
from muspsy_sim.scenarios.profile import TraitPins
from muspsy_sim.simulation.campaign.prepare import continued_dynamics
from muspsy_sim.simulation.cli import app
from muspsy_sim.simulation.core.course import TRAIT_BOUNDS, TRAIT_NAMES, ClientTraits
from muspsy_sim.simulation.core.turns import Appraisal
from muspsy_sim.simulation.record.run_log import read_manifest
from muspsy_sim.simulation.seeding import derive_rng
from tests.conftest import FIXTURES, LIBRARY, REPO

runner = CliRunner()
PROFILE = load_profile(LIBRARY / "gad-priya-38.yaml")
WARM = Appraisal(empathy=1.0, relevance=1.0, push=0.0)


def _draw(seed: int, client: str, pins: TraitPins | None = None) -> ClientTraits:
    return draw_traits(DynamicsParams(), lambda name: derive_rng(seed, client, "trait", name), pins)


def test_traits_are_drawn_once_per_client_and_seed():
    assert _draw(7, "a") == _draw(7, "a")
    assert _draw(7, "a") != _draw(8, "a") and _draw(7, "a") != _draw(7, "b")
    assert list(_draw(7, "a").to_dict()) == [*TRAIT_NAMES, "pinned"]


def test_a_pinned_trait_is_honoured_and_leaves_the_others_draws_alone():
    drawn = _draw(7, "a")
    pinned = _draw(7, "a", TraitPins(responsiveness=0.0, dropout_propensity=0.3))
    assert (pinned.responsiveness, pinned.dropout_propensity) == (0.0, 0.3)
    assert pinned.pinned == ["dropout_propensity", "responsiveness"]
    for name in ("volatility", "sudden_gain_propensity", "event_sensitivity"):
        assert getattr(pinned, name) == getattr(drawn, name)


def test_the_draw_follows_its_distribution():
    params = DynamicsParams()
    traits = [_draw(3, f"client-{i}") for i in range(2000)]
    non_responders = sum(t.responsiveness < NON_RESPONDER_BELOW for t in traits) / len(traits)
    assert non_responders == pytest.approx(params.trait_nonresponder_share, abs=0.03)
    dropout = sorted(t.dropout_propensity for t in traits)
    assert dropout[len(dropout) // 2] == pytest.approx(params.trait_dropout_rate, rel=0.1)  # the median
    assert all(0.1 <= t.volatility <= 4 and 0 <= t.sudden_gain_propensity <= 1 for t in traits)


def test_a_non_responder_gets_nothing_from_a_good_turn():
    params = DynamicsParams(turn_noise=0.0)
    responder = ClientState.initial(PROFILE).model_copy(update={"traits": ClientTraits(responsiveness=1.0)})
    non_responder = responder.model_copy(update={"traits": ClientTraits(responsiveness=0.0)})
    assert after_counselor_turn(responder, WARM, params, random.Random(1)).distress < responder.distress
    assert after_counselor_turn(non_responder, WARM, params, random.Random(1)).distress == non_responder.distress


def test_volatile_clients_have_bumpier_weeks():
    def spread(volatility: float) -> float:
        state = ClientState.initial(PROFILE).model_copy(update={"traits": ClientTraits(volatility=volatility)})
        changes = [between_sessions(state, [], False, DynamicsParams(), random.Random(s))[1].distress_change
                   for s in range(300)]
        mean = sum(changes) / len(changes)
        return sum((c - mean) ** 2 for c in changes) / len(changes)

    assert spread(2.0) > 2 * spread(0.5)


def test_a_profile_with_a_trait_out_of_range_is_refused_naming_the_field(tmp_path):
    data = yaml.safe_load((LIBRARY / "gad-priya-38.yaml").read_text())
    data["traits"] = {"responsiveness": 5}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    result = runner.invoke(app, ["scenarios", "validate", str(bad)])
    assert result.exit_code == 2 and "traits.responsiveness" in result.output
    data["traits"] = {"courage": 1}
    bad.write_text(yaml.safe_dump(data))
    result = runner.invoke(app, ["scenarios", "validate", str(bad)])
    assert result.exit_code == 2 and "traits.courage" in result.output


def test_presets_and_overrides():
    assert DynamicsParams() == PRESETS["calibrated"] and DynamicsParams().preset == "calibrated"
    legacy = DynamicsParams.from_overrides({"preset": "legacy", "weekly_noise": 0.5})
    assert legacy.legacy and legacy.weekly_noise == 0.5 and legacy.distress_relief == 0.35
    assert "preset" not in legacy.to_record() and all(isinstance(v, float) for v in legacy.to_record().values())
    with pytest.raises(ValueError, match="unknown dynamics preset 'gentle'"):
        DynamicsParams.from_overrides({"preset": "gentle"})
    with pytest.raises(ValueError, match="must be a number"):
        DynamicsParams.from_overrides({"weekly_noise": "loud"})


def test_an_unknown_preset_in_a_config_is_one_line_naming_the_field(tmp_path, make_config):
    result = runner.invoke(app, ["run", "--config", str(make_config(client_dynamics={"preset": "gentle"}))])
    assert result.exit_code == 2 and "client_dynamics" in result.output and "gentle" in result.output
    assert not (tmp_path / "runs").exists()


def test_a_run_from_before_presets_goes_on_with_the_legacy_rules():
    old = read_manifest(FIXTURES / "runs" / "v0-testdouble")
    assert old.components is not None and old.components.client.dynamics_preset is None
    assert continued_dynamics(old)["preset"] == "legacy"
    new = old.model_copy(update={"components": old.components.model_copy(update={
        "client": old.components.client.model_copy(update={"dynamics_preset": "calibrated"})})})
    assert "preset" not in continued_dynamics(new)


def test_the_default_config_documents_the_preset():
    assert "preset" in (REPO / "configs" / "default.yaml").read_text()
    assert json.loads(json.dumps(DynamicsParams().to_record()))  # JSON-able, as the manifest needs
    assert Path(REPO / "configs" / "realism.yaml").is_file()


def test_a_replayed_week_keeps_its_recorded_setback_and_sudden_gain():
    """``between_sessions(happened=...)`` (validity human) lives the recorded week: its setback and sudden gain
    are the record's, not drawn; a legacy client (no traits) writes neither flag, as before traits existed."""
    from muspsy_sim.simulation.core.course import Week

    traits = ClientTraits(volatility=4.0, sudden_gain_propensity=1.0)
    state = ClientState.initial(PROFILE).model_copy(update={"traits": traits})
    params = DynamicsParams(setback_chance=0.9)
    for setback, gain in ((True, False), (False, True), (False, False)):
        _, week = between_sessions(state, [], False, params, random.Random(5),
                                   happened=Week(setback=setback, sudden_gain=gain))
        assert (week.setback, week.sudden_gain) == (setback, gain)
    _, legacy = between_sessions(ClientState.initial(PROFILE), [], False, params, random.Random(5))
    assert "setback" not in legacy.to_dict() and "sudden_gain" not in legacy.to_dict()


@pytest.mark.parametrize("trait", TRAIT_NAMES)
def test_a_traits_range_has_one_home_that_pins_draws_and_records_keep_to(trait):
    """The kernel's TRAIT_BOUNDS: a profile may pin what a client may have, no more; the draw stays inside."""
    from pydantic import ValidationError

    low, high = TRAIT_BOUNDS[trait]
    for value in (low, high):
        assert TraitPins(**{trait: value}).pinned() == {trait: value}
        assert getattr(ClientTraits(**{trait: value}), trait) == value
    for value in (low - 0.01, high + 0.01):
        with pytest.raises(ValidationError):
            TraitPins(**{trait: value})
        with pytest.raises(ValidationError):
            ClientTraits(**{trait: value})
    wild = DynamicsParams(**{name: 50.0 for name in ("trait_responsiveness_sd", "trait_volatility_sd",
                                                      "trait_sudden_gain_sd", "trait_dropout_sd",
                                                      "trait_event_sensitivity_sd")})
    drawn = [getattr(draw_traits(wild, lambda name, s=seed: random.Random(f"{s}:{name}")), trait) for seed in range(40)]
    assert all(low <= value <= high for value in drawn) and isinstance(drawn[0], float)
