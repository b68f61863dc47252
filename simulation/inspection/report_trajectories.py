"""The report's trajectory realism section: every course's PHQ-9 and GAD-7 path in one plot, and the table.

Read from metrics.jsonl (``simulation.evaluation.trajectories``, the same numbers
`eval` prints); an unscored run has no section. Each line is one client's course,
coloured by how it moved (improving, flat, worsening by the reliable change);
the exit assessment stands half a session after the last one.
"""

from __future__ import annotations

import base64
import io

from ..core.metrics import SessionMetrics, TrajectoryRealism
from ..evaluation.trajectories import (
    COLUMNS,
    INSTRUMENTS,
    course_series,
    realism_rows,
    trajectory_realism,
)

WIDTH_PX, HEIGHT_PX = 840, 270
COLORS = {"improving": "#2e7d32", "flat": "#777777", "worsening": "#c62828"}
_DPI, _SCALE = 100, 2


def trajectory_view(rows: list[SessionMetrics] | None, run_name: str) -> dict | None:
    """The section's data: plot (PNG, base64), its text alternative, and the table rows; None when unscored."""
    if rows is None:
        return None
    realism = trajectory_realism(rows)
    series = {name: course_series(rows, name) for name in INSTRUMENTS}
    has_points = any(len(points) > 1 for by_client in series.values() for points in by_client.values())
    return {
        "png": _render(series, realism) if has_points else None,
        "alt": _alt(realism, run_name),
        "columns": [header for _, header in COLUMNS],
        "rows": [[row[key] for key, _ in COLUMNS] for row in realism_rows(realism)],
        "width": WIDTH_PX, "height": HEIGHT_PX,
    }


def _alt(realism: TrajectoryRealism, run_name: str) -> str:
    parts = []
    for name, (label, _, _) in INSTRUMENTS.items():
        entry = getattr(realism, name)
        if entry is None or not entry.courses:
            parts.append(f"{label}: no course with two measurements")
            continue
        parts.append(f"{label}: {entry.courses} courses, {entry.improving:.0%} improving, {entry.flat:.0%} "
                     f"flat, {entry.worsening:.0%} worsening, {entry.with_setback:.0%} with a setback")
    return f"Every client's course in run {run_name}. " + "; ".join(parts)


def _render(series: dict, realism: TrajectoryRealism) -> str:
    # lazy: matplotlib loads only when a chart is drawn (Figure + Agg canvas: no pyplot, no GUI)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(WIDTH_PX / _DPI, HEIGHT_PX / _DPI), dpi=_DPI * _SCALE)
    FigureCanvasAgg(figure)
    for position, (name, (label, _, _)) in enumerate(INSTRUMENTS.items(), start=1):
        axes = figure.add_subplot(1, len(INSTRUMENTS), position)
        by_client = getattr(realism, name).by_client
        shown: set[str] = set()
        for client, points in series[name].items():
            if len(points) < 2:
                continue
            kind = by_client[client].class_
            xs, ys = zip(*points)
            axes.plot(xs, ys, "o-", color=COLORS[kind], alpha=0.75, linewidth=1.3, markersize=3.5,
                      label=kind if kind not in shown else None)
            shown.add(kind)
        axes.set_ylim(-1, 28 if name == "phq9" else 22)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlabel("session (exit at +0.5)", fontsize=8)
        axes.set_ylabel(f"{label} total", fontsize=8)
        axes.set_title(f"{label}: every course", fontsize=9)
        axes.tick_params(labelsize=7)
        axes.grid(True, alpha=0.3)
        if shown:
            axes.legend(fontsize=7, loc="best", frameon=False)
    figure.tight_layout(pad=0.4)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")
