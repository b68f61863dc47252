"""Forking a run after session K: sessions 1..K identical, the rest by another counselor."""

import json

from typer.testing import CliRunner

from muspsy_sim.simulation.cli import app

runner = CliRunner()


def _records(run_dir):
    return {(r["client_id"], r["session_index"]): r
            for r in map(json.loads, (run_dir / "sessions.jsonl").read_text().splitlines())}


def test_fork_after_session_two_with_another_counselor(tmp_path, make_config):
    config = make_config(name="orig", sessions=4)
    assert runner.invoke(app, ["run", "--config", str(config), "--no-progress"]).exit_code == 0
    original = tmp_path / "runs" / "orig"

    result = runner.invoke(app, ["fork", str(original), "--after-session", "2", "--name", "forked",
                                 "--counselor-model", "testdouble/poor-counselor", "--no-progress"])
    assert result.exit_code == 0, result.output
    forked_dir = tmp_path / "runs" / "forked"
    before, after = _records(original), _records(forked_dir)
    assert sorted(after) == sorted(before)
    for key in before:
        if key[1] <= 2:
            assert after[key] == before[key]
        else:
            assert after[key]["models"]["counselor"] == "testdouble/poor-counselor"
            assert after[key]["turns"] != before[key]["turns"]
    # Session 3 starts from the same client state the original had after its week.
    for client in ("gad-priya-38", "insomnia-david-47"):
        assert after[(client, 3)]["client_state_start"] == before[(client, 3)]["client_state_start"]
        assert after[(client, 3)]["week_before"] == before[(client, 3)]["week_before"]
    manifest = json.loads((forked_dir / "manifest.json").read_text())
    assert manifest["forked_from"]["after_session"] == 2 and manifest["status"] == "finished"


def test_fork_rejects_a_session_out_of_range(tmp_path, make_config):
    config = make_config(name="orig", sessions=2, scenarios=["gad-priya-38"])
    assert runner.invoke(app, ["run", "--config", str(config), "--no-progress"]).exit_code == 0
    result = runner.invoke(app, ["fork", str(tmp_path / "runs" / "orig"), "--after-session", "2", "--name", "x"])
    assert result.exit_code == 2 and "--after-session" in result.output
    assert not (tmp_path / "runs" / "x").exists()
