"""A person practises a 2-session course in headless Chromium, on the practice server as `run_sim.py practice`
starts it: types counselor turns, gets the test double client's replies, ends session 1, reads the
between-session report, opens session 2 with the client's evolved state and ends it. The run directory
then holds 2 session records that eval, report and export accept.

Uses Debian's Chromium (/usr/bin/chromium) through the playwright package, as tests/test_report_browser.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from muspsy_sim.simulation.cli import app
from tests.conftest import scripted_config
from tests.practice_helpers import CLIENT, PracticeServer, server_only_page
from tests.test_report_browser import CHROMIUM

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed (apt-get install chromium)")
WAIT_MS = 60_000


def _until(page, script: str) -> None:
    """Poll ``script`` across the page's own reloads (it refreshes itself while the simulation works)."""
    from playwright.sync_api import Error

    for _ in range(WAIT_MS // 100):
        try:
            if page.evaluate(script):
                return
        except Error:  # the page was reloading
            pass
        page.wait_for_timeout(100)
    raise AssertionError(f"timed out waiting for: {script}")


def _say(page, text: str, button: str = "send") -> None:
    """Type a turn and send it; with "send", wait until the client has answered and the form is back."""
    turns_before = page.locator("#dialogue .turn").count()
    page.fill("textarea[name=text]", text)
    page.click(f"#turn-form button[value={button}]")
    if button == "send":
        _until(page, f"document.querySelectorAll('#dialogue .turn').length >= {turns_before + 2}"
                     " && !!document.querySelector('#turn-form')")


def test_a_person_practises_a_two_session_course(tmp_path):
    pytest.importorskip("playwright", reason="the playwright package is not installed")

    config = scripted_config(tmp_path, scenarios=[CLIENT], sessions=2)
    server = PracticeServer(config, tmp_path / "runs", sessions=2, max_turns=3).start()
    run_dir = tmp_path / "runs" / f"practice-{CLIENT}"
    errors: list[str] = []
    attempted: list[str] = []
    try:
        with server_only_page(server.url, errors, attempted) as page:
            _until(page, "!!document.querySelector('#turn-form')")  # it reloads itself while the course starts

            # Session 1: the intake sheet and the notes, two exchanges, then the person ends it.
            assert "Presenting problem" in page.inner_text("#intake")
            assert "Machine-written" in page.inner_text("#notes")
            assert page.locator("#instructor").count() == 0
            _say(page, "Hello Priya, thank you for coming. What brings you here today?")
            replies = page.locator("#dialogue .turn.client .text").all_inner_texts()
            assert len(replies) == 1 and replies[0]
            _say(page, "It sounds like the worry follows you home. When is it worst?")
            assert page.locator("#dialogue .turn.client").count() == 2
            _say(page, "Let's stop here. This week, try writing down one worry each evening.", button="end")

            # Between sessions: the client's own report, then session 2 waits for its opening.
            _until(page, "!!document.querySelector('#between') && !!document.querySelector('#turn-form')")
            between = page.inner_text("#between")
            assert "Since session 1" in between and "WAI-SR" in between and "PANAS" in between
            assert "about the week" in between and "Homework from last time" in between
            assert "Session 2 of 2" in page.inner_text("header")
            assert page.locator("#dialogue .turn").count() == 0
            assert "Memory of session 1" in page.inner_text("#notes")

            # The instructor view shows the evolved client: session 2 starts where the week left session 1.
            page.click("text=turn on")
            page.wait_for_selector("#instructor")
            shown_start = float(page.locator("#instructor table.state tr", has_text="distress").first
                                .locator("td").nth(1).inner_text())
            page.click("text=turn off")

            _say(page, "Welcome back, Priya. How did the worry diary go?")
            _say(page, "What did you notice when you wrote the worries down?")
            _say(page, "Thank you. Keep the diary this week and notice one worry that did not come true.",
                 button="end")
            _until(page, "!!document.querySelector('#finished')")
            assert "The course is finished" in page.inner_text("#finished")
            assert page.locator("details.record").count() == 2
            assert not re.search(r"https?://", page.content())
    finally:
        server.stop()

    assert errors == []
    assert attempted == [], f"the page tried to reach beyond the practice server: {attempted}"

    records = [json.loads(line) for line in (run_dir / "sessions.jsonl").read_text().splitlines()]
    assert [(r["session_index"], r["counselor"], r["ended_by"]) for r in records] == [
        (1, "human", "counselor"), (2, "human", "counselor")]
    assert [t["text"] for t in records[1]["turns"] if t["speaker"] == "counselor"][0].startswith("Welcome back")
    assert records[1]["client_state_start"]["distress"] == pytest.approx(shown_start, abs=0.01)
    assert records[1]["client_state_start"] != records[0]["client_state_end"]  # the week moved the client
    _eval_report_export(run_dir, tmp_path)


def _eval_report_export(run_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    evaluated = runner.invoke(app, ["eval", str(run_dir)])
    assert evaluated.exit_code == 0, evaluated.output
    assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == 2
    reported = runner.invoke(app, ["report", str(run_dir), "--out", str(tmp_path / "report.html")])
    assert reported.exit_code == 0, reported.output
    assert "Welcome back, Priya" in (tmp_path / "report.html").read_text()
    exported = runner.invoke(app, ["export", str(run_dir), "--out", str(tmp_path / "train.jsonl")])
    assert exported.exit_code == 0 and "sessions kept 2" in exported.output
