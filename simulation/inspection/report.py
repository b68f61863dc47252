"""One self-contained HTML report of one or more run directories (``run_sim.py report RUN_DIR... --out FILE``).

``build_report(run_dirs, out)`` reads each run directory (manifest.json,
sessions.jsonl, and metrics.jsonl / summary.json when ``eval`` has scored it)
and writes one HTML file: a campaign overview per run, per client charts of
distress, PHQ-9, GAD-7 and alliance over sessions (matplotlib, inline PNG), and
per session the goal, the transcript with its memory references marked, the
week before, the questionnaires, the extracted memory and the eval metrics;
with several scored runs, the comparison table of ``compare_runs``.

The page loads nothing: styles are inline, images are ``data:`` URIs, there is
no script, and a Content-Security-Policy forbids any other source. All text
from the run is untrusted model output and is HTML-escaped (Jinja2 autoescape,
the same escaping as ``html.escape``). Older records without questionnaires,
memory or week-before fields are shown with what they have.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from muspsy_sim.scenarios.base.atomic_files import write_text_atomic
from muspsy_sim.scenarios.base.errors import InputError
from muspsy_sim.simulation.run_directory import MANIFEST, SESSIONS, read_sessions

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE = "report.html.j2"
STYLESHEET = "report.css"
NOTE = "Simulated counseling for research; not a clinical service."
METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"

from muspsy_sim.simulation.inspection.report_sessions import (
    _ROLES,
    _dict,
    _list,
    _number,
    _pretty_json,
    _session,
    _text,
    format_number,
)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(path, "", f"unreadable JSON: {error}") from None


def _load_run(run_dir: Path) -> dict:
    run_dir = Path(run_dir)
    manifest_path, sessions_path = run_dir / MANIFEST, run_dir / SESSIONS
    if not manifest_path.is_file() and not sessions_path.is_file():
        raise InputError(run_dir, "run_dir", "not a run directory (no manifest.json or sessions.jsonl)")
    manifest = _dict(_read_json(manifest_path)) if manifest_path.is_file() else {}
    sessions = [
        r for r in read_sessions(run_dir)
        if isinstance(r, dict) and r.get("client_id") is not None and isinstance(r.get("session_index"), int)
    ]
    metrics: list[dict] | None = None
    if (run_dir / METRICS_FILE).is_file():
        from muspsy_sim.simulation.evaluation.compare import load_metrics

        metrics = load_metrics(run_dir)
    summary = _dict(_read_json(run_dir / SUMMARY_FILE)) if (run_dir / SUMMARY_FILE).is_file() else {}
    return {"path": run_dir, "manifest": manifest, "sessions": sessions, "metrics": metrics, "summary": summary}


# --- overview --------------------------------------------------------------------------------------


def _models(manifest: dict, sessions: list[dict]) -> dict[str, str]:
    configured = _dict(_dict(manifest.get("config")).get("models"))
    recorded = _dict(sessions[0].get("models")) if sessions else {}
    models = {}
    for role in _ROLES:
        model = _dict(configured.get(role)).get("model") or recorded.get(role)
        if model:
            models[role] = _text(model)
    return models


def _client_order(manifest: dict, sessions: list[dict]) -> list[str]:
    ordered: dict[str, None] = {}
    for client in _list(_dict(manifest.get("config")).get("scenarios")):
        if client in _dict(manifest.get("courses")) or any(r["client_id"] == client for r in sessions):
            ordered[_text(client)] = None
    ordered.update(dict.fromkeys(_text(c) for c in _dict(manifest.get("courses"))))
    ordered.update(dict.fromkeys(_text(r["client_id"]) for r in sorted(sessions, key=lambda r: _text(r["client_id"]))))
    return list(ordered)


def _usage(manifest: dict, sessions: list[dict]) -> tuple[list[dict], dict]:
    usage = _dict(manifest.get("usage"))
    if not usage:  # an unfinished manifest: add up the sessions
        for record in sessions:
            for role, fields in _dict(record.get("usage")).items():
                total = usage.setdefault(role, {})
                for key, value in _dict(fields).items():
                    if _number(value) is not None:
                        total[key] = total.get(key, 0) + value
    rows, totals = [], {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "seconds": 0.0}
    for role, fields in usage.items():
        fields = _dict(fields)
        row = {"role": _text(role)}
        for key in totals:
            value = _number(fields.get(key))
            row[key] = value
            totals[key] += value or 0
        rows.append(row)
    return rows, totals


def _overview(index: int, run: dict) -> dict:
    manifest, sessions, summary = run["manifest"], run["sessions"], run["summary"]
    config = _dict(manifest.get("config"))
    components = _dict(manifest.get("components"))
    counselor_component = _dict(components.get("counselor"))
    clients = _client_order(manifest, sessions)
    summary_courses = _dict(summary.get("courses"))
    courses = []
    for client in clients:
        course = _dict(_dict(manifest.get("courses")).get(client))
        recorded = sum(1 for r in sessions if r["client_id"] == client)
        outcome = _dict(summary_courses.get(client))
        dropout = (f"dropped out (session {format_number(outcome.get('dropout_session'))})"
                   if outcome.get("dropped_out") else "")
        courses.append({
            "client_id": client, "status": _text(course.get("status")) or "unknown",
            "sessions_done": format_number(_number(course.get("sessions_done")) if course else recorded),
            "error": _text(course.get("error")), "dropout": dropout,
        })
    usage_rows, usage_total = _usage(manifest, sessions)
    planned = _number(config.get("sessions"))
    summary_metrics = [
        {"name": _text(name), "mean": format_number(_number(_dict(v).get("mean"))), "n": format_number(_dict(v).get("n"))}
        for name, v in _dict(summary.get("metrics")).items()
    ]
    return {
        "index": index,
        "anchor": f"run-{index}",
        "name": _text(manifest.get("name") or config.get("name") or run["path"].name),
        "path": str(run["path"]),
        "status": _text(manifest.get("status")) or "unknown",
        "created_at": _text(manifest.get("created_at")),
        "note": _text(manifest.get("note")) or NOTE,
        "counselor": _text(config.get("counselor") or counselor_component.get("name")
                           or (sessions[0].get("counselor") if sessions else "")) or "unknown",
        "counselor_class": _text(counselor_component.get("class")),
        "models": _models(manifest, sessions),
        "seed": format_number(_number(manifest.get("seed", config.get("seed")))),
        "client_count": len(clients),
        "sessions_planned": planned * len(clients) if planned is not None else None,
        "sessions_recorded": len(sessions),
        "max_turns": format_number(_number(config.get("max_turns"))),
        "courses": courses,
        "usage": usage_rows,
        "usage_total": usage_total,
        "wall_seconds": _number(manifest.get("wall_seconds")),
        "package_versions": {_text(k): _text(v) or "—" for k, v in _dict(manifest.get("package_versions")).items()},
        "config_json": _pretty_json(config) if config else "",
        "components_json": _pretty_json(components) if components else "",
        "scored": run["metrics"] is not None,
        "judge": _dict(summary.get("judge")),
        "summary_metrics": summary_metrics,
        "clients": clients,
    }


# --- transcript ------------------------------------------------------------------------------------


def _clients(run_index: int, run: dict, clients: list[str]) -> list[dict]:
    from muspsy_sim.simulation.inspection.report_charts import client_charts

    overview_name = _text(run["manifest"].get("name")) or run["path"].name
    metrics_by_key: dict[tuple[str, int], dict] = {}
    for row in run["metrics"] or []:
        if isinstance(row.get("session_index"), int):
            metrics_by_key[(_text(row.get("client_id")), row["session_index"])] = row
    views = []
    for client_index, client in enumerate(clients):
        records = sorted((r for r in run["sessions"] if _text(r["client_id"]) == client),
                         key=lambda r: r["session_index"])
        by_index = {r["session_index"]: r for r in records}
        metric_values = {i: _dict(row.get("metrics")) for (c, i), row in metrics_by_key.items() if c == client}
        charts = [
            {"key": chart.key, "title": chart.title, "alt": chart.alt(client, overview_name),
             "png": chart.png_base64, "source": chart.source}
            for chart in client_charts(records, metric_values)
        ] if records else []
        sessions = [
            _session(run_index, client_index, record, by_index.get(record["session_index"] - 1),
                     metrics_by_key.get((client, record["session_index"])))
            for record in records
        ]
        views.append({"anchor": f"run-{run_index}-client-{client_index}", "client_id": client,
                      "charts": charts, "sessions": sessions})
    return views


# --- comparison ------------------------------------------------------------------------------------


def _comparison(runs: list[dict]) -> dict | None:
    if len(runs) < 2:
        return None
    unscored = [str(run["path"]) for run in runs if run["metrics"] is None]
    if unscored:
        return {"missing": unscored, "runs": [], "rows": []}
    from muspsy_sim.simulation.evaluation.compare import cell_lines, compare_runs

    result = compare_runs([run["path"] for run in runs])
    rows = [{"metric": metric, "cells": [cell_lines(result, metric, name) for name in result["runs"]]}
            for metric in result["metrics"]]
    return {"missing": [], "runs": result["runs"], "rows": rows}


# --- rendering -------------------------------------------------------------------------------------


def _environment():
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every {{ value }} is HTML-escaped: transcripts are untrusted model output
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["num"] = format_number
    return environment


def render_report(run_dirs: list[Path]) -> str:
    """The report of ``run_dirs`` as an HTML string."""
    if not run_dirs:
        raise ValueError("build_report needs at least one run directory")
    runs = [_load_run(Path(d)) for d in run_dirs]
    views = []
    for index, run in enumerate(runs):
        overview = _overview(index, run)
        overview["client_views"] = _clients(index, run, overview["clients"])
        views.append(overview)
    environment = _environment()
    return environment.get_template(TEMPLATE).render(
        title="muspsy-sim report: " + ", ".join(v["name"] for v in views),
        note=NOTE,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        stylesheet=(TEMPLATES / STYLESHEET).read_text(encoding="utf-8"),
        runs=views,
        comparison=_comparison(runs),
    )


def build_report(run_dirs: list[Path], out: Path) -> Path:
    """Write the HTML report of ``run_dirs`` to ``out`` atomically; returns ``out``.

    Raises ``InputError`` for a directory that is not a run directory or holds an
    unreadable manifest.json, summary.json or metrics.jsonl.
    """
    out = Path(out)
    html = render_report([Path(d) for d in run_dirs])
    write_text_atomic(out, html)
    return out
