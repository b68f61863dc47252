"""Live progress for a campaign: courses, sessions and turns as rich progress bars."""

from __future__ import annotations

import threading
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
