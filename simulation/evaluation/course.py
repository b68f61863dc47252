"""Per-course summaries: trajectories over sessions, their slopes, and dropout."""

from __future__ import annotations

from ..core.metrics import CourseSummary, SessionMetrics
from .statistics import slope

TRAJECTORIES = ("distress_start", "phq9", "gad7", "wai_total", "trust_end")


def course_summary(rows: list[SessionMetrics], planned_sessions: int) -> CourseSummary:
    """Trajectories of one client's course from its metric rows (one per session)."""
    rows = sorted(rows, key=lambda r: r.session_index)
    trajectories, slopes = {}, {}
    for name in TRAJECTORIES:
        points = [(r.session_index, r.metrics[name]) for r in rows if r.metrics.get(name) is not None]
        trajectories[name] = {str(s): v for s, v in points}
        slopes[name] = round(slope([s for s, _ in points], [v for _, v in points]), 4) if len(points) > 1 else None
    left = [r.session_index for r in rows if r.metrics.get("ended_by_client")]
    return CourseSummary(
        sessions=[r.session_index for r in rows],
        trajectories=trajectories,
        slopes=slopes,
        dropped_out=bool(left) or len(rows) < planned_sessions,
        dropout_session=left[0] if left else (None if len(rows) >= planned_sessions else len(rows) + 1),
    )
