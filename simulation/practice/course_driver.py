"""Driving a practice course: the course graph runs in a worker thread and pauses wherever a person acts.

The graph is the campaign's own course graph with a person in one chair: the human counselor
(``practice``), or the human client (``practice --as client``: its replies with their ratings, the
ratings of a session's last counselor turn, its questionnaires); SqliteSaver in the run directory
holds every step. What the person sends resumes the paused node with
``Command(resume={interrupt_id: value})`` (addressed by id, so LangGraph keeps no copy that a later
node could take for its own answer). Until the node has consumed it, the value also waits in
``practice-pending.json``, so a server killed at any moment loses nothing the person sent: reopening
the course sends it again if the graph has not taken it yet, and continues any step that was cut off.

What the page shows comes from ``graph.get_state(thread, subgraphs=True)``: the course's values
(profile, session index, goal, questionnaires, week, memories) and, inside a session, the session
subgraph's values (turns so far, the client's current state) and its pending interrupt, plus the
recorded sessions in sessions.jsonl.
"""

from __future__ import annotations

import json
import threading
from contextlib import ExitStack
from dataclasses import dataclass, field

from langgraph.types import Command

from muspsy_sim.agents.llm import failure_entry

from ..campaign.prepare import CampaignPlan
from ..config import ROLES
from ..core.errors import InputError
from ..core.files import write_json_atomic
from ..core.turns import Turn
from ..engine.checkpointers import course_thread_id, open_checkpointer
from ..engine.components import build_components
from ..engine.course_graph import initial_course_state
from ..engine.states import RunContext, StateView
from ..record.run_directory import RunDirectoryBusy
from ..record.schema import SessionRecord
from .human_counselor import MAX_TURN_CHARS, HumanTurn
from .practice_run import finish_manifest, new_manifest

PENDING_FILE = "practice-pending.json"


class Refused(ValueError):
    """A turn the course did not take; the message says why (nothing was changed)."""


def check_turn_text(text: str) -> str:
    """The turn as it will be recorded (stripped), or Refused with a message for the person."""
    text = text.strip()
    if not text:
        raise Refused("Your turn is empty: write what you say to the client, then send it.")
    if len(text) > MAX_TURN_CHARS:
        raise Refused(f"Your turn has {len(text):,} characters; a turn may have at most {MAX_TURN_CHARS:,}. "
                      "Shorten it and send it again.")
    return text


@dataclass
class CourseStatus:
    """A consistent reading of the course for the page: graph state through ``StateView``, records as
    ``SessionRecord``s."""

    phase: str  # "working" (the simulation computes), "your_turn", "finished" or "failed"
    course: StateView  # the course graph's values (empty before the course starts)
    session: StateView | None = None  # the session subgraph's values while a session runs
    request: dict | None = None  # what the person is asked for (human_counselor.turn_request, engine.human_client)
    interrupt_id: str | None = None
    error: str | None = None
    records: list[SessionRecord] = field(default_factory=list)  # recorded sessions, in order
    next: tuple = ()  # the course graph's next nodes (what the simulation is doing while "working")

    @property
    def started(self) -> bool:
        return "session_index" in self.course

    @property
    def session_index(self) -> int:
        """The session being run (or about to be), 1 before the course starts."""
        return self.course.session_index if self.started else 1

    def turns_now(self) -> tuple[Turn, ...]:
        """The turns the page shows: the running session's, else the course's last ones (none once finished)."""
        if self.phase == "finished":
            return ()
        if self.session is not None:
            return self.session.turns
        return self.course.turns

    @property
    def position(self) -> str:
        """Where the course waits, e.g. "SESSION.TURN" (the form sends it back, so a stale page cannot post)."""
        if not self.request:
            return ""
        return str(self.request.get("position") or f"{self.request['session_index']}.{self.request['turn_index']}")


class PracticeCourse:
    """One practice course in its run directory; ``open`` claims the directory, ``close`` releases it.

    ``other`` names the simulated side, for the messages a refused post gets.
    """

    def __init__(self, plan: CampaignPlan, other: str = "client"):
        self.plan = plan
        self.other = other
        self.config = plan.config
        self.profile = plan.profiles[0]
        self.run_dir = plan.run_dir
        self.graph = None
        self._stack = ExitStack()
        self._lock = threading.RLock()
        self._worker: threading.Thread | None = None
        self._error: str | None = None

    # -- lifecycle -------------------------------------------------------------
    def open(self) -> "PracticeCourse":
        try:
            self.run_dir.lock()
        except RunDirectoryBusy:
            raise InputError(self.run_dir.path, "", "is being written by another muspsy-sim process "
                                                    "(one practice course per run directory at a time)") from None
        self._stack.callback(self.run_dir.unlock)
        try:
            self.run_dir.open(None if self.run_dir.exists() else new_manifest(self.plan))
            components = build_components(self.config, self.run_dir)
            self.run_dir.update_manifest(components=components.describe())
            checkpointer = self._stack.enter_context(open_checkpointer(self.config, self.run_dir.path))
            self.graph = components.course_graph().compile(checkpointer=checkpointer)
        except BaseException:
            self._stack.close()
            raise
        self.context = RunContext(campaign=self.config.name, seed=self.config.seed, sessions=self.config.sessions,
                                  max_turns=self.config.max_turns,
                                  models={role: getattr(self.config.models, role).model.text for role in ROLES})
        self.thread = {"configurable": {"thread_id": course_thread_id(self.config, self.profile.id)},
                       "recursion_limit": 10_000}
        return self

    def close(self, timeout: float = 5.0) -> None:
        """Release the run directory; a step still computing is left to the checkpoint (it is redone on reopen)."""
        if self.busy:
            self._worker.join(timeout)
        if self.busy:
            return  # the process is exiting; closing the database under the worker would only add errors
        self._stack.close()

    @property
    def busy(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the simulation stops computing (tests); True when it did."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)
        return not self.busy

    # -- reading -----------------------------------------------------------------
    def status(self) -> CourseStatus:
        with self._lock:
            snapshot = self.graph.get_state(self.thread, subgraphs=True)
            # Plain data like the live graph state beside it, so the page reads both the same way.
            records = sorted(self.run_dir.records(), key=lambda r: r.session_index)
            status = CourseStatus("working", StateView(dict(snapshot.values or {})), records=records,
                                  next=tuple(snapshot.next))
            task = next((t for t in snapshot.tasks if t.name == "session" and hasattr(t.state, "values")), None)
            if task is not None:
                values = dict(task.state.values or {})
                status.session = StateView(values) if values else None
                # The session's own interrupts: the course's list can still show one already answered.
                if task.state.interrupts:
                    status.request = dict(task.state.interrupts[0].value)
                    status.interrupt_id = task.state.interrupts[0].id
            else:  # a course node waits (a person's questionnaires before or after a session)
                waiting = next((t for t in snapshot.tasks if t.interrupts), None)
                if waiting is not None:
                    status.request = dict(waiting.interrupts[0].value)
                    status.interrupt_id = waiting.interrupts[0].id
            if self.busy:
                status.request = status.interrupt_id = None
            elif self._error:
                status.phase, status.error = "failed", self._error
            elif status.request:
                status.phase = "your_turn"
            elif self._finished(snapshot):
                status.phase = "finished"
            return status

    def _finished(self, snapshot) -> bool:
        # An empty `next` alone is not the end: a kill between a node's writes and the next
        # checkpoint leaves one too (simulation/campaign/courses.py, run_course); the last memory is,
        # or the client's not coming back (course_end: dropout).
        return (snapshot.metadata is not None and not snapshot.next
                and (StateView(snapshot.values).sessions_done >= self.config.sessions
                     or StateView(snapshot.values).dropout is not None))

    # -- acting ------------------------------------------------------------------
    def submit(self, text: str, end_session: bool, position: str) -> None:
        """Send the person's counselor turn (Refused, with nothing changed, when the course cannot take it now)."""
        self.send(HumanTurn(check_turn_text(text), end_session).to_resume(), position, expected="counselor_turn")

    def send(self, value: dict, position: str, expected: str | None = None) -> None:
        """Resume the course with what the person sent (plain JSON), where it waits at ``position``.

        ``expected`` is the kind of request the value answers; Refused, with nothing changed, when the
        course waits for something else or cannot take it now.
        """
        with self._lock:
            if self.busy:
                raise Refused(f"The {self.other} is still answering; what you sent was not taken. "
                              "Wait for the reply, then send it again.")
            status = self.status()
            if status.phase != "your_turn" or (expected and status.request.get("kind") != expected):
                raise Refused("The course is not waiting for this right now; what you sent was not taken.")
            if position != status.position:
                raise Refused("This page was out of date (the course has moved on since it was shown); "
                              "what you sent was not taken. Read the new state and send it again.")
            write_json_atomic(self._pending_path, {"position": position, "resume": value})
            self._start(self._resume(status.interrupt_id, value))

    def continue_course(self, retry: bool = False) -> None:
        """Go on with whatever the course was doing: start it, finish a step that was cut off, or send a
        turn that was received but not yet taken. Called at start, on every page view and to retry."""
        with self._lock:
            if self.busy or (self._error and not retry):
                return
            self._error = None
            status = self.status()
            pending = self._read_pending()
            if pending is not None:
                if status.phase == "your_turn" and pending["position"] == status.position:
                    self._start(self._resume(status.interrupt_id, pending["resume"]))
                    return
                self._pending_path.unlink(missing_ok=True)  # the graph took it before the restart
            if status.phase == "finished":
                if self.run_dir.read_manifest().status != "finished":
                    finish_manifest(self.run_dir, self.profile.id, status.course)
                return
            if status.phase == "working":
                started = self.graph.get_state(self.thread).metadata is not None
                self._start(None if started else self._initial_state())

    # -- the worker ----------------------------------------------------------------
    @property
    def _pending_path(self):
        return self.run_dir.path / PENDING_FILE

    def _read_pending(self) -> dict | None:
        """What was received but perhaps not taken: {"position", "resume"}; an unreadable file is dropped.

        The value is checked again by the node it resumes, which asks again for an unusable one.
        """
        try:
            pending = json.loads(self._pending_path.read_text(encoding="utf-8"))
            value = pending["resume"] if "resume" in pending else pending["turn"]  # "turn": counselor turns, before
            if not isinstance(value, (dict, str)):
                raise TypeError(value)
            return {"position": str(pending["position"]), "resume": value}
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            self._pending_path.unlink(missing_ok=True)
            return None

    def _initial_state(self) -> dict:
        return initial_course_state(self.profile)

    @staticmethod
    def _resume(interrupt_id: str, value: dict | str) -> Command:
        return Command(resume={interrupt_id: value})

    def _start(self, graph_input) -> None:
        self._worker = threading.Thread(target=self._run, args=(graph_input,), name="practice-course", daemon=True)
        self._worker.start()

    def _run(self, graph_input) -> None:
        client_id = self.profile.id
        try:
            self.run_dir.set_course(client_id, status="running")
            # "sync": each step's checkpoint is written before the next step starts.
            self.graph.invoke(graph_input, self.thread, context=self.context, durability="sync")
            self._pending_path.unlink(missing_ok=True)
            snapshot = self.graph.get_state(self.thread)
            if self._finished(snapshot):
                finish_manifest(self.run_dir, client_id, StateView(snapshot.values))
        except Exception as error:  # shown on the page, with a button to try again
            entry = failure_entry(error)
            self._error = entry["error"]
            done = StateView(self.graph.get_state(self.thread).values).sessions_done
            self.run_dir.set_course(client_id, status="failed", sessions_done=done, **entry)
