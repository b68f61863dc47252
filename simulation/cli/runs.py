"""Commands that simulate: run, resume, fork, and practice as the counselor."""

from __future__ import annotations

import shlex
from collections import Counter
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..config import CampaignConfig, load_config
from ..core.course import WAITING
from ..core.errors import InputError
from ..core.interruptions import INTERRUPTED
from ..progress import CampaignProgress, PlainProgress
from ..record.run_log import RunLog
from ..summary import (
    added_line,
    answers_label,
    answers_line,
    campaign_json,
    dropout_line,
    fallback_warnings,
    faults_line,
    risk_lines,
    self_report_lines,
    sessions_table,
    usage_line,
)
from .output import INTERRUPTED_EXIT_CODE, print_json, stderr_console, stdout_console

app = typer.Typer()

DEFAULT_CONFIG = Path("configs/default.yaml")
PROGRESS_HELP = "Show progress: live bars at a terminal, a plain line on stderr now and then otherwise."
JSON_HELP = "Print the results as JSON on stdout (one object per campaign, one per line); the rest goes to stderr."


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
    progress: Annotated[bool, typer.Option(help=PROGRESS_HELP)] = True,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Mark a course failed when a session's filled-in questionnaire answers are above "
        "answer_fallbacks.threshold (default 5%).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Run (or resume) a campaign."""
    overrides = {
        "name": name, "scenarios": scenario or None, "sessions": sessions, "max_turns": max_turns,
        "counselor": counselor, "models.counselor.model": counselor_model, "models.client.model": client_model,
        "models.judge.model": judge_model, "seed": seed, "workers": workers,
        "output_dir": str(out) if out else None, "answer_fallbacks.strict": True if strict else None,
    }
    campaign = load_config(config, overrides)
    _run_and_report(campaign, config, progress, as_json)


@app.command()
def resume(
    run_dir: Annotated[Path, typer.Argument(help="A run directory holding manifest.json.")],
    workers: Annotated[Optional[int], typer.Option(help="Courses run at the same time.")] = None,
    progress: Annotated[bool, typer.Option(help=PROGRESS_HELP)] = True,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Continue an interrupted campaign from its checkpoints."""
    run = RunLog.open(run_dir)
    campaign = run.resume_config(workers)
    _run_and_report(campaign, run.manifest_path, progress, as_json)


@app.command()
def fork(
    run_dir: Annotated[Path, typer.Argument(help="The run to fork.")],
    after_session: Annotated[int, typer.Option(help="Keep sessions 1..K as they were; simulate the rest anew.")],
    name: Annotated[str, typer.Option(help="Name of the new run (created beside the original).")],
    client: Annotated[Optional[list[str]], typer.Option(help="Client id to fork (repeatable; default all).")] = None,
    counselor: Annotated[Optional[str], typer.Option(help="Counselor for the new sessions.")] = None,
    counselor_model: Annotated[Optional[str], typer.Option(help="Counselor model for the new sessions.")] = None,
    client_model: Annotated[Optional[str], typer.Option(help="Client model for the new sessions.")] = None,
    progress: Annotated[bool, typer.Option(help=PROGRESS_HELP)] = True,
) -> None:
    """Re-run the rest of a course from the checkpoint after session K, e.g. with another counselor."""
    # lazy: the engine (langgraph, the model layer, the memory store) comes with these; --help loads none of it
    from muspsy_sim.agents.llm.environment import configure_offline_environment

    from ..fork import fork_run

    configure_offline_environment()
    overrides = {"counselor": counselor, "models.counselor.model": counselor_model,
                 "models.client.model": client_model}
    plan = fork_run(run_dir, after_session=after_session, name=name, clients=client, overrides=overrides)
    _exit_for([_run_plan(plan, progress, as_json=False)])


def _exit_for(statuses: list[str]) -> None:
    if INTERRUPTED in statuses:
        raise typer.Exit(INTERRUPTED_EXIT_CODE)
    if any(status not in ("finished", WAITING) for status in statuses):
        raise typer.Exit(1)  # a course waiting for a person has not failed: its line says how to go on


def _run_and_report(campaign: CampaignConfig, source: Path, show_progress: bool, as_json: bool) -> None:
    # lazy: the engine (langgraph, the model layer, the memory store) comes with these; --help loads none of it
    from muspsy_sim.agents.llm.environment import configure_offline_environment

    from ..campaign import prepare_campaign

    configure_offline_environment()
    # Every variant is checked before the first session of any of them starts.
    plans = [prepare_campaign(config, source) for config in campaign.expand_variants(source)]
    statuses = []
    for plan in plans:
        statuses.append(_run_plan(plan, show_progress, as_json))
        if statuses[-1] == INTERRUPTED:
            break  # the next variant would stop on the same service or disk
    _exit_for(statuses)


def _run_plan(plan, show_progress: bool, as_json: bool) -> str:
    """Run one prepared campaign with progress and print its summary (or its JSON); returns its status."""
    from ..campaign import run_campaign  # lazy: the engine (langgraph, models, memory store)

    campaign = plan.config
    console = stdout_console()
    notes = stderr_console() if as_json else console
    notes.print(f"[bold]muspsy-sim[/bold] campaign '{campaign.name}': {len(plan.profiles)} clients × "
                f"{campaign.sessions} sessions, counselor {campaign.counselor}, models "
                f"{campaign.models.counselor.model} / {campaign.models.client.model}. "
                "Simulated counseling for research, not a clinical service.")
    done = Counter(record.client_id for record in plan.run_dir.records())
    # Courses that ended before this run (a resume): done, however many sessions they held.
    ended = [client for client, course in plan.run_dir.read_manifest().courses.items()
             if course.status == "finished"] if plan.run_dir.exists() else []
    clients = [p.id for p in plan.profiles]

    def notice(line: str) -> None:
        notes.print(line, style="bold yellow" if line.startswith("WARNING") else None, markup=False, soft_wrap=True)

    if show_progress and console.is_terminal and not as_json:
        with CampaignProgress(clients, campaign.sessions, campaign.max_turns, done, ended, console=console) as events:
            result = run_campaign(plan, events, notice)
    elif show_progress:  # a log: now and then a plain line on stderr
        with PlainProgress(clients, campaign.sessions, done, ended) as events:
            result = run_campaign(plan, events, notice)
    else:
        result = run_campaign(plan, notice=notice)
    if as_json:
        print_json(campaign_json(result, campaign))
    else:
        _print_summary(console, plan, result)
    if result.interruption is not None:
        finished = sum(1 for course in result.courses.values() if course.status == "finished")
        typer.echo(f"error: interrupted: {result.interruption}. {finished} of {len(result.courses)} courses "
                   f"finished; once that is fixed, `resume {result.run_dir}` finishes the others.", err=True)
    return result.status


def _print_summary(console, plan, result) -> None:
    campaign = plan.config
    console.print(sessions_table(result.sessions))
    console.print(f"Usage: {usage_line(result.usage)}; {result.wall_seconds:.0f} s this run.")
    console.print(f"Faults: {faults_line(result.usage, result.courses)}.", markup=False)
    console.print(f"{answers_label(result.sessions)}: {answers_line(result.sessions)}.", markup=False)
    policy = campaign.answer_fallbacks
    for line in fallback_warnings(result.sessions, policy.threshold, policy.strict):
        console.print(line, style="bold yellow", markup=False)
    if (added := added_line(result.sessions)) is not None:
        console.print(added, style="yellow", markup=False, soft_wrap=True)
    for line in risk_lines(result.sessions):
        console.print(line, style="bold red" if line.startswith("UNHANDLED") else None, markup=False)
    for line in self_report_lines(result.sessions, campaign.client.min_agreement):
        console.print(line, style="bold yellow" if line.startswith("Self-report warning") else None, markup=False,
                      soft_wrap=True)
    console.print(dropout_line(result.courses), markup=False)
    for client_id, course in sorted(result.courses.items()):
        if course.status == WAITING:
            console.print(waiting_line(client_id, course.sessions_done, campaign), markup=False, soft_wrap=True)
        # Interrupted courses share one cause, said once below the summary.
        elif course.status not in ("finished", INTERRUPTED):
            console.print(f"course {client_id}: {course.status} — {course.error or ''}", style="red", markup=False)
    stores = [] if plan.config.checkpointer_url else ["checkpoints.sqlite"]
    stores += [] if plan.config.memory.chroma_url else ["chroma/"]
    console.print(f"Results: {result.run_dir}/ ({', '.join(['manifest.json', 'sessions.jsonl', *stores])})")


def waiting_line(client_id: str, sessions_done: int, config: CampaignConfig) -> str:
    """How to go on with a course that waits for a person: the `practice` command for the person's chair."""
    models = config.models
    if config.client.kind == "human":
        chair = ["--as", "client", "--counselor", config.counselor, "--counselor-model", models.counselor.model.text]
    else:
        chair = ["--client-model", models.client.model.text, "--counselor-model", models.counselor.model.text]
    command = ["python", "run_sim.py", "practice", *chair, "--scenario", client_id, "--name", config.name,
               "--out", config.output_dir, "--sessions", str(config.sessions), "--max-turns", str(config.max_turns)]
    return (f"course {client_id}: waiting for a person after session {sessions_done}; go on with `{shlex.join(command)}` "
            "and the --config the run was made with.")


@app.command()
def practice(
    scenario: Annotated[str, typer.Option(help="The client: a profile id (`scenarios list`); with --as client also "
                                               "'free' (you play yourself, from a profile you fill in).")],
    as_: Annotated[str, typer.Option("--as", help="Your chair: counselor (a simulated client) or client (the "
                                                  "configured counselor model counsels you).")] = "counselor",
    sessions: Annotated[Optional[int], typer.Option(help="Sessions in the course (default: the config's).")] = None,
    name: Annotated[Optional[str], typer.Option(help="Run name (default practice-SCENARIO, or practice-client-SCENARIO); "
                                                     "the same name continues the course.")] = None,
    host: Annotated[str, typer.Option(help="Address to serve on; beyond 127.0.0.1 others can reach the page.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: a free one).", min=0, max=65535)] = 0,
    config: Annotated[Path, typer.Option(help="Campaign YAML: models, seed, client dynamics.")] = DEFAULT_CONFIG,
    max_turns: Annotated[Optional[int], typer.Option(help="Client turns before the session must close (default 12).")] = None,
    client_model: Annotated[Optional[str], typer.Option(help="LiteLLM model string for the simulated client (--as counselor).")] = None,
    counselor_model: Annotated[Optional[str], typer.Option(
        help="Model that writes your notes (--as counselor), or the counselor's model (--as client).")] = None,
    counselor: Annotated[Optional[str], typer.Option(
        help="--as client: the counselor (muspsy, no-memory, full-history or package.module:Class; default the config's).")] = None,
    rater: Annotated[Optional[str], typer.Option(
        help="--as client: your name or code, recorded with every rating and answer (default: the run's name).")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Output directory (the run directory is OUT/NAME).")] = None,
) -> None:
    """Practise as the counselor with a simulated client, or (--as client) play the client of a counselor model:
    a local web page."""
    # lazy: loads the models and the server
    from ..practice.command import run_client_practice, run_practice

    if as_ == "client":
        if client_model:
            raise InputError("--client-model", "", "with --as client you are the client; no client model runs")
        run_client_practice(config, scenario, sessions=sessions, name=name, out=out, max_turns=max_turns,
                            counselor=counselor, counselor_model=counselor_model, rater=rater, host=host, port=port,
                            echo=typer.echo)
    elif as_ == "counselor":
        for option, value in (("--counselor", counselor), ("--rater", rater)):
            if value:
                raise InputError(option, "", "only with --as client (--as counselor: you are the counselor)")
        run_practice(config, scenario, sessions=sessions, name=name, out=out, max_turns=max_turns,
                     client_model=client_model, counselor_model=counselor_model, host=host, port=port, echo=typer.echo)
    else:
        raise InputError("--as", "", f"'{as_}' is neither counselor nor client")
