"""`eval` and `compare` on run directories made by the engine, with an API-style judge (test double)."""

import json

import pytest
from typer.testing import CliRunner

from muspsy_sim.simulation.cli import app

runner = CliRunner()
CLIENTS = ["gad-priya-38", "insomnia-david-47", "panic-lucia-33"]


@pytest.fixture(scope="module")
def ablation(tmp_path_factory):
    """Three variants on the same clients and seed; the judge answers like an API model (JSON only)."""
    from tests.conftest import scripted_config

    tmp = tmp_path_factory.mktemp("ablation")
    models = {"counselor": "testdouble/scripted", "client": "testdouble/scripted", "judge": "testdouble/json-only"}
    config = scripted_config(
        tmp, name="abl", scenarios=CLIENTS, sessions=3, models=models,
        variants={"muspsy": {"counselor": "muspsy"}, "no-memory": {"counselor": "no-memory"},
                  "poor": {"models": {"counselor": {"model": "testdouble/poor-counselor"}}}},
    )
    result = runner.invoke(app, ["run", "--config", str(config), "--no-progress"])
    assert result.exit_code == 0, result.output
    runs = {name: tmp / "runs" / f"abl-{name}" for name in ("muspsy", "no-memory", "poor")}
    for run_dir in runs.values():
        scored = runner.invoke(app, ["eval", str(run_dir)])
        assert scored.exit_code == 0, scored.output
    return runs


def _rows(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_variants_run_as_separate_campaigns_on_the_same_clients(ablation):
    for name, run_dir in ablation.items():
        manifest = json.loads((run_dir / "manifest.json").read_text())
        assert manifest["status"] == "finished" and sorted(manifest["courses"]) == sorted(CLIENTS)
    counselors = {json.loads((d / "sessions.jsonl").read_text().splitlines()[0])["counselor"] for d in ablation.values()}
    assert counselors == {"muspsy", "no-memory"}  # "poor" is muspsy with another counselor model


def test_eval_writes_metrics_and_summary_with_valid_judge_scores(ablation):
    rows = _rows(ablation["muspsy"])
    assert len(rows) == 9
    for row in rows:
        judged = {k: v for k, v in row["metrics"].items() if k.startswith(("judge_", "ctrs_"))}
        assert len(judged) == 12 and all(v in (1, 2, 3, 4, 5) for v in judged.values())
        assert row["judge"]["model"] == "testdouble/json-only" and row["judge"]["prompt_version"] == "v1"
        assert row["judge"]["methods"] == {"structured": 12}
        assert 12 <= row["metrics"]["wai_total"] <= 60
        if row["session_index"] > 1:
            # The template check-in follows up, for the scaffold; the double's own turns never do.
            assert row["metrics"]["followed_up_assignment"] == 0.0 and row["scaffold"]["followed_up_assignment"] == 1.0
    summary = json.loads((ablation["muspsy"] / "summary.json").read_text())
    assert summary["sessions"] == 9 and summary["judge"]["model"] == "testdouble/json-only"
    course = summary["courses"]["gad-priya-38"]
    assert set(course["trajectories"]["phq9"]) == {"1", "2", "3"} and "phq9" in course["slopes"]


def test_eval_rerun_skips_what_is_scored(ablation, monkeypatch):
    from muspsy_sim.agents.judge import Judge

    before = (ablation["muspsy"] / "metrics.jsonl").read_text()

    def must_not_rate(*args, **kwargs):
        raise AssertionError("already scored sessions must not be judged again")

    monkeypatch.setattr(Judge, "rate", must_not_rate)
    again = runner.invoke(app, ["eval", str(ablation["muspsy"])])
    assert again.exit_code == 0, again.output
    assert (ablation["muspsy"] / "metrics.jsonl").read_text() == before


def test_no_memory_never_follows_up_and_poor_counselor_scores_lower(ablation):
    no_memory = [r for r in _rows(ablation["no-memory"]) if r["session_index"] > 1]
    assert len(no_memory) == 6 and all(r["metrics"]["followed_up_assignment"] == 0.0 for r in no_memory)

    def mean(run, metric):
        values = [r["metrics"][metric] for r in _rows(ablation[run])]
        return sum(values) / len(values)

    assert mean("muspsy", "judge_empathy") > mean("poor", "judge_empathy")
    assert mean("muspsy", "wai_total") > mean("poor", "wai_total")


def test_compare_prints_and_writes_a_paired_table(ablation, tmp_path):
    dirs = [str(ablation[name]) for name in ("muspsy", "no-memory", "poor")]
    result = runner.invoke(app, ["compare", *dirs, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "wai_total" in result.output
    compared = json.loads((tmp_path / "compare.json").read_text())
    assert compared["runs"] == ["abl-muspsy", "abl-no-memory", "abl-poor"]
    assert compared["paired"]["wai_total"]["abl-poor"]["pairs"] == 9
    assert compared["paired"]["wai_total"]["abl-poor"]["diff"] < 0
    # MusPsy and no-memory separate on follow-up only through MusPsy's scaffold (its template check-in);
    # the counselor model follows up in neither. Intervals are computed by client.
    follow_up = compared["paired"]["followed_up_assignment"]["abl-no-memory"]
    assert follow_up["clients"] == 3 and follow_up["diff"] == 0.0
    assert compared["metrics"]["followed_up_assignment"]["abl-muspsy"]["mean"] == 0.0
    assert compared["scaffold"]["followed_up_assignment"]["abl-muspsy"]["low"] == 1.0
    assert "abl-no-memory" not in compared["scaffold"]["followed_up_assignment"]
    assert (tmp_path / "compare.md").is_file()


def test_eval_of_a_directory_without_a_run_is_an_input_error(tmp_path):
    result = runner.invoke(app, ["eval", str(tmp_path)])
    assert result.exit_code == 2 and "manifest.json" in result.output


def test_the_eval_judge_keeps_the_runs_fault_settings():
    from muspsy_sim.simulation.config import CampaignConfig
    from muspsy_sim.simulation.evaluation.run_eval import build_judge

    config = CampaignConfig.model_validate({"scenarios": ["gad-priya-38"], "models": {"judge": {
        "model": "testdouble/scripted", "api_base": "http://127.0.0.1:9/v1", "retries": 5, "timeout": 7,
        "fallback": "testdouble/json-only"}}})
    same = build_judge(config, None, "v1").llm
    other = build_judge(config, "testdouble/poor-counselor", "v1").llm
    assert (same.model, same.api_base, same.retries, same.timeout, same.fallback) == \
        ("testdouble/scripted", "http://127.0.0.1:9/v1", 5, 7, "testdouble/json-only")
    # Another judge model drops the run's api_base (it belonged to the other model) but keeps the rest.
    assert (other.model, other.api_base, other.retries, other.timeout, other.fallback) == \
        ("testdouble/poor-counselor", None, 5, 7, "testdouble/json-only")


def test_recall_is_not_applicable_to_a_counselor_that_does_not_retrieve(ablation):
    rows = [r for r in _rows(ablation["no-memory"]) if r["session_index"] > 1]
    assert rows and all(r["metrics"]["recall_at_k"] is None and r["not_applicable"] == ["recall_at_k"] for r in rows)
    summary = json.loads((ablation["no-memory"] / "summary.json").read_text())
    assert summary["metrics"]["recall_at_k"] == {"mean": None, "n": 0, "not_applicable": True}
    muspsy = json.loads((ablation["muspsy"] / "summary.json").read_text())
    assert "not_applicable" not in muspsy["metrics"]["recall_at_k"]
    result = runner.invoke(app, ["eval", str(ablation["no-memory"])], terminal_width=200)
    assert "not applicable" in result.output


def test_eval_prints_references_back_beside_the_contradiction_rate(ablation):
    result = runner.invoke(app, ["eval", str(ablation["muspsy"])], terminal_width=200)
    lines = result.output.splitlines()
    at = next(i for i, line in enumerate(lines) if "contradiction_rate" in line)
    assert "references_back" in lines[at + 1]
    rows = _rows(ablation["muspsy"])
    later = [r for r in rows if r["session_index"] > 1]
    # The check-in refers back (the scaffold's); the double's own turns do not.
    assert len(later) == 6 and all(r["scaffold"]["references_back"] == 1 for r in later)
    assert all(r["metrics"]["references_back"] == 0 for r in later)
