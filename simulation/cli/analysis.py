"""Commands that read runs: eval, compare, report, inspect, graph, and the record schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..core.errors import InputError
from ..evaluation.compare import compare_runs, render_comparison, write_comparison
from ..evaluation.realism_table import counselor_realism_table
from ..evaluation.report_tables import credit_lines, eval_tables
from ..record.schema import KINDS as RECORD_KINDS
from ..record.schema import json_schema
from ..summary import coverage_line, unhandled_line
from .output import one_line_if_unreachable, print_json, stderr_console, stdout_console

app = typer.Typer()


@app.command("eval")
def eval_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    judge_model: Annotated[Optional[str], typer.Option(help="Judge model (default: the run's judge).")] = None,
    judge_version: Annotated[str, typer.Option(help="Judge prompt version: a folder name in agents/judge/prompts/.")] = "v1",
    judge: Annotated[bool, typer.Option(help="Rate sessions with the judge model.")] = True,
    min_agreement: Annotated[Optional[float], typer.Option(
        help="Warn when self-reports follow the client's state less than this (Spearman; default: the run's "
             "client.min_agreement).", min=-1, max=1)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print summary.json's content on stdout instead of tables.")]
    = False,
) -> None:
    """Score a run: writes metrics.jsonl and summary.json into RUN_DIR (re-runs skip what is scored)."""
    # lazy: scoring builds the judge and its model (agents.llm); --help loads none of it
    from muspsy_sim.agents.llm.environment import configure_offline_environment

    from ..evaluation.run_eval import evaluate_run

    configure_offline_environment()
    console = stdout_console()
    notices = stderr_console() if as_json else console  # with --json, stdout holds the JSON alone
    with stderr_console().status("scoring sessions...") as status, one_line_if_unreachable("judge"):
        summary = evaluate_run(run_dir, judge_model=judge_model, prompt_version=judge_version, with_judge=judge,
                               on_session=lambda c, s: status.update(f"scored {c} session {s}"),
                               min_agreement=min_agreement,
                               notice=lambda line: notices.print(
                                   line, style="bold yellow" if line.startswith("WARNING") else None, markup=False,
                                   soft_wrap=True))
    if as_json:
        print_json(summary)
        return
    for table in eval_tables(summary):
        console.print(table)
    for line in credit_lines(summary):
        console.print(line, markup=False, soft_wrap=True)
    for line in summary.self_report_agreement.warnings:
        console.print(line, style="bold yellow", markup=False, soft_wrap=True)
    for item in summary.unhandled_risk_disclosures:
        console.print(unhandled_line(item), style="bold red", markup=False)
    coverage = summary.answer_coverage
    who = "the model or the person (unanswered items are left out too)" if coverage.person else "the model"
    console.print(f"Answers given by {who} (filled-in ones are left out of the scores): "
                  f"{coverage_line(coverage)}.", markup=False)
    console.print(f"Wrote {run_dir / 'metrics.jsonl'} and {run_dir / 'summary.json'}")


@app.command()
def compare(
    run_dirs: Annotated[list[Path], typer.Argument(help="Run directories that have been scored with `eval`.")],
    out: Annotated[Optional[Path], typer.Option(help="Where to write compare.json and compare.md.")] = None,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print compare.json's content on stdout instead of the table.")]
    = False,
) -> None:
    """Compare runs: mean of each metric with a 95% CI resampling clients, paired where runs share clients and seeds;
    trajectory realism per counselor (runs of one counselor pooled) and the counselor's share of outcome variance."""
    result = compare_runs(run_dirs, seed=seed)
    target = out or run_dirs[0].parent
    written = write_comparison(result, target)
    if as_json:
        print_json(result)
        typer.echo("Wrote " + ", ".join(str(p) for p in written), err=True)
        return
    console = stdout_console()
    console.print(render_comparison(result))
    if result.realism is not None and (len(result.realism.counselors) > 1 or len(run_dirs) > 1):
        console.print(counselor_realism_table(result.realism))
    console.print("Wrote " + ", ".join(str(p) for p in written))


@app.command()
def report(
    run_dirs: Annotated[list[Path], typer.Argument(help="Run directories (several: with a comparison table).")],
    out: Annotated[Optional[Path], typer.Option(
        help="HTML file to write (default: RUN_DIR/report.html; with several runs, report.html beside them).")] = None,
) -> None:
    """One self-contained HTML report (plots, transcripts, questionnaires, metrics); opens offline."""
    from ..inspection.report import build_report  # lazy: jinja2 and matplotlib

    if out is None:
        out = (run_dirs[0] if len(run_dirs) == 1 else run_dirs[0].parent) / "report.html"
    path = build_report(run_dirs, out)
    typer.echo(f"Wrote {path}")


@app.command()
def inspect(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    client: Annotated[Optional[str], typer.Option(help="Client id.")] = None,
    session: Annotated[Optional[int], typer.Option(help="Session number: print its transcript.")] = None,
    history: Annotated[bool, typer.Option("--history", help="List the LangGraph checkpoints of the client's course.")] = False,
    subgraphs: Annotated[bool, typer.Option(help="With --history, include the session subgraphs' checkpoints.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the same as JSON on stdout: the overview, the session's "
                                                         "record, or the checkpoints.")] = False,
) -> None:
    """Clients and sessions of a run; a session's transcript; a course's checkpoints."""
    # lazy: checkpoint history rebuilds the course graph (langgraph)
    from ..inspection.inspect_run import (
        checkpoint_history,
        history_table,
        run_overview,
        session_record,
        session_transcript,
    )
    from ..inspection.run_data import overview_data
    from ..record.run_log import RunLog

    console = stdout_console()
    if client and history:
        entries = checkpoint_history(run_dir, client, include_subgraphs=subgraphs)
        if as_json:
            print_json(entries)
        else:
            console.print(history_table(entries))
    elif client and session is not None:
        if as_json:
            print_json(session_record(RunLog.open(run_dir), client, session))
        else:
            console.print(session_transcript(run_dir, client, session))
    elif client or session is not None or history:
        raise InputError("inspect", "--client", "give --client with --session K or with --history")
    elif as_json:
        print_json(overview_data(run_dir))
    else:
        console.print(run_overview(run_dir))


@app.command()
def graph(
    png: Annotated[Optional[Path], typer.Option(help="Also write a PNG here (needs Graphviz's dot).")] = None,
    session_only: Annotated[bool, typer.Option("--session-only", help="Only the session graph.")] = False,
    xray: Annotated[bool, typer.Option(help="Expand the session subgraph inside the course graph.")] = True,
) -> None:
    """Print the course and session graphs as Mermaid (offline)."""
    # lazy: drawing the graphs builds them (langgraph)
    from ..inspection.graphs import mermaid, session_mermaid, write_png

    typer.echo(session_mermaid() if session_only else mermaid(xray=xray))
    if png is not None:
        written = write_png(png, xray=xray)
        typer.echo(f"wrote {written}" if written else "no PNG: Graphviz's `dot` is not installed", err=True)


@app.command()
def schema(
    kind: Annotated[str, typer.Argument(help="session (a sessions.jsonl line), manifest (manifest.json), turn, "
                                              "metrics (a metrics.jsonl line) or summary (summary.json).")] = "session",
) -> None:
    """Print the JSON Schema of a run's records (and of what `eval` writes), for analysing runs with your own tools."""
    if kind not in RECORD_KINDS:
        raise InputError("schema", "kind", f"unknown record kind '{kind}' (one of {', '.join(RECORD_KINDS)})")
    typer.echo(json.dumps(json_schema(kind), indent=2, ensure_ascii=False))
