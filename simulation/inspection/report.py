"""One self-contained HTML report of one or more run directories (``run_sim.py report RUN_DIR... --out FILE``).

``build_report(run_dirs, out)`` reads each run directory (manifest.json,
sessions.jsonl, and metrics.jsonl / summary.json when ``eval`` has scored it)
and writes one HTML file: a campaign overview per run, per client charts of
distress, PHQ-9, GAD-7 and alliance over sessions (matplotlib, inline PNG), and
per session the goal, the transcript with its memory references marked, the
week before, the questionnaires, the extracted memory and the eval metrics;
for a scored run, the trajectory realism plot and table (``report_trajectories``);
with several scored runs, the comparison table of ``compare_runs``.

A run of more than ``CLIENTS_PER_PAGE`` clients is paginated: the report's page
keeps the overview, the courses table (each client linked to its page) and the
run-level figures, and the clients' charts and transcripts go to pages of that
many clients each, in the folder ``<report>-pages/`` beside it, rendered and
written one at a time; one giant page of a thousand transcripts would be
unusable. Each page loads nothing: styles are inline, images are ``data:`` URIs,
there is no script, and a Content-Security-Policy forbids any other source; the
pages link to each other by relative paths, so the folder can be moved whole. All text
from the run is untrusted model output and is HTML-escaped (Jinja2 autoescape,
the same escaping as ``html.escape``). Older records without questionnaires,
memory or week-before fields are shown with what they have.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..config import ROLES
from ..core.course import COURSE_DROPOUT
from ..core.files import write_text_atomic
from ..core.metrics import CampaignSummary
from ..core.usage import sum_tables
from ..evaluation.compare import cell_lines, compare_runs
from ..evaluation.realism_table import counselor_rows, share_line
from ..evaluation.report_tables import scaffold_label
from ..record.run_log import RunLog
from ..record.schema import NOTE, CourseEntry
from .report_charts import client_charts
from .report_sessions import format_number, session_view
from .report_trajectories import trajectory_view

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE = "report.html.j2"
PAGE_TEMPLATE = "page.html.j2"
STYLESHEET = "report.css"
CLIENTS_PER_PAGE = 50


def _pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)


# --- overview --------------------------------------------------------------------------------------


def _models(run: RunLog) -> dict[str, str]:
    if run.manifest is not None:
        return {role: getattr(run.config.models, role).model.text for role in ROLES}
    recorded = run.sessions[0].models if run.sessions else {}
    return {role: recorded[role] for role in ROLES if recorded.get(role)}


def _client_order(run: RunLog) -> list[str]:
    """The config's own order of clients first, then any other course, then any other recorded client."""
    courses = run.manifest.courses if run.manifest is not None else {}
    recorded = {record.client_id for record in run.sessions}
    scenarios = run.config.scenarios if run.manifest is not None else []
    ordered = dict.fromkeys(client for client in scenarios if client in courses or client in recorded)
    ordered.update(dict.fromkeys(courses))
    ordered.update(dict.fromkeys(sorted(recorded)))
    return list(ordered)


def _usage(run: RunLog) -> tuple[list[dict], dict]:
    usage = run.manifest.usage if run.manifest is not None and run.manifest.usage else None
    if usage is None:  # an unfinished manifest: add up the sessions
        usage = sum_tables(record.usage for record in run.sessions)
    rows, totals = [], {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "seconds": 0.0}
    for role, fields in usage.items():
        row = {"role": role, **{key: getattr(fields, key) for key in totals}}
        for key in totals:
            totals[key] += row[key]
        rows.append(row)
    return rows, totals


def _courses(run: RunLog, clients: list[str], summary: CampaignSummary | None, hrefs: list[str]) -> list[dict]:
    courses = []
    for client, href in zip(clients, hrefs):
        course = run.manifest.courses.get(client) if run.manifest is not None else None
        outcome = summary.courses.get(client) if summary is not None else None
        dropout = ""
        if course is not None and course.ended_by == COURSE_DROPOUT:
            reason = course.dropout.reason if course.dropout else None
            after = course.dropout.after_session if course.dropout else None
            dropout = f"dropped out after session {format_number(after)}" + (f": {reason}" if reason else "")
        elif outcome is not None and outcome.dropped_out and outcome.dropout_session:  # summary.json of an older eval
            dropout = f"left in session {format_number(outcome.dropout_session)}"
        courses.append({
            "client_id": client, "href": href, "status": course.status if course else "unknown",
            "sessions_done": format_number(course.sessions_done if course else len(run.course(client))),
            "error": (course.error if course else None) or "", "dropout": dropout,
        })
    return courses


def _outcomes(run: RunLog) -> dict[str, CourseEntry]:
    """How each course ended (the manifest's entries), for the realism section."""
    return dict(run.manifest.courses) if run.manifest else {}


def _page_name(run_index: int, page: int) -> str:
    return f"run-{run_index}-clients-{page:03d}.html"


def _overview(index: int, run: RunLog, pages_dir: str | None, per_page: int) -> dict:
    """The run's part of the report's page; with ``pages_dir``, its clients are on pages of ``per_page``."""
    manifest, summary = run.manifest, run.summary
    clients = _client_order(run)
    paged = pages_dir is not None and len(clients) > per_page
    anchors = [f"run-{index}-client-{number}" for number in range(len(clients))]
    hrefs = [f"{pages_dir}/{_page_name(index, number // per_page + 1)}#{anchor}" if paged else f"#{anchor}"
             for number, anchor in enumerate(anchors)]
    pages = [{"href": f"{pages_dir}/{_page_name(index, start // per_page + 1)}", "first": clients[start],
              "last": clients[min(start + per_page, len(clients)) - 1],
              "count": len(clients[start:start + per_page])}
             for start in range(0, len(clients), per_page)] if paged else []
    usage_rows, usage_total = _usage(run)
    config = run.config if manifest is not None else None
    counselor = manifest.components.counselor if manifest is not None and manifest.components else None
    # A counselor metric credits the counselor's model; the scaffold's share stands beside it.
    summary_metrics = [
        {"name": name, "mean": format_number(entry.mean) + (" (model)" if entry.scaffold is not None else ""),
         "n": format_number(entry.n),
         "scaffold": "" if entry.scaffold is None else
         f"{scaffold_label(name)} {format_number(entry.scaffold.mean)} (n {entry.scaffold.n})"}
        for name, entry in (summary.metrics if summary is not None else {}).items()
    ]
    return {
        "index": index,
        "anchor": f"run-{index}",
        "name": run.name,
        "path": str(run.path),
        "status": manifest.status if manifest is not None else "unknown",
        "created_at": (manifest.created_at if manifest is not None else None) or "",
        "note": (manifest.note if manifest is not None else None) or NOTE,
        "counselor": (config.counselor if config else None) or (run.sessions[0].counselor if run.sessions else None)
                     or "unknown",
        "counselor_class": (counselor.class_name if counselor else None) or "",
        "models": _models(run),
        "seed": format_number(manifest.seed if manifest is not None and manifest.seed is not None
                              else config.seed if config else None),
        "client_count": len(clients),
        "sessions_planned": config.sessions * len(clients) if config else None,
        "sessions_recorded": len(run.sessions),
        "max_turns": format_number(config.max_turns if config else None),
        "courses": _courses(run, clients, summary, hrefs),
        "usage": usage_rows,
        "usage_total": usage_total,
        "wall_seconds": manifest.wall_seconds if manifest is not None else None,
        "package_versions": {k: v or "—" for k, v in manifest.package_versions.items()} if manifest else {},
        "config_json": _pretty_json(config.model_dump(mode="json")) if config else "",
        "components_json": _pretty_json(manifest.components.to_dict()) if manifest and manifest.components else "",
        "scored": run.metrics is not None,
        "judge": summary.judge.to_dict() if summary is not None and summary.judge is not None else {},
        "summary_metrics": summary_metrics,
        "trajectories": trajectory_view(run.metrics, run.name, _outcomes(run)),
        "clients": clients,
        "pages": pages,
        "clients_per_page": per_page,
    }


# --- transcript ------------------------------------------------------------------------------------


def _traits_text(run: RunLog, client: str, records: list) -> str:
    """The client's traits for the course (docs/client_state.md, "Traits"), as the manifest or its states record them."""
    course = run.manifest.courses.get(client) if run.manifest is not None else None
    traits = (course.traits if course is not None else None) or next(
        (r.client_state_start.traits for r in records if r.client_state_start and r.client_state_start.traits), None)
    if traits is None:
        return ""
    return ", ".join(f"{name.replace('_', ' ')} {format_number(value)}" + (" (pinned)" if name in traits.pinned else "")
                     for name, value in traits.drawn().items())


def _clients(run_index: int, run: RunLog, clients: list[str], first: int = 0) -> list[dict]:
    """The views of ``clients`` (numbered from ``first`` in the run's order): charts, sessions, transcripts."""
    metrics_by_key = {row.key: row for row in run.metrics or []}
    metrics_by_client: dict[str, dict[int, dict]] = {}
    for (client, index), row in metrics_by_key.items():
        metrics_by_client.setdefault(client, {})[index] = row.metrics
    views = []
    for client_index, client in enumerate(clients, start=first):
        records = run.course(client)
        by_index = {r.session_index: r for r in records}
        metric_values = metrics_by_client.get(client, {})
        charts = [
            {"key": chart.key, "title": chart.title, "alt": chart.alt(client, run.name),
             "image": chart.image, "source": chart.source}
            for chart in client_charts(records, metric_values)
        ] if records else []
        sessions = [
            session_view(run_index, client_index, record, by_index.get(record.session_index - 1),
                         metrics_by_key.get(record.key))
            for record in records
        ]
        views.append({"anchor": f"run-{run_index}-client-{client_index}", "client_id": client,
                      "charts": charts, "sessions": sessions, "traits": _traits_text(run, client, records)})
    return views


# --- comparison ------------------------------------------------------------------------------------


def _comparison(runs: list[RunLog]) -> dict | None:
    if len(runs) < 2:
        return None
    unscored = [str(run.path) for run in runs if run.metrics is None]
    if unscored:
        return {"missing": unscored, "runs": [], "rows": []}
    result = compare_runs([run.path for run in runs])
    rows = [{"metric": metric, "cells": [cell_lines(result, metric, name) for name in result.runs]}
            for metric in result.metrics]
    columns, realism_rows = counselor_rows(result.realism)
    return {"missing": [], "runs": result.runs, "rows": rows, "method": result.method,
            "realism": {"columns": columns, "rows": realism_rows, "share": share_line(result.realism)}}


# --- rendering -------------------------------------------------------------------------------------


def _environment():
    import jinja2  # lazy: jinja2 loads only when a report is rendered

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every {{ value }} is HTML-escaped: transcripts are untrusted model output
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["num"] = format_number
    return environment


def _page_context(title: str) -> dict:
    return {"title": title, "note": NOTE, "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "stylesheet": (TEMPLATES / STYLESHEET).read_text(encoding="utf-8")}


def _render(run_dirs: list[Path], pages_dir: str | None, per_page: int, index_name: str = "report.html"):
    """The report's page, then (file name, HTML) of each client page, rendered one at a time."""
    if not run_dirs:
        raise ValueError("build_report needs at least one run directory")
    runs = [RunLog.open(Path(d), require_manifest=False) for d in run_dirs]
    views = []
    for index, run in enumerate(runs):
        overview = _overview(index, run, pages_dir, per_page)
        overview["client_views"] = [] if overview["pages"] else _clients(index, run, overview["clients"])
        views.append(overview)
    environment = _environment()
    title = "muspsy-sim report: " + ", ".join(v["name"] for v in views)
    yield environment.get_template(TEMPLATE).render(**_page_context(title), runs=views,
                                                    comparison=_comparison(runs))
    page_template = environment.get_template(PAGE_TEMPLATE)
    for index, (run, view) in enumerate(zip(runs, views)):
        for number, page in enumerate(view["pages"], start=1):
            start = (number - 1) * per_page
            clients = view["clients"][start:start + per_page]
            neighbours = {"previous": view["pages"][number - 2]["href"] if number > 1 else None,
                          "next": view["pages"][number]["href"] if number < len(view["pages"]) else None}
            html = page_template.render(
                **_page_context(f"muspsy-sim report: {view['name']}, clients {page['first']} … {page['last']}"),
                run=view, page=page, number=number, pages=len(view["pages"]), index_name=index_name,
                neighbours={k: v and Path(v).name for k, v in neighbours.items()},
                client_views=_clients(index, run, clients, first=start))
            yield Path(page["href"]).name, html


def render_report(run_dirs: list[Path]) -> str:
    """The report of ``run_dirs`` as one HTML string, every client on it (``build_report`` paginates)."""
    return next(_render([Path(d) for d in run_dirs], None, CLIENTS_PER_PAGE))


def build_report(run_dirs: list[Path], out: Path, *, clients_per_page: int = CLIENTS_PER_PAGE) -> Path:
    """Write the HTML report of ``run_dirs`` to ``out`` atomically; returns ``out``.

    A run of more than ``clients_per_page`` clients gets its clients' pages in ``<out stem>-pages/``
    (written first, each atomically; pages left from an earlier, longer report are removed).
    Raises ``InputError`` for a directory that is not a run directory or holds an
    unreadable manifest.json, summary.json or metrics.jsonl.
    """
    out = Path(out)
    pages_dir = out.parent / f"{out.stem}-pages"
    rendered = _render([Path(d) for d in run_dirs], pages_dir.name, clients_per_page, out.name)
    main_page = next(rendered)
    written = set()
    for name, html in rendered:
        write_text_atomic(pages_dir / name, html)
        written.add(name)
    if pages_dir.is_dir():
        for stale in pages_dir.glob("run-*-clients-*.html"):
            if stale.name not in written:
                stale.unlink()
    write_text_atomic(out, main_page)
    return out
