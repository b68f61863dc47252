"""Compare evaluated runs: per-metric means with intervals by client, paired differences, per-session trends.

Each run directory holds ``metrics.jsonl`` (one JSON object per session, written by
``run_sim.py eval``). Sessions of one client are not independent, so every interval
is a cluster bootstrap over clients (``statistics.cluster_bootstrap_ci``: whole
clients resampled, with all their sessions). Differences are paired against the
first run on (client_id, seed, session_index), so runs of the same clients and seeds
compare session by session; their interval, too, resamples clients. With one client
there is no interval. A metric every row of a run marks ``not_applicable`` (recall
of a counselor that does not retrieve) is shown as "not applicable".

Counselor metrics credit the counselor's model (``eval``); the scaffold's share beside each
(the same metric over the turns the program wrote, ``SessionMetrics.scaffold``) gets its own
mean and interval, also resampling clients, and every output labels the two: "(model)" and
"scaffold".
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from rich.table import Table

from ..core.errors import InputError
from ..core.files import write_text_atomic
from ..core.metrics import Comparison, MetricInterval, PairedDifference, SessionMetrics
from ..record.run_log import read_metric_rows
from ..record.schema import METRICS
from .counselor_effects import realism_by_counselor
from .realism_table import realism_markdown
from .report_tables import scaffold_label
from .statistics import FEW_CLUSTERS, cluster_bootstrap_ci, slope

COMPARE_JSON = "compare.json"
COMPARE_MD = "compare.md"
MIN_PAIRS = 2

PairKey = tuple[Any, Any, Any]
CONFIDENCE = 0.95


SPLIT_NOTE = ("Counselor metrics are credited to the counselor's model \"(model)\": the turns the program wrote "
              "(the session-2+ template check-in, safety steps, fallbacks) are left out of them (masked for the "
              "judge) and reported beside, \"scaffold\": the same metric over those turns, with its own interval; "
              "for judge ratings, \"scaffold turns (masked)\": the share of counselor turns the program wrote, which the "
              "judge did not rate; \"scaffold none\": the program wrote no such turn.")


def method_note(baseline: str, resamples: int, clients: int | None = None) -> str:
    """How the intervals were computed, as every output says it (with a warning when there are few clients)."""
    note = (f"{CONFIDENCE:.0%} percentile CIs from a cluster bootstrap resampling clients (all sessions of a client "
            f"together; scipy.stats.bootstrap, {resamples} resamples); Δ is the difference against {baseline}, "
            "paired by client, seed and session, its CI also resampling clients")
    if clients is not None and clients < FEW_CLUSTERS:
        note += (f". Only {clients} client{'s' if clients != 1 else ''}: a bootstrap over so few is coarse and "
                 "tends to be too narrow; read the intervals as descriptive")
    return note


# --- loading -----------------------------------------------------------------

def load_metrics(run_dir: Path) -> list[SessionMetrics]:
    """The session rows of ``run_dir/metrics.jsonl``; blank lines are skipped."""
    rows = read_metric_rows(Path(run_dir))
    if rows is None:
        raise InputError(Path(run_dir) / METRICS, "", "no metrics.jsonl: run `run_sim.py eval RUN_DIR` first")
    return rows


def _run_names(run_dirs: list[Path], loaded: list[list[SessionMetrics]]) -> list[str]:
    """The "run" field (else the directory name) of each run, made unique with -2, -3, ... suffixes."""
    wanted = [
        str(records[0].run or Path(run_dir).resolve().name) if records else Path(run_dir).resolve().name
        for run_dir, records in zip(run_dirs, loaded)
    ]
    names: list[str] = []
    for name in wanted:
        candidate, suffix = name, 2
        while candidate in names or (candidate != name and candidate in wanted):
            candidate, suffix = f"{name}-{suffix}", suffix + 1
        names.append(candidate)
    return names


# --- statistics --------------------------------------------------------------

def _metric_names(loaded: list[list[SessionMetrics]]) -> list[str]:
    """The union of metric names, in order of first appearance."""
    seen: dict[str, None] = {}
    for records in loaded:
        for record in records:
            seen.update(dict.fromkeys(record.metrics))
    return list(seen)


def _pair_key(record: SessionMetrics) -> PairKey:
    return (record.client_id, record.seed, record.session_index)


def _by_client(records: list[SessionMetrics], metric: str) -> dict[Any, list[float]]:
    groups: dict[Any, list[float]] = defaultdict(list)
    for record in records:
        value = record.metrics.get(metric)
        if record.value(metric) is not None:
            groups[record.client_id].append(value)
    return groups


def _scaffold_by_client(records: list[SessionMetrics], metric: str) -> dict[Any, list[float]]:
    """The scaffold's share beside ``metric``, by client (sessions where the program wrote nothing it measures left out)."""
    groups: dict[Any, list[float]] = defaultdict(list)
    for record in records:
        value = record.scaffold.get(metric)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value):
            groups[record.client_id].append(float(value))
    return groups


def _by_key(records: list[SessionMetrics], metric: str, key) -> dict:
    """Mean value of ``metric`` per key (repeated keys are averaged)."""
    groups: dict[Any, list[float]] = defaultdict(list)
    for record in records:
        value = record.metrics.get(metric)
        if record.value(metric) is not None:
            groups[key(record)].append(value)
    return {k: sum(v) / len(v) for k, v in groups.items()}


def _finite(value: float) -> float | None:
    """NaN as None, so the result is strict JSON."""
    return None if math.isnan(value) else value


def _summary(groups: dict[Any, list[float]], resamples: int, seed: int) -> MetricInterval:
    mean, low, high, clients = cluster_bootstrap_ci(groups, confidence=CONFIDENCE, resamples=resamples, seed=seed)
    return MetricInterval(mean=_finite(mean), low=_finite(low), high=_finite(high),
                          n=sum(len(v) for v in groups.values()), clients=clients)


def _paired(base: list[SessionMetrics], other: list[SessionMetrics], metric: str, resamples: int,
            seed: int) -> PairedDifference | None:
    a, b = _by_key(base, metric, _pair_key), _by_key(other, metric, _pair_key)
    differences: dict[Any, list[float]] = defaultdict(list)
    for key in sorted(a.keys() & b.keys(), key=repr):
        differences[key[0]].append(b[key] - a[key])
    pairs = sum(len(v) for v in differences.values())
    if pairs < MIN_PAIRS:
        return None
    diff, low, high, clients = cluster_bootstrap_ci(differences, confidence=CONFIDENCE, resamples=resamples, seed=seed)
    return PairedDifference(diff=diff, low=_finite(low), high=_finite(high), pairs=pairs, clients=clients)


def _not_applicable(records: list[SessionMetrics], metric: str) -> bool:
    return bool(records) and all(metric in r.not_applicable for r in records)


def _trend(records: list[SessionMetrics], metric: str) -> dict[int, float]:
    with_index = [r for r in records if r.session_index is not None]
    means = _by_key(with_index, metric, lambda r: r.session_index)
    return dict(sorted(means.items()))


def compare_runs(run_dirs: list[Path], *, resamples: int = 2000, seed: int = 0) -> Comparison:
    """Means with cluster-bootstrap CIs per metric and run, paired differences against the first run, and trends.

    A run appears under a metric only if it has at least one number for it (a metric with
    none anywhere is left out); a paired difference is given only when the two runs share
    at least two sessions with a number for it.
    """
    if not run_dirs:
        raise ValueError("compare_runs needs at least one run directory")
    loaded = [load_metrics(Path(run_dir)) for run_dir in run_dirs]
    names = _run_names(list(run_dirs), loaded)
    metrics: dict[str, dict[str, MetricInterval]] = {}
    scaffold: dict[str, dict[str, MetricInterval]] = {}
    paired: dict[str, dict[str, PairedDifference]] = {}
    trend: dict[str, dict[str, dict[int, float]]] = {}
    not_applicable: dict[str, list[str]] = {}
    for metric in _metric_names(loaded):
        metrics[metric], paired[metric], trend[metric] = {}, {}, {}
        for index, (name, records) in enumerate(zip(names, loaded)):
            groups = _by_client(records, metric)
            if not groups:
                if _not_applicable(records, metric):
                    not_applicable.setdefault(metric, []).append(name)
                continue
            metrics[metric][name] = _summary(groups, resamples, seed)
            trend[metric][name] = _trend(records, metric)
            if any(metric in record.scaffold for record in records):
                beside = _scaffold_by_client(records, metric)
                scaffold.setdefault(metric, {})
                if beside:
                    scaffold[metric][name] = _summary(beside, resamples, seed)
            if index > 0:
                difference = _paired(loaded[0], records, metric, resamples, seed)
                if difference is not None:
                    paired[metric][name] = difference
        if not metrics[metric]:  # null in every session of every run: nothing to compare
            del metrics[metric], paired[metric], trend[metric]
            not_applicable.pop(metric, None)
            scaffold.pop(metric, None)
    clients = len({record.client_id for records in loaded for record in records})
    return Comparison(runs=names, method=method_note(names[0], resamples, clients), metrics=metrics, paired=paired,
                      trend=trend, not_applicable=not_applicable, scaffold=scaffold,
                      realism=realism_by_counselor(list(run_dirs), names, loaded))


# --- rendering ---------------------------------------------------------------

def _fmt(value: float | None, sign: bool = False) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:+.2f}" if sign else f"{value:.2f}"


def _interval(low: float | None, high: float | None, clients: int | None) -> str:
    if low is None or high is None:
        return "(one client: no interval)" if clients == 1 else "(no interval)"
    return f"[{_fmt(low)}, {_fmt(high)}]"


def cell_lines(result: Comparison, metric: str, run: str) -> list[str]:
    """The text of one table cell: "mean [low, high]" and, for later runs, "Δ +x.xx [l, h]"; for a counselor
    metric the mean is labelled "(model)" and the scaffold's share follows: "scaffold m [l, h]" (or "none")."""
    summary = result.metrics.get(metric, {}).get(run)
    if summary is None:
        return ["not applicable"] if run in result.not_applicable.get(metric, ()) else ["—"]
    split = metric in result.scaffold
    lines = [f"{_fmt(summary.mean)} {_interval(summary.low, summary.high, summary.clients)}"
             + (" (model)" if split else "")]
    difference = result.paired.get(metric, {}).get(run)
    if difference is not None:
        lines.append(f"Δ {_fmt(difference.diff, sign=True)} "
                     f"{_interval(difference.low, difference.high, difference.clients)}")
    if split:
        beside = result.scaffold[metric].get(run)
        label = scaffold_label(metric)
        lines.append(f"{label} none" if beside is None else
                     f"{label} {_fmt(beside.mean)} {_interval(beside.low, beside.high, beside.clients)}")
    return lines


def render_comparison(result: Comparison) -> Table:
    """A rich Table: one row per metric, one column per run."""
    runs = result.runs
    table = Table(title="Run comparison (mean [95% CI by client]; Δ paired vs " + runs[0] + ")")
    table.add_column("metric", no_wrap=True)
    for run in runs:
        table.add_column(run, no_wrap=True)
    for metric in result.metrics:
        table.add_row(metric, *("\n".join(cell_lines(result, metric, run)) for run in runs))
    table.caption = (result.method or method_note(runs[0], 2000)) + (". " + SPLIT_NOTE if result.scaffold else "")
    return table


def trend_table(result: Comparison, metric: str) -> Table:
    """A rich Table of the mean of ``metric`` per session index, one column per run, with slopes."""
    runs = result.runs
    per_run = result.trend.get(metric, {})
    sessions = sorted({index for means in per_run.values() for index in means})
    table = Table(title=f"{metric} by session")
    table.add_column("session", justify="right")
    for run in runs:
        table.add_column(run, justify="right")
    for index in sessions:
        table.add_row(str(index), *(_fmt(per_run.get(run, {}).get(index)) for run in runs))
    slopes = []
    for run in runs:
        means = per_run.get(run, {})
        slopes.append(_fmt(slope(list(means), list(means.values())), sign=True))
    table.add_row("slope", *slopes)
    return table


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def comparison_markdown(result: Comparison) -> str:
    """The comparison table as Markdown (the Δ line of a cell after a <br>)."""
    runs = result.runs
    lines = [
        "# Run comparison",
        "",
        f"Mean per session [95% CI]. {result.method or method_note(runs[0], 2000)}.",
        "",
        SPLIT_NOTE,
        "",
        "| metric | " + " | ".join(_md_escape(run) for run in runs) + " |",
        "|---|" + "---|" * len(runs),
    ]
    for metric in result.metrics:
        cells = ["<br>".join(cell_lines(result, metric, run)) for run in runs]
        lines.append(f"| {_md_escape(metric)} | " + " | ".join(cells) + " |")
    if result.realism is not None:
        lines += ["", *realism_markdown(result.realism)]
    return "\n".join(lines) + "\n"


# --- files -------------------------------------------------------------------

def write_comparison(result: Comparison, out_dir: Path) -> list[Path]:
    """Write compare.json and compare.md into ``out_dir`` (created if needed); returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / COMPARE_JSON, out_dir / COMPARE_MD
    write_text_atomic(json_path, json.dumps(result.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    write_text_atomic(md_path, comparison_markdown(result))
    return [json_path, md_path]


def read_comparison(path: Path) -> Comparison:
    """A compare.json (or the directory holding one) as written."""
    path = Path(path)
    if path.is_dir():
        path = path / COMPARE_JSON
    return Comparison.read(json.loads(path.read_text(encoding="utf-8")))
