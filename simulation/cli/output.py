"""How commands print and end: for a person at a terminal, and for a log file a scheduler keeps.

* ``stdout_console``: at a terminal, rich as usual; when stdout is a file or a pipe, a console so
  wide that a table keeps every column at its natural width (no column is dropped or cut at 80)
  and a message stays on one line, without colours.
* ``configure_logging``: the project's log lines (``muspsy_sim.*``: a service that stopped
  answering, say) go to stderr, one plain line each, with the time.
* ``print_json``: ``--json`` output, one JSON document on stdout.
* Exit codes: 0 done; 1 a course or check failed; 2 bad input (one line, ``app.py``);
  3 a model could not be reached (``one_line_if_unreachable``); 75 (EX_TEMPFAIL) a campaign its
  infrastructure interrupted, which ``resume`` finishes.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from pydantic import BaseModel
from rich.console import Console

from muspsy_sim.agents.llm.interface import FailedStep, ModelUnavailable

MODEL_UNREACHABLE_EXIT_CODE = 3
INTERRUPTED_EXIT_CODE = 75  # sysexits.h EX_TEMPFAIL: try again later (here: `resume` once the cause is fixed)
# Wide enough for any table this tool prints; a log has no screen to fit.
LOG_WIDTH = 10_000


def stdout_is_terminal() -> bool:
    return Console().is_terminal


def stdout_console() -> Console:
    """The console for a command's results on stdout (see the module docstring)."""
    console = Console()
    return console if console.is_terminal else Console(width=LOG_WIDTH)


def stderr_console() -> Console:
    """The console for lines meant for the person (or the log), not for a program reading stdout."""
    return Console(stderr=True) if Console(stderr=True).is_terminal else Console(stderr=True, width=LOG_WIDTH)


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time: a live progress display or a test may replace it."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def configure_logging() -> None:
    """Send the project's warnings (services going away and coming back) to stderr, once per process."""
    logger = logging.getLogger("muspsy_sim")
    if any(isinstance(handler, _CurrentStderr) for handler in logger.handlers):
        return
    handler = _CurrentStderr()
    handler.setFormatter(logging.Formatter("%(asctime)s muspsy-sim: %(message)s", datefmt="%H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def print_json(data: Any) -> None:
    """One JSON document on stdout (``--json``): what a program reads; everything else goes to stderr.

    A kernel value (a ``CampaignSummary``, a ``Comparison``, a ``SessionRecord``) prints as its files hold
    it (``to_dict()``), so ``--json`` and the file it summarises read alike."""
    typer.echo(json.dumps(_plain(data), ensure_ascii=False, default=str))


def _plain(data: Any) -> Any:
    if isinstance(data, BaseModel):
        return data.to_dict() if hasattr(data, "to_dict") else data.model_dump(mode="json")
    if isinstance(data, dict):
        return {key: _plain(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [_plain(value) for value in data]
    return data


def unreachable_line(error: BaseException, role: str | None = None) -> str | None:
    """One line naming the role, the model and the cause, when ``error`` is a model that could not be
    reached (directly, or as the cause of a failed step); None for any other error."""
    unavailable = error if isinstance(error, ModelUnavailable) else None
    if isinstance(error, FailedStep):
        role = error.role
        unavailable = error.__cause__ if isinstance(error.__cause__, ModelUnavailable) else None
    if unavailable is None:
        return None
    role = unavailable.role or role  # the raiser's word on whose model it was comes first
    model = unavailable.model or "?"
    return f"the {role + ' ' if role else ''}model {model} cannot be reached: {unavailable.plain_cause()}"


@contextmanager
def one_line_if_unreachable(role: str | None = None) -> Iterator[None]:
    """End the command with one line and exit code 3 when a model (of ``role``) cannot be reached."""
    try:
        yield
    except (ModelUnavailable, FailedStep) as error:
        line = unreachable_line(error, role)
        if line is None:
            raise
        typer.echo(f"error: {line}", err=True)
        raise typer.Exit(MODEL_UNREACHABLE_EXIT_CODE) from None
