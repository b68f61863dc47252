"""Commands on case profiles: ``scenarios list``, ``show``, ``validate`` and ``import muspsy``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.table import Table

from muspsy_sim.scenarios.loader import find_profiles, load_library, validate_paths
from muspsy_sim.scenarios.muspsy_import import format_report, import_muspsy

from ..core.errors import InputError

app = typer.Typer(help="List, show and validate case profiles.", no_args_is_help=True)
import_app = typer.Typer(help="Import case profiles from published datasets.", no_args_is_help=True)
app.add_typer(import_app, name="import")

LIBRARY = Path("scenarios/library")


@app.command("list")
def scenarios_list(
    directory: Annotated[Path, typer.Option("--dir", help="Profile directory.")] = LIBRARY,
) -> None:
    """Table of the profiles: id, problem, sessions, risk."""
    profiles = load_library(directory)
    table = Table(title=f"Scenarios in {directory}")
    for column in ("id", "problem", "sessions", "risk"):
        table.add_column(column, overflow="fold")
    for profile in profiles.values():
        table.add_row(profile.id, profile.presenting_problem, str(profile.session_count),
                      "; ".join(profile.risk_flags) or "-")
    Console().print(table)


@app.command("show")
def scenarios_show(
    profile_id: Annotated[str, typer.Argument(metavar="ID")],
    directory: Annotated[Path, typer.Option("--dir", help="Profile directory.")] = LIBRARY,
) -> None:
    """Print one profile as YAML."""
    (profile,) = find_profiles([profile_id], directory, str(directory), field="id")
    typer.echo(yaml.safe_dump(profile.model_dump(mode="json"), sort_keys=False, allow_unicode=True))


@app.command("validate")
def scenarios_validate(paths: Annotated[list[Path], typer.Argument(help="Profile files or directories.")]) -> None:
    """Check profiles: one line per problem (file and field); exit 2 if any."""
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
    if not source.is_dir():
        raise InputError(source, "", "not a directory")
    report = import_muspsy(source, out)
    for line in format_report(report):
        typer.echo(line)
    typer.echo(f"{len(report.profiles)} profiles written to {out}")
    if not report.profiles:
        raise typer.Exit(1)
