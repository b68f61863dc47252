"""End to end on the embedded SmolLM2 model: 1 client, 2 sessions, 2 turns, short outputs."""

import json

import pytest
from typer.testing import CliRunner

from muspsy_sim.simulation.cli import app

pytestmark = pytest.mark.real_model


def test_embedded_model_runs_a_short_course(tmp_path, make_config):
    local = "local/smollm2-135m-instruct"
    config = make_config(
        name="real", scenarios=["panic-lucia-33"], sessions=2, max_turns=2, workers=1,
        models={
            "counselor": {"model": local, "max_tokens": 20, "temperature": 0.5},
            "client": {"model": local, "max_tokens": 16},
            "judge": {"model": local, "max_tokens": 8},
        },
        counselor_options={"memory_max_tokens": 40, "goal_max_tokens": 16},
    )
    result = CliRunner().invoke(app, ["run", "--config", str(config), "--no-progress"])
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "runs" / "real"
    records = [json.loads(line) for line in (run_dir / "sessions.jsonl").read_text().splitlines()]
    assert [r["session_index"] for r in records] == [1, 2]
    for record in records:
        assert record["models"]["counselor"] == local
        assert all(turn["text"].strip() for turn in record["turns"])
        assert record["usage"]["counselor"]["completion_tokens"] > 0
        assert record["usage"]["client"]["completion_tokens"] > 0
        assert record["memory"]["counseling_assignments"]
    first, second = records
    assert first["turns"][-1]["text"].startswith("This week, try")
    assert first["memory"]["counseling_assignments"] in second["turns"][0]["text"]
    for turn in second["turns"]:
        for hit in turn.get("retrieved", []):
            assert (hit["client_id"], hit["session_index"]) == ("panic-lucia-33", 1)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["usage"]["counselor"]["completion_tokens"] > 0 and manifest["status"] == "finished"
    from muspsy_sim.agents.llm.local.settings import choose_dtype

    assert manifest["local_engine"] == {"dtype": choose_dtype().dtype, "reason": choose_dtype().reason}


def test_embedded_model_appraises_turns_and_answers_as_the_client(tmp_path, make_config):
    """appraisal: model and self_report: model on the embedded model: 1 session, 2 turns."""
    local = "local/smollm2-135m-instruct"
    config = make_config(
        name="real-model-client", scenarios=["gad-priya-38"], sessions=1, max_turns=2, workers=1,
        models={"counselor": {"model": local, "max_tokens": 16, "temperature": 0.5},
                "client": {"model": local, "max_tokens": 12}, "judge": {"model": local, "max_tokens": 8}},
        counselor_options={"memory_max_tokens": 24, "goal_max_tokens": 12},
        client={"appraisal": "model", "self_report": "model"},
    )
    result = CliRunner().invoke(app, ["run", "--config", str(config), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "Self-reports vs the client's state (Spearman)" in result.output
    run_dir = tmp_path / "runs" / "real-model-client"
    [record] = [json.loads(line) for line in (run_dir / "sessions.jsonl").read_text().splitlines()]
    rated = [t["appraisal"] for t in record["turns"] if t["speaker"] == "client" and t["appraisal"]]
    assert len(rated) == 2
    for appraisal in rated:
        assert appraisal["source"] == "model" and sum(appraisal["methods"].values()) == 4
        assert set(appraisal["methods"]) <= {"likelihood", "likelihood-calibrated"}
        assert all(0 <= appraisal[k] <= 1 for k in ("empathy", "relevance", "push", "engagement"))
    for key in ("phq9", "gad7", "wai_sr", "panas"):
        answers = record["questionnaires"][key]
        assert answers["mode"] == "model" and len(answers["latent"]) == len(answers["answers"])
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["components"]["client"]["appraisal"] == "model"
