"""Trajectory realism: how a campaign's courses moved on PHQ-9 and GAD-7, beside published base rates.

Simulated clients are known to improve too fast and all along one arc (PSI-Bench, 2026, found
simulators resolve distress within a conversation and follow the same negative-to-positive path).
Real courses do not: about half of clients improve reliably, many do not change, some get worse,
about one in five drops out, and many improvers improve in a sudden jump. ``eval`` reports, per
campaign and instrument, how its courses moved, each figure beside its published reference
(``realism_references``), as an **intention-to-treat** view: every course that began counts in the
denominator, a course that ended by dropout with its last measurement carried forward.

* a course's measurements are the instrument's total at the start of each session and the exit
  assessment after the last one; a session without a usable total is skipped;
* its change is the last measurement minus the first; **improving** when the change is at most
  minus the reliable change, **worsening** when at least the reliable change, **flat** otherwise
  (``reliable_change``: Jacobson & Truax with the instrument's published reliability);
* a **setback** is a rise of at least half the reliable change between two measurements, a
  **sudden gain** a drop that meets Tang & DeRubeis's three criteria (``reliable_change``);
* the **mean change per session** averages each course's change divided by its steps; the
  **spread** is the standard deviation of the course changes and of all session-to-session changes;
* **dropout**: the share of courses the client ended by not coming back (the run's manifest), and
  after which session; courses that failed or were interrupted for a technical reason (a service away, a
  full disk: ``resume`` finishes them), and courses not finished yet (pending or running), are left out
  and listed.

The realism view counts what ``eval`` counts: a total eval did not score (a filled-in answer) or left out
(the outcomes of a session whose client moved on filled-in appraisal items, ``SessionMetrics.left_out``)
is no measurement here either. Where eval left a session's change out, every later measurement of the
course rests on the state those answers moved: the course's series ends with that session's value (its
last measurement carried forward). How many were skipped, and the courses left with none, are counted
(``skipped``, ``unmeasured``).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping

from ..core.course import COURSE_COMPLETED, COURSE_DROPOUT
from ..core.metrics import SessionMetrics
from ..core.realism import (
    ClientTrajectory,
    DropoutShare,
    InstrumentRealism,
    ReferenceLine,
    ReliableChange,
    TrajectoryRealism,
)
from ..record.schema import CourseEntry
from .realism_references import DROPOUT, PER_INSTRUMENT
from .reliable_change import INSTRUMENTS, classify, reliable_change, sudden_gain, thresholds_of

CLASSES = ("improving", "flat", "worsening")
FINISHED = "finished"  # a course's status once it ended (completed, or by dropout)


def _courses(rows: list[SessionMetrics]) -> dict[str, list[SessionMetrics]]:
    """Per client, its rows in session order."""
    by_client: dict[str, list[SessionMetrics]] = defaultdict(list)
    for row in rows:
        if row.session_index is not None:
            by_client[str(row.client_id)].append(row)
    return {client: sorted(course, key=lambda r: r.session_index) for client, course in sorted(by_client.items())}


def _cut(course: list[SessionMetrics], instrument: str) -> int | None:
    """The first session before the last whose change eval left out (its client moved on filled-in appraisal
    items): every later measurement rests on that state, so the course's series ends with this session's
    value (its last measurement carried forward). None: no such session."""
    change = f"{instrument}_change"
    return next((position for position, row in enumerate(course[:-1]) if change in row.left_out), None)


def _exit_usable(last: SessionMetrics, instrument: str) -> bool:
    return last.value(instrument) is not None and last.value(f"{instrument}_change") is not None


def course_series(rows: list[SessionMetrics], instrument: str) -> dict[str, list[tuple[float, float]]]:
    """Per client, (session index, total) at the start of each session, then (last + 0.5, exit total); a course
    ends early where eval left a session's change out (``_cut``)."""
    series = {}
    for client, course in _courses(rows).items():
        cut = _cut(course, instrument)
        kept = course if cut is None else course[: cut + 1]
        points = [(row.session_index, value) for row in kept if (value := row.value(instrument)) is not None]
        last = course[-1]
        if cut is None and _exit_usable(last, instrument):
            points.append((last.session_index + 0.5, last.value(instrument) + last.value(f"{instrument}_change")))
        series[client] = points
    return series


def skipped_measurements(rows: list[SessionMetrics], instrument: str,
                         outcomes: Mapping[str, CourseEntry] | None = None) -> int:
    """Measurements ``course_series`` skips: session starts without a usable total, the exit assessment
    of a course that took one (it completed) whose change eval did not score or left out (a dropout takes none),
    and the measurements after a session whose change eval left out (``_cut``)."""
    skipped = 0
    for client, course in _courses(rows).items():
        skipped += sum(1 for row in course if row.value(instrument) is None)
        last, change = course[-1], f"{instrument}_change"
        outcome = (outcomes or {}).get(client)
        completed = outcome is not None and outcome.ended_by == COURSE_COMPLETED
        exit_usable = _exit_usable(last, instrument)
        if not exit_usable and (change in last.left_out or completed):
            skipped += 1
        cut = _cut(course, instrument)
        if cut is not None:  # measured, but on a state that moved on filled-in answers
            skipped += sum(1 for row in course[cut + 1:] if row.value(instrument) is not None) + int(exit_usable)
    return skipped


def _share(count: int, n: int) -> float | None:
    return round(count / n, 4) if n else None


def _instrument(series: dict[str, list[tuple[float, float]]], instrument: str, outcomes: Mapping[str, CourseEntry],
                criterion: ReliableChange | None = None, skipped: int = 0) -> InstrumentRealism:
    measured = {client: [value for _, value in points] for client, points in series.items() if points}
    criterion = criterion or reliable_change(instrument, [values[0] for values in measured.values()])
    thresholds = thresholds_of(instrument, criterion)
    threshold, setback = thresholds.reliable_change, thresholds.setback
    courses: dict[str, ClientTrajectory] = {}
    for client, values in measured.items():
        change = values[-1] - values[0]  # a dropout's last measurement carried forward; one measurement: no change
        outcome = outcomes.get(client)
        courses[client] = ClientTrajectory(
            change=round(change, 4),
            per_session=round(change / (len(values) - 1), 4) if len(values) > 1 else None,
            class_=classify(change, threshold),
            setback=any(b - a >= setback for a, b in zip(values, values[1:])),
            sudden_gain=sudden_gain(values, threshold) is not None,
            measurements=len(values),
            ended_by=outcome.ended_by if outcome is not None else None,
        )
    n = len(courses)
    changes = [c.change for c in courses.values()]
    per_session = [c.per_session for c in courses.values() if c.per_session is not None]
    steps = [b - a for values in measured.values() for a, b in zip(values, values[1:])]
    improvers = [c for c in courses.values() if c.class_ == "improving"]
    return InstrumentRealism(
        courses=n,
        **{name: _share(sum(c.class_ == name for c in courses.values()), n) for name in CLASSES},
        with_setback=_share(sum(c.setback for c in courses.values()), n),
        with_sudden_gain=_share(sum(bool(c.sudden_gain) for c in courses.values()), n),
        sudden_gain_among_improving=_share(sum(bool(c.sudden_gain) for c in improvers), len(improvers)),
        mean_change=round(statistics.fmean(changes), 4) if n else None,
        mean_change_per_session=round(statistics.fmean(per_session), 4) if per_session else None,
        sd_change=round(statistics.stdev(changes), 4) if n > 1 else None,
        sd_session_change=round(statistics.stdev(steps), 4) if len(steps) > 1 else None,
        min_change=min(changes) if n else None,
        max_change=max(changes) if n else None,
        reliable_change=criterion,
        setback_threshold=setback,
        skipped=skipped,
        unmeasured=sorted(client for client, points in series.items() if not points),
        by_client=courses,
    )


def _dropout(clients: list[str], outcomes: Mapping[str, CourseEntry]) -> DropoutShare:
    ended = {client: outcomes[client] for client in clients if client in outcomes and outcomes[client].ended_by}
    dropped = {client: entry for client, entry in ended.items() if entry.ended_by == COURSE_DROPOUT}
    after = Counter(entry.dropout.after_session for entry in dropped.values() if entry.dropout is not None)
    sessions = sorted(after.elements())
    return DropoutShare(
        courses=len(clients),
        recorded=len(ended),  # courses whose end the run records (runs before issue 23 record none)
        dropped_out=len(dropped),
        share=_share(len(dropped), len(clients)) if ended else None,
        after_session={str(k): after[k] for k in sorted(after)},
        median_after_session=statistics.median(sessions) if sessions else None,
        reasons=dict(Counter(((entry.dropout.reason if entry.dropout else None) or "unknown").split(":")[0]
                             for entry in dropped.values())),
    )


def _references(realism: TrajectoryRealism) -> list[ReferenceLine]:
    """Each reference beside the campaign's figure (PHQ-9 and GAD-7 per instrument), and whether it is in range."""
    lines = []
    for reference in PER_INSTRUMENT:
        for instrument in INSTRUMENTS:
            value = getattr(realism.instrument(instrument), reference.key)
            lines.append(ReferenceLine(**reference.to_dict(), instrument=instrument, value=value,
                                       in_range=reference.holds(value)))
    share = realism.dropout.share if realism.dropout is not None else None
    lines.append(ReferenceLine(**DROPOUT.to_dict(), instrument=None, value=share, in_range=DROPOUT.holds(share)))
    return lines


def trajectory_realism(rows: list[SessionMetrics], outcomes: Mapping[str, CourseEntry] | None = None,
                       criteria: Mapping[str, ReliableChange] | None = None) -> TrajectoryRealism:
    """How the courses of a campaign moved (see the module notes), from its metric rows.

    ``outcomes`` are the manifest's course entries (status, ended_by, dropout); courses whose status is not
    finished are left out: a technical failure, a course its infrastructure stopped before `resume` finished
    it, and a course still pending or running (eval during a campaign, or after a hard kill) are no client
    outcome. ``criteria`` (per instrument, as
    ``reliable_change`` gives them) replace the campaign's own, so that groups compared side by side
    share one criterion.
    """
    outcomes = outcomes or {}
    # Only a finished course (completed, or a dropout) has a client outcome; failed, interrupted, and pending
    # or running ones (eval during a campaign, or after one was killed) are left out and listed.
    failed = sorted(client for client, entry in outcomes.items() if entry.status != FINISHED)
    rows = [row for row in rows if row.client_id not in failed]
    clients = sorted({str(row.client_id) for row in rows})
    instruments = {name: _instrument(course_series(rows, name), name, outcomes, (criteria or {}).get(name),
                                     skipped_measurements(rows, name, outcomes))
                   for name in INSTRUMENTS}
    realism = TrajectoryRealism(
        **instruments,
        thresholds={name: thresholds_of(name, entry.reliable_change) for name, entry in instruments.items()},
        dropout=_dropout(clients, outcomes),
        excluded_failed=failed,
    )
    return realism.model_copy(update={"references": _references(realism)})
