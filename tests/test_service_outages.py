"""Services that go away mid-campaign: a real Chroma server and a real PostgreSQL, stopped and restarted.

Each test runs a test-double campaign through the command line while a watcher thread stops the
service after the first recorded session and starts it again 2 s later (the courses wait, retrying,
and go on), then stops it for good after the fourth (past ``service_retry.max_wait`` the courses
stop as interrupted: exit code 75). With the service back, ``resume`` finishes the campaign, and
every session is recorded exactly once, in sessions.jsonl and in the memory store.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from muspsy_sim.simulation.cli import app

pytestmark = pytest.mark.slow

runner = CliRunner()
CLIENTS = ("gad-priya-38", "insomnia-david-47", "panic-lucia-33")
SESSIONS = 3
EXPECTED = sorted((client, session) for client in CLIENTS for session in range(1, SESSIONS + 1))
RETRY = {"max_wait": 6, "initial_backoff": 0.1, "max_backoff": 0.5}


def _records(run_dir: Path) -> list[dict]:
    path = run_dir / "sessions.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


class OutageScript(threading.Thread):
    """Stops the service after the first recorded session, starts it again ``pause`` s later, and stops it
    for good after the fourth; records what it did, for the assertions."""

    def __init__(self, run_dir: Path, stop, start, pause: float = 2.0):
        super().__init__(daemon=True)
        self.run_dir, self.stop_service, self.start_service, self.pause = run_dir, stop, start, pause
        self.done = threading.Event()
        self.steps: list[str] = []

    def _wait_for(self, records: int) -> bool:
        while not self.done.is_set():
            if len(_records(self.run_dir)) >= records:
                return True
            time.sleep(0.01)
        return False

    def run(self) -> None:
        if not self._wait_for(1):
            return
        self.stop_service()
        self.steps.append(f"stopped after {len(_records(self.run_dir))} sessions")
        time.sleep(self.pause)
        self.start_service()
        self.steps.append("started again")
        if self._wait_for(4):
            self.stop_service()
            self.steps.append(f"stopped for good after {len(_records(self.run_dir))} sessions")


def _outage_then_resume(run_dir: Path, config: Path, stop, start, stored) -> None:
    script = OutageScript(run_dir, stop, start)
    script.start()
    try:
        interrupted = runner.invoke(app, ["run", "--config", str(config), "--no-progress"])
    finally:
        script.done.set()
        script.join(30)
    log = interrupted.stderr
    assert script.steps[-1].startswith("stopped for good"), (script.steps, interrupted.output)
    assert interrupted.exit_code == 75, interrupted.output
    # Logged once per outage, however many calls waited: two outages, one came back, one did not.
    assert log.count("stopped answering") == 2, log
    assert log.count("answers again") == 1, log
    assert log.count("still not answering") == 1, log
    assert log.count("error: interrupted:") == 1 and f"resume {run_dir}" in log, log
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    statuses = Counter(course["status"] for course in manifest["courses"].values())
    assert statuses["interrupted"] >= 1 and statuses["failed"] == 0, manifest["courses"]
    before = _records(run_dir)
    keys_before = [(r["client_id"], r["session_index"]) for r in before]
    assert 4 <= len(keys_before) < len(EXPECTED) and len(set(keys_before)) == len(keys_before)

    start()
    resumed = runner.invoke(app, ["resume", str(run_dir), "--no-progress"])
    assert resumed.exit_code == 0, resumed.output
    after = _records(run_dir)
    assert after[:len(before)] == before, "the sessions recorded before the outage are untouched"
    assert sorted((r["client_id"], r["session_index"]) for r in after) == EXPECTED, "every session exactly once"
    assert stored() == Counter(EXPECTED), "every session's memory exactly once in the store"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["sessions_recorded"] == len(EXPECTED)
    assert all((c["status"], c["sessions_done"]) == ("finished", SESSIONS) and "error" not in c
               for c in manifest["courses"].values()), manifest["courses"]


def _campaign(make_config, name: str, **settings) -> Path:
    return make_config(
        name=name, scenarios=list(CLIENTS), sessions=SESSIONS, max_turns=2, workers=2,
        models={role: "testdouble/slow" for role in ("counselor", "client", "judge")},
        client={"self_report": "latent"}, service_retry=RETRY, **settings,
    )


def test_chroma_server_restarted_then_gone_mid_campaign(tmp_path, make_config):
    from muspsy_sim.memory import MemoryStore
    from tests.services import ServiceUnavailable, start_chroma_server
    from tests.test_memory_store import HashEmbedder

    try:
        server = start_chroma_server(tmp_path / "chroma-server")
    except ServiceUnavailable as reason:
        pytest.skip(f"no Chroma server: {reason}")
    try:
        config = _campaign(make_config, "chroma-outage", memory={"chroma_url": server.url})

        def stored() -> Counter:
            records = MemoryStore("chroma-outage", HashEmbedder(), url=server.url).records()
            return Counter((r.client_id, r.session_index) for r in records if r.kind == "memory")

        _outage_then_resume(tmp_path / "runs" / "chroma-outage", config, server.stop, server.start_again, stored)
    finally:
        server.stop()


def test_postgres_restarted_then_gone_mid_campaign(tmp_path, make_config):
    from muspsy_sim.memory import MemoryStore
    from tests.services import ServiceUnavailable, create_database, start_postgres
    from tests.test_memory_store import HashEmbedder

    try:
        server = start_postgres()  # its own server: the session's shared one must stay up
    except ServiceUnavailable as reason:
        pytest.skip(f"no PostgreSQL: {reason}")
    try:
        database = create_database(server.url, "outage")
        config = _campaign(make_config, "pg-outage", checkpointer_url=database)
        run_dir = tmp_path / "runs" / "pg-outage"

        def stored() -> Counter:
            records = MemoryStore("pg-outage", HashEmbedder(), path=run_dir / "chroma").records()
            return Counter((r.client_id, r.session_index) for r in records if r.kind == "memory")

        _outage_then_resume(run_dir, config, server.halt, server.start_again, stored)
    finally:
        server.stop()
