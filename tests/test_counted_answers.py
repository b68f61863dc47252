"""Counted, never silent (issue 22, point 6): a partial likelihood is labelled and counted, and at the start
of a run each role that chooses answers by its model says what that model offers (log-probabilities, an
enforced JSON schema), warning in plain words when the answers rest on its free-form JSON."""

from __future__ import annotations

import json
from types import SimpleNamespace as NS

import pytest
from typer.testing import CliRunner

from muspsy_sim.agents.llm import PARTIAL_METHOD, Completion, ModelSpec
from muspsy_sim.agents.llm.choice_scoring import ScoringPlan
from muspsy_sim.agents.llm.choice_scoring.likelihood import NextTokenLikelihood
from muspsy_sim.simulation.cli import app
from muspsy_sim.simulation.record.schema import SessionRecord
from muspsy_sim.simulation.record.tallies import answer_tallies
from tests.fake_openai_server import FakeOpenAIServer

runner = CliRunner()


@pytest.fixture(autouse=True)
def dummy_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-dummy")


def _logprobs(entries: dict[str, float]):
    top = [{"token": t, "logprob": v} for t, v in entries.items()]
    return NS(choices=[NS(logprobs={"content": [{"token": top[0]["token"], "logprob": top[0]["logprob"],
                                                   "top_logprobs": top}]})])


def test_a_likelihood_with_options_missing_after_the_re_asks_is_labelled_partial_and_counted():
    def send(messages, sampling, **extra):  # "3" never gets a log-probability, however often it is asked
        return Completion(text="1", model="x"), _logprobs({"0": -2.0, "1": -0.5, "2": -1.0})

    scored = NextTokenLikelihood().score(send, [], ["0", "1", "2", "3"], seed=1, baseline=None, output_retries=2)
    assert scored.choice == "1" and scored.method == PARTIAL_METHOD and len(scored.completions) == 3
    calibrated = NextTokenLikelihood().score(send, [{"role": "user", "content": "x"}], ["0", "1", "2", "3"], seed=1,
                                             baseline=[{"role": "user", "content": "N/A"}], output_retries=2)
    assert calibrated.method == PARTIAL_METHOD  # calibrated or not, still partial

    record = SessionRecord.model_validate({
        "client_id": "gad-priya-38", "session_index": 1,
        "questionnaires": {"phq9": {"answers": [1] * 9, "total": 9, "methods": {"likelihood-calibrated": 7,
                                                                                  PARTIAL_METHOD: 2}}}})
    tally = answer_tallies([record])["client"]["phq9"]
    assert (tally.asked, tally.fallbacks, tally.partial) == (9, 0, 2)


def test_a_server_that_enforces_the_schema_is_said_to():
    sent = []

    def send(messages, sampling, **extra):
        sent.append(extra)
        if extra.get("logprobs"):
            return Completion(text="1", model="x"), NS(choices=[NS(logprobs=None)])
        return Completion(text='{"1": 7}', model="x"), None

    offer = ScoringPlan(ModelSpec.parse("openai/x"), "auto").offer(send)
    assert offer.logprobs is False and offer.schema is True and not offer.free_form
    assert "enforces a JSON schema" in offer.words("client")
    assert sent[-1]["response_format"]["type"] == "json_schema"
    assert ScoringPlan(ModelSpec.parse("testdouble/scripted"), "auto").offer(send).words("judge").endswith(
        "exact log-probabilities, in process.")


def _run(make_config, tmp_path, name, server):
    models = {"counselor": {"model": "testdouble/scripted"}, "judge": {"model": "testdouble/scripted"},
              "client": {"model": "openai/fake", "api_base": server.url}}
    config = make_config(name=name, models=models, sessions=1, max_turns=1, scenarios=["gad-priya-38"])
    result = runner.invoke(app, ["run", "--config", str(config), "--no-progress"], terminal_width=200)
    manifest = json.loads((tmp_path / "runs" / name / "manifest.json").read_text())
    return result, manifest


def test_at_the_start_of_a_run_the_client_role_says_what_its_server_offers(make_config, tmp_path):
    with FakeOpenAIServer(logprobs=False) as server:
        result, manifest = _run(make_config, tmp_path, "bare-json", server)
    assert result.exit_code == 0, result.output
    printed = " ".join(result.output.split())
    warning = ("WARNING: client (openai/fake, scoring auto): the server offers neither log-probabilities nor an "
               "enforced JSON schema, so every questionnaire answer and rating rests on the model's free-form JSON.")
    assert warning in printed and printed.index(warning) < printed.index("Sessions")  # said before the sessions
    assert manifest["scoring"]["client"]["free_form"] is True and manifest["scoring"]["client"]["logprobs"] is False
    with FakeOpenAIServer() as server:
        result, manifest = _run(make_config, tmp_path, "with-logprobs", server)
    assert "client (openai/fake, scoring auto): the server returns log-probabilities" in " ".join(result.output.split())
    assert manifest["scoring"]["client"]["free_form"] is False
