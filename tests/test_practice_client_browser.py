"""A person plays the client of a library profile for 2 sessions in headless Chromium, on the server as
`run_sim.py practice --as client` starts it, against the test double's MusPsy counselor: answers PHQ-9 and
GAD-7 before each session, replies to and rates every counselor turn (the closing one too), and answers
WAI-SR and PANAS after each session. The records validate against the printed schema with `client: human`,
and eval, report and export accept them.

Uses Debian's Chromium (/usr/bin/chromium) through the playwright package, as tests/test_report_browser.py.
"""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from muspsy_sim.simulation.cli import app
from tests.conftest import scripted_config
from tests.practice_helpers import CLIENT, PracticeServer, server_only_page
from tests.test_practice_browser import _until
from tests.test_record import validator
from tests.test_report_browser import CHROMIUM

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed (apt-get install chromium)")
FORM = "!!document.querySelector('#client-form')"


def _kind(page) -> str:
    _until(page, FORM)
    return page.get_attribute("#client-form", "data-kind")


def _answer_questionnaires(page, choice: int = 2) -> list[str]:
    """Click one answer per item (the lowest value plus ``choice``, within the scale); return the instruments."""
    keys = page.eval_on_selector_all("fieldset.instrument", "nodes => nodes.map(n => n.dataset.key)")
    for item in page.locator("#client-form .item").all():
        radios = item.locator("input[type=radio]")
        radios.nth(min(choice, radios.count() - 1)).check()
    page.click("#client-form button[type=submit]")
    return keys


def _rate(page, ratings: dict[str, int]) -> None:
    for item, value in ratings.items():
        page.check(f"input[name=rate_{item}][value='{value}']")


def test_a_person_plays_two_sessions_as_the_client(tmp_path):
    pytest.importorskip("playwright", reason="the playwright package is not installed")

    config = scripted_config(tmp_path, scenarios=[CLIENT], sessions=2)
    server = PracticeServer(config, tmp_path / "runs", sessions=2, max_turns=2,
                            extra=("--as", "client", "--rater", "pilot-07")).start()
    run_dir = tmp_path / "runs" / f"practice-client-{CLIENT}"
    errors: list[str] = []
    attempted: list[str] = []
    rated: list[dict] = []
    asked: list[list[str]] = []
    try:
        with server_only_page(server.url, errors, attempted) as page:
            for session in (1, 2):
                assert _kind(page) == "questionnaires" and f"Before session {session}" in page.inner_text("#client-form h2")
                persona = page.inner_text("#persona")
                assert "Priya" in persona and "What you keep to yourself" in persona
                assert "This week" in page.inner_text("#situation")
                assert not re.search(r"\d\.\d|\d+/10|(trust|distress)\W+\d", page.inner_text("aside"))  # no state numbers
                asked.append(_answer_questionnaires(page))
                for number, reply in enumerate(("Work has been too much lately.", "I lie awake going over emails.")):
                    assert _kind(page) == "client_turn"
                    turns = page.locator("#dialogue .turn").count()
                    assert page.locator("#dialogue .turn.counselor").count() == number + 1
                    ratings = {"empathy": 4 - number, "relevance": 3, "push": 1 + number, "engagement": 5}
                    _rate(page, ratings)
                    rated.append(ratings)
                    page.fill("textarea[name=text]", reply)
                    page.click("#client-form button[value=send]")
                    _until(page, f"document.querySelectorAll('#dialogue .turn').length >= {turns + 2}")
                assert _kind(page) == "rate_turn" and "The session has ended" in page.inner_text("#client-form")
                closing = {"empathy": 5, "engagement": 4}  # two items left unrated
                _rate(page, closing)
                rated.append(closing)
                page.click("#client-form button[value=rate]")
                assert _kind(page) == "questionnaires" and f"After session {session}" in page.inner_text("#client-form h2")
                asked.append(_answer_questionnaires(page, choice=3))
            assert _kind(page) == "questionnaires" and "After the last session" in page.inner_text("#client-form h2")
            asked.append(_answer_questionnaires(page, choice=1))
            _until(page, "!!document.querySelector('#finished')")
            assert page.locator("details.record").count() == 2
            assert not re.search(r"https?://", page.content())
    finally:
        server.stop()

    assert errors == [] and attempted == []
    assert asked == [["phq9", "gad7"], ["wai_sr", "panas"], ["phq9", "gad7"], ["wai_sr", "panas"], ["phq9", "gad7"]]
    records = [json.loads(line) for line in (run_dir / "sessions.jsonl").read_text().splitlines()]
    session_schema = validator("session")
    recorded = []
    for record in records:
        session_schema.validate(record)
        assert (record["client"], record["rater"], record["counselor"]) == ("human", "pilot-07", "muspsy")
        by_turn: dict[int, dict] = {}
        for rating in record["turn_ratings"]:
            assert rating["source"] == "human"
            if rating["rating"] is not None:
                by_turn.setdefault(rating["turn"], {})[rating["item"]] = rating["rating"]
        counselor = [i for i, t in enumerate(record["turns"]) if t["speaker"] == "counselor"]
        assert sorted(by_turn) == counselor  # every counselor turn rated
        recorded += [by_turn[i] for i in counselor]
        assert [t["source"] for t in record["turns"] if t["speaker"] == "client"] == ["human", "human"]
        assert record["questionnaires"]["phq9"]["answers"] == [2] * 9 and record["questionnaires"]["phq9"]["mode"] == "human"
        assert record["questionnaires"]["wai_sr"]["answers"] == [4] * 12
    assert recorded == rated
    assert records[1]["questionnaires"]["exit"]["gad7"]["answers"] == [1] * 7

    runner = CliRunner()
    evaluated = runner.invoke(app, ["eval", str(run_dir)])
    assert evaluated.exit_code == 0, evaluated.output
    assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == 2
    reported = runner.invoke(app, ["report", str(run_dir), "--out", str(tmp_path / "report.html")])
    assert reported.exit_code == 0 and "I lie awake going over emails." in (tmp_path / "report.html").read_text()
    exported = runner.invoke(app, ["export", str(run_dir), "--out", str(tmp_path / "train.jsonl")])
    assert exported.exit_code == 0 and "sessions kept 2" in exported.output
    table = runner.invoke(app, ["export", str(run_dir), "--format", "ratings", "--out", str(tmp_path / "r.parquet")])
    assert table.exit_code == 0, table.output
