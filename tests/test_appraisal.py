"""How the client takes a counselor turn (rules or its own model) and answers questionnaires (model or latent)."""

from __future__ import annotations

import json
import random
import re

import pytest
from typer.testing import CliRunner

from muspsy_sim.agents.client import ClientState, SimulatedClient
from muspsy_sim.agents.client.past_references import reference_truth
from muspsy_sim.agents.client.questionnaires import administer, instruments, latent_levels
from muspsy_sim.agents.llm import LanguageModel, ModelSpec, Sampling
from muspsy_sim.agents.llm.routing import LiteLLMModel
from muspsy_sim.scenarios.loader import load_profile
from muspsy_sim.simulation.cli import app
from muspsy_sim.simulation.core.turns import Appraisal, ClientTurn, CounselorTurn
from tests.conftest import LIBRARY

PROFILE = load_profile(LIBRARY / "gad-priya-38.yaml")
CLOSING = CounselorTurn(stage="closing",
                        text="This week, try writing down one worrying thought each evening and one kinder answer to it.")
SESSION_ONE = [CounselorTurn(stage="opening", text="Hello, what is on your mind?"),
               ClientTurn(text="Deadlines at work keep me awake."), CLOSING]
runner = CliRunner()


class ScoringRecorder(LanguageModel):
    """The test double's model, keeping every prompt put to score_choices (score_items asks item by item)."""

    role = "client"
    output_retries = 2

    def __init__(self):
        self.inner = LiteLLMModel(ModelSpec.parse("testdouble/scripted"))
        self.model = self.inner.model
        self.prompts: list[str] = []

    def note_fault(self, kind):
        pass

    def complete(self, messages, sampling):
        return self.inner.complete(messages, sampling)

    def score_choices(self, messages, choices, seed=None, baseline=None):
        self.prompts.append(messages[-1]["content"])
        return self.inner.score_choices(messages, choices, seed, baseline)


@pytest.mark.parametrize(("text", "earlier", "expected"), [
    ("For homework this week, try a short walk each day.", [], 0.0),  # setting homework in session 1 is no claim
    ("As a new assignment, note one good moment a day.", [SESSION_ONE], 0.0),
    ("How did the homework go?", [], -1.0),  # nothing was ever assigned
    ("How was last week for you?", [], 0.0),  # the client's week, not an earlier session
    ("Last time we talked about your sister.", [], -1.0),
    ("How did the homework go?", [SESSION_ONE], 1.0),
    ("Last time we agreed on writing down worrying thoughts each evening. How did it go?", [SESSION_ONE], 1.0),
    ("Last time we agreed you would go jogging every morning before breakfast.", [SESSION_ONE], -1.0),
    ("How did the homework go?", [SESSION_ONE[:2]], -1.0),  # an earlier session that set no assignment
    ("It sounds like the deadlines weigh on you.", [SESSION_ONE], 0.0),
])
def test_a_reference_earns_trust_only_when_it_matches_what_happened(text, earlier, expected):
    assert reference_truth(text, earlier) == expected


def _trust_after(appraisal: str, counselor_text: str) -> tuple[float, float, Appraisal]:
    state = ClientState.initial(PROFILE)
    client = SimulatedClient(ScoringRecorder(), Sampling(), appraisal=appraisal)
    turns = [ClientTurn(text="Deadlines at work keep me awake."), CounselorTurn(text=counselor_text)]
    reply = client.reply(PROFILE, 1, state, turns, None, random.Random(0), seed=3)
    return state.trust, reply.state.trust, reply.appraisal


def test_the_model_appraisal_is_the_client_models_rating():
    """The test double rates by its own cue words, which the rules do not read: the state follows the model."""
    warm = "I am glad you came, I am with you in this."
    before, after, appraisal = _trust_after("model", warm)
    assert after > before and appraisal.source == "model" and appraisal.engagement > 0.5
    assert appraisal.methods == {"likelihood-calibrated": 4}
    assert _trust_after("rules", warm)[1] < before  # no lexical cue: the rules see nothing warm in it
    before, after, appraisal = _trust_after("model", "Whatever. Calm down.")
    assert after < before and appraisal.push > 0


def test_item_prompts_carry_no_numeric_level_and_latent_levels_are_recorded():
    state = ClientState.initial(PROFILE).model_copy(update={"distress": 7.3, "trust": 2.4})
    model = ScoringRecorder()
    turns = [CounselorTurn(text="What happened at work?"), ClientTurn(text="I froze.")]
    for key in ("phq9", "wai_sr"):
        instrument = instruments()[key]
        result, _ = administer(model, instrument, PROFILE, state, 2, seed=1, mode="model", turns=turns)
        levels = latent_levels(instrument, state)
        assert result.latent == [round(level, 3) for level in levels] and result.mode == "model"
        assert len(result.answers) == len(levels)
    assert model.prompts
    for prompt in model.prompts:
        assert "level" not in prompt.lower() and not re.search(r"\d\.\d", prompt)
        assert "your distress is high" in prompt and "You: I froze." in prompt
    assert any("your trust in the counselor is low" in prompt for prompt in model.prompts)


def test_latent_self_report_reads_the_state_without_a_model_call():
    state = ClientState.initial(PROFILE)
    model = ScoringRecorder()
    instrument = instruments()["panas"]
    result, completions = administer(model, instrument, PROFILE, state, 1, seed=1, mode="latent")
    assert model.prompts == [] and completions == []
    assert result.methods == {"latent-readout": 20} and result.mode == "latent"
    assert result.answers == [min(instrument.values, key=lambda v: (abs(v - level), v))
                                 for level in latent_levels(instrument, state)]


def _campaign(make_config, tmp_path, name, client, **overrides):
    config = make_config(name=name, scenarios=["gad-priya-38"], sessions=2, max_turns=2, client=client, **overrides)
    result = runner.invoke(app, ["run", "--config", str(config), "--no-progress"])
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "runs" / name
    records = [json.loads(line) for line in (run_dir / "sessions.jsonl").read_text().splitlines()]
    return result.output, records, json.loads((run_dir / "manifest.json").read_text()), run_dir


def test_campaigns_record_the_appraisal_and_self_report_they_ran(make_config, tmp_path):
    for appraisal, self_report in (("model", "model"), ("rules", "latent")):
        output, records, manifest, _ = _campaign(make_config, tmp_path, f"{appraisal}-{self_report}",
                                                 {"appraisal": appraisal, "self_report": self_report})
        assert manifest["components"]["client"]["appraisal"] == appraisal
        assert manifest["components"]["client"]["self_report"] == self_report
        assert manifest["config"]["client"]["appraisal"] == appraisal
        rated = [t["appraisal"] for r in records for t in r["turns"] if t["speaker"] == "client" and t["appraisal"]]
        assert rated and all(a["source"] == appraisal for a in rated)
        for record in records:
            for key in ("phq9", "gad7", "wai_sr", "panas"):
                answers = record["questionnaires"][key]
                assert answers["mode"] == self_report and len(answers["latent"]) == len(answers["answers"])
        assert "Self-reports vs the client's state (Spearman): PHQ-9" in output
        if self_report == "latent":
            assert records[0]["questionnaires"]["phq9"]["methods"] == {"latent-readout": 9}


def test_eval_and_the_run_summary_say_when_self_reports_do_not_follow_the_state(make_config, tmp_path):
    output, _, _, run_dir = _campaign(make_config, tmp_path, "strict", {"min_agreement": 0.99})
    assert "Self-report warning" in output and "below 0.99" in output
    result = runner.invoke(app, ["eval", str(run_dir), "--no-judge", "--min-agreement", "-1"])
    assert result.exit_code == 0, result.output
    assert re.search(r"PHQ-9 +│ +[-0-9.]+ │ +27 │ the client's model", result.output)
    assert "barely follow" not in result.output  # with 1 client the double may still answer one value throughout
    summary = json.loads((run_dir / "summary.json").read_text())["self_report_agreement"]
    assert summary["threshold"] == -1 and set(summary["instruments"]) == {"phq9", "gad7", "wai_sr", "panas"}
    assert summary["instruments"]["wai_sr"]["n"] == 24
    strict = runner.invoke(app, ["eval", str(run_dir), "--no-judge"])
    assert "Self-report warning" in strict.output  # the run's own threshold, 0.99
