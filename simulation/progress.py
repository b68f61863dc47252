"""Progress of a campaign: rich progress bars at a terminal, occasional plain lines on stderr in a log."""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)


class CampaignProgress:
    """Implements ``ProgressEvents`` with three rich bars; use as a context manager."""

    def __init__(self, clients: list[str], sessions: int, max_turns: int, done: Counter | None = None, console=None):
        self._lock = threading.Lock()
        self.sessions = sessions
        self.max_turns = max_turns
        self.done = Counter(done or {})
        self.progress = Progress(
            TextColumn("[bold]{task.description:<9}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.fields[note]}"), console=console,
        )
        finished_sessions = sum(min(n, sessions) for n in self.done.values())
        self.courses = self.progress.add_task(
            "courses", total=len(clients), completed=sum(1 for c in clients if self.done[c] >= sessions), note="")
        self.session_bar = self.progress.add_task(
            "sessions", total=len(clients) * sessions, completed=finished_sessions, note="")
        self.turns = self.progress.add_task(
            "turns", total=len(clients) * sessions * max_turns, completed=finished_sessions * max_turns, note="")

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
            self.progress.advance(self.session_bar)
            # A session the client ended early still fills its share of the turns bar.
            self.progress.advance(self.turns, max(0, self.max_turns - client_turns))
            self.done[client_id] = max(self.done[client_id], session_index)
            if session_index >= self.sessions:
                self.progress.advance(self.courses)


class PlainProgress:
    """Implements ``ProgressEvents`` as occasional plain lines on stderr, for a log rather than a screen.

    A line at most every ``interval`` seconds while sessions finish, and one when the campaign
    stops: courses and sessions done of all, and the time so far. Use as a context manager.
    """

    def __init__(self, clients: list[str], sessions: int, done: Counter | None = None, *, interval: float = 30.0,
                 stream=None):
        self._lock = threading.Lock()
        self.sessions = sessions
        self.interval = interval
        self.stream = stream
        self.done = Counter(done or {})
        self.total_courses = len(clients)
        self.courses_done = sum(1 for client in clients if self.done[client] >= sessions)
        self.total_sessions = len(clients) * sessions
        self.sessions_done = sum(min(n, sessions) for n in self.done.values())
        self._started = time.monotonic()
        self._last_line = self._started

    def __enter__(self):
        self._line("started")
        return self

    def __exit__(self, *exc):
        self._line("stopped")

    def _line(self, what: str) -> None:
        elapsed = int(time.monotonic() - self._started)
        stream = self.stream or sys.stderr
        stream.write(f"{time.strftime('%H:%M:%S')} muspsy-sim: {what}: {self.courses_done}/{self.total_courses} "
                     f"courses, {self.sessions_done}/{self.total_sessions} sessions done, "
                     f"{elapsed // 60}m{elapsed % 60:02d}s\n")
        stream.flush()
        self._last_line = time.monotonic()

    def session_started(self, client_id: str, session_index: int) -> None:
        pass

    def turn_done(self, client_id: str) -> None:
        pass

    def session_finished(self, client_id: str, session_index: int, client_turns: int) -> None:
        with self._lock:
            self.sessions_done += 1
            self.done[client_id] = max(self.done[client_id], session_index)
            if session_index >= self.sessions:
                self.courses_done += 1
            if time.monotonic() - self._last_line >= self.interval:
                self._line("progress")
