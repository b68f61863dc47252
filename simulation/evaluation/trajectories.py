"""Trajectory realism: how a campaign's courses move on PHQ-9 and GAD-7.

Simulated clients are known to improve too fast and all along one arc (PSI-Bench,
2026, found simulators resolve distress within a conversation and follow the same
negative-to-positive path). Real courses do not: some clients improve, many do not
change reliably, some get worse, and most have setbacks on the way. ``eval``
reports, per campaign and instrument, how its courses moved, so a reader can see
whether the simulated clients look like clients:

* a course's measurements are the instrument's total at the start of each session
  and the exit assessment after the last one (``phq9`` and, for the last session,
  ``phq9_change`` of the metric rows); a session without a usable total is skipped;
* its change is the last measurement minus the first; it is **improving** when the
  change is at most minus the reliable change, **worsening** when it is at least the
  reliable change, and **flat** otherwise (the reliable change criteria of NHS
  Talking Therapies: 6 points on PHQ-9, 4 on GAD-7);
* it has a **setback** when one measurement rises over the one before by at least
  half the reliable change (3 points on PHQ-9, 2 on GAD-7);
* the **mean change per session** averages each course's change divided by its
  steps (measurements minus one); the **spread** across clients is the standard
  deviation of the course changes, with their minimum and maximum.

Courses with fewer than two measurements are not counted.
"""

from __future__ import annotations

import statistics
from collections import defaultdict

from rich.table import Table

from ..core.metrics import (
    ClientTrajectory,
    InstrumentRealism,
    RealismThresholds,
    SessionMetrics,
    TrajectoryRealism,
)

# instrument: (label, reliable change, setback)
INSTRUMENTS = {"phq9": ("PHQ-9", 6, 3), "gad7": ("GAD-7", 4, 2)}
CLASSES = ("improving", "flat", "worsening")


def course_series(rows: list[SessionMetrics], instrument: str) -> dict[str, list[tuple[float, float]]]:
    """Per client, (session index, total) at the start of each session, then (last + 0.5, exit total)."""
    by_client: dict[str, list[SessionMetrics]] = defaultdict(list)
    for row in rows:
        if row.session_index is not None:
            by_client[str(row.client_id)].append(row)
    series = {}
    for client, course in sorted(by_client.items()):
        course.sort(key=lambda r: r.session_index)
        points = []
        for row in course:
            value = row.value(instrument)
            if value is not None:
                points.append((row.session_index, value))
        last = course[-1]
        value, change = last.value(instrument), last.value(f"{instrument}_change")
        if value is not None and change is not None:
            points.append((last.session_index + 0.5, value + change))
        series[client] = points
    return series


def classify(change: float, reliable: float) -> str:
    return "improving" if change <= -reliable else "worsening" if change >= reliable else "flat"


def _instrument(rows: list[SessionMetrics], instrument: str) -> InstrumentRealism:
    _, reliable, setback = INSTRUMENTS[instrument]
    courses: dict[str, ClientTrajectory] = {}
    for client, points in course_series(rows, instrument).items():
        if len(points) < 2:
            continue
        values = [value for _, value in points]
        change = values[-1] - values[0]
        courses[client] = ClientTrajectory(
            change=round(change, 4),
            per_session=round(change / (len(values) - 1), 4),
            class_=classify(change, reliable),
            setback=any(b - a >= setback for a, b in zip(values, values[1:])),
        )
    n = len(courses)
    changes = [c.change for c in courses.values()]

    def share(count: int) -> float | None:
        return round(count / n, 4) if n else None

    return InstrumentRealism(
        courses=n,
        **{name: share(sum(c.class_ == name for c in courses.values())) for name in CLASSES},
        with_setback=share(sum(c.setback for c in courses.values())),
        mean_change_per_session=round(statistics.fmean(c.per_session for c in courses.values()), 4) if n else None,
        sd_change=round(statistics.stdev(changes), 4) if n > 1 else None,
        min_change=min(changes) if n else None,
        max_change=max(changes) if n else None,
        by_client=courses,
    )


def trajectory_realism(rows: list[SessionMetrics]) -> TrajectoryRealism:
    """How the courses of a campaign moved, per instrument (see the module notes), from its metric rows."""
    return TrajectoryRealism(
        **{name: _instrument(rows, name) for name in INSTRUMENTS},
        thresholds={name: RealismThresholds(reliable_change=reliable, setback=setback)
                    for name, (_, reliable, setback) in INSTRUMENTS.items()},
    )


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f}"


def realism_rows(realism: TrajectoryRealism) -> list[dict[str, str]]:
    """The table's rows as text, one per instrument (shared by `eval` and the HTML report)."""
    rows = []
    for name, (label, reliable, setback) in INSTRUMENTS.items():
        entry = getattr(realism, name) or InstrumentRealism()
        low, high = entry.min_change, entry.max_change
        rows.append({
            "instrument": label, "courses": str(entry.courses),
            **{key: _percent(getattr(entry, key)) for key in (*CLASSES, "with_setback")},
            "mean_change_per_session": _signed(entry.mean_change_per_session),
            "sd_change": "-" if entry.sd_change is None else f"{entry.sd_change:.2f}",
            "range": "-" if low is None else f"{low:+.0f} to {high:+.0f}",
            "thresholds": f"reliable change {reliable}, setback {setback}",
        })
    return rows


COLUMNS = (("instrument", "instrument"), ("courses", "courses"), ("improving", "improving"), ("flat", "flat"),
           ("worsening", "worsening"), ("with_setback", "with a setback"),
           ("mean_change_per_session", "mean change / session"), ("sd_change", "SD of change across clients"),
           ("range", "range of change"))


def realism_table(realism: TrajectoryRealism) -> Table:
    """The trajectory realism table `eval` prints."""
    table = Table(title="Trajectory realism: how courses moved (first to last measurement, exit included)")
    for key, header in COLUMNS:
        table.add_column(header, justify="left" if key == "instrument" else "right")
    for row in realism_rows(realism):
        table.add_row(*(row[key] for key, _ in COLUMNS))
    table.caption = ("improving / worsening: a change of at least the reliable change (PHQ-9 6, GAD-7 4 points); "
                     "setback: a rise of at least half that between two measurements. Real courses include "
                     "non-responders and setbacks; simulated ones that all improve steadily are not realistic.")
    return table
