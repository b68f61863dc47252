"""The `graph` and `inspect` commands through the CLI."""

import pytest
from typer.testing import CliRunner

from muspsy_sim.simulation.cli import app

runner = CliRunner(env={"COLUMNS": "200"})


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from tests.conftest import scripted_config

    tmp = tmp_path_factory.mktemp("inspect-cli")
    config = scripted_config(tmp, sessions=2, scenarios=["gad-priya-38"])
    assert runner.invoke(app, ["run", "--config", str(config), "--no-progress"]).exit_code == 0
    return tmp / "runs" / "scripted"


def test_graph_prints_mermaid_with_the_session_subgraph():
    result = runner.invoke(app, ["graph"])
    assert result.exit_code == 0
    assert "graph TD" in result.output and "plan" in result.output and "client_turn" in result.output


def test_inspect_overview_transcript_and_history(run_dir):
    overview = runner.invoke(app, ["inspect", str(run_dir)])
    assert overview.exit_code == 0 and "gad-priya-38" in overview.output
    transcript = runner.invoke(app, ["inspect", str(run_dir), "--client", "gad-priya-38", "--session", "2"])
    assert transcript.exit_code == 0 and "Welcome back" in transcript.output and "[s1" in transcript.output
    history = runner.invoke(app, ["inspect", str(run_dir), "--client", "gad-priya-38", "--history"])
    assert history.exit_code == 0 and "evolve" in history.output


def test_inspect_bad_arguments_exit_2(run_dir):
    assert runner.invoke(app, ["inspect", str(run_dir), "--client", "nobody", "--session", "1"]).exit_code == 2
    assert runner.invoke(app, ["inspect", str(run_dir), "--session", "1"]).exit_code == 2


def test_report_command_writes_a_self_contained_file(run_dir, tmp_path):
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["report", str(run_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert "gad-priya-38" in html and 'class="plot' in html and "http://" not in html and "https://" not in html
