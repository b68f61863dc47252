"""Filled-in appraisal answers are counted, never silent (issue 22, point 6).

Under ``appraisal: model`` the client's model rates every counselor turn; an item it leaves unanswered is
the scale's middle, which still moves the client's state. Such items count toward the fallback threshold
and ``--strict`` with filled-in questionnaire answers, the turns are flagged, and eval leaves the outcomes
of those sessions out, saying why. The client's model is a server that answers every JSON request with junk
(tests/fake_openai_server.py, ``garbage``); its questionnaires are read off its state (``latent``), so only
the appraisal items are filled in.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from muspsy_sim.simulation.cli import app
from tests.fake_openai_server import FakeOpenAIServer

runner = CliRunner()


@pytest.fixture(autouse=True)
def dummy_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-dummy")


def _run(make_config, tmp_path, *extra, name="appraised"):
    with FakeOpenAIServer(garbage=True) as server:
        models = {"counselor": {"model": "testdouble/scripted"}, "judge": {"model": "testdouble/scripted"},
                  "client": {"model": "openai/junk", "api_base": server.url, "output_retries": 0}}
        config = make_config(name=name, models=models, sessions=1, max_turns=2, scenarios=["gad-priya-38"],
                             client={"appraisal": "model", "self_report": "latent"})
        result = runner.invoke(app, ["run", "--config", str(config), "--no-progress", *extra])
    run_dir = tmp_path / "runs" / name
    return result, json.loads((run_dir / "manifest.json").read_text()), run_dir


def test_unanswered_appraisal_items_exceed_the_threshold_are_flagged_and_eval_leaves_the_outcomes_out(
        make_config, tmp_path):
    result, manifest, run_dir = _run(make_config, tmp_path)
    assert result.exit_code == 0, result.output
    record = json.loads((run_dir / "sessions.jsonl").read_text().splitlines()[0])
    rated = [t["appraisal"] for t in record["turns"] if t["speaker"] == "client" and t["appraisal"]]
    assert rated and all(a["filled_in"] == ["empathy", "relevance", "push", "engagement"] for a in rated)
    tally = manifest["answers"]["client"]["appraisal"]
    assert tally == {"asked": 4 * len(rated), "fallbacks": 4 * len(rated)}
    assert manifest["answers"]["client"]["phq9"]["fallbacks"] == 0  # latent readouts
    heavy = manifest["fallback_heavy_sessions"]
    assert [(h["session_index"], h["appraisal_asked"]) for h in heavy] == [(1, 4 * len(rated))]
    printed = " ".join(result.output.split())
    assert "answers (questionnaire and appraisal items)" in printed and "appraisal" in printed

    scored = runner.invoke(app, ["eval", str(run_dir)])
    assert scored.exit_code == 0, scored.output
    row = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[0])
    for name in ("wai_total", "panas_positive", "phq9_change", "distress_end", "trust_end"):
        assert row["metrics"][name] is None and "appraisal item(s)" in row["left_out"][name]
    assert row["metrics"]["phq9"] is not None  # measured before the session's turns
    summary = json.loads((run_dir / "summary.json").read_text())
    assert [(s["client_id"], s["session_index"]) for s in summary["left_out_sessions"]] == [("gad-priya-38", 1)]
    assert "Left out of the scores: client gad-priya-38, session 1" in " ".join(scored.output.split())


def test_strict_fails_a_course_whose_appraisal_items_were_filled_in(make_config, tmp_path):
    result, manifest, _ = _run(make_config, tmp_path, "--strict", name="strict")
    assert result.exit_code == 1
    course = manifest["courses"]["gad-priya-38"]
    assert course["status"] == "failed"
    assert "answers (questionnaire and appraisal items) filled in" in course["error"]
