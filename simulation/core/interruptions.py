"""When a campaign's infrastructure stops it: a service that stayed away, a disk that filled up.

Neither is the simulation's fault nor the user's input: the courses it hits stop as
*interrupted* (not failed), nothing half-written is kept, and ``resume`` finishes them once the
service is back or space is freed. Each error carries one line for the user naming what failed.
"""

from __future__ import annotations

import errno
import threading
from pathlib import Path

# The status of a course its infrastructure stopped (manifest.json): not failed, not a client outcome either;
# `resume` finishes it.
INTERRUPTED = "interrupted"

# SQLite's message for SQLITE_FULL; Chroma's embedded store (SQLite and its index files) says the same.
_DISK_FULL_MESSAGES = ("database or disk is full", "no space left on device", "disk quota exceeded")
_DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
# PostgreSQL's SQLSTATE for "disk full" (class 53, insufficient resources).
_POSTGRES_DISK_FULL = "53100"


class Interruption(RuntimeError):
    """The campaign's infrastructure stopped a course; ``resume`` finishes it. ``str()`` is the one line to show."""


class Stopped(Interruption):
    """A course stopped at its next turn because the campaign is stopping (Ctrl+C, or another course's
    service or disk); its checkpoints hold every step before, so ``resume`` goes on from there."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


class CampaignStop:
    """Set once, by the first reason a campaign has to stop: the person running it pressed Ctrl+C, or a
    course's infrastructure interrupted it (a service that stayed away, a full disk: it would stop every
    other course too). Courses not yet started stay for ``resume``; running ones stop at their next turn.

    Process-local: a copy in another process (a Ray worker's) is a fresh one, never set.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reason: str | None = None

    def record(self, reason: str) -> None:
        with self._lock:
            if self.reason is None:
                self.reason = reason

    @property
    def stopping(self) -> bool:
        return self.reason is not None

    def check(self) -> None:
        """Raise ``Stopped`` when the campaign is stopping."""
        if self.reason is not None:
            raise Stopped(self.reason)

    def __reduce__(self):
        return (CampaignStop, ())


class ServiceUnavailable(Interruption):
    """A service (a Chroma server, PostgreSQL) did not answer within the configured wait."""

    def __init__(self, service: str, waited_seconds: float, cause: str):
        super().__init__(service, waited_seconds, cause)
        self.service, self.waited_seconds, self.cause = service, waited_seconds, cause

    def __str__(self) -> str:
        return f"{self.service} did not answer for {self.waited_seconds:.0f} s ({self.cause})"


class DiskFull(Interruption):
    """A write could not complete for lack of space (ENOSPC, a quota, SQLite's SQLITE_FULL)."""

    def __init__(self, path: str | Path, cause: str):
        super().__init__(str(path), cause)
        self.path, self.cause = str(path), cause

    def __str__(self) -> str:
        return f"disk full: cannot write {self.path} ({self.cause})"


def is_disk_full(error: BaseException) -> bool:
    """Whether ``error``, or an error it was raised from, says the disk (or a quota) is full."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _DISK_FULL_ERRNOS:
            return True
        if getattr(current, "sqlstate", None) == _POSTGRES_DISK_FULL:
            return True
        if any(message in str(current).lower() for message in _DISK_FULL_MESSAGES):
            return True
        current = current.__cause__ or current.__context__
    return False


def describe(error: BaseException) -> str:
    """``error`` in one line: its type and message, whitespace folded, at most 300 characters."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}"[:300] if text else type(error).__name__
