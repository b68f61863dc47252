"""Per-course summaries: trajectories over sessions, their slopes, and dropout."""

from __future__ import annotations

from muspsy_sim.simulation.evaluation.statistics import slope

TRAJECTORIES = ("distress_start", "phq9", "gad7", "wai_total", "trust_end")


def course_summary(rows: list[dict], planned_sessions: int) -> dict:
    """Trajectories of one client's course from its metric rows (one per session)."""
    rows = sorted(rows, key=lambda r: r["session_index"])
    sessions = [r["session_index"] for r in rows]
    summary: dict = {"sessions": sessions, "trajectories": {}, "slopes": {}}
    for name in TRAJECTORIES:
        points = [(r["session_index"], r["metrics"].get(name)) for r in rows if r["metrics"].get(name) is not None]
        summary["trajectories"][name] = {str(s): v for s, v in points}
        summary["slopes"][name] = round(slope([s for s, _ in points], [v for _, v in points]), 4) if len(points) > 1 else None
    left = [r["session_index"] for r in rows if r["metrics"].get("ended_by_client")]
    summary["dropped_out"] = bool(left) or len(rows) < planned_sessions
    summary["dropout_session"] = left[0] if left else (None if len(rows) >= planned_sessions else len(rows) + 1)
    return summary
