"""Driving a practice course: the course graph runs in a worker thread and pauses at every counselor turn.

The graph is the campaign's own course graph with the human counselor; SqliteSaver in the run
directory holds every step. The person's turn resumes the paused counselor node with
``Command(resume={interrupt_id: turn})`` (addressed by id, so LangGraph keeps no copy that a later
node could take for its own answer). Until the counselor node has consumed it, the turn also waits
in ``practice-pending.json``, so a server killed at any moment loses no turn: reopening the course
sends it again if the graph has not taken it yet, and continues any step that was cut off.

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
from muspsy_sim.scenarios.base.atomic_files import write_json_atomic
from muspsy_sim.scenarios.base.errors import InputError
from muspsy_sim.simulation.campaign.prepare import CampaignPlan
from muspsy_sim.simulation.engine.checkpointers import course_thread_id, open_checkpointer
from muspsy_sim.simulation.engine.components import build_components
from muspsy_sim.simulation.config import ROLES
from muspsy_sim.simulation.engine.course_graph import initial_course_state
from muspsy_sim.simulation.practice.human_counselor import MAX_TURN_CHARS, HumanTurn
from muspsy_sim.simulation.practice.practice_run import finish_manifest, new_manifest
from muspsy_sim.simulation.engine.run_context import RunContext
from muspsy_sim.simulation.record.run_directory import RunDirectoryBusy

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
    """A consistent reading of the course for the page."""

    phase: str  # "working" (the simulation computes), "your_turn", "finished" or "failed"
    course: dict  # the course graph's values
    session: dict = field(default_factory=dict)  # the session subgraph's values while a session runs
    request: dict | None = None  # the pending counselor turn (human_counselor.turn_request)
    interrupt_id: str | None = None
    error: str | None = None
    records: list[dict] = field(default_factory=list)  # recorded sessions, in order
    next: tuple = ()  # the course graph's next nodes (what the simulation is doing while "working")

    @property
    def position(self) -> str:
        """Where the course waits: "SESSION.TURN" (the form sends it back, so a stale page cannot post)."""
        return f"{self.request['session_index']}.{self.request['turn_index']}" if self.request else ""


class PracticeCourse:
    """One practice course in its run directory; ``open`` claims the directory, ``close`` releases it."""

    def __init__(self, plan: CampaignPlan):
        self.plan = plan
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
            records = [r.to_dict() for r in sorted(self.run_dir.records(), key=lambda r: r.session_index)]
            status = CourseStatus("working", dict(snapshot.values or {}), records=records, next=tuple(snapshot.next))
            task = next((t for t in snapshot.tasks if t.name == "session" and hasattr(t.state, "values")), None)
            if task is not None:
                status.session = dict(task.state.values or {})
                # The session's own interrupts: the course's list can still show one already answered.
                if task.state.interrupts:
                    status.request = dict(task.state.interrupts[0].value)
                    status.interrupt_id = task.state.interrupts[0].id
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
        # checkpoint leaves one too (simulation/campaign.py, run_course); the last memory is,
        # or the client's not coming back (course_end: dropout).
        return (snapshot.metadata is not None and not snapshot.next
                and (len(snapshot.values.get("memories", [])) >= self.config.sessions
                     or bool(snapshot.values.get("course_end"))))

    # -- acting ------------------------------------------------------------------
    def submit(self, text: str, end_session: bool, position: str) -> None:
        """Send the person's turn (Refused, with nothing changed, when the course cannot take it now)."""
        text = check_turn_text(text)
        with self._lock:
            if self.busy:
                raise Refused("The client is still answering; your turn was not sent. Wait for the reply, then send it.")
            status = self.status()
            if status.phase != "your_turn":
                raise Refused("The course is not waiting for a counselor turn right now; your turn was not sent.")
            if position != status.position:
                raise Refused("This page was out of date (the course has moved on since it was shown); "
                              "your turn was not sent. Read the new state and send it again.")
            turn = HumanTurn(text, end_session)
            write_json_atomic(self._pending_path, {"position": position, "turn": turn.to_resume()})
            self._start(self._resume(status.interrupt_id, turn))

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
                    self._start(self._resume(status.interrupt_id, pending["turn"]))
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
        """The turn received but perhaps not taken: {"position", "turn": HumanTurn}; an unreadable one is dropped."""
        try:
            pending = json.loads(self._pending_path.read_text(encoding="utf-8"))
            return {"position": str(pending["position"]), "turn": HumanTurn.from_resume(pending["turn"])}
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            self._pending_path.unlink(missing_ok=True)
            return None

    def _initial_state(self) -> dict:
        return initial_course_state(self.profile)

    @staticmethod
    def _resume(interrupt_id: str, turn: HumanTurn) -> Command:
        return Command(resume={interrupt_id: turn.to_resume()})

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
                finish_manifest(self.run_dir, client_id, snapshot.values)
        except Exception as error:  # shown on the page, with a button to try again
            entry = failure_entry(error)
            self._error = entry["error"]
            done = len(self.graph.get_state(self.thread).values.get("memories", []))
            self.run_dir.set_course(client_id, status="failed", sessions_done=done, **entry)
