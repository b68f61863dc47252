"""Progress of a campaign: rich progress bars at a terminal, occasional plain lines on stderr in a log.

A course is done when it ends (``course_ended``): every planned session held, or the client dropped out.
A dropout's sessions never held count as done too, as skipped, so that a campaign whose courses all ended
reads all done; the line and the bars say how many were skipped.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)


class CourseTally:
    """Courses and sessions done of all, from the sessions each course held and the courses that ended.

    ``done``: sessions already recorded per client (a resumed run); ``ended``: clients whose course had
    already ended (finished in the manifest). A course ends once: a repeated event (a node re-run on
    resume) changes nothing.
    """

    def __init__(self, clients: list[str], sessions: int, done: Counter | None = None, ended: Iterable[str] = ()):
        self.sessions = sessions
        self.held = Counter(done or {})
        self.total_courses = len(clients)
        self.total_sessions = len(clients) * sessions
        self.sessions_held = sum(min(n, sessions) for n in self.held.values())
        self.ended: set[str] = set()
        self.skipped = 0  # sessions a dropout will never have
        self.dropouts = 0
        for client in ended:
            self.end(client, self.held[client])

    def session_held(self, client_id: str, session_index: int) -> None:
        self.sessions_held += 1
        self.held[client_id] = max(self.held[client_id], session_index)

    def end(self, client_id: str, sessions_held: int) -> int:
        """Count the course as ended; returns how many of its sessions are skipped by this (0 if already ended)."""
        if client_id in self.ended:
            return 0
        self.ended.add(client_id)
        skipped = max(0, self.sessions - sessions_held)
        if skipped:
            self.dropouts += 1
            self.skipped += skipped
        return skipped

    @property
    def sessions_done(self) -> int:
        return self.sessions_held + self.skipped

    def skipped_note(self) -> str:
        if not self.skipped:
            return ""
        return f"{self.skipped} skipped: {self.dropouts} dropped out"


class CampaignProgress:
    """Implements ``ProgressEvents`` with three rich bars; use as a context manager."""

    def __init__(self, clients: list[str], sessions: int, max_turns: int, done: Counter | None = None,
                 ended: Iterable[str] = (), console=None):
        self._lock = threading.Lock()
        self.max_turns = max_turns
        self.tally = CourseTally(clients, sessions, done, ended)
        tally = self.tally
        self.progress = Progress(
            TextColumn("[bold]{task.description:<9}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.fields[note]}"), console=console,
        )
        self.courses = self.progress.add_task(
            "courses", total=tally.total_courses, completed=len(tally.ended), note=self._dropout_note())
        self.session_bar = self.progress.add_task(
            "sessions", total=tally.total_sessions, completed=tally.sessions_done, note="")
        self.turns = self.progress.add_task(
            "turns", total=tally.total_sessions * max_turns, completed=tally.sessions_done * max_turns, note="")

    def _dropout_note(self) -> str:
        if not self.tally.dropouts:
            return ""
        return f"{self.tally.dropouts} dropped out ({self.tally.skipped} sessions skipped)"

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc):
        self.progress.stop()

    def session_started(self, client_id: str, session_index: int) -> None:
        self.progress.update(self.session_bar, note=f"{client_id} s{session_index}")

    def turn_done(self, client_id: str) -> None:
        self.progress.advance(self.turns)

    def session_finished(self, client_id: str, session_index: int, client_turns: int) -> None:
        with self._lock:
            self.tally.session_held(client_id, session_index)
            self.progress.advance(self.session_bar)
            # A session the client ended early still fills its share of the turns bar.
            self.progress.advance(self.turns, max(0, self.max_turns - client_turns))

    def course_ended(self, client_id: str, sessions_held: int) -> None:
        with self._lock:
            if client_id in self.tally.ended:
                return
            skipped = self.tally.end(client_id, sessions_held)
            self.progress.advance(self.courses)
            if skipped:  # the sessions a dropout will never have fill their share of the bars
                self.progress.advance(self.session_bar, skipped)
                self.progress.advance(self.turns, skipped * self.max_turns)
                self.progress.update(self.courses, note=self._dropout_note())


class PlainProgress:
    """Implements ``ProgressEvents`` as occasional plain lines on stderr, for a log rather than a screen.

    A line at most every ``interval`` seconds while sessions finish, and one when the campaign
    stops: courses and sessions done of all (with the sessions dropouts skipped), and the time so far.
    Use as a context manager.
    """

    def __init__(self, clients: list[str], sessions: int, done: Counter | None = None, ended: Iterable[str] = (), *,
                 interval: float = 30.0, stream=None):
        self._lock = threading.Lock()
        self.interval = interval
        self.stream = stream
        self.tally = CourseTally(clients, sessions, done, ended)
        self._started = time.monotonic()
        self._last_line = self._started

    def __enter__(self):
        self._line("started")
        return self

    def __exit__(self, *exc):
        self._line("stopped")

    def _line(self, what: str) -> None:
        tally = self.tally
        elapsed = int(time.monotonic() - self._started)
        skipped = f" ({tally.skipped_note()})" if tally.skipped else ""
        stream = self.stream or sys.stderr
        stream.write(f"{time.strftime('%H:%M:%S')} muspsy-sim: {what}: {len(tally.ended)}/{tally.total_courses} "
                     f"courses, {tally.sessions_done}/{tally.total_sessions} sessions done{skipped}, "
                     f"{elapsed // 60}m{elapsed % 60:02d}s\n")
        stream.flush()
        self._last_line = time.monotonic()

    def session_started(self, client_id: str, session_index: int) -> None:
        pass

    def turn_done(self, client_id: str) -> None:
        pass

    def session_finished(self, client_id: str, session_index: int, client_turns: int) -> None:
        with self._lock:
            self.tally.session_held(client_id, session_index)
            self._line_if_due()

    def course_ended(self, client_id: str, sessions_held: int) -> None:
        with self._lock:
            self.tally.end(client_id, sessions_held)
            self._line_if_due()

    def _line_if_due(self) -> None:
        if time.monotonic() - self._last_line >= self.interval:
            self._line("progress")
