"""Writing a run directory: manifest.json, sessions.jsonl (and the paths of checkpoints.sqlite, chroma/), and
what ``eval`` writes beside them (metrics.jsonl, summary.json).

Writes are crash-safe: the manifest is replaced atomically, and each session
record is appended as one line with a single write and fsync; a torn last line
left by a kill is dropped when the directory is opened again. What is written is
the record schema's models (``record.schema``), read back by ``record.run_log``.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path
from typing import Any

from ..core.files import write_json_atomic, write_jsonl_atomic
from ..core.metrics import CampaignSummary, SessionMetrics
from .run_log import read_manifest, read_session_records
from .schema import CHECKPOINTS, CHROMA, MANIFEST, METRICS, SESSIONS, SUMMARY, Manifest, SessionRecord


class RunDirectoryBusy(RuntimeError):
    pass


class RunDirectory:
    """The writer of one run directory; also the course graph's ``SessionRecorder``."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._recorded: set[tuple[str, int]] = set()
        self._process_lock = None

    def lock(self) -> None:
        """Claim the directory for this process: two processes writing one run would duplicate records."""
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
    def sessions_path(self) -> Path:
        return self.path / SESSIONS

    @property
    def checkpoints_path(self) -> Path:
        return self.path / CHECKPOINTS

    @property
    def chroma_path(self) -> Path:
        return self.path / CHROMA

    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def read_manifest(self) -> Manifest:
        return read_manifest(self.path)

    def open(self, manifest: Manifest | None = None) -> None:
        """Create the directory (with ``manifest``) or reopen it, repairing a torn last line."""
        self.path.mkdir(parents=True, exist_ok=True)
        if manifest is not None:
            self._write_manifest(manifest)
        self._drop_torn_tail()
        self._recorded = {record.key for record in self.records()}

    def _drop_torn_tail(self) -> None:
        file = self.sessions_path
        if not file.is_file():
            return
        data = file.read_bytes()
        if data and not data.endswith(b"\n"):
            with open(file, "r+b") as out:
                out.truncate(data.rfind(b"\n") + 1)
                out.flush()
                os.fsync(out.fileno())

    def append_session(self, record: SessionRecord) -> bool:
        """Append one session record unless that session is already recorded."""
        line = (record.to_json_line() + "\n").encode("utf-8")
        with self._lock:
            if record.key in self._recorded:
                return False
            fd = os.open(self.sessions_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            self._recorded.add(record.key)
            return True

    def records(self) -> list[SessionRecord]:
        """The session records written so far, in file order."""
        return read_session_records(self.path)

    def _write_manifest(self, manifest: Manifest) -> None:
        write_json_atomic(self.manifest_path, manifest.to_dict())

    def update_manifest(self, **changes: Any) -> Manifest:
        with self._lock:
            manifest = self.read_manifest().updated(**changes)
            self._write_manifest(manifest)
            return manifest

    def set_course(self, client_id: str, **fields: Any) -> None:
        with self._lock:
            manifest = self.read_manifest()
            entry = manifest.courses[client_id].to_dict() if client_id in manifest.courses else {}
            if fields.get("status") == "finished":
                # A course resumed after a failure: its old failure no longer describes it.
                entry.pop("error", None)
                entry.pop("failed_step", None)
            entry.update(fields)
            courses = {**{c: e.to_dict() for c, e in manifest.courses.items()}, client_id: entry}
            self._write_manifest(manifest.updated(courses=courses))


def write_metric_rows(run_dir: Path, rows: list[SessionMetrics]) -> None:
    """metrics.jsonl, replaced whole and atomically."""
    write_jsonl_atomic(Path(run_dir) / METRICS, (row.to_dict() for row in rows))


def write_summary(run_dir: Path, summary: CampaignSummary) -> None:
    """summary.json, replaced atomically."""
    write_json_atomic(Path(run_dir) / SUMMARY, summary.to_dict())
