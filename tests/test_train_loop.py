"""The loop the project exists for: simulate -> export -> train a few steps -> plug the counselor back in."""

import pytest
from typer.testing import CliRunner

from muspsy_sim.agents.counselor import SessionContext, build_counselor
from muspsy_sim.agents.llm import ModelSpec, Sampling
from muspsy_sim.agents.llm.routing import LiteLLMModel
from muspsy_sim.agents.training import train_counselor
from muspsy_sim.scenarios.loader import load_profile
from muspsy_sim.simulation.cli import app
from tests.conftest import LIBRARY

pytestmark = pytest.mark.real_model
runner = CliRunner()


def test_a_tiny_export_trains_and_the_adapter_counsels(tmp_path, make_config):
    config = make_config(sessions=2, max_turns=2, scenarios=["gad-priya-38", "panic-lucia-33"])
    assert runner.invoke(app, ["run", "--config", str(config), "--no-progress"]).exit_code == 0
    data = tmp_path / "train.jsonl"
    exported = runner.invoke(app, ["export", str(tmp_path / "runs" / "scripted"), "--format", "openai",
                                   "--task", "counseling", "--out", str(data)])
    assert exported.exit_code == 0, exported.output

    result = train_counselor(data, "local/smollm2-135m-instruct", tmp_path / "adapter", steps=4,
                             learning_rate=1e-3, batch_size=2, max_length=512, seed=0, threads=1)
    losses = [loss for _, loss in result.losses]
    assert sum(losses[-2:]) / 2 < sum(losses[:2]) / 2, losses

    counselor = build_counselor("muspsy", llm=LiteLLMModel(ModelSpec.parse(f"local/{result.out_dir}")),
                                sampling=Sampling(max_tokens=8, temperature=0.0))
    profile = load_profile(LIBRARY / "gad-priya-38.yaml")
    turn = counselor.respond(SessionContext(profile, 1, "Build trust."), [], "opening", seed=1)
    assert turn.text and turn.source in ("model", "fallback")
