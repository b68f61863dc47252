"""The command line: ``python run_sim.py COMMAND`` (also installed as ``muspsy-sim``).

Heavy libraries are imported inside commands, so ``--help`` answers at once.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from muspsy_sim.scenarios.base.errors import InputError

app = typer.Typer(
    help="muspsy-sim: simulate multi-session counseling (MusPsy design). A research tool, not a clinical service.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
scenarios_app = typer.Typer(help="List, show and validate case profiles.", no_args_is_help=True)
import_app = typer.Typer(help="Import case profiles from published datasets.", no_args_is_help=True)
app.add_typer(scenarios_app, name="scenarios")
scenarios_app.add_typer(import_app, name="import")

DEFAULT_CONFIG = Path("configs/default.yaml")


def _fail(error: InputError) -> None:
    typer.echo(f"error: {error}", err=True)
    raise typer.Exit(2)


@app.command()
def run(
    config: Annotated[Path, typer.Option(help="Campaign YAML.")] = DEFAULT_CONFIG,
    name: Annotated[Optional[str], typer.Option(help="Campaign name (run directory runs/NAME).")] = None,
    scenario: Annotated[Optional[list[str]], typer.Option(help="Scenario id (repeatable); replaces the config's list.")] = None,
    sessions: Annotated[Optional[int], typer.Option(help="Sessions per client.")] = None,
    max_turns: Annotated[Optional[int], typer.Option(help="Client turns per session.")] = None,
    counselor: Annotated[Optional[str], typer.Option(help="muspsy, no-memory, full-history or package.module:Class.")] = None,
    counselor_model: Annotated[Optional[str], typer.Option(help="LiteLLM model string for the counselor.")] = None,
    client_model: Annotated[Optional[str], typer.Option(help="LiteLLM model string for the client.")] = None,
    judge_model: Annotated[Optional[str], typer.Option(help="LiteLLM model string for the judge.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Campaign seed.")] = None,
    workers: Annotated[Optional[int], typer.Option(help="Courses run at the same time.")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Output directory (the run directory is OUT/NAME).")] = None,
    progress: Annotated[bool, typer.Option(help="Show live progress bars.")] = True,
) -> None:
    """Run (or resume) a campaign."""
    from muspsy_sim.simulation.config import load_config

    overrides = {
        "name": name, "scenarios": scenario or None, "sessions": sessions, "max_turns": max_turns,
        "counselor": counselor, "models.counselor.model": counselor_model, "models.client.model": client_model,
        "models.judge.model": judge_model, "seed": seed, "workers": workers,
        "output_dir": str(out) if out else None,
    }
    try:
        campaign = load_config(config, overrides)
        _run_and_report(campaign, config, progress)
    except InputError as error:
        _fail(error)


@app.command()
def resume(
    run_dir: Annotated[Path, typer.Argument(help="A run directory holding manifest.json.")],
    workers: Annotated[Optional[int], typer.Option(help="Courses run at the same time.")] = None,
    progress: Annotated[bool, typer.Option(help="Show live progress bars.")] = True,
) -> None:
    """Continue an interrupted campaign from its checkpoints."""
    import json

    from pydantic import ValidationError

    from muspsy_sim.simulation.config import CampaignConfig
    from muspsy_sim.scenarios.base.errors import from_validation_error

    manifest_path = run_dir / "manifest.json"
    try:
        try:
            recorded = json.loads(manifest_path.read_text(encoding="utf-8"))["config"]
        except (OSError, ValueError, KeyError, TypeError):
            raise InputError(manifest_path, "config", "not a readable run manifest") from None
        if workers is not None:
            recorded["workers"] = workers
        # The run directory is where the manifest is, wherever it was moved to.
        recorded["output_dir"], recorded["name"] = str(run_dir.parent), run_dir.name
        try:
            campaign = CampaignConfig.model_validate(recorded)
        except ValidationError as error:
            raise from_validation_error(manifest_path, error) from None
        _run_and_report(campaign, manifest_path, progress)
    except InputError as error:
        _fail(error)


def _run_and_report(campaign, source: Path, show_progress: bool) -> None:
    from muspsy_sim.agents.llm.environment import configure_offline_environment
    from muspsy_sim.simulation.campaign import prepare_campaign

    configure_offline_environment()
    # Every variant is checked before the first session of any of them starts.
    plans = [prepare_campaign(config, source) for config in campaign.expand_variants(source)]
    failed = [plan.config.name for plan in plans if not _run_plan(plan, show_progress)]
    if failed:
        raise typer.Exit(1)


def _run_plan(plan, show_progress: bool) -> bool:
    from collections import Counter

    from rich.console import Console

    from muspsy_sim.simulation.campaign import run_campaign
    from muspsy_sim.simulation.progress import CampaignProgress
    from muspsy_sim.simulation.summary import faults_line, risk_lines, sessions_table, usage_line

    campaign = plan.config
    console = Console()
    console.print(f"[bold]muspsy-sim[/bold] campaign '{campaign.name}': {len(plan.profiles)} clients × "
                  f"{campaign.sessions} sessions, counselor {campaign.counselor}, models "
                  f"{campaign.models.counselor.model} / {campaign.models.client.model}. "
                  "Simulated counseling for research, not a clinical service.")
    done = Counter(r["client_id"] for r in plan.run_dir.sessions())
    if show_progress:
        with CampaignProgress([p.id for p in plan.profiles], campaign.sessions, campaign.max_turns, done,
                              console=console) as events:
            result = run_campaign(plan, events)
    else:
        result = run_campaign(plan)
    console.print(sessions_table(result.sessions))
    console.print(f"Usage: {usage_line(result.usage)}; {result.wall_seconds:.0f} s this run.")
    console.print(f"Faults: {faults_line(result.usage, result.courses)}.", markup=False)
    for line in risk_lines(result.sessions):
        console.print(line, style="bold red" if line.startswith("UNHANDLED") else None, markup=False)
    for client_id, course in sorted(result.courses.items()):
        if course.get("status") != "finished":
            console.print(f"[red]course {client_id}: {course.get('status')} — {course.get('error', '')}")
    stores = [] if plan.config.checkpointer_url else ["checkpoints.sqlite"]
    stores += [] if plan.config.memory.chroma_url else ["chroma/"]
    console.print(f"Results: {result.run_dir}/ ({', '.join(['manifest.json', 'sessions.jsonl', *stores])})")
    return result.status == "finished"


@app.command()
def graph(
    png: Annotated[Optional[Path], typer.Option(help="Also write a PNG here (needs Graphviz's dot).")] = None,
    session_only: Annotated[bool, typer.Option("--session-only", help="Only the session graph.")] = False,
    xray: Annotated[bool, typer.Option(help="Expand the session subgraph inside the course graph.")] = True,
) -> None:
    """Print the course and session graphs as Mermaid (offline)."""
    from muspsy_sim.simulation.inspection.graphs import mermaid, session_mermaid, write_png

    typer.echo(session_mermaid() if session_only else mermaid(xray=xray))
    if png is not None:
        written = write_png(png, xray=xray)
        typer.echo(f"wrote {written}" if written else "no PNG: Graphviz's `dot` is not installed", err=True)


@app.command()
def inspect(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    client: Annotated[Optional[str], typer.Option(help="Client id.")] = None,
    session: Annotated[Optional[int], typer.Option(help="Session number: print its transcript.")] = None,
    history: Annotated[bool, typer.Option("--history", help="List the LangGraph checkpoints of the client's course.")] = False,
    subgraphs: Annotated[bool, typer.Option(help="With --history, include the session subgraphs' checkpoints.")] = False,
) -> None:
    """Clients and sessions of a run; a session's transcript; a course's checkpoints."""
    from rich.console import Console

    from muspsy_sim.simulation.inspection.inspect_run import (
        checkpoint_history,
        history_table,
        run_overview,
        session_transcript,
    )

    console = Console()
    try:
        if client and history:
            console.print(history_table(checkpoint_history(run_dir, client, include_subgraphs=subgraphs)))
        elif client and session is not None:
            console.print(session_transcript(run_dir, client, session))
        elif client or session is not None or history:
            _fail(InputError("inspect", "--client", "give --client with --session K or with --history"))
        else:
            console.print(run_overview(run_dir))
    except InputError as error:
        _fail(error)


@app.command()
def report(
    run_dirs: Annotated[list[Path], typer.Argument(help="Run directories (several: with a comparison table).")],
    out: Annotated[Path, typer.Option(help="HTML file to write.")] = Path("report.html"),
) -> None:
    """One self-contained HTML report (plots, transcripts, questionnaires, metrics); opens offline."""
    from muspsy_sim.simulation.inspection.report import build_report

    try:
        path = build_report(run_dirs, out)
    except InputError as error:
        _fail(error)
    typer.echo(f"Wrote {path}")


@app.command()
def fork(
    run_dir: Annotated[Path, typer.Argument(help="The run to fork.")],
    after_session: Annotated[int, typer.Option(help="Keep sessions 1..K as they were; simulate the rest anew.")],
    name: Annotated[str, typer.Option(help="Name of the new run (created beside the original).")],
    client: Annotated[Optional[list[str]], typer.Option(help="Client id to fork (repeatable; default all).")] = None,
    counselor: Annotated[Optional[str], typer.Option(help="Counselor for the new sessions.")] = None,
    counselor_model: Annotated[Optional[str], typer.Option(help="Counselor model for the new sessions.")] = None,
    client_model: Annotated[Optional[str], typer.Option(help="Client model for the new sessions.")] = None,
    progress: Annotated[bool, typer.Option(help="Show live progress bars.")] = True,
) -> None:
    """Re-run the rest of a course from the checkpoint after session K, e.g. with another counselor."""
    from muspsy_sim.agents.llm.environment import configure_offline_environment
    from muspsy_sim.simulation.fork import fork_run

    configure_offline_environment()
    overrides: dict = {}
    if counselor:
        overrides["counselor"] = counselor
    for role, model in (("counselor", counselor_model), ("client", client_model)):
        if model:
            overrides.setdefault("models", {})[role] = {"model": model}
    try:
        plan = fork_run(run_dir, after_session=after_session, name=name, clients=client, overrides=overrides)
    except InputError as error:
        _fail(error)
    if not _run_plan(plan, progress):
        raise typer.Exit(1)


@app.command()
def export(
    source: Annotated[Path, typer.Argument(help="A run directory, imported MusPsy profiles, or a MusPsy release.")],
    out: Annotated[Path, typer.Option(help="Output JSONL (validation split goes beside it as NAME.validation.jsonl).")],
    format: Annotated[str, typer.Option("--format", help="muspsy, openai or sharegpt.")] = "muspsy",
    task: Annotated[Optional[list[str]], typer.Option(help="memory, goal, counseling (repeatable; default all).")] = None,
    min_wai: Annotated[Optional[float], typer.Option(help="Keep sessions whose WAI-SR total is at least this.")] = None,
    min_metric: Annotated[Optional[list[str]], typer.Option(help="NAME=VALUE: keep sessions with metrics.jsonl NAME >= VALUE.")] = None,
    dedupe: Annotated[bool, typer.Option(help="Drop exact duplicate examples.")] = True,
    validation: Annotated[float, typer.Option(help="Share of clients held out for validation (0..0.9).", min=0, max=0.9)] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of the client split.")] = 0,
) -> None:
    """Export sessions as training data (the three MusPsy tasks), split by client."""
    from muspsy_sim.simulation.export import TASKS, export_dataset

    minimums: dict[str, float] = {}
    try:
        for item in min_metric or []:
            name, _, value = item.partition("=")
            try:
                minimums[name.strip()] = float(value)
            except ValueError:
                raise InputError("--min-metric", "", f"expected NAME=NUMBER, got '{item}'") from None
        if min_wai is not None:
            minimums["wai_total"] = min_wai
        report = export_dataset(source, format, out, tasks=tuple(task or TASKS), minimums=minimums,
                                dedupe=dedupe, validation_share=validation, seed=seed)
    except InputError as error:
        _fail(error)
    for part, path in report.files.items():
        typer.echo(f"{part}: {report.counts[part]} examples from {len(report.clients[part])} clients -> {path}")
    typer.echo(f"sessions kept {report.sessions_kept}, filtered out {report.sessions_filtered}, "
               f"duplicates dropped {report.duplicates_dropped}")


@app.command()
def train(
    data: Annotated[Path, typer.Option(help="Training JSONL from `export` (openai, sharegpt or muspsy format).")],
    out: Annotated[Path, typer.Option(help="Where to write the LoRA adapter (use it as local/OUT).")],
    base: Annotated[str, typer.Option(help="Base model.")] = "local/smollm2-135m-instruct",
    steps: Annotated[int, typer.Option(help="Optimizer steps.", min=1)] = 30,
    lr: Annotated[float, typer.Option(help="Learning rate.")] = 2e-4,
    lora_r: Annotated[int, typer.Option(help="LoRA rank.", min=1)] = 8,
    batch_size: Annotated[int, typer.Option(help="Batch size.", min=1)] = 4,
    max_length: Annotated[int, typer.Option(help="Max tokens per example.", min=32)] = 768,
    validation: Annotated[Optional[Path], typer.Option(help="Validation JSONL (e.g. NAME.validation.jsonl).")] = None,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    threads: Annotated[Optional[int], typer.Option(help="CPU threads for torch.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing OUT.")] = False,
) -> None:
    """LoRA fine-tuning of a counselor on its turns only (CPU, or GPU when there is one)."""
    from muspsy_sim.agents.llm.environment import configure_offline_environment
    from muspsy_sim.agents.training import train_counselor

    configure_offline_environment()
    try:
        result = train_counselor(data, base, out, steps=steps, learning_rate=lr, lora_r=lora_r,
                                 batch_size=batch_size, max_length=max_length, seed=seed, validation=validation,
                                 progress=True, overwrite=overwrite, threads=threads)
    except InputError as error:
        _fail(error)
    first, last = result.losses[0][1], result.losses[-1][1]
    typer.echo(f"trained {len(result.losses)} steps on {result.device} in {result.seconds:.0f} s: loss {first:.3f} -> {last:.3f}")
    if result.validation_loss is not None:
        typer.echo(f"validation loss {result.validation_loss_before:.3f} -> {result.validation_loss:.3f}")
    typer.echo(f"adapter, config and loss curve in {result.out_dir}; use it as --counselor-model local/{result.out_dir}")


@app.command("eval")
def eval_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    judge_model: Annotated[Optional[str], typer.Option(help="Judge model (default: the run's judge).")] = None,
    judge_version: Annotated[str, typer.Option(help="Judge prompt version (agents/judge/prompts/).")] = "v1",
    judge: Annotated[bool, typer.Option(help="Rate sessions with the judge model.")] = True,
) -> None:
    """Score a run: writes metrics.jsonl and summary.json into RUN_DIR (re-runs skip what is scored)."""
    from rich.console import Console

    from muspsy_sim.agents.llm.environment import configure_offline_environment
    from muspsy_sim.simulation.evaluation.report_tables import summary_table
    from muspsy_sim.simulation.evaluation.run_eval import evaluate_run
    from muspsy_sim.simulation.summary import unhandled_line

    configure_offline_environment()
    console = Console()
    try:
        with console.status("scoring sessions...") as status:
            summary = evaluate_run(run_dir, judge_model=judge_model, prompt_version=judge_version, with_judge=judge,
                                   on_session=lambda c, s: status.update(f"scored {c} session {s}"))
    except InputError as error:
        _fail(error)
    console.print(summary_table(summary))
    for item in summary.get("unhandled_risk_disclosures", []):
        console.print(unhandled_line(item), style="bold red", markup=False)
    console.print(f"Wrote {run_dir / 'metrics.jsonl'} and {run_dir / 'summary.json'}")


@app.command()
def compare(
    run_dirs: Annotated[list[Path], typer.Argument(help="Run directories that have been scored with `eval`.")],
    out: Annotated[Optional[Path], typer.Option(help="Where to write compare.json and compare.md.")] = None,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
) -> None:
    """Compare runs: mean of each metric with a 95% bootstrap CI, paired where runs share clients and seeds."""
    from rich.console import Console

    from muspsy_sim.simulation.evaluation.compare import (
        compare_runs,
        render_comparison,
        write_comparison,
    )

    try:
        result = compare_runs(run_dirs, seed=seed)
    except InputError as error:
        _fail(error)
    console = Console()
    console.print(render_comparison(result))
    target = out or run_dirs[0].parent
    written = write_comparison(result, target)
    console.print("Wrote " + ", ".join(str(p) for p in written))


@app.command()
def practice(
    scenario: Annotated[str, typer.Option(help="The client: a profile id (`scenarios list`).")],
    sessions: Annotated[Optional[int], typer.Option(help="Sessions in the course (default: the config's).")] = None,
    name: Annotated[Optional[str], typer.Option(help="Run name (default practice-SCENARIO); the same name continues the course.")] = None,
    host: Annotated[str, typer.Option(help="Address to serve on; beyond 127.0.0.1 others can reach the page.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: a free one).", min=0, max=65535)] = 0,
    config: Annotated[Path, typer.Option(help="Campaign YAML: models, seed, client dynamics.")] = DEFAULT_CONFIG,
    max_turns: Annotated[Optional[int], typer.Option(help="Client turns before you must close a session (default 12).")] = None,
    client_model: Annotated[Optional[str], typer.Option(help="LiteLLM model string for the client.")] = None,
    counselor_model: Annotated[Optional[str], typer.Option(help="Model that writes your notes (goals, session memories).")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Output directory (the run directory is OUT/NAME).")] = None,
) -> None:
    """Practise as the counselor: a local web page where you take the counselor's turns with a simulated client."""
    from muspsy_sim.simulation.practice.command import run_practice  # lazy: loads the models and the server

    try:
        run_practice(config, scenario, sessions=sessions, name=name, out=out, max_turns=max_turns,
                     client_model=client_model, counselor_model=counselor_model, host=host, port=port, echo=typer.echo)
    except InputError as error:
        _fail(error)


BENCHMARKS = ("overhead", "remote", "retrieval", "throughput")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def bench(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="overhead, remote, retrieval, throughput or all.")] = "all",
    quick: Annotated[bool, typer.Option("--quick", help="Small sizes (a smoke run, not a measurement).")] = False,
) -> None:
    """Benchmarks: print figures with their baselines and the machine's cores. Further options go to the
    benchmark (e.g. `bench remote --url URL`; `python -m muspsy_sim.bench.NAME --help` lists them)."""
    import importlib

    if name != "all" and name not in BENCHMARKS:
        _fail(InputError("bench", "name", f"unknown benchmark '{name}' (known: {', '.join(BENCHMARKS)}, all)"))
    if name == "all" and ctx.args:
        _fail(InputError("bench", "options", f"'all' takes only --quick; give a benchmark name for {' '.join(ctx.args)}"))
    failed = 0
    for benchmark in BENCHMARKS if name == "all" else (name,):
        try:
            module = importlib.import_module(f"muspsy_sim.bench.{benchmark}")
        except ModuleNotFoundError as error:
            if error.name != f"muspsy_sim.bench.{benchmark}":
                raise
            typer.echo(f"== {benchmark}: not available in this installation ==", err=True)
            failed += 1
            continue
        code = module.main([*(["--quick"] if quick else []), *ctx.args])
        failed += bool(code)
        if code == 2 and name != "all":
            raise typer.Exit(2)
    if failed:
        raise typer.Exit(1)


@scenarios_app.command("list")
def scenarios_list(
    directory: Annotated[Path, typer.Option("--dir", help="Profile directory.")] = Path("scenarios/library"),
) -> None:
    """Table of the profiles: id, problem, sessions, risk."""
    from rich.console import Console
    from rich.table import Table

    from muspsy_sim.scenarios.loader import load_library

    try:
        profiles = load_library(directory)
    except InputError as error:
        _fail(error)
    table = Table(title=f"Scenarios in {directory}")
    for column in ("id", "problem", "sessions", "risk"):
        table.add_column(column, overflow="fold")
    for profile in profiles.values():
        table.add_row(profile.id, profile.presenting_problem, str(profile.session_count),
                      "; ".join(profile.risk_flags) or "-")
    Console().print(table)


@scenarios_app.command("show")
def scenarios_show(
    profile_id: Annotated[str, typer.Argument(metavar="ID")],
    directory: Annotated[Path, typer.Option("--dir", help="Profile directory.")] = Path("scenarios/library"),
) -> None:
    """Print one profile as YAML."""
    import yaml

    from muspsy_sim.scenarios.loader import find_profiles

    try:
        (profile,) = find_profiles([profile_id], directory, str(directory), field="id")
    except InputError as error:
        _fail(error)
    typer.echo(yaml.safe_dump(profile.model_dump(mode="json"), sort_keys=False, allow_unicode=True))


@scenarios_app.command("validate")
def scenarios_validate(paths: Annotated[list[Path], typer.Argument(help="Profile files or directories.")]) -> None:
    """Check profiles: one line per problem (file and field); exit 2 if any."""
    from muspsy_sim.scenarios.loader import validate_paths

    problems = validate_paths(paths)
    for problem in problems:
        typer.echo(f"error: {problem}", err=True)
    if problems:
        raise typer.Exit(2)
    typer.echo("all profiles valid")


@import_app.command("muspsy")
def scenarios_import_muspsy(
    source: Annotated[Path, typer.Argument(help="A MusPsy release folder (memories/, dialogues/).")],
    out: Annotated[Path, typer.Option(help="Where to write the profiles and reference dialogues.")],
) -> None:
    """Convert MusPsy memories (and dialogues) into case profiles; reports per file what was skipped."""
    from muspsy_sim.scenarios.muspsy_import import format_report, import_muspsy

    if not source.is_dir():
        _fail(InputError(source, "", "not a directory"))
    report = import_muspsy(source, out)
    for line in format_report(report):
        typer.echo(line)
    typer.echo(f"{len(report.profiles)} profiles written to {out}")
    if not report.profiles:
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
