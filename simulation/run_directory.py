"""The run directory contract: manifest.json, sessions.jsonl, checkpoints.sqlite, chroma/.

Writes are crash-safe: the manifest is replaced atomically, and each session
record is appended as one line with a single write and fsync; a torn last line
left by a kill is dropped when the directory is opened again.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from muspsy_sim.scenarios.base.atomic_files import write_json_atomic

MANIFEST = "manifest.json"
SESSIONS = "sessions.jsonl"
CHECKPOINTS = "checkpoints.sqlite"
CHROMA = "chroma"


def read_sessions(path: Path) -> list[dict]:
    """Complete session records of a run directory (a torn last line is ignored)."""
    file = path / SESSIONS
    if not file.is_file():
        return []
    records = []
    for line in file.read_bytes().split(b"\n"):
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


class RunDirectoryBusy(RuntimeError):
    pass


class RunDirectory:
    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._recorded: set[tuple[str, int]] = set()
        self._process_lock = None

    def lock(self) -> None:
        """Claim the directory for this process: two processes writing one run would duplicate records."""
        import fcntl

        self.path.mkdir(parents=True, exist_ok=True)
        handle = open(self.path / ".lock", "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise RunDirectoryBusy(f"{self.path} is being written by another muspsy-sim process") from None
        self._process_lock = handle

    def unlock(self) -> None:
        if self._process_lock is not None:
            self._process_lock.close()
            self._process_lock = None

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    @property
    def checkpoints_path(self) -> Path:
        return self.path / CHECKPOINTS

    @property
    def chroma_path(self) -> Path:
        return self.path / CHROMA

    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def read_manifest(self) -> dict:
        return json.loads(self.manifest_path.read_text(encoding="utf-8"))

    def open(self, manifest: dict | None = None) -> None:
        """Create the directory (with ``manifest``) or reopen it, repairing a torn last line."""
        self.path.mkdir(parents=True, exist_ok=True)
        if manifest is not None:
            write_json_atomic(self.manifest_path, manifest)
        self._drop_torn_tail()
        self._recorded = {(r["client_id"], r["session_index"]) for r in read_sessions(self.path)}

    def _drop_torn_tail(self) -> None:
        file = self.path / SESSIONS
        if not file.is_file():
            return
        data = file.read_bytes()
        if data and not data.endswith(b"\n"):
            with open(file, "r+b") as out:
                out.truncate(data.rfind(b"\n") + 1)
                out.flush()
                os.fsync(out.fileno())

    def append_session(self, record: dict) -> bool:
        """Append one session record unless that session is already recorded."""
        key = (record["client_id"], record["session_index"])
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            if key in self._recorded:
                return False
            fd = os.open(self.path / SESSIONS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            self._recorded.add(key)
            return True

    def sessions(self) -> list[dict]:
        return read_sessions(self.path)

    def update_manifest(self, **changes: Any) -> dict:
        with self._lock:
            manifest = self.read_manifest()
            manifest.update(changes)
            write_json_atomic(self.manifest_path, manifest)
            return manifest

    def set_course(self, client_id: str, **fields: Any) -> None:
        with self._lock:
            manifest = self.read_manifest()
            course = manifest.setdefault("courses", {}).setdefault(client_id, {})
            if fields.get("status") == "finished":
                # A course resumed after a failure: its old failure no longer describes it.
                course.pop("error", None)
                course.pop("failed_step", None)
            course.update(fields)
            write_json_atomic(self.manifest_path, manifest)
