"""LangGraph's Postgres checkpointer (checkpointer_url): runs, resumes, refuses what would mix runs."""

import json
import shutil

from typer.testing import CliRunner

from muspsy_sim.simulation.cli import app
from tests.services import free_port

runner = CliRunner()


def _calls(workdir):
    return [tuple(json.loads(line)) for line in (workdir / "calls.jsonl").read_text().splitlines()]


def _keys(run_dir):
    return [(r["client_id"], r["session_index"]) for r in map(json.loads, (run_dir / "sessions.jsonl").read_text().splitlines())]


def test_crashed_course_resumes_from_postgres_at_the_same_turn(tmp_path, make_config, postgres_database):
    import psycopg

    workdir = tmp_path / "work"
    workdir.mkdir()
    config = make_config(
        name="pg-crash", scenarios=["gad-priya-38"], sessions=2, max_turns=2, workers=1,
        counselor="tests.plugins:CrashOnceCounselor", counselor_options={"workdir": str(workdir), "crash_at_call": 5},
        checkpointer_url=postgres_database,
    )
    first = runner.invoke(app, ["run", "--config", str(config), "--no-progress"])
    assert first.exit_code == 1, first.output
    run_dir = tmp_path / "runs" / "pg-crash"
    course = json.loads((run_dir / "manifest.json").read_text())["courses"]["gad-priya-38"]
    assert course["status"] == "failed" and "simulated crash" in course["error"] and course["sessions_done"] == 1
    assert not (run_dir / "checkpoints.sqlite").exists()
    with psycopg.connect(postgres_database) as connection:
        threads = {row[0] for row in connection.execute("SELECT DISTINCT thread_id FROM checkpoints")}
    assert threads == {"pg-crash/gad-priya-38"}, "threads are named by campaign in a shared database"
    before = _calls(workdir)
    assert _keys(run_dir) == [("gad-priya-38", 1)]
    assert before[-1][:2] == ("gad-priya-38", 2), "the crash hit session 2"

    resumed = runner.invoke(app, ["resume", str(run_dir), "--no-progress"])
    assert resumed.exit_code == 0, resumed.output
    after = _calls(workdir)[len(before):]
    # The first call after the crash asks for the turn that crashed; session 1 is not generated again.
    assert after[0] == ("gad-priya-38", 2, before[-1][2] + 2)
    assert all(session == 2 for _, session, _ in after)
    assert _keys(run_dir) == [("gad-priya-38", 1), ("gad-priya-38", 2)]
    assert json.loads((run_dir / "manifest.json").read_text())["courses"]["gad-priya-38"]["status"] == "finished"
    # inspect --history and fork read checkpoints.sqlite: on a Postgres run they say so, in one line.
    history = runner.invoke(app, ["inspect", str(run_dir), "--client", "gad-priya-38", "--history"])
    fork = runner.invoke(app, ["fork", str(run_dir), "--after-session", "1", "--name", "pg-fork", "--no-progress"])
    for refused in (history, fork):
        assert refused.exit_code == 2 and refused.output.count("\n") == 1 and "PostgreSQL" in refused.output

    # A new run directory must not silently continue the old run's threads.
    shutil.rmtree(run_dir)
    again = runner.invoke(app, ["run", "--config", str(config), "--no-progress"])
    assert again.exit_code == 2
    assert "checkpointer_url" in again.output and "already holds checkpoints of campaign 'pg-crash'" in again.output


def test_unreachable_postgres_is_a_one_line_input_error(tmp_path, make_config):
    config = make_config(checkpointer_url=f"postgresql://postgres@127.0.0.1:{free_port()}/none")
    result = runner.invoke(app, ["run", "--config", str(config), "--no-progress"])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "checkpointer_url" in result.output and str(config) in result.output
    assert not (tmp_path / "runs").exists()


def test_password_in_checkpointer_url_is_refused(tmp_path, make_config):
    config = make_config(checkpointer_url="postgresql://sim:secret@db.example:5432/sim")
    result = runner.invoke(app, ["run", "--config", str(config), "--no-progress"])
    assert result.exit_code == 2 and "checkpointer_url" in result.output and "PGPASSWORD" in result.output
