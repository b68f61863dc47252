"""Campaigns as Ray tasks: a local Ray cluster, a Chroma server and PostgreSQL, all on loopback.

The cluster is started once for the module; the first test drives it from this
process, the second from a `run_sim.py` process that joins it by address and is
killed half-way.
"""

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from typer.testing import CliRunner

from muspsy_sim.simulation.campaign import prepare_campaign, run_campaign
from muspsy_sim.simulation.cli import app
from muspsy_sim.simulation.config import load_config
from tests.conftest import REPO

runner = CliRunner()
CLIENTS = ("gad-priya-38", "insomnia-david-47")
EXPECTED = [(c, s) for c in CLIENTS for s in (1, 2)]


@pytest.fixture(scope="module")
def ray_cluster():
    """A local two-CPU Ray cluster this process is connected to; yields its address."""
    ray = pytest.importorskip("ray")
    context = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield context.address_info["gcs_address"]
    ray.shutdown()


def _ray_config(make_config, workdir, **overrides):
    workdir.mkdir(exist_ok=True)
    settings = {
        "sessions": 2, "max_turns": 2, "executor": "ray",
        # Logs each counselor turn it is asked for: shows which sessions were (re)generated.
        "counselor": "tests.plugins:CrashOnceCounselor",
        "counselor_options": {"workdir": str(workdir), "crash_at_call": 10**6},
    }
    settings.update(overrides)
    return make_config(**settings)


class _ProgressLog:
    def __init__(self):
        self.log = []

    def session_started(self, client_id, session_index):
        self.log.append(("session_started", (client_id, session_index)))

    def turn_done(self, client_id):
        self.log.append(("turn_done", (client_id,)))

    def session_finished(self, client_id, session_index, client_turns):
        self.log.append(("session_finished", (client_id, session_index, client_turns)))

    def course_ended(self, client_id, sessions_held):
        self.log.append(("course_ended", (client_id, sessions_held)))


def _calls(workdir):
    path = workdir / "calls.jsonl"
    return [tuple(json.loads(line)) for line in path.read_text().splitlines()] if path.exists() else []


def _lines(run_dir):
    path = run_dir / "sessions.jsonl"
    return path.read_text().splitlines() if path.exists() else []


def _keys(lines):
    return [(r["client_id"], r["session_index"]) for r in map(json.loads, lines)]


def test_ray_courses_record_on_the_driver_and_a_failed_course_resumes(tmp_path, make_config, ray_cluster,
                                                                      chroma_server):
    from muspsy_sim.memory import MemoryStore
    from tests.test_memory_store import HashEmbedder

    workdir = tmp_path / "work"
    config = _ray_config(make_config, workdir, name="ray-local", memory={"chroma_url": chroma_server},
                         counselor_options={"workdir": str(workdir), "crash_at_call": 5})
    first = runner.invoke(app, ["run", "--config", str(config), "--no-progress"])
    assert first.exit_code == 1, first.output
    run_dir = tmp_path / "runs" / "ray-local"
    courses = json.loads((run_dir / "manifest.json").read_text())["courses"]
    failed = [c for c, course in courses.items() if course["status"] == "failed"]
    assert len(failed) == 1 and "simulated crash" in courses[failed[0]]["error"], courses
    (finished,) = set(CLIENTS) - set(failed)
    assert courses[finished]["status"] == "finished" and courses[finished]["sessions_done"] == 2, "the other went on"
    assert all(not course["ran_on"].endswith(f" pid {os.getpid()}") for course in courses.values()), \
        "courses run in Ray workers, not in the driver"
    recorded = _keys(_lines(run_dir))
    assert sorted(recorded) == sorted([(finished, 1), (finished, 2), (failed[0], 1)])
    before = _calls(workdir)

    events = _ProgressLog()
    result = run_campaign(prepare_campaign(load_config(config), config), events)
    assert result.status == "finished"
    redone = {(client, session) for client, session, _ in _calls(workdir)[len(before):]}
    assert redone == {(failed[0], 2)}, "only the crashed session is generated again"
    # The tasks' progress reached the driver's display.
    assert ("session_finished", (failed[0], 2, 2)) in events.log and ("turn_done", (failed[0],)) in events.log
    assert ("course_ended", (failed[0], 2)) in events.log
    assert sorted(_keys(_lines(run_dir))) == EXPECTED
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["sessions_recorded"] == 4
    stored = MemoryStore("ray-local", HashEmbedder(), url=chroma_server).records()
    assert Counter((h.client_id, h.session_index) for h in stored if h.kind == "memory") == Counter(EXPECTED)


def test_killed_ray_campaign_resumes_from_postgres_without_redoing_sessions(
        tmp_path, make_config, ray_cluster, chroma_server, postgres_database):
    workdir = tmp_path / "work"
    # One course at a time keeps the killed driver's job to one cold worker process (fast on 2 cores).
    config = _ray_config(
        make_config, workdir, name="ray-cluster", ray_address=ray_cluster, workers=1, checkpointer_url=postgres_database,
        memory={"chroma_url": chroma_server}, models={role: "testdouble/slow" for role in ("counselor", "client", "judge")},
    )
    run_dir = tmp_path / "runs" / "ray-cluster"
    command = [sys.executable, "run_sim.py", "run", "--config", str(config), "--no-progress"]
    # Its own session, so the kill takes exactly the driver this test started.
    driver = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline and not _lines(run_dir) and driver.poll() is None:
        time.sleep(0.05)
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    # Ray ends a dead driver's tasks; wait until its workers have stopped generating.
    quiet_since, seen = time.monotonic(), len(_calls(workdir))
    while time.monotonic() - quiet_since < 3 and time.monotonic() < deadline + 30:
        time.sleep(0.25)
        if len(_calls(workdir)) != seen:
            quiet_since, seen = time.monotonic(), len(_calls(workdir))
    lines_before = _lines(run_dir)
    done_before = set(_keys(lines_before))
    assert 1 <= len(done_before) < 4, f"the kill should land mid-campaign, recorded {sorted(done_before)}"
    calls_before = len(_calls(workdir))

    resumed = runner.invoke(app, ["run", "--config", str(config), "--no-progress"])
    assert resumed.exit_code == 0, resumed.output
    lines = _lines(run_dir)
    assert lines[:len(lines_before)] == lines_before, "finished sessions' records are untouched"
    assert sorted(_keys(lines)) == EXPECTED, "exactly one record per session"
    redone = {(client, session) for client, session, _ in _calls(workdir)[calls_before:]}
    assert redone and not redone & done_before, f"finished sessions were generated again: {redone & done_before}"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "finished"
    assert all(course["status"] == "finished" and course["sessions_done"] == 2 for course in manifest["courses"].values())


@pytest.mark.parametrize(("settings", "field"), [
    ({"executor": "ray"}, "memory.chroma_url"),
    ({"executor": "ray", "ray_address": "auto", "memory": {"chroma_url": "http://127.0.0.1:9"}}, "checkpointer_url"),
    ({"executor": "dask"}, "executor"),
])
def test_ray_settings_that_would_keep_state_on_one_machine_are_refused(tmp_path, make_config, settings, field):
    config = make_config(**settings)
    result = runner.invoke(app, ["run", "--config", str(config), "--no-progress"])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and f"{config}: {field}:" in result.output, result.output
    assert not (tmp_path / "runs").exists()


def _masked(lines: list[str], campaign: str) -> dict[tuple[str, int], dict]:
    """Session records keyed by (client, session), with what legitimately differs between two runs masked:
    the campaign's name (also inside retrieved records' ids) and the seconds each model call took."""
    records = {}
    for record in map(json.loads, lines):
        text = json.dumps(record).replace(f"{campaign}:", "CAMPAIGN:").replace(f'"{campaign}"', '"CAMPAIGN"')
        record = json.loads(text)
        for usage in (record.get("usage") or {}).values():
            usage.pop("seconds", None)
        records[(record["client_id"], record["session_index"])] = record
    return records


def _first_difference(left: dict, right: dict) -> str:
    """Where two sets of masked records first differ: the session and the JSON path, with both values."""
    def walk(a, b, path):
        if type(a) is not type(b) or not isinstance(a, (dict, list)):
            return None if a == b else f"{path}: {json.dumps(a)[:300]} != {json.dumps(b)[:300]}"
        keys = sorted(set(a) | set(b)) if isinstance(a, dict) else range(max(len(a), len(b)))
        for key in keys:
            if isinstance(a, list) and (key >= len(a) or key >= len(b)):
                return f"{path}: {len(a)} items != {len(b)}"
            found = walk(a.get(key) if isinstance(a, dict) else a[key], b.get(key) if isinstance(b, dict) else b[key],
                         f"{path}.{key}")
            if found:
                return found
        return None

    for key in sorted(set(left) | set(right)):
        found = walk(left.get(key), right.get(key), f"{key}")
        if found:
            return found
    return "none"


@pytest.mark.slow
def test_hundred_courses_on_two_ray_workers_match_the_thread_executor_and_survive_a_killed_worker(
        tmp_path, make_config, ray_cluster, chroma_server, postgres_database, monkeypatch):
    """The bench-scale campaign of 100 courses (3 sessions each) on the local 2-CPU Ray cluster, with the
    Chroma server and PostgreSQL as shared stores; one worker is SIGKILLed in the middle of a course."""
    from muspsy_sim.bench.scale import write_clients
    from muspsy_sim.memory import MemoryStore, shared_embedder
    from muspsy_sim.simulation.engine import components
    from tests.test_memory_store import HashEmbedder

    # The thread executor runs in this process: it embeds with MiniLM, as the Ray workers do, whatever an
    # earlier test left in place.
    monkeypatch.setattr(components, "shared_embedder", shared_embedder)

    clients = write_clients(tmp_path / "clients", 100)
    workdir = tmp_path / "work"
    workdir.mkdir()
    settings = dict(
        scenarios=clients, scenario_dir=str(tmp_path / "clients"), sessions=3, max_turns=3,
        client={"self_report": "latent"}, memory={"chroma_url": chroma_server}, checkpointer_url=postgres_database,
        counselor="tests.plugins:KillWorkerOnceCounselor",
        counselor_options={"workdir": str(workdir), "client_id": clients[37], "kill_at_call": 5},
    )
    on_ray = runner.invoke(app, ["run", "--config", str(make_config(name="ray-100", executor="ray", workers=2,
                                                                    ray_address=ray_cluster, **settings)),
                                 "--no-progress"])
    assert on_ray.exit_code == 0, on_ray.output
    killed = workdir / "killed"  # written by the course that killed its worker; while it is there, no other kills
    assert killed.exists() and int(killed.read_text()) != os.getpid(), "a Ray worker was killed mid-course"
    in_threads = runner.invoke(app, ["run", "--config", str(make_config(name="threads-100", executor="threads",
                                                                        **settings)), "--no-progress"])
    assert in_threads.exit_code == 0, in_threads.output

    ray_lines, thread_lines = _lines(tmp_path / "runs" / "ray-100"), _lines(tmp_path / "runs" / "threads-100")
    expected = sorted((client, session) for client in clients for session in (1, 2, 3))
    assert sorted(_keys(ray_lines)) == expected, "every session exactly once, the killed course's included"
    on_ray_records, in_threads_records = _masked(ray_lines, "ray-100"), _masked(thread_lines, "threads-100")
    assert on_ray_records == in_threads_records, "the same records: " + _first_difference(on_ray_records,
                                                                                          in_threads_records)
    manifest = json.loads((tmp_path / "runs" / "ray-100" / "manifest.json").read_text())
    assert manifest["status"] == "finished"
    assert all(course["status"] == "finished" and course["sessions_done"] == 3 for course in manifest["courses"].values())
    stored = MemoryStore("ray-100", HashEmbedder(), url=chroma_server).records()
    assert Counter((h.client_id, h.session_index) for h in stored if h.kind == "memory") == Counter(expected)
