"""`scenarios import muspsy` end to end: import the sample, then simulate the imported clients."""

import json

from typer.testing import CliRunner

from muspsy_sim.simulation.cli import app
from tests.conftest import FIXTURES

runner = CliRunner()


def test_import_then_run_a_campaign_on_imported_profiles(tmp_path, make_config):
    out = tmp_path / "imported"
    result = runner.invoke(app, ["scenarios", "import", "muspsy", str(FIXTURES / "muspsy"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "memories_1402.txt: imported" in result.output and "profiles written" in result.output
    assert runner.invoke(app, ["scenarios", "validate", str(out)]).exit_code == 0

    config = make_config(scenario_dir=str(out), scenarios=["muspsy-*"], scenario_sample=2, sessions=2, max_turns=2)
    run = runner.invoke(app, ["run", "--config", str(config), "--no-progress"])
    assert run.exit_code == 0, run.output
    records = [json.loads(line) for line in (tmp_path / "runs" / "scripted" / "sessions.jsonl").read_text().splitlines()]
    assert len(records) == 4 and all(r["client_id"].startswith("muspsy-") for r in records)


def test_import_of_a_missing_directory_is_an_input_error(tmp_path):
    result = runner.invoke(app, ["scenarios", "import", "muspsy", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "not a directory" in result.output
    assert not (tmp_path / "o").exists()
