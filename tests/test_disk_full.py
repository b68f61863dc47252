"""A disk that fills up mid-campaign: the campaign stops with one line naming the file it could not write,
leaves the run resumable, and after space is freed `resume` records every session exactly once.

Two ways, said per test:
* on a real small filesystem (a tmpfs mounted for the test; needs root and a machine that allows
  mounting, else it skips): a filler file takes the last free byte after the first recorded session,
  so whichever writer needs a new block first meets ENOSPC, as in life;
* by injecting the OS error at each writer's own call (sessions.jsonl's append, manifest.json's
  replacement, the checkpoint database, the memory store), so each is shown to stop cleanly.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from muspsy_sim.simulation.cli import app
from tests.conftest import REPO

pytestmark = pytest.mark.slow

runner = CliRunner()
CLIENTS = ("gad-priya-38", "insomnia-david-47")
EXPECTED = sorted((client, session) for client in CLIENTS for session in (1, 2, 3))


def _keys(run_dir: Path) -> list[tuple[str, int]]:
    path = run_dir / "sessions.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [(r["client_id"], r["session_index"]) for r in map(json.loads, lines)]


def _memories(run_dir: Path, campaign: str) -> Counter:
    from muspsy_sim.memory import MemoryStore
    from tests.test_memory_store import HashEmbedder

    store = MemoryStore(campaign, HashEmbedder(), path=run_dir / "chroma")
    return Counter((r.client_id, r.session_index) for r in store.records() if r.kind == "memory")


def _assert_stopped_on_disk_full(stderr: str, run_dir: Path) -> str:
    """One line, naming a file of the run directory; no traceback. Returns the path it names."""
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert lines[0].startswith("error: interrupted: disk full: cannot write "), lines
    named = lines[0].removeprefix("error: interrupted: disk full: cannot write ").split(" (")[0]
    assert Path(named).resolve().is_relative_to(run_dir.resolve()), named
    return named


def _assert_finished_once(run_dir: Path, campaign: str) -> None:
    assert sorted(_keys(run_dir)) == EXPECTED, "every session exactly once"
    assert _memories(run_dir, campaign) == Counter(EXPECTED)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["sessions_recorded"] == len(EXPECTED)
    assert all(c["status"] == "finished" for c in manifest["courses"].values())
    assert not [p.name for p in run_dir.iterdir() if p.name.endswith(".tmp")], "no half-written file left"


# --- a real small filesystem ----------------------------------------------------------------------


@pytest.fixture
def small_filesystem(tmp_path):
    """A 48 MB tmpfs at tmp_path/fs (skips where this machine does not let the test mount one)."""
    mount_point = tmp_path / "fs"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root; the injected-error tests cover the writers")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}); the injected-error tests cover the writers")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def _fill(directory: Path) -> Path:
    """Take every free byte of ``directory``'s filesystem with one file; returns it."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as out:
        for chunk in (1 << 20, 1 << 12, 1):
            try:
                while True:
                    out.write(b"\0" * chunk)
            except OSError as error:
                assert error.errno == errno.ENOSPC
    return filler


def test_real_small_filesystem_fills_up_mid_campaign(small_filesystem, make_config):
    """On a real tmpfs: filled after the first recorded session; resumed after the filler is deleted."""
    config = make_config(name="disk-full", scenarios=list(CLIENTS), sessions=3, max_turns=2,
                         models={role: "testdouble/slow" for role in ("counselor", "client", "judge")},
                         client={"self_report": "latent"}, output_dir=str(small_filesystem / "runs"))
    run_dir = small_filesystem / "runs" / "disk-full"
    command = [sys.executable, "run_sim.py", "run", "--config", str(config), "--no-progress"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    filled: list[Path] = []

    def fill_after_first_session() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None and not _keys(run_dir):
            time.sleep(0.01)
        if process.poll() is None:
            filled.append(_fill(small_filesystem))

    watcher = threading.Thread(target=fill_after_first_session, daemon=True)
    watcher.start()
    _, stderr = process.communicate(timeout=300)
    watcher.join(10)
    assert filled, "the filesystem was filled while the campaign ran"
    assert process.returncode == 75, stderr
    _assert_stopped_on_disk_full(stderr, run_dir)
    assert 1 <= len(_keys(run_dir)) < len(EXPECTED)
    assert len(set(_keys(run_dir))) == len(_keys(run_dir))

    filled[0].unlink()  # space freed
    resumed = subprocess.run([sys.executable, "run_sim.py", "resume", str(run_dir), "--no-progress"], cwd=REPO,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    _assert_finished_once(run_dir, "disk-full")


# --- the OS error injected at each writer's own call -----------------------------------------------

FULL = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _full_after(run_dir: Path, sessions: int) -> bool:
    """The injected disk is full once ``sessions`` sessions are recorded (and stays full)."""
    return len(_keys(run_dir)) >= sessions


def _sessions_append(monkeypatch, run_dir: Path) -> str:
    """sessions.jsonl's append: half the line is written, then ENOSPC (the writer must take the half back)."""
    from muspsy_sim.simulation.record import run_directory

    real_write = os.write

    def write(fd, data):
        if os.readlink(f"/proc/self/fd/{fd}").endswith("sessions.jsonl") and _full_after(run_dir, 2):
            real_write(fd, bytes(data)[: len(data) // 2])
            raise FULL
        return real_write(fd, data)

    monkeypatch.setattr(run_directory.os, "write", write)
    return "sessions.jsonl"


def _manifest_replace(monkeypatch, run_dir: Path) -> str:
    """manifest.json's atomic replacement: its temporary file cannot be written."""
    from muspsy_sim.simulation.record import run_directory

    real = run_directory.write_json_atomic

    def write_json_atomic(path, data):
        if path.name == "manifest.json" and _full_after(run_dir, 2):
            raise FULL
        return real(path, data)

    monkeypatch.setattr(run_directory, "write_json_atomic", write_json_atomic)
    return "manifest.json"


def _checkpoint_put(monkeypatch, run_dir: Path) -> str:
    """The checkpoint database: SQLite's SQLITE_FULL, as sqlite3 raises it, on a checkpoint's write."""
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    real = SqliteSaver.put

    def put(self, *args, **kwargs):
        if _full_after(run_dir, 2):
            raise sqlite3.OperationalError("database or disk is full")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(SqliteSaver, "put", put)
    return "checkpoints.sqlite"


def _memory_upsert(monkeypatch, run_dir: Path) -> str:
    """The memory store: the error Chroma's embedded store raised on a full tmpfs (measured), on an upsert."""
    from chromadb.api.models.Collection import Collection
    from chromadb.errors import InternalError

    real = Collection.upsert

    def upsert(self, *args, **kwargs):
        if _full_after(run_dir, 2):
            raise InternalError("Query error: Database error: error returned from database: (code: 13) database "
                                "or disk is full")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Collection, "upsert", upsert)
    return "chroma"


@pytest.mark.parametrize("inject", [_sessions_append, _manifest_replace, _checkpoint_put, _memory_upsert],
                         ids=["sessions.jsonl", "manifest.json", "checkpoints.sqlite", "chroma"])
def test_injected_disk_full_at_each_writer_stops_cleanly_and_resumes(tmp_path, make_config, monkeypatch, inject):
    """The OS error injected at the writer's call (not a real full disk: see the test above for that)."""
    config = make_config(name="injected", scenarios=list(CLIENTS), sessions=3, max_turns=2, workers=1,
                         client={"self_report": "latent"})
    run_dir = tmp_path / "runs" / "injected"
    with monkeypatch.context() as patch:
        writer = inject(patch, run_dir)
        stopped = runner.invoke(app, ["run", "--config", str(config), "--no-progress"])
    assert stopped.exit_code == 75, stopped.output
    named = _assert_stopped_on_disk_full(stopped.stderr, run_dir)
    assert Path(named).name == writer, named
    # (manifest.json is rewritten at most once a second while courses run: the fast test double may have
    # recorded every session by the time a write of it failed; the run still ends interrupted, unaccounted.)
    assert sorted(set(_keys(run_dir))) == sorted(_keys(run_dir)) and 2 <= len(_keys(run_dir)) <= len(EXPECTED)
    data = (run_dir / "sessions.jsonl").read_bytes()
    assert data.endswith(b"\n"), "no torn line left behind"

    resumed = runner.invoke(app, ["resume", str(run_dir), "--no-progress"])  # space freed: the patch is gone
    assert resumed.exit_code == 0, resumed.output
    _assert_finished_once(run_dir, "injected")
