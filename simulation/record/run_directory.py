"""Writing a run directory: manifest.json, sessions.jsonl (and the paths of checkpoints.sqlite, chroma/), and
what ``eval`` writes beside them (metrics.jsonl, summary.json).

Writes are crash-safe: the manifest is replaced atomically, and each session
record is appended as one line with a single write and fsync; a torn last line
left by a kill is dropped when the directory is opened again. What is written is
the record schema's models (``record.schema``), read back by ``record.run_log``.

The writer keeps the manifest it wrote in memory, so a course's update costs the
same in a campaign of ten courses or ten thousand: only the course's entry is
validated, and while a campaign runs (``coalesce_manifest_writes``) the file is
rewritten at most once a second, the last change flushed by a timer. A write
that finds the disk full raises ``DiskFull`` naming the file, leaving no torn or
half-written file behind, and the run resumable.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from ..core.course import WAITING
from ..core.files import write_json_atomic, write_jsonl_atomic
from ..core.interruptions import DiskFull, Interruption, describe, is_disk_full
from ..core.metrics import CampaignSummary, SessionMetrics
from .run_log import read_manifest, read_session_records
from .schema import CHECKPOINTS, CHROMA, MANIFEST, METRICS, SESSIONS, SUMMARY, CourseEntry, Manifest, SessionRecord


class RunDirectoryBusy(RuntimeError):
    pass


class RunDirectory:
    """The writer of one run directory; also the course graph's ``SessionRecorder``."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._recorded: set[tuple[str, int]] = set()
        self._sessions_per_client: Counter[str] = Counter()
        self._process_lock = None
        self._manifest: Manifest | None = None  # as last written by this writer
        self._write_interval = 0.0  # seconds between manifest writes; 0: every change is written at once
        self._written_at = 0.0
        self._flush_timer: threading.Timer | None = None

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
        try:
            self.coalesce_manifest_writes(0.0)
        except (OSError, Interruption):
            pass  # the writer that changed it last has said so; the file on disk stays whole
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
        """The manifest: as this writer last changed it (written or about to be), else as on disk."""
        with self._lock:
            return self._manifest if self._manifest is not None else read_manifest(self.path)

    def open(self, manifest: Manifest | None = None) -> None:
        """Create the directory (with ``manifest``) or reopen it, repairing a torn last line."""
        self.path.mkdir(parents=True, exist_ok=True)
        if manifest is not None:
            with self._lock:
                self._write_manifest(manifest)
        self._drop_torn_tail()
        keys = [record.key for record in self.records()]
        self._recorded = set(keys)
        self._sessions_per_client = Counter(client_id for client_id, _ in self._recorded)

    def sessions_recorded(self, client_id: str) -> int:
        """How many sessions of ``client_id`` sessions.jsonl holds (as this writer knows them: no re-reading)."""
        with self._lock:
            return self._sessions_per_client[client_id]

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
            try:
                fd = os.open(self.sessions_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            except OSError as error:
                raise self._disk_full_or(error, self.sessions_path) from error
            try:
                size = os.fstat(fd).st_size
                try:
                    written = 0
                    while written < len(line):  # a write cut short by a filling disk returns fewer bytes
                        written += os.write(fd, line[written:])
                    os.fsync(fd)
                except OSError as error:
                    # Leave no part of the line behind: the session is appended whole when the run resumes.
                    try:
                        os.ftruncate(fd, size)
                    except OSError:
                        pass  # the torn tail is dropped when the directory is opened again
                    raise self._disk_full_or(error, self.sessions_path) from error
            finally:
                os.close(fd)
            self._recorded.add(record.key)
            self._sessions_per_client[record.client_id] += 1
            return True

    @staticmethod
    def _disk_full_or(error: OSError, path: Path) -> OSError | DiskFull:
        return DiskFull(path, describe(error)) if is_disk_full(error) else error

    def records(self) -> list[SessionRecord]:
        """The session records written so far, in file order."""
        return read_session_records(self.path)

    def coalesce_manifest_writes(self, seconds: float) -> None:
        """Write the manifest at most every ``seconds`` from now on (0: at every change), flushing what waits."""
        with self._lock:
            self._write_interval = seconds
            if seconds <= 0:
                self._flush_locked()

    def flush(self) -> None:
        """Write the manifest now if a change waits."""
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
            if self._manifest is not None:
                self._write_manifest(self._manifest)

    def _write_manifest(self, manifest: Manifest) -> None:
        # Caller holds self._lock.
        self._manifest = manifest
        try:
            write_json_atomic(self.manifest_path, manifest.to_dict())
        except OSError as error:
            raise self._disk_full_or(error, self.manifest_path) from error
        self._written_at = time.monotonic()

    def _changed(self, manifest: Manifest) -> None:
        """Keep ``manifest`` and write it now, or, coalescing, at most ``_write_interval`` after the last write."""
        # Caller holds self._lock.
        due = self._written_at + self._write_interval - time.monotonic()
        if due <= 0:
            if self._flush_timer is not None:
                self._flush_timer.cancel()
                self._flush_timer = None
            self._write_manifest(manifest)
            return
        self._manifest = manifest
        if self._flush_timer is None:
            self._flush_timer = threading.Timer(due, self._timed_flush)
            self._flush_timer.daemon = True
            self._flush_timer.start()

    def _timed_flush(self) -> None:
        try:
            self.flush()
        except (OSError, Interruption):
            pass  # a full disk: the next change, or the campaign's end, writes it and says so

    def update_manifest(self, **changes: Any) -> Manifest:
        with self._lock:
            current = self._manifest if self._manifest is not None else read_manifest(self.path)
            manifest = current.updated(**changes)
            if self._flush_timer is not None:
                self._flush_timer.cancel()
                self._flush_timer = None
            self._write_manifest(manifest)
            return manifest

    def set_course(self, client_id: str, **fields: Any) -> None:
        with self._lock:
            manifest = self._manifest if self._manifest is not None else read_manifest(self.path)
            entry = manifest.courses[client_id].to_dict() if client_id in manifest.courses else {}
            if fields.get("status") in ("finished", WAITING):
                # A course resumed after a failure: its old failure no longer describes it.
                entry.pop("error", None)
                entry.pop("failed_step", None)
            entry.update(fields)
            # Only the changed entry is validated: the cost of an update does not grow with the campaign.
            courses = {**manifest.courses, client_id: CourseEntry.read(entry)}
            self._changed(manifest.model_copy(update={"courses": courses}))


def write_metric_rows(run_dir: Path, rows: list[SessionMetrics]) -> None:
    """metrics.jsonl, replaced whole and atomically."""
    write_jsonl_atomic(Path(run_dir) / METRICS, (row.to_dict() for row in rows))


def write_summary(run_dir: Path, summary: CampaignSummary) -> None:
    """summary.json, replaced atomically."""
    write_json_atomic(Path(run_dir) / SUMMARY, summary.to_dict())
