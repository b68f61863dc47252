"""Per-course summaries: trajectories over sessions, their slopes, and how the course ended."""

from __future__ import annotations

from ..core.course import COURSE_DROPOUT
from ..core.metrics import CourseSummary, SessionMetrics
from ..record.schema import CourseEntry
from .statistics import slope

TRAJECTORIES = ("distress_start", "phq9", "gad7", "wai_total", "trust_end")


def course_summary(rows: list[SessionMetrics], planned_sessions: int,
                   outcome: CourseEntry | None = None) -> CourseSummary:
    """Trajectories of one client's course from its metric rows (one per session), and how it ended.

    ``outcome`` is the course's manifest entry: ``ended_by`` completed or dropout, with the dropout's
    session and reason. A session the client walked out of (``ended_by_client``) is no dropout: the
    course went on.
    """
    rows = sorted(rows, key=lambda r: r.session_index)
    trajectories, slopes = {}, {}
    for name in TRAJECTORIES:
        points = [(r.session_index, r.metrics[name]) for r in rows if r.metrics.get(name) is not None]
        trajectories[name] = {str(s): v for s, v in points}
        slopes[name] = round(slope([s for s, _ in points], [v for _, v in points]), 4) if len(points) > 1 else None
    dropout = outcome.dropout if outcome is not None and outcome.ended_by == COURSE_DROPOUT else None
    return CourseSummary(
        sessions=[r.session_index for r in rows],
        trajectories=trajectories,
        slopes=slopes,
        dropped_out=dropout is not None,
        dropout_session=dropout.after_session + 1 if dropout is not None else None,
        # None: a run from before course ends were recorded, or a course that did not finish
        ended_by=outcome.ended_by if outcome is not None else None,
        dropout_reason=dropout.reason if dropout is not None else None,
        left_sessions_early=[r.session_index for r in rows if r.metrics.get("ended_by_client")],
        sessions_planned=planned_sessions,
    )
