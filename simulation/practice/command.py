"""`run_sim.py practice`: set up the practice run, claim its directory, print the address, serve."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from muspsy_sim.agents.llm.environment import configure_offline_environment

from ..core.errors import InputError
from .course_driver import PracticeCourse
from .practice_run import practice_config, prepare_practice
from .server import bind, page_url, serve


def run_practice(config_path: Path, scenario: str, *, sessions: int | None = None, name: str | None = None,
                 out: Path | None = None, max_turns: int | None = None, client_model: str | None = None,
                 counselor_model: str | None = None, host: str = "127.0.0.1", port: int = 0,
                 echo: Callable[[str], None] = print) -> None:
    """Serve the practice page until stopped; InputError (nothing written) for bad settings."""

    configure_offline_environment()
    config = practice_config(config_path, scenario, sessions=sessions, name=name, out=out, max_turns=max_turns,
                             client_model=client_model, counselor_model=counselor_model)
    plan = prepare_practice(config, config_path)
    try:
        sock = bind(host, port)
    except OSError as error:
        raise InputError("--port", "", f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    course = PracticeCourse(plan)
    try:
        course.open()
    except BaseException:
        sock.close()
        raise
    try:
        profile = plan.profiles[0]
        echo(f"Practice as the counselor with {profile.pseudonym} ({profile.id}), {config.sessions} sessions, "
             f"client model {config.models.client.model}.")
        echo(f"Open {page_url(sock, host)} in a browser.")
        echo(f"Ctrl+C stops the server; the same command continues the course where it stopped. "
             f"Run directory: {plan.run_dir.path}. A training simulation, not a clinical tool.")
        serve(course, sock, host)
    except KeyboardInterrupt:
        pass  # Ctrl+C: the course is in its checkpoint
    finally:
        course.close()
    echo("Stopped. The same command continues the course where it stopped.")
