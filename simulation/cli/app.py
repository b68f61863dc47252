"""The root command: every area's commands on one app, and the one handler for input errors.

The areas are how the code is organised, not command prefixes: each area module
holds a Typer sub-app that is added here without a name, so Typer merges its
commands into the root (``python run_sim.py eval RUN``, not ``... analysis eval``).
Only ``scenarios`` is a named group, as it always was.

Input errors (``InputError``: a file, a field, a message) are turned into the
one-line ``error: <file>: <field>: <message>`` on stderr and exit code 2 in one
place, ``InputErrorGroup.invoke``, for every command and sub-command; commands
just raise them.
"""

from __future__ import annotations

from typing import Any

import click
import typer
from typer.core import TyperGroup

from ..core.errors import InputError
from . import analysis, bench, data, runs, scenarios

INPUT_ERROR_EXIT_CODE = 2


class InputErrorGroup(TyperGroup):
    """The root group: an ``InputError`` from any command below it ends the run with one line and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InputError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(INPUT_ERROR_EXIT_CODE) from None


app = typer.Typer(
    cls=InputErrorGroup,
    help="muspsy-sim: simulate multi-session counseling (MusPsy design). A research tool, not a clinical service.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Unnamed: each area's commands become commands of the root, in this order in --help.
for area in (runs, analysis, data, bench):
    app.add_typer(area.app)
app.add_typer(scenarios.app, name="scenarios")


def main() -> None:
    app()
