"""The practice page's server: Starlette, server-rendered Jinja2 templates, uvicorn on 127.0.0.1.

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
from pathlib import Path

import jinja2
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from .course_driver import PracticeCourse, Refused
from .human_counselor import MAX_TURN_CHARS
from .page_view import page

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


async def read_form(request: Request) -> dict[str, str]:
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

    form = await Request(request.scope, replay).form(max_files=0, max_fields=10)
    return {key: value for key, value in form.items() if isinstance(value, str)}


def create_app(course: PracticeCourse, *, host: str = "127.0.0.1") -> Starlette:
    environment = template_environment()
    token = secrets.token_urlsafe(24)  # forms of an earlier start, or of another site, are refused
    css = (TEMPLATES / "practice.css").read_text(encoding="utf-8")

    def render(instructor: bool, message: str = "", draft: str = "", status_code: int = 200) -> HTMLResponse:
        status = course.status()
        values = page(status, course.profile, course.config, instructor=instructor, message=message, draft=draft)
        html = environment.get_template("practice.html.j2").render(
            **values, token=token, max_chars=MAX_TURN_CHARS, refresh_seconds=REFRESH_SECONDS)
        return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)

    def back(instructor: bool) -> RedirectResponse:
        return RedirectResponse("/?instructor=1" if instructor else "/", status_code=303, headers=SECURITY_HEADERS)

    async def show(request: Request) -> Response:
        course.continue_course()  # a course cut off by a restart goes on when its page is opened
        return render(request.query_params.get("instructor") == "1")

    async def post_turn(request: Request) -> Response:
        instructor = request.query_params.get("instructor") == "1"
        try:
            form = await read_form(request)
        except BodyTooLarge:
            return render(instructor, f"The form was larger than {MAX_BODY_BYTES // 1024} kB; a turn may have at most "
                                      f"{MAX_TURN_CHARS:,} characters. Nothing was sent to the client.", status_code=413)
        instructor = instructor or form.get("instructor") == "1"
        text = form.get("text", "")
        if not secrets.compare_digest(form.get("token", ""), token):
            return render(instructor, "This form came from an earlier start of the practice server or from another "
                                      "page; your turn was not sent. It is in the box again: send it from here.",
                          draft=text, status_code=403)
        try:
            course.submit(text, form.get("action") == "end", form.get("position", ""))
        except Refused as refused:
            return render(instructor, str(refused), draft=text, status_code=400)
        return back(instructor)

    async def retry(request: Request) -> Response:
        try:
            form = await read_form(request)
        except BodyTooLarge:
            return render(False, "The form was too large; nothing was done.", status_code=413)
        if not secrets.compare_digest(form.get("token", ""), token):
            return render(form.get("instructor") == "1", "This form came from an earlier start of the practice "
                                                        "server or another page; nothing was done.", status_code=403)
        course.continue_course(retry=True)
        return back(form.get("instructor") == "1")

    async def stylesheet(request: Request) -> Response:
        return Response(css, media_type="text/css", headers=SECURITY_HEADERS)

    loopback = host in LOOPBACK
    hosts = list(LOOPBACK) if loopback else ["*"]  # --host beyond loopback: the person chose to be reachable
    return Starlette(
        routes=[Route("/", show, methods=["GET"]), Route("/turn", post_turn, methods=["POST"]),
                Route("/retry", retry, methods=["POST"]), Route("/practice.css", stylesheet, methods=["GET"])],
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


def serve(course: PracticeCourse, sock: socket.socket, host: str) -> None:
    """Serve until Ctrl+C or SIGTERM; the course keeps going from its checkpoint next time."""

    app = create_app(course, host=host)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=2)
    course.continue_course()
    uvicorn.Server(config).run(sockets=[sock])
