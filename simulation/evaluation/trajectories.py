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
  after which session; courses that failed for a technical reason are left out and counted.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict

from muspsy_sim.simulation.evaluation.realism_references import DROPOUT, PER_INSTRUMENT
from muspsy_sim.simulation.evaluation.reliable_change import INSTRUMENTS, classify, reliable_change, sudden_gain

CLASSES = ("improving", "flat", "worsening")


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def course_series(rows: list[dict], instrument: str) -> dict[str, list[tuple[float, float]]]:
    """Per client, (session index, total) at the start of each session, then (last + 0.5, exit total)."""
    by_client: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if isinstance(row.get("session_index"), int):
            by_client[str(row.get("client_id"))].append(row)
    series = {}
    for client, course in sorted(by_client.items()):
        course.sort(key=lambda r: r["session_index"])
        points = []
        for row in course:
            value = _number(row["metrics"].get(instrument))
            if value is not None:
                points.append((row["session_index"], value))
        last = course[-1]
        value, change = _number(last["metrics"].get(instrument)), _number(last["metrics"].get(f"{instrument}_change"))
        if value is not None and change is not None:
            points.append((last["session_index"] + 0.5, value + change))
        series[client] = points
    return series


def _share(count: int, n: int) -> float | None:
    return round(count / n, 4) if n else None


def _instrument(series: dict[str, list[tuple[float, float]]], instrument: str, outcomes: dict[str, dict],
                threshold_info: dict | None = None) -> dict:
    measured = {client: [value for _, value in points] for client, points in series.items() if points}
    threshold_info = threshold_info or reliable_change(instrument, [values[0] for values in measured.values()])
    threshold = threshold_info["threshold"]
    setback = threshold / 2
    courses = {}
    for client, values in measured.items():
        change = values[-1] - values[0]  # a dropout's last measurement carried forward; one measurement: no change
        gain = sudden_gain(values, threshold)
        courses[client] = {
            "change": round(change, 4),
            "per_session": round(change / (len(values) - 1), 4) if len(values) > 1 else None,
            "class": classify(change, threshold),
            "setback": any(b - a >= setback for a, b in zip(values, values[1:])),
            "sudden_gain": gain is not None,
            "measurements": len(values),
            "ended_by": (outcomes.get(client) or {}).get("ended_by"),
        }
    n = len(courses)
    changes = [c["change"] for c in courses.values()]
    per_session = [c["per_session"] for c in courses.values() if c["per_session"] is not None]
    steps = [b - a for values in measured.values() for a, b in zip(values, values[1:])]
    improvers = [c for c in courses.values() if c["class"] == "improving"]
    return {
        "courses": n,
        **{name: _share(sum(c["class"] == name for c in courses.values()), n) for name in CLASSES},
        "with_setback": _share(sum(c["setback"] for c in courses.values()), n),
        "with_sudden_gain": _share(sum(c["sudden_gain"] for c in courses.values()), n),
        "sudden_gain_among_improving": _share(sum(c["sudden_gain"] for c in improvers), len(improvers)),
        "mean_change": round(statistics.fmean(changes), 4) if n else None,
        "mean_change_per_session": round(statistics.fmean(per_session), 4) if per_session else None,
        "sd_change": round(statistics.stdev(changes), 4) if n > 1 else None,
        "sd_session_change": round(statistics.stdev(steps), 4) if len(steps) > 1 else None,
        "min_change": min(changes) if n else None,
        "max_change": max(changes) if n else None,
        "reliable_change": threshold_info,
        "setback_threshold": round(setback, 4),
        "by_client": courses,
    }


def _dropout(clients: list[str], outcomes: dict[str, dict]) -> dict:
    ended = {client: outcomes[client] for client in clients if outcomes.get(client, {}).get("ended_by")}
    dropped = {client: o for client, o in ended.items() if o["ended_by"] == "dropout"}
    after = Counter(o.get("after_session") for o in dropped.values() if isinstance(o.get("after_session"), int))
    sessions = sorted(after.elements())
    return {
        "courses": len(clients),
        "recorded": len(ended),  # courses whose end the run records (runs before issue 23 record none)
        "dropped_out": len(dropped),
        "share": _share(len(dropped), len(clients)) if ended else None,
        "after_session": {str(k): after[k] for k in sorted(after)},
        "median_after_session": statistics.median(sessions) if sessions else None,
        "reasons": dict(Counter((o.get("reason") or "unknown").split(":")[0] for o in dropped.values())),
    }


def _references(realism: dict) -> list[dict]:
    """Each reference beside the campaign's figure (PHQ-9 and GAD-7 per instrument), and whether it is in range."""
    lines = []
    for reference in PER_INSTRUMENT:
        for instrument in INSTRUMENTS:
            value = realism[instrument].get(reference.key)
            lines.append({**reference.to_record(), "instrument": instrument, "value": value,
                          "in_range": reference.holds(value)})
    share = realism["dropout"]["share"]
    lines.append({**DROPOUT.to_record(), "instrument": None, "value": share, "in_range": DROPOUT.holds(share)})
    return lines


def trajectory_realism(rows: list[dict], outcomes: dict[str, dict] | None = None,
                       thresholds: dict[str, dict] | None = None) -> dict:
    """How the courses of a campaign moved (see the module notes), from its metric rows.

    ``outcomes`` are the manifest's course entries as plain data (status, ended_by, dropout); courses
    whose status is failed are left out (a technical failure is no client outcome). ``thresholds``
    (per instrument, as ``reliable_change`` gives them) replace the campaign's own, so that groups
    compared side by side share one criterion.
    """
    outcomes = outcomes or {}
    failed = sorted(client for client, o in outcomes.items() if o.get("status") == "failed")
    rows = [row for row in rows if row.get("client_id") not in failed]
    ends = {client: {"ended_by": o.get("ended_by"), **(o.get("dropout") or {})} for client, o in outcomes.items()}
    clients = sorted({str(row.get("client_id")) for row in rows})
    realism: dict = {name: _instrument(course_series(rows, name), name, ends, (thresholds or {}).get(name))
                     for name in INSTRUMENTS}
    realism["dropout"] = _dropout(clients, ends)
    realism["excluded_failed"] = failed
    realism["thresholds"] = {name: {"reliable_change": realism[name]["reliable_change"]["threshold"],
                                    "setback": realism[name]["setback_threshold"]} for name in INSTRUMENTS}
    realism["references"] = _references(realism)
    return realism
