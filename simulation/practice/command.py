"""`run_sim.py practice`: set up the practice run, claim its directory, print the address, serve.

``run_practice`` puts the person in the counselor's chair, ``run_client_practice`` in the client's
(``--as client``); both serve the same app with their own page.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from muspsy_sim.agents.llm.environment import configure_offline_environment
from muspsy_sim.scenarios.profile import CaseProfile

from ..campaign.prepare import CampaignPlan
from ..config import CampaignConfig
from ..core.errors import InputError
from .client_page import ClientPage
from .course_driver import PracticeCourse
from .free_profile import profile_path, save_free_profile
from .practice_run import (
    FREE,
    check_settings,
    client_practice_config,
    practice_config,
    prepare_practice,
)
from .server import FreeSetup, bind, page_url, serve

STOPPED = "Stopped. The same command continues the course where it stopped."


def _listen(host: str, port: int):
    try:
        return bind(host, port)
    except OSError as error:
        raise InputError("--port", "", f"cannot listen on {host}:{port}: {error.strerror or error}") from None


def _opened(plan: CampaignPlan, other: str) -> PracticeCourse:
    course = PracticeCourse(plan, other=other)
    course.open()
    return course


def run_practice(config_path: Path, scenario: str, *, sessions: int | None = None, name: str | None = None,
                 out: Path | None = None, max_turns: int | None = None, client_model: str | None = None,
                 counselor_model: str | None = None, host: str = "127.0.0.1", port: int = 0,
                 echo: Callable[[str], None] = print) -> None:
    """Serve the practice page until stopped; InputError (nothing written) for bad settings."""

    configure_offline_environment()
    config = practice_config(config_path, scenario, sessions=sessions, name=name, out=out, max_turns=max_turns,
                             client_model=client_model, counselor_model=counselor_model)
    plan = prepare_practice(config, config_path)
    sock = _listen(host, port)
    try:
        course = _opened(plan, "client")
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
    echo(STOPPED)


def run_client_practice(config_path: Path, scenario: str, *, sessions: int | None = None, name: str | None = None,
                        out: Path | None = None, max_turns: int | None = None, counselor: str | None = None,
                        counselor_model: str | None = None, rater: str | None = None, host: str = "127.0.0.1",
                        port: int = 0, echo: Callable[[str], None] = print) -> None:
    """A person plays the client (``scenario`` "free": themselves) against the configured counselor."""

    configure_offline_environment()
    config = client_practice_config(config_path, scenario, sessions=sessions, name=name, out=out,
                                    max_turns=max_turns, counselor=counselor, counselor_model=counselor_model,
                                    rater=rater)
    free = scenario == FREE
    begun = not free or profile_path(config.run_dir()).is_file()
    check_settings(config, config_path)
    plan = prepare_practice(config, config_path) if begun else None
    setup = None if begun else FreeSetup(start=lambda profile: _start_free(config, config_path, profile))
    sock = _listen(host, port)
    try:
        course = _opened(plan, "counselor") if plan is not None else None
    except BaseException:
        sock.close()
        raise
    try:
        who = "yourself (you fill in who you are on the page)" if free else plan.profiles[0].pseudonym
        echo(f"Role-play as the client: {who}; {config.sessions} sessions with the {config.counselor} counselor on "
             f"{config.models.counselor.model}; rater {config.client.rater}.")
        echo(f"Open {page_url(sock, host)} in a browser.")
        echo(f"Ctrl+C stops the server; the same command continues the course where it stopped. "
             f"Run directory: {config.run_dir()}. Research use, not a clinical service.")
        serve(course, sock, host, page=ClientPage(), setup=setup)
    except KeyboardInterrupt:
        pass
    finally:
        opened = course or (setup.course if setup else None)
        if opened is not None:
            opened.close()
    echo(STOPPED)


def _start_free(config: CampaignConfig, source: Path, profile: CaseProfile) -> PracticeCourse:
    """Keep the person's profile in the run directory, then open the course with it."""
    save_free_profile(config.run_dir(), profile)
    return _opened(prepare_practice(config, source), "counselor")
