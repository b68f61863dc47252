"""Output for logs and schedulers: tables that keep every column when stdout is not a terminal, progress as
plain lines on stderr, `--json` on run, eval, compare and inspect, `report` into the run directory, and a
model that cannot be reached ending a command in one line (exit code 3), not a traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from muspsy_sim.simulation.cli import app
from tests.conftest import REPO
from tests.esconv_synthetic import RULES_LADDER, write_synthetic

runner = CliRunner()  # its stdout is not a terminal, as under a scheduler or `| cat`
COLUMNS = ("client", "session", "turns", "goal", "before → after", "ended by")


@pytest.fixture(scope="module")
def scored_runs(tmp_path_factory):
    """Two scored test-double runs of the same clients (a, b) and the `run --json` output of the first."""
    from tests.conftest import scripted_config

    base = tmp_path_factory.mktemp("output")
    outputs = {}
    for name in ("a", "b"):
        folder = base / f"config-{name}"
        folder.mkdir()
        models = {role: {"model": "testdouble/scripted", "backoff_scale": 0.001} for role in ("counselor", "client", "judge")}
        config = scripted_config(folder, name=name, sessions=2, max_turns=2, models=models,
                                 output_dir=str(base / "runs"))
        outputs[name] = runner.invoke(app, ["run", "--config", str(config), "--json"])
        assert outputs[name].exit_code == 0, outputs[name].output
    return base / "runs", outputs["a"]


def test_piped_run_keeps_every_column_and_logs_progress_as_plain_lines(tmp_path, make_config):
    config = make_config(sessions=1, max_turns=2)
    done = subprocess.run([sys.executable, "run_sim.py", "run", "--config", str(config)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    header = next(line for line in done.stdout.splitlines() if "client" in line and "goal" in line)
    rows = [line for line in done.stdout.splitlines() if "gad-priya-38" in line or "insomnia-david-47" in line]
    assert all(column in header or column in done.stdout for column in COLUMNS)
    assert len(rows) == 2 and all("max_turns" in row and "→" in row for row in rows), done.stdout
    assert not any("…" in line for line in (header, *rows)), "no column is cut"
    progress = [line for line in done.stderr.splitlines() if "muspsy-sim:" in line]
    assert progress and progress[0].endswith("0m00s") and "courses" in progress[-1], done.stderr
    assert "\r" not in done.stderr and "\x1b[" not in done.stderr + done.stdout, "no bars, no colours in a log"


def test_run_json_is_the_campaigns_results(scored_runs):
    runs, result = scored_runs
    data = json.loads(result.stdout)
    assert data["status"] == "finished" and data["run_dir"] == str(runs / "a")
    assert sorted((s["client_id"], s["session_index"]) for s in data["sessions"]) == [
        ("gad-priya-38", 1), ("gad-priya-38", 2), ("insomnia-david-47", 1), ("insomnia-david-47", 2)]
    assert set(data["courses"]) == {"gad-priya-38", "insomnia-david-47"} and "usage" in data and "faults" in data
    manifest = json.loads((runs / "a" / "manifest.json").read_text(encoding="utf-8"))
    for key in ("courses", "usage", "faults", "answers", "risk"):
        assert data[key] == manifest[key], f"{key}: the typed values print as the manifest holds them"
    assert "campaign 'a'" in result.stderr, "the human lines go to stderr"


def test_eval_compare_and_inspect_print_json(scored_runs):
    runs, _ = scored_runs
    for name in ("a", "b"):
        scored = runner.invoke(app, ["eval", str(runs / name), "--json"])
        assert scored.exit_code == 0, scored.output
        summary = json.loads(scored.stdout)
        assert summary["sessions"] == 4 and "metrics" in summary
        assert summary == json.loads((runs / name / "summary.json").read_text(encoding="utf-8")), \
            "--json prints the CampaignSummary as summary.json holds it"
    compared = runner.invoke(app, ["compare", str(runs / "a"), str(runs / "b"), "--json", "--out", str(runs)])
    assert compared.exit_code == 0, compared.output
    assert json.loads(compared.stdout)["runs"] == ["a", "b"]
    assert json.loads(compared.stdout) == json.loads((runs / "compare.json").read_text(encoding="utf-8"))
    overview = json.loads(runner.invoke(app, ["inspect", str(runs / "a"), "--json"]).stdout)
    assert overview["status"] == "finished"
    assert [s["session_index"] for s in overview["courses"]["gad-priya-38"]["sessions"]] == [1, 2]
    session = json.loads(runner.invoke(app, ["inspect", str(runs / "a"), "--client", "gad-priya-38", "--session", "2",
                                             "--json"]).stdout)
    assert session["client_id"] == "gad-priya-38" and session["session_index"] == 2 and session["turns"]
    recorded = [json.loads(line) for line in (runs / "a" / "sessions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert session == next(r for r in recorded if (r["client_id"], r["session_index"]) == ("gad-priya-38", 2))
    history = runner.invoke(app, ["inspect", str(runs / "a"), "--client", "gad-priya-38", "--history", "--json"])
    assert json.loads(history.stdout)[0]["step"] is not None


def test_piped_session_transcript_has_headings_of_a_modest_width(scored_runs):
    runs, _ = scored_runs
    result = runner.invoke(app, ["inspect", str(runs / "a"), "--client", "gad-priya-38", "--session", "2"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) < 1000, "no line fills the log's console width"
    from muspsy_sim.simulation.inspection.inspect_run import HEADING_WIDTH

    headings = [line for line in lines if line.startswith("──")]
    assert [h.split(" ")[1] for h in headings[1:]] == ["Turns", "Memory"], headings
    assert all(len(heading) == HEADING_WIDTH and heading.endswith("─") for heading in headings[1:])
    assert "gad-priya-38 · session 2" in headings[0]


def test_report_writes_into_the_run_directory_by_default(scored_runs):
    runs, _ = scored_runs
    result = runner.invoke(app, ["report", str(runs / "a")])
    assert result.exit_code == 0, result.output
    assert (runs / "a" / "report.html").is_file() and str(runs / "a" / "report.html") in result.output
    both = runner.invoke(app, ["report", str(runs / "a"), str(runs / "b")])
    assert both.exit_code == 0 and (runs / "report.html").is_file(), both.output


@pytest.mark.parametrize("as_json", [[], ["--json"]], ids=["tables", "json"])
def test_eval_with_an_unreachable_judge_ends_in_one_line(scored_runs, monkeypatch, as_json):
    runs, _ = scored_runs
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = runner.invoke(app, ["eval", str(runs / "b"), "--judge-model", "openai/gpt-4o-mini", *as_json])
    assert result.exit_code == 3, result.output
    lines = (result.stdout + result.stderr).strip().splitlines()  # nothing else on either stream
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert lines[0].startswith("error: the judge model openai/gpt-4o-mini cannot be reached: ")
    assert "credentials" in lines[0] or "API key" in lines[0] or "api_key" in lines[0], lines[0]
    assert "Error:" not in lines[0], "no chain of exception names"


def test_a_judge_whose_offer_could_not_be_asked_is_said_once_scoring_is_done(scored_runs, monkeypatch):
    from muspsy_sim.agents.llm import ModelUnavailable
    from muspsy_sim.agents.llm.routing import LiteLLMModel

    cause = "InternalServerError: litellm.InternalServerError: OpenAIException - Connection error."

    def unreachable_probe(self):
        raise ModelUnavailable(f"{self.model} failed after 3 retries: {cause}", model=self.model, cause=cause)

    monkeypatch.setattr(LiteLLMModel, "scoring_offer", unreachable_probe)
    runs, _ = scored_runs
    result = runner.invoke(app, ["eval", str(runs / "b"), "--json"])
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)
    notice = result.stderr.strip().splitlines()[-1]
    assert notice == "WARNING: judge: what its model offers for ratings could not be asked: " \
                     "OpenAIException - Connection error.", result.stderr


def test_validity_with_an_unreachable_client_model_ends_in_one_line(tmp_path):
    conversations = write_synthetic(tmp_path / "esconv.json", RULES_LADDER, conversations=2, turns=2)
    # Nothing listens on port 9: the connection is refused.
    result = runner.invoke(app, ["validity", "esconv", str(conversations), "--out", str(tmp_path / "out"),
                                 "--client-model", "hosted_vllm/none", "--appraisal", "model"],
                           env={"HOSTED_VLLM_API_BASE": "http://127.0.0.1:9/v1"})
    assert result.exit_code == 3, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the client model hosted_vllm/none cannot be reached: "), \
        result.output


def test_practice_with_an_unreachable_client_model_ends_in_one_line_before_serving(tmp_path, make_config, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    config = make_config(models={"client": {"model": "openai/gpt-4o-mini", "backoff_scale": 0.001},
                                 "counselor": "testdouble/scripted", "judge": "testdouble/scripted"})
    result = runner.invoke(app, ["practice", "--scenario", "gad-priya-38", "--config", str(config)])
    assert result.exit_code == 3, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the client model openai/gpt-4o-mini cannot be reached: ")
    assert not (tmp_path / "runs").exists(), "nothing written"


def test_client_practice_with_an_unreachable_counselor_model_ends_in_one_line_before_serving(tmp_path, make_config,
                                                                                               monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    config = make_config(models={"counselor": {"model": "openai/gpt-4o-mini", "backoff_scale": 0.001},
                                 "client": "testdouble/scripted", "judge": "testdouble/scripted"})
    result = runner.invoke(app, ["practice", "--as", "client", "--scenario", "gad-priya-38", "--config", str(config)])
    assert result.exit_code == 3, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the counselor model openai/gpt-4o-mini cannot be reached: ")
    assert not (tmp_path / "runs").exists(), "nothing written"


def test_model_text_in_the_sessions_table_is_shown_as_written_not_read_as_markup(tmp_path, make_config):
    # A small model's goal may hold chat-template debris ("[/INST]") or brackets rich would take for style tags.
    from rich.console import Console

    from muspsy_sim.simulation.record import RunLog
    from muspsy_sim.simulation.summary import sessions_table

    result = runner.invoke(app, ["run", "--config", str(make_config(name="markup", sessions=1, max_turns=1,
                                                                      scenarios=["gad-priya-38"])), "--no-progress"])
    assert result.exit_code == 0, result.output
    record = RunLog.open(tmp_path / "runs" / "markup").session("gad-priya-38", 1)
    record = record.model_copy(update={"goal": "[/INST] try [b]this[/b]"})
    console = Console(width=200, record=True)
    console.print(sessions_table([record]))
    assert "[/INST] try [b]this[/b]" in console.export_text()
