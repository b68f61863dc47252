"""Scores credit the counselor's model, not the scaffold (issue 22, points 1, 2 and 4).

Every role runs on an OpenAI-compatible server that answers every request with one fixed sentence, as a
new user would try it (tests/fake_openai_server.py, ``fixed``): a model that writes nothing useful. With
the scaffold on, the session-2 template check-in quotes the last assignment; that follow-up, its
reference back and the client's trust it earns are the program's. The model's own turns are credited
nothing; the scaffold's share is reported beside each metric.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from muspsy_sim.simulation.cli import app
from tests.fake_openai_server import FakeOpenAIServer

runner = CliRunner()
SENTENCE = "I hear you, and I would like to understand more about that."
ROLES = ("counselor", "client", "judge")


@pytest.fixture(autouse=True)
def dummy_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-dummy")


def _run_and_eval(make_config, tmp_path, name: str, **extra):
    with FakeOpenAIServer(fixed=SENTENCE) as server:
        models = {role: {"model": "openai/fixed", "api_base": server.url, "output_retries": 1} for role in ROLES}
        config = make_config(name=name, models=models, sessions=2, max_turns=2, **extra)
        result = runner.invoke(app, ["run", "--config", str(config), "--no-progress"])
        assert result.exit_code == 0, result.output
        scored = runner.invoke(app, ["eval", str(tmp_path / "runs" / name)])
        assert scored.exit_code == 0, scored.output
    run_dir = tmp_path / "runs" / name
    records = [json.loads(line) for line in (run_dir / "sessions.jsonl").read_text().splitlines()]
    rows = {(r["client_id"], r["session_index"]): r for r in
            (json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines())}
    return records, rows, json.loads((run_dir / "summary.json").read_text()), scored.output


def test_a_model_that_writes_nothing_useful_is_credited_nothing_the_template_did(make_config, tmp_path):
    records, rows, summary, printed = _run_and_eval(make_config, tmp_path, "fixed")
    second = [r for r in records if r["session_index"] == 2]
    assert len(second) == 2
    for record in second:
        opening = record["turns"][0]
        assert opening["source"] == "template" and "Last time we agreed" in opening["text"]
        first = next(r for r in records if r["client_id"] == record["client_id"] and r["session_index"] == 1)
        assert {"counseling_assignments", "session_goal", "summary"} <= set(first["memory"]["filled_in"])
        # The engine recorded what the store returned to each of the model's turns.
        assert all(t["store_returned"] for t in record["turns"] if t["speaker"] == "counselor")
        row = rows[(record["client_id"], 2)]
        metrics, scaffold = row["metrics"], row["scaffold"]
        assert metrics["followed_up_assignment"] == 0.0 and scaffold["followed_up_assignment"] == 1.0
        assert metrics["references_back"] == 0 and scaffold["references_back"] == 1
        # The client's turns refer to what was planted; no model turn took a reference up: nothing to measure.
        assert row["consistency"]["referred_items"] > 0
        assert metrics["recall_at_k"] is None and "recall_at_k" not in row.get("not_applicable", [])
        assert metrics["scaffold_turn_share"] == pytest.approx(1 / 3, abs=1e-4)
    followed = summary["metrics"]["followed_up_assignment"]
    assert followed["mean"] == 0.0 and followed["scaffold"] == {"mean": 1.0, "n": 2}
    assert "followed_up_assignment: 0.00 (model), scaffold 1.00" in " ".join(printed.split())
    # The model ignored the closing prefill: the client heard the prefix joined in front of its sentence,
    # the turn marks those words as the program's, and eval counts it.
    closings = [t for r in records for t in r["turns"] if t["speaker"] == "counselor" and t["stage"] == "closing"]
    assert len(closings) == 4
    assert all(t["text"] == f"This week, try {SENTENCE}" and t["prefilled"] == "This week, try" for t in closings)
    assert all(row["closing_prefill"] == "joined" for row in rows.values())
    assert summary["prefilled_closings"] == {"joined": 4}
    assert "Closing turns the program began with its prefix (4 joined" in " ".join(printed.split())


def test_the_judge_reads_the_models_words_of_a_turn_the_program_began():
    from muspsy_sim.simulation.core.turns import ClientTurn, CounselorTurn
    from muspsy_sim.simulation.evaluation.run_eval import PREFILL_MASK, closing_prefill, judged_turns

    joined = CounselorTurn(text=f"This week, try {SENTENCE}", stage="closing", source="model",
                           prefilled="This week, try")
    turns = [ClientTurn(text="ok"), joined]
    assert judged_turns(turns)[-1].text == f"{PREFILL_MASK} {SENTENCE}"
    assert "This week, try" not in judged_turns(turns)[-1].text
    assert closing_prefill(turns) == "joined"
    continued = joined.model_copy(update={"text": "This week, try a short walk each day."})
    assert closing_prefill([continued]) == "continued"
    assert judged_turns([continued])[0].text == f"{PREFILL_MASK} a short walk each day."
    assert closing_prefill([ClientTurn(text="ok"), CounselorTurn(text=SENTENCE, source="model")]) is None


def test_scaffold_off_the_opening_is_the_models_and_missing_memory_stays_missing(make_config, tmp_path):
    records, rows, _, _ = _run_and_eval(make_config, tmp_path, "bare", counselor_options={"scaffold": "off"})
    manifest = json.loads((tmp_path / "runs" / "bare" / "manifest.json").read_text())
    assert manifest["components"]["counselor"]["options"]["scaffold"] == "off"
    for record in records:
        assert all(t["source"] == "model" for t in record["turns"] if t["speaker"] == "counselor")
        memory = record["memory"]
        assert memory["filled_in"] == []
        assert not [t for t in record["turns"] if "prefilled" in t]  # its closing is the model's own
        assert memory["counseling_assignments"] == "" and memory["session_goal"] == "" and memory["summary"] == ""
        assert record["goal_source"] == "model"
        if record["session_index"] == 2:
            assert record["turns"][0]["text"] == SENTENCE
            row = rows[(record["client_id"], 2)]
            assert row["metrics"]["followed_up_assignment"] == 0.0 and row["metrics"]["scaffold_turn_share"] == 0.0
            assert row["scaffold"]["followed_up_assignment"] is None


def test_scaffold_takes_on_or_off_and_nothing_else(make_config):
    config = make_config(counselor_options={"scaffold": "sometimes"})
    result = runner.invoke(app, ["run", "--config", str(config), "--no-progress"])
    assert result.exit_code == 2 and "counselor_options" in result.output and "on or off" in result.output


def test_a_judge_ratings_scaffold_figure_is_labelled_a_share_of_turns_not_a_score():
    """Beside a judge rating stands the share of counselor turns the program wrote (masked for the judge), not a
    rating of them: eval's lines and table say so, as compare does; a turn-level metric keeps "scaffold"."""
    from rich.console import Console

    from muspsy_sim.simulation.core.metrics import CampaignSummary, MetricMean
    from muspsy_sim.simulation.evaluation.report_tables import credit_lines, summary_table

    summary = CampaignSummary(run="r", metrics={
        "judge_empathy": MetricMean(mean=4.0, n=3, scaffold=MetricMean(mean=0.25, n=3)),
        "followed_up_assignment": MetricMean(mean=0.0, n=2, scaffold=MetricMean(mean=1.0, n=2))})
    line = " ".join(credit_lines(summary))
    assert "judge_empathy: 4.00 (model), scaffold turns (masked) 0.25" in line
    assert "followed_up_assignment: 0.00 (model), scaffold 1.00" in line
    console = Console(record=True, width=250)
    console.print(summary_table(summary))
    text = " ".join(console.export_text().split())
    assert "scaffold turns (masked) 0.25 (n 3)" in text and "scaffold 1.00 (n 2)" in text
