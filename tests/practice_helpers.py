"""Shared by the practice tests: a practice course on the scripted test double, and a practice server process."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from muspsy_sim.simulation.practice.course_driver import CourseStatus, PracticeCourse
from muspsy_sim.simulation.practice.practice_run import practice_config, prepare_practice
from tests.conftest import REPO, scripted_config

CLIENT = "gad-priya-38"


def open_course(tmp_path: Path, sessions: int = 2, max_turns: int = 3, **config) -> PracticeCourse:
    """A practice course on the scripted test double (client and notes), opened and started."""
    path = scripted_config(tmp_path, scenarios=[CLIENT], sessions=sessions, **config)
    plan = prepare_practice(practice_config(path, CLIENT, max_turns=max_turns), path)
    course = PracticeCourse(plan).open()
    course.continue_course()
    assert course.wait(60)
    return course


def say(course: PracticeCourse, text: str, end: bool = False) -> CourseStatus:
    status = course.status()
    assert status.phase == "your_turn", status
    course.submit(text, end, status.position)
    assert course.wait(60)
    return course.status()


class PracticeServer:
    """`run_sim.py practice` in its own process (the way a person starts it); ``kill`` is SIGKILL."""

    def __init__(self, config: Path, out: Path, sessions: int = 2, max_turns: int = 3, client_model: str | None = None,
                 extra: tuple[str, ...] = (), scenario: str = CLIENT):
        self.args = [sys.executable, str(REPO / "run_sim.py"), "practice", "--scenario", scenario, "--config",
                     str(config), "--out", str(out), "--sessions", str(sessions), "--max-turns", str(max_turns), *extra]
        if client_model:
            self.args += ["--client-model", client_model]
        self.process: subprocess.Popen | None = None
        self.url = ""

    def start(self, timeout: float = 120) -> "PracticeServer":
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(self.args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, env=env)
        deadline = time.monotonic() + timeout
        lines = []
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            lines.append(line)
            found = re.search(r"Open (http://\S+/) in a browser", line)
            if found:
                self.url = found.group(1)
                return self
        self.kill()
        raise AssertionError("the practice server did not start:\n" + "".join(lines))

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> int:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            return self.process.wait(30)
        return self.process.returncode if self.process else 0

    def get(self, path: str = "/") -> str:
        with urllib.request.urlopen(self.url.rstrip("/") + path, timeout=30) as response:
            return response.read().decode("utf-8")

    def post(self, path: str, fields: dict) -> int:
        data = urllib.parse.urlencode(fields).encode()
        request = urllib.request.Request(self.url.rstrip("/") + path, data=data, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    def wait_for_turn(self, timeout: float = 60, form: str = 'id="turn-form"') -> str:
        """The page once the course waits for the person (``form``: a counselor turn; it may first have to resume)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            html = self.get()
            if form in html:
                return html
            time.sleep(0.1)
        raise AssertionError(f"the course never waited for the person ({form})")


def form_value(html: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', html).group(1)


def open_client_course(tmp_path: Path, sessions: int = 2, max_turns: int = 2, scenario: str = CLIENT,
                       rater: str = "ana", **config) -> PracticeCourse:
    """A practice course with a person as the client, the counselor on the scripted test double, opened and started."""
    from muspsy_sim.simulation.practice.practice_run import client_practice_config

    path = scripted_config(tmp_path, scenarios=[CLIENT], sessions=sessions, **config)
    plan = prepare_practice(client_practice_config(path, scenario, max_turns=max_turns, rater=rater), path)
    course = PracticeCourse(plan, other="counselor").open()
    course.continue_course()
    assert course.wait(60)
    return course


def act(course: PracticeCourse, ratings: dict | None = None, text: str = "I keep worrying about work.",
        answer=lambda key, number: 1, end: bool = False) -> CourseStatus:
    """Do what the course waits for as the client: reply (rating the turn), rate the last turn, or answer."""
    from muspsy_sim.agents.client.questionnaires import instruments

    status = course.status()
    assert status.phase == "your_turn", status
    request = status.request
    ratings = {"empathy": 4, "relevance": 3, "push": 1, "engagement": 5} if ratings is None else ratings
    if request["kind"] == "client_turn":
        value = {"text": text, "end_session": end, "ratings": ratings}
    elif request["kind"] == "rate_turn":
        value = {"ratings": ratings}
    else:
        value = {"answers": {key: [answer(key, n) for n in range(1, len(instruments()[key].items) + 1)]
                             for key in request["keys"]}}
    course.send(value, status.position, expected=request["kind"])
    assert course.wait(60)
    return course.status()


def dialogue(html: str) -> list[tuple[str, str]]:
    """(speaker, text) of the current session's turns as the page shows them."""
    import html as html_lib

    section = html.split('id="dialogue"', 1)[1].split("</section>", 1)[0]
    return [(speaker, html_lib.unescape(text)) for speaker, text in
            re.findall(r'<div class="turn (counselor|client)">.*?<p class="text">(.*?)</p>', section, flags=re.S)]


@contextmanager
def server_only_page(url: str, errors: list[str], attempted: list[str]) -> Iterator:
    """A headless Chromium page opened at ``url`` that may reach nothing else: a request elsewhere is aborted
    and its URL listed in ``attempted``; console and page errors are listed in ``errors``."""
    from playwright.sync_api import sync_playwright

    from tests.test_report_browser import ARGS, CHROMIUM

    def only_this_server(route):
        if route.request.url.startswith(url) or route.request.url.startswith("data:"):
            route.continue_()
        else:
            attempted.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_context(service_workers="block").new_page()
            page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
            page.route("**/*", only_this_server)
            page.goto(url)
            yield page
        finally:
            browser.close()
