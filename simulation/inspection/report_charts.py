"""The per-client charts of the HTML report: matplotlib (Agg canvas, imported lazily) to inline PNG.

Each chart is one quantity over the sessions of one client: distress at the start
and end of each session, the PHQ-9 and GAD-7 totals, and the alliance (WAI-SR
total, or the client's end-of-session trust where no WAI-SR was recorded).
Values are read from the session records first, then from metrics.jsonl, then
(PHQ-9, GAD-7 only) from the client's latent item state; the chart says which.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field

from ..record.schema import SessionRecord

WIDTH_PX, HEIGHT_PX = 420, 250  # displayed size; the PNG is drawn at 2x for sharp text
_SCALE = 2
_DPI = 100


@dataclass
class Series:
    label: str
    points: list[tuple[float, float]]
    style: str = "o-"


@dataclass
class Chart:
    key: str  # distress, phq9, gad7, alliance
    title: str
    ylabel: str
    ylim: tuple[float, float]
    series: list[Series] = field(default_factory=list)
    source: str = ""
    png_base64: str | None = None

    @property
    def has_data(self) -> bool:
        return any(s.points for s in self.series)

    def alt(self, client_id: str, run_name: str) -> str:
        if not self.has_data:
            return f"{self.title} for client {client_id} in run {run_name}: no data recorded"
        parts = []
        for s in self.series:
            values = ", ".join(f"{_x_label(x)} {_fmt(y)}" for x, y in s.points)
            parts.append(f"{s.label}: {values}")
        return f"{self.title} over sessions for client {client_id} in run {run_name} ({self.source}). " + "; ".join(parts)


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _x_label(x: float) -> str:
    return f"exit (after session {int(x - 0.5)})" if not float(x).is_integer() else f"session {int(x)}"


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _questionnaire_total(record: SessionRecord, name: str, exit_: bool = False) -> float | None:
    block = record.questionnaires
    if block is not None and exit_:
        block = block.exit
    entry = getattr(block, name, None) if block is not None else None
    return float(entry.total) if entry is not None and entry.total is not None else None


def _state(record: SessionRecord, which: str, key: str) -> float | None:
    state = getattr(record, which)
    return _number(getattr(state, key, None)) if state is not None else None


def _latent_total(record: SessionRecord, name: str) -> float | None:
    items = getattr(record.client_state_end, name, None) if record.client_state_end is not None else None
    return round(sum(items), 1) if items else None


def _points(pairs) -> list[tuple[float, float]]:
    return [(x, y) for x, y in pairs if y is not None]


def _symptom_chart(key: str, title: str, top: float, sessions: list[SessionRecord], metrics: dict) -> Chart:
    chart = Chart(key, title, "total", (0, top))
    points = _points((s.session_index, _questionnaire_total(s, key)) for s in sessions)
    label = "start of session"
    if points:
        chart.source = "questionnaire at the start of each session"
    else:
        points = _points((s.session_index, _number(metrics.get(s.session_index, {}).get(key))) for s in sessions)
        chart.source = "metrics.jsonl"
        if not points:
            points = _points((s.session_index, _latent_total(s, key)) for s in sessions)
            chart.source = "client's latent item state at session end (no questionnaire recorded)"
            label = "end of session"
    chart.series.append(Series(label, points))
    exits = _points((s.session_index + 0.5, _questionnaire_total(s, key, exit_=True)) for s in sessions)
    if exits:
        chart.series.append(Series("exit questionnaire", exits, "s"))
    return chart


def _distress_chart(sessions: list[SessionRecord]) -> Chart:
    chart = Chart("distress", "Distress", "distress (0-10)", (0, 10), source="client state")
    sessions = [s for s in sessions if not s.played_by_person]  # a person has no simulated state to plot
    for label, which, style in (("start of session", "client_state_start", "o--"),
                                ("end of session", "client_state_end", "o-")):
        chart.series.append(Series(label, _points((s.session_index, _state(s, which, "distress")) for s in sessions),
                                   style))
    return chart


def _alliance_chart(sessions: list[SessionRecord], metrics: dict) -> Chart:
    wai = _points((s.session_index, _questionnaire_total(s, "wai_sr")) for s in sessions)
    source = "WAI-SR at the end of each session"
    if not wai:
        wai = _points((s.session_index, _number(metrics.get(s.session_index, {}).get("wai_total"))) for s in sessions)
        source = "WAI-SR total from metrics.jsonl"
    if wai or any(s.played_by_person for s in sessions):
        chart = Chart("alliance", "Alliance (WAI-SR total)", "WAI-SR total (12-60)", (12, 60), source=source)
        chart.series.append(Series("WAI-SR", wai))
        return chart
    chart = Chart("alliance", "Alliance (trust; no WAI-SR recorded)", "trust (0-10)", (0, 10),
                  source="client's trust at session end")
    chart.series.append(Series("trust", _points((s.session_index, _state(s, "client_state_end", "trust"))
                                                for s in sessions)))
    return chart


def client_charts(sessions: list[SessionRecord], metrics: dict[int, dict]) -> list[Chart]:
    """The four charts of one client; ``sessions`` sorted by session_index, ``metrics`` by session_index."""
    charts = [
        _distress_chart(sessions),
        _symptom_chart("phq9", "PHQ-9 total", 27, sessions, metrics),
        _symptom_chart("gad7", "GAD-7 total", 21, sessions, metrics),
        _alliance_chart(sessions, metrics),
    ]
    for chart in charts:
        if chart.has_data:
            chart.png_base64 = _render_png(chart)
    return charts


def _render_png(chart: Chart) -> str:
    # Figure + Agg canvas, not pyplot: no global backend switch, no GUI, safe in threads.
    # lazy: matplotlib loads only when a chart is drawn
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(WIDTH_PX / _DPI, HEIGHT_PX / _DPI), dpi=_DPI * _SCALE)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    colors = ("#1f5f99", "#c0562b", "#5a8f29")
    all_x, all_y = [], []
    for index, series in enumerate(chart.series):
        if not series.points:
            continue
        xs, ys = zip(*series.points)
        all_x += xs
        all_y += ys
        axes.plot(xs, ys, series.style, color=colors[index % len(colors)], label=series.label,
                  linewidth=1.6, markersize=5)
    low, high = chart.ylim
    if all_y:
        low, high = min(low, min(all_y)), max(high, max(all_y))
    margin = (high - low) * 0.05
    axes.set_ylim(low - margin, high + margin)
    first, last = min(all_x), max(all_x)
    axes.set_xlim(first - 0.4, last + 0.4 if float(last).is_integer() else last + 0.2)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("session", fontsize=8)
    axes.set_ylabel(chart.ylabel, fontsize=8)
    axes.set_title(chart.title, fontsize=9)
    axes.tick_params(labelsize=7)
    axes.grid(True, alpha=0.3)
    if len([s for s in chart.series if s.points]) > 1:
        axes.legend(fontsize=7, loc="best", frameon=False)
    figure.tight_layout(pad=0.4)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")
