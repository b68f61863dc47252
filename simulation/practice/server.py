"""The practice page's server: Starlette, server-rendered Jinja2 templates, uvicorn on 127.0.0.1.

One server for both chairs: a ``PracticePage`` says what the page shows and how a posted form
becomes what the course is resumed with (``page_view.CounselorPage``, ``client_page.ClientPage``).
A free role-play not begun yet (``practice --as client --scenario free``) first serves the form
that creates its profile (``FreeSetup``).

Everything works without JavaScript: forms post and redirect back, and while the simulation
computes the page reloads itself (a meta refresh). Nothing is loaded from the network (the CSS
is a file beside this module, and the Content-Security-Policy allows only this server).
Every value shown is HTML-escaped (Jinja2 autoescape): the client's words are model output.

Robustness: one course per run directory (the RunDirectory lock, held by PracticeCourse);
empty, oversized or stale posts are refused with a message and change nothing; a form from
another site or an earlier server start is refused (a per-start token); Host headers other
than this server's names are refused (DNS rebinding); the server may be killed at any moment
(PracticeCourse resumes from the checkpoint when it starts again).
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import jinja2
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from muspsy_sim.scenarios.profile import CaseProfile

from ..core.errors import InputError
from .course_driver import CourseStatus, PracticeCourse, Refused
from .free_profile import FIELDS, ProfileRefused, free_profile
from .human_counselor import MAX_TURN_CHARS
from .page_view import CounselorPage

TEMPLATES = Path(__file__).resolve().parent / "templates"
# A turn of 2,000 characters, URL-encoded, is at most 24 kB (4-byte UTF-8, each byte as %XX).
MAX_BODY_BYTES = 32 * 1024
REFRESH_SECONDS = 2
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
                               "base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class BodyTooLarge(Exception):
    pass


def template_environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every {{ value }} is HTML-escaped: the client's turns are model output
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


async def read_form(request: Request, max_fields: int = 10) -> dict[str, str]:
    """The posted form, read up to MAX_BODY_BYTES (BodyTooLarge beyond: nothing more is read)."""
    declared = request.headers.get("content-length", "")
    if declared and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        raise BodyTooLarge(int(declared) if declared.isdigit() else 0)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise BodyTooLarge(len(body))

    async def replay() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    form = await Request(request.scope, replay).form(max_files=0, max_fields=max_fields)
    return {key: value for key, value in form.items() if isinstance(value, str)}


class PracticePage(Protocol):
    """One chair's page: its template, the values it shows, and what a post sends to the course."""

    template: str
    max_fields: int

    def values(self, status: CourseStatus, course: PracticeCourse, *, instructor: bool, message: str,
               posted: dict[str, str]) -> dict:
        """The template's values; ``posted`` is a refused form, shown again to correct."""
        ...

    def post(self, course: PracticeCourse, form: dict[str, str]) -> None:
        """Send the form's content to the course (Refused, with a message, when it cannot be taken)."""
        ...


@dataclass
class FreeSetup:
    """A free role-play not begun: the form that makes its profile; ``start`` opens the course with it."""

    start: Callable[[CaseProfile], PracticeCourse]
    course: PracticeCourse | None = None


def create_app(course: PracticeCourse | None, *, host: str = "127.0.0.1", page: PracticePage | None = None,
               setup: FreeSetup | None = None) -> Starlette:
    environment = template_environment()
    token = secrets.token_urlsafe(24)  # forms of an earlier start, or of another site, are refused
    css = (TEMPLATES / "practice.css").read_text(encoding="utf-8")
    page = page or CounselorPage()

    def current() -> PracticeCourse | None:
        return course if setup is None else setup.course

    def render(instructor: bool, message: str = "", posted: dict | None = None, status_code: int = 200) -> HTMLResponse:
        opened = current()
        common = dict(token=token, max_chars=MAX_TURN_CHARS, refresh_seconds=REFRESH_SECONDS, message=message)
        if opened is None:
            html = environment.get_template("free_profile.html.j2").render(
                **common, fields=FIELDS, posted=posted or {})
        else:
            values = page.values(opened.status(), opened, instructor=instructor, message=message, posted=posted or {})
            html = environment.get_template(page.template).render(
                **values, token=token, max_chars=MAX_TURN_CHARS, refresh_seconds=REFRESH_SECONDS)
        return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)

    def back(instructor: bool) -> RedirectResponse:
        return RedirectResponse("/?instructor=1" if instructor else "/", status_code=303, headers=SECURITY_HEADERS)

    async def form_or_refusal(request: Request, instructor: bool) -> dict | Response:
        try:
            form = await read_form(request, page.max_fields)
        except BodyTooLarge:
            return render(instructor, f"The form was larger than {MAX_BODY_BYTES // 1024} kB; a turn may have at most "
                                      f"{MAX_TURN_CHARS:,} characters. Nothing was sent.", status_code=413)
        if not secrets.compare_digest(form.get("token", ""), token):
            return render(instructor or form.get("instructor") == "1",
                          "This form came from an earlier start of the practice server or from another "
                          "page; nothing was sent. What you wrote is in the form again: send it from here.",
                          posted=form, status_code=403)
        return form

    async def show(request: Request) -> Response:
        opened = current()
        if opened is not None:
            opened.continue_course()  # a course cut off by a restart goes on when its page is opened
        return render(request.query_params.get("instructor") == "1")

    async def post_turn(request: Request) -> Response:
        instructor = request.query_params.get("instructor") == "1"
        form = await form_or_refusal(request, instructor)
        if isinstance(form, Response):
            return form
        instructor = instructor or form.get("instructor") == "1"
        opened = current()
        if opened is None:
            return render(False, "The role-play has not begun: fill in who you are first.", status_code=400)
        try:
            page.post(opened, form)
        except Refused as refused:
            return render(instructor, str(refused), posted=form, status_code=400)
        return back(instructor)

    async def post_profile(request: Request) -> Response:
        form = await form_or_refusal(request, False)
        if isinstance(form, Response):
            return form
        if setup is None or setup.course is not None:
            return back(False)  # already begun: the profile is not changed
        try:
            setup.course = setup.start(free_profile(form))
        except ProfileRefused as refused:
            return render(False, str(refused), posted=form, status_code=400)
        except InputError as error:
            return render(False, f"The role-play cannot begin: {error}", posted=form, status_code=400)
        setup.course.continue_course()
        return back(False)

    async def retry(request: Request) -> Response:
        form = await form_or_refusal(request, False)
        if isinstance(form, Response):
            return form
        if current() is not None:
            current().continue_course(retry=True)
        return back(form.get("instructor") == "1")

    async def stylesheet(request: Request) -> Response:
        return Response(css, media_type="text/css", headers=SECURITY_HEADERS)

    loopback = host in LOOPBACK
    hosts = list(LOOPBACK) if loopback else ["*"]  # --host beyond loopback: the person chose to be reachable
    return Starlette(
        routes=[Route("/", show, methods=["GET"]), Route("/turn", post_turn, methods=["POST"]),
                Route("/profile", post_profile, methods=["POST"]), Route("/retry", retry, methods=["POST"]),
                Route("/practice.css", stylesheet, methods=["GET"])],
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=hosts)],
    )


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port`` (0: a free port), so the address is known before serving."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(128)  # connections made as soon as the address is printed wait in the backlog
    except OSError:
        sock.close()
        raise
    return sock


def page_url(sock: socket.socket, host: str) -> str:
    port = sock.getsockname()[1]
    shown = f"[{host.strip('[]')}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def serve(course: PracticeCourse | None, sock: socket.socket, host: str, *, page: PracticePage | None = None,
          setup: FreeSetup | None = None) -> None:
    """Serve until Ctrl+C or SIGTERM; the course keeps going from its checkpoint next time."""

    app = create_app(course, host=host, page=page, setup=setup)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=2)
    if course is not None:
        course.continue_course()
    uvicorn.Server(config).run(sockets=[sock])
