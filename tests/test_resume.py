"""Interrupted runs continue where they stopped, with nothing lost or duplicated."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

from typer.testing import CliRunner

from muspsy_sim.simulation.cli import app
from tests.conftest import REPO

runner = CliRunner()
EXPECTED = [(c, s) for c in ("gad-priya-38", "insomnia-david-47") for s in (1, 2, 3)]


def _keys(run_dir):
    lines = (run_dir / "sessions.jsonl").read_text().splitlines()
    return sorted((json.loads(line)["client_id"], json.loads(line)["session_index"]) for line in lines)


def _chroma_memories(run_dir, campaign):
    from muspsy_sim.memory import MemoryStore
    from tests.test_memory_store import HashEmbedder

    store = MemoryStore(campaign, HashEmbedder(), path=run_dir / "chroma")
    return Counter((r.client_id, r.session_index) for r in store.records() if r.kind == "memory")


def _files_are_whole(run_dir):
    """After a kill: the manifest parses and every line of sessions.jsonl is a whole record."""
    if (run_dir / "manifest.json").exists():
        json.loads((run_dir / "manifest.json").read_text())
    sessions = run_dir / "sessions.jsonl"
    data = sessions.read_bytes() if sessions.exists() else b""
    assert not data or data.endswith(b"\n"), "torn last line"
    return [json.loads(line) for line in data.splitlines()]


def test_sigkill_at_random_points_then_rerun_completes_exactly_once(tmp_path, make_config):
    """Kill the campaign process at random moments, several times, resuming each time."""
    seed = int(os.environ.get("CRASH_TEST_SEED", time.time_ns() % 10**6))
    rng = random.Random(seed)
    models = {role: "testdouble/slow" for role in ("counselor", "client", "judge")}
    config = make_config(models=models, name="killed")
    run_dir = tmp_path / "runs" / "killed"
    command = [sys.executable, "run_sim.py", "run", "--config", str(config), "--no-progress"]
    kills = []
    for attempt in range(3):
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Wait for the run to make progress (or start, the first time), then kill at a random moment.
        baseline = len(_files_are_whole(run_dir))
        deadline = time.time() + 120
        while time.time() < deadline and process.poll() is None and len(_files_are_whole(run_dir)) <= baseline \
                and not (attempt == 0 and (run_dir / "checkpoints.sqlite").exists()):
            time.sleep(0.02)
        # Within about one session's time (the slow double's sessions take 0.3-0.5 s here), so the last
        # kill lands before the end.
        time.sleep(rng.uniform(0.0, 0.3))
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills.append(len(_files_are_whole(run_dir)))
    assert kills[-1] < 6, f"every kill should land before the end (seed {seed}, records after kills {kills})"

    finished = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert _keys(run_dir) == EXPECTED, f"seed {seed}, records after kills {kills}"
    assert _chroma_memories(run_dir, "killed") == Counter(EXPECTED)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["sessions_recorded"] == 6
    assert all((c["status"], c["sessions_done"]) == ("finished", 3) for c in manifest["courses"].values()), manifest



def test_crash_mid_session_resumes_at_the_same_turn(tmp_path, make_config):
    workdir = tmp_path / "work"
    workdir.mkdir()
    config = make_config(
        scenarios=["gad-priya-38"], workers=1, counselor="tests.plugins:CrashOnceCounselor",
        counselor_options={"workdir": str(workdir), "crash_at_call": 7},
    )
    first = runner.invoke(app, ["run", "--config", str(config), "--no-progress"])
    assert first.exit_code == 1
    run_dir = tmp_path / "runs" / "scripted"
    course = json.loads((run_dir / "manifest.json").read_text())["courses"]["gad-priya-38"]
    assert course["status"] == "failed" and "simulated crash" in course["error"]
    calls_before = [json.loads(line) for line in (workdir / "calls.jsonl").read_text().splitlines()]
    # Calls 1-4 were session 1, 5-6 the first two turns of session 2; call 7 crashed.
    assert calls_before[-1] == ["gad-priya-38", 2, 2]

    resumed = runner.invoke(app, ["resume", str(run_dir), "--no-progress"])
    assert resumed.exit_code == 0, resumed.output
    calls = [json.loads(line) for line in (workdir / "calls.jsonl").read_text().splitlines()]
    # The first call after the crash asks for the turn that crashed, not the session's start.
    assert calls[len(calls_before)] == ["gad-priya-38", 2, 4]
    assert _keys(run_dir) == [("gad-priya-38", s) for s in (1, 2, 3)]
    course = json.loads((run_dir / "manifest.json").read_text())["courses"]["gad-priya-38"]
    assert course["status"] == "finished" and "error" not in course


def test_rerunning_a_finished_campaign_changes_nothing(tmp_path, make_config):
    config = make_config(scenarios=["gad-priya-38"], sessions=2)
    assert runner.invoke(app, ["run", "--config", str(config), "--no-progress"]).exit_code == 0
    run_dir = tmp_path / "runs" / "scripted"
    before = (run_dir / "sessions.jsonl").read_bytes()
    assert runner.invoke(app, ["run", "--config", str(config), "--no-progress"]).exit_code == 0
    assert (run_dir / "sessions.jsonl").read_bytes() == before


def test_a_second_process_cannot_write_the_same_run(tmp_path, make_config):
    from muspsy_sim.simulation.record.run_directory import RunDirectory

    config = make_config(scenarios=["gad-priya-38"], sessions=1)
    holder = RunDirectory(tmp_path / "runs" / "scripted")
    holder.lock()  # as if another campaign process were running it
    try:
        result = runner.invoke(app, ["run", "--config", str(config), "--no-progress"])
        assert result.exit_code == 2 and "another muspsy-sim process" in result.output
        assert not (tmp_path / "runs" / "scripted" / "sessions.jsonl").exists()
    finally:
        holder.unlock()
    assert runner.invoke(app, ["run", "--config", str(config), "--no-progress"]).exit_code == 0
