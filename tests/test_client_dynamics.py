"""Client dynamics over whole campaigns: a good counselor beats a poor one, on the client's own reports."""

import json
import statistics

import pytest
from typer.testing import CliRunner

from muspsy_sim.simulation.cli import app

runner = CliRunner()
CLIENTS = ["gad-priya-38", "insomnia-david-47", "panic-lucia-33", "social-anxiety-kenji-20", "academic-stress-noor-16"]


def _campaign(tmp_path, make_config, name, counselor_model):
    models = {"counselor": counselor_model, "client": "testdouble/scripted", "judge": "testdouble/scripted"}
    config = make_config(name=name, scenarios=CLIENTS, sessions=3, workers=2, models=models, seed=5)
    result = runner.invoke(app, ["run", "--config", str(config), "--no-progress"])
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "runs" / name / "sessions.jsonl").read_text().splitlines()
    return sorted(map(json.loads, lines), key=lambda r: (r["client_id"], r["session_index"]))


@pytest.fixture(scope="module")
def good_and_poor(tmp_path_factory):
    from tests.conftest import scripted_config

    tmp = tmp_path_factory.mktemp("dynamics")

    def make_config(**overrides):
        return scripted_config(tmp, **overrides)

    return (_campaign(tmp, make_config, "good", "testdouble/scripted"),
            _campaign(tmp, make_config, "poor", "testdouble/poor-counselor"))


def _last_sessions(records):
    return {r["client_id"]: r for r in records if r["session_index"] == 3}


def test_every_session_carries_questionnaires_and_the_week_before(good_and_poor):
    for records in good_and_poor:
        for record in records:
            answers = record["questionnaires"]
            assert len(answers["phq9"]["answers"]) == 9 and len(answers["gad7"]["answers"]) == 7
            assert len(answers["wai_sr"]["answers"]) == 12 and len(answers["panas"]["answers"]) == 20
            assert all(0 <= a <= 3 for a in answers["phq9"]["answers"] + answers["gad7"]["answers"])
            assert all(1 <= a <= 5 for a in answers["wai_sr"]["answers"] + answers["panas"]["answers"])
            assert set(answers["wai_sr"]["subscales"]) == {"goal", "task", "bond"}
            if record["session_index"] == 1:
                assert record["week_before"] is None
            else:
                week = record["week_before"]
                assert {"life_events", "random_events", "homework_done", "stage_of_change"} <= week.keys()
            if record["session_index"] == 3:
                assert {"phq9", "gad7"} <= answers["exit"].keys()


def test_good_counselor_gets_higher_alliance_and_lower_symptoms_than_poor(good_and_poor):
    good, poor = (_last_sessions(r) for r in good_and_poor)
    assert good.keys() == poor.keys() == set(CLIENTS)

    def mean(records, *path):
        values = []
        for record in records.values():
            value = record["questionnaires"]
            for key in path:
                value = value[key]
            values.append(value)
        return statistics.mean(values)

    assert mean(good, "wai_sr", "total") > mean(poor, "wai_sr", "total")
    assert mean(good, "exit", "phq9", "total") < mean(poor, "exit", "phq9", "total")
    assert mean(good, "exit", "gad7", "total") < mean(poor, "exit", "gad7", "total")
    for client in CLIENTS:  # client by client, not only on average
        assert good[client]["questionnaires"]["wai_sr"]["total"] > poor[client]["questionnaires"]["wai_sr"]["total"]


def test_resistant_client_does_not_agree_with_a_challenging_turn_at_first(good_and_poor):
    _, poor = good_and_poor
    from muspsy_sim.scenarios.loader import load_profile
    from tests.conftest import LIBRARY

    resistant = [c for c in CLIENTS if load_profile(LIBRARY / f"{c}.yaml").initial_state.resistance > 0.5]
    assert resistant, "the test needs a resistant profile among CLIENTS"
    for record in poor:
        if record["client_id"] in resistant and record["session_index"] == 1:
            first_reply = record["turns"][1]
            assert first_reply["speaker"] == "client"
            assert first_reply["text"].startswith("Yes, but")
