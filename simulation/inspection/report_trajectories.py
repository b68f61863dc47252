"""The report's trajectory realism section: every course's path, the figures beside their references, the table.

Read from metrics.jsonl and the manifest's course ends (``simulation.evaluation.trajectories``, the
same numbers `eval` prints); an unscored run has no section. Two plots: each line one client's
course on PHQ-9 and GAD-7, coloured by how it moved (the exit assessment half a session after the
last one; a dropout's line stops where the client stopped coming); and each figure of the realism
table as a dot on its published reference range (the shaded band).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping

from ..core.metrics import SessionMetrics
from ..core.realism import TrajectoryRealism
from ..evaluation.realism_table import method_lines, realism_rows, reference_notes
from ..evaluation.reliable_change import INSTRUMENTS
from ..evaluation.trajectories import course_series, trajectory_realism
from ..record.schema import CourseEntry

WIDTH_PX, HEIGHT_PX = 840, 270
REFERENCE_HEIGHT_PX = 260
COLORS = {"improving": "#2e7d32", "flat": "#777777", "worsening": "#c62828"}
MARKERS = {"phq9": ("o", "#1f4e9a"), "gad7": ("s", "#d17a00"), None: ("D", "#444444")}
_DPI, _SCALE = 100, 2


def trajectory_view(rows: list[SessionMetrics] | None, run_name: str,
                    outcomes: Mapping[str, CourseEntry] | None = None) -> dict | None:
    """The section's data: plots (PNG, base64), their text alternatives, and the table; None when unscored."""
    if rows is None:
        return None
    realism = trajectory_realism(rows, outcomes)
    series = {name: course_series(rows, name) for name in INSTRUMENTS}
    has_points = any(len(points) > 1 for by_client in series.values() for points in by_client.values())
    return {
        "png": _render_courses(series, realism) if has_points else None,
        "alt": _alt(realism, run_name),
        "reference_png": _render_references(realism),
        "reference_alt": _reference_alt(realism, run_name),
        "columns": ["measure", *(INSTRUMENTS[name].label for name in INSTRUMENTS), "reference"],
        "rows": [[row["measure"], *(row[name] for name in INSTRUMENTS), row["reference"]] for row in realism_rows(realism)],
        "notes": [*method_lines(realism), *reference_notes()],
        "width": WIDTH_PX, "height": HEIGHT_PX, "reference_height": REFERENCE_HEIGHT_PX,
    }


def _alt(realism: TrajectoryRealism, run_name: str) -> str:
    parts = []
    for name, spec in INSTRUMENTS.items():
        entry = realism.instrument(name)
        if not entry.courses:
            parts.append(f"{spec.label}: no course with a measurement")
            continue
        parts.append(f"{spec.label}: {entry.courses} courses, {entry.improving:.0%} improving, {entry.flat:.0%} "
                     f"flat, {entry.worsening:.0%} worsening, {entry.with_setback:.0%} with a setback")
    return f"Every client's course in run {run_name}. " + "; ".join(parts)


def _reference_points(realism: TrajectoryRealism) -> list[dict]:
    """One line per reference: its range and the campaign's figures (per instrument, or one for dropout)."""
    lines: dict[str, dict] = {}
    for entry in realism.references:
        line = lines.setdefault(entry.key, {"label": entry.label, "low": entry.low, "high": entry.high, "values": []})
        if entry.value is not None:
            line["values"].append((entry.instrument, entry.value))
    return list(lines.values())


def _reference_alt(realism: TrajectoryRealism, run_name: str) -> str:
    parts = []
    for line in _reference_points(realism):
        values = ", ".join(f"{INSTRUMENTS[i].label if i else 'all'} {v:.0%}" for i, v in line["values"]) or "no figure"
        parts.append(f"{line['label']}: {values} (reference {line['low']:.0%} to {line['high']:.0%})")
    return f"Run {run_name} beside published base rates. " + "; ".join(parts)


def _figure(height_px: int):
    # lazy: matplotlib loads only when a chart is drawn (Figure + Agg canvas: no pyplot, no GUI)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_PX / _DPI, height_px / _DPI), dpi=_DPI * _SCALE)
    FigureCanvasAgg(figure)
    return figure


def _png(figure) -> str:
    figure.tight_layout(pad=0.4)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _render_references(realism: TrajectoryRealism) -> str:
    figure = _figure(REFERENCE_HEIGHT_PX)
    axes = figure.add_subplot(1, 1, 1)
    lines = _reference_points(realism)
    shown: set = set()
    for row, line in enumerate(reversed(lines)):
        axes.barh(row, 100 * (line["high"] - line["low"]), left=100 * line["low"], height=0.6, color="#cfe3cf",
                  edgecolor="#7aa37a", label="reference range" if "band" not in shown else None)
        shown.add("band")
        for instrument, value in line["values"]:
            marker, color = MARKERS[instrument]
            label = INSTRUMENTS[instrument].label if instrument else "all courses"
            axes.plot(100 * value, row, marker, color=color, markersize=6, label=label if label not in shown else None)
            shown.add(label)
    axes.set_yticks(range(len(lines)), [line["label"] for line in reversed(lines)], fontsize=7)
    axes.set_xlim(0, 100)
    axes.set_xlabel("% of courses (intention to treat)", fontsize=8)
    axes.set_title("The campaign beside published base rates", fontsize=9)
    axes.tick_params(labelsize=7)
    axes.grid(True, axis="x", alpha=0.3)
    axes.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=4, frameon=False)
    return _png(figure)


def _render_courses(series: dict, realism: TrajectoryRealism) -> str:
    from matplotlib.ticker import MaxNLocator  # lazy: with the figure, only when a chart is drawn

    figure = _figure(HEIGHT_PX)
    for position, (name, spec) in enumerate(INSTRUMENTS.items(), start=1):
        axes = figure.add_subplot(1, len(INSTRUMENTS), position)
        by_client = realism.instrument(name).by_client
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
        axes.set_ylabel(f"{spec.label} total", fontsize=8)
        axes.set_title(f"{spec.label}: every course", fontsize=9)
        axes.tick_params(labelsize=7)
        axes.grid(True, alpha=0.3)
        if shown:
            axes.legend(fontsize=7, loc="best", frameon=False)
    return _png(figure)
