"""Per-course summaries: trajectories over sessions, their slopes, and how the course ended."""

from __future__ import annotations

from muspsy_sim.simulation.evaluation.statistics import slope

TRAJECTORIES = ("distress_start", "phq9", "gad7", "wai_total", "trust_end")


def course_summary(rows: list[dict], planned_sessions: int, outcome: dict | None = None) -> dict:
    """Trajectories of one client's course from its metric rows (one per session), and how it ended.

    ``outcome`` is the course's manifest entry (plain data): ``ended_by`` completed or dropout, with the
    dropout's session and reason. A session the client walked out of (``ended_by_client``) is no dropout:
    the course went on.
    """
    rows = sorted(rows, key=lambda r: r["session_index"])
    sessions = [r["session_index"] for r in rows]
    summary: dict = {"sessions": sessions, "trajectories": {}, "slopes": {}}
    for name in TRAJECTORIES:
        points = [(r["session_index"], r["metrics"].get(name)) for r in rows if r["metrics"].get(name) is not None]
        summary["trajectories"][name] = {str(s): v for s, v in points}
        summary["slopes"][name] = round(slope([s for s, _ in points], [v for _, v in points]), 4) if len(points) > 1 else None
    outcome = outcome or {}
    dropout = outcome.get("dropout") or {}
    summary["ended_by"] = outcome.get("ended_by")  # None: a run from before course ends were recorded, or unfinished
    summary["dropped_out"] = outcome.get("ended_by") == "dropout"
    summary["dropout_after_session"] = dropout.get("after_session")
    summary["dropout_reason"] = dropout.get("reason")
    summary["left_sessions_early"] = [r["session_index"] for r in rows if r["metrics"].get("ended_by_client")]
    summary["sessions_planned"] = planned_sessions
    return summary
