"""Practice as the counselor: the course driver (interrupt/resume, end session, two sessions, records),
the page's input limits and escaping, and what the run directory holds afterwards."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from muspsy_sim.simulation.cli import app
from muspsy_sim.simulation.core.errors import InputError
from muspsy_sim.simulation.core.turns import ClientTurn, CounselorTurn
from muspsy_sim.simulation.practice.course_driver import PENDING_FILE, PracticeCourse, Refused
from muspsy_sim.simulation.practice.human_counselor import HUMAN_SOURCE
from tests.practice_helpers import CLIENT, open_course, say

runner = CliRunner()


@pytest.fixture
def course(tmp_path):
    course = open_course(tmp_path)
    yield course
    course.wait(60)
    course.close()


def counselor_texts(status) -> list[str]:
    """What the counselor said in the running session."""
    return [turn.text for turn in status.session.turns if isinstance(turn, CounselorTurn)]


def _checkpoints(course: PracticeCourse) -> int:
    return sum(1 for _ in course.graph.get_state_history(course.thread))


def test_the_course_waits_for_the_person_and_resumes_with_their_turn(course):
    status = course.status()
    assert status.phase == "your_turn"
    assert status.request == {"kind": "counselor_turn", "client_id": CLIENT, "session_index": 1, "turn_index": 0,
                              "stage": "opening"}
    assert status.position == "1.0"
    assert status.course.goal  # the notes' model planned the goal before the session began
    assert {key for key, _ in status.course.questionnaires.all_results()} == {"phq9", "gad7"}

    status = say(course, "  Hello Priya, what brings you here today?  ")
    assert status.position == "1.2"
    counselor, client = status.session.turns
    assert counselor == CounselorTurn(text="Hello Priya, what brings you here today?", stage="opening",
                                      source=HUMAN_SOURCE, retrieved=[], store_returned=[])
    assert isinstance(client, ClientTurn) and client.text
    assert not (course.run_dir.path / PENDING_FILE).exists()


def test_two_sessions_end_by_the_person_and_by_the_turn_limit(course, tmp_path):
    say(course, "Hello Priya. What would you like to work on?")
    status = say(course, "Let's stop here. This week, try writing down one worry each evening.", end=True)
    # Session 1 is recorded, the week has passed, and session 2 waits for its opening.
    assert status.position == "2.0" and status.request["stage"] == "opening"
    first = status.records[0]
    assert first.counselor == "human" and first.ended_by == "counselor"
    assert [t.speaker for t in first.turns] == ["counselor", "client", "counselor"]
    assert first.turns[-1].stage == "closing"
    assert {key for key, _ in first.questionnaires.results()} == {"phq9", "gad7", "wai_sr", "panas"}
    assert first.memory.counseling_assignments
    week = status.course.week  # session 2 opens with the client as the week left them
    assert status.course.client_state_start.distress == pytest.approx(
        first.client_state_end.distress + week.distress_change, abs=1e-3)

    for text in ("Welcome back.", "How did the week go?", "What did you notice?"):
        status = say(course, text)
    assert status.request["stage"] == "closing"  # three client turns: the person must close
    status = say(course, "Thank you. Keep the diary going.")
    assert status.phase == "finished"
    records = status.records
    assert [r.session_index for r in records] == [1, 2]
    assert records[1].ended_by == "max_turns" and records[1].turns[-1].stage == "closing"
    assert records[1].questionnaires.exit is not None
    manifest = json.loads(course.run_dir.manifest_path.read_text())
    assert manifest["status"] == "finished" and manifest["sessions_recorded"] == 2
    entry = manifest["courses"][CLIENT]
    assert {k: entry[k] for k in ("status", "sessions_done", "ended_by")} == {
        "status": "finished", "sessions_done": 2, "ended_by": "completed"}
    assert manifest["components"]["counselor"]["name"] == "human"
    assert manifest["config"]["counselor"].endswith("human_counselor:HumanCounselor")
    for name in ("sessions.jsonl", "checkpoints.sqlite", "chroma"):
        assert (course.run_dir.path / name).exists()
    with pytest.raises(Refused, match="not waiting"):
        course.submit("One more thing", False, "")

    run_dir = str(course.run_dir.path)
    course.close()
    assert runner.invoke(app, ["eval", run_dir]).exit_code == 0
    rows = [json.loads(line) for line in (course.run_dir.path / "metrics.jsonl").read_text().splitlines()]
    assert [r["counselor"] for r in rows] == ["human", "human"]
    assert runner.invoke(app, ["report", run_dir, "--out", str(tmp_path / "report.html")]).exit_code == 0
    exported = runner.invoke(app, ["export", run_dir, "--out", str(tmp_path / "train.jsonl")])
    assert exported.exit_code == 0 and "sessions kept 2" in exported.output
    assert "Let's stop here." in (tmp_path / "train.jsonl").read_text()


def test_a_client_who_leaves_gets_a_closing_turn_and_keeps_the_dropout(tmp_path):
    course = open_course(tmp_path, sessions=1, client_dynamics={"leave_below_trust": 9.9})
    status = say(course, "Hello Priya.")
    assert status.request["stage"] == "closing" and status.session.ended_by == "client"
    status = say(course, "That is all right. Take care this week.", end=True)
    assert status.phase == "finished"
    record = status.records[0]
    assert record.ended_by == "client"  # "end" on a closing turn does not overwrite the client's leaving
    assert [t.stage for t in record.turns if isinstance(t, CounselorTurn)] == ["opening", "closing"]
    course.close()


def test_unusable_turns_are_not_turns():
    from muspsy_sim.simulation.practice.human_counselor import HumanTurn, usable_turn

    assert usable_turn({"text": "  ok ", "end_session": True}) == HumanTurn("ok", True)
    assert usable_turn("plain text") == HumanTurn("plain text")
    for value in ({"text": " "}, {"text": "x" * 2001}, 42, {"end_session": True}, None):
        assert usable_turn(value) is None


def test_an_unusable_resume_is_asked_again_not_a_failed_course(course):
    from langgraph.types import Command

    status = course.status()
    course.graph.invoke(Command(resume={status.interrupt_id: {"text": "   "}}), course.thread,
                        context=course.context)
    again = course.status()
    assert again.phase == "your_turn" and again.position == "1.0" and again.request["asked_again"] == 1
    status = say(course, "Hello.")
    assert counselor_texts(status) == ["Hello."]


def test_refused_turns_change_nothing(course):
    say(course, "Hello Priya.")
    before = (course.status().session.turns, _checkpoints(course), course.run_dir.manifest_path.read_bytes())
    for text, reason in (("", "empty"), (" \n\t ", "empty"), ("x" * 2001, "at most 2,000")):
        with pytest.raises(Refused, match=reason):
            course.submit(text, False, "1.2")
    with pytest.raises(Refused, match="out of date"):
        course.submit("Hello again", False, "1.0")
    assert (course.status().session.turns, _checkpoints(course),
            course.run_dir.manifest_path.read_bytes()) == before
    assert course.status().position == "1.2"


def test_a_second_turn_while_the_client_answers_is_refused(tmp_path):
    course = open_course(tmp_path, **{"models": {role: {"model": "testdouble/slow"}
                                                for role in ("counselor", "client", "judge")}})
    status = course.status()
    course.submit("Hello Priya.", False, status.position)
    with pytest.raises(Refused, match="still answering"):
        course.submit("Hello again.", False, status.position)
    assert course.wait(60)
    assert counselor_texts(course.status()) == ["Hello Priya."]
    course.close()


def test_resume_does_not_take_a_practice_course_for_finished(tmp_path):
    course = open_course(tmp_path)
    say(course, "Hello Priya.")
    course.close()
    result = runner.invoke(app, ["resume", str(course.run_dir.path), "--no-progress"])
    assert result.exit_code == 0, result.output  # waiting for a person is not a failure
    assert "waiting for a person after session 0; go on with `python run_sim.py practice --client-model" \
        in result.output and "--scenario gad-priya-38 --name practice-gad-priya-38" in result.output
    assert json.loads((course.run_dir.path / "manifest.json").read_text())["courses"]["gad-priya-38"]["status"] \
        == "waiting"
    reopened = PracticeCourse(course.plan).open()
    reopened.continue_course()
    assert reopened.wait(60) and reopened.status().position == "1.2"
    assert counselor_texts(reopened.status()) == ["Hello Priya."]
    reopened.close()


def test_a_failing_model_is_shown_and_can_be_retried(tmp_path, page_for):
    failing = {"model": "faulty/testdouble/scripted", "retries": 0, "output_retries": 0, "backoff_scale": 0.001,
               "params": {"fault_rate": 1.0, "fault_kinds": ["server_error"]}}
    course = open_course(tmp_path, models={"counselor": {"model": "testdouble/scripted"}, "client": failing,
                                           "judge": {"model": "testdouble/scripted"}})
    status = course.status()
    assert status.phase == "failed" and "client" in status.error
    manifest = json.loads(course.run_dir.manifest_path.read_text())
    assert manifest["courses"][CLIENT]["status"] == "failed" and manifest["courses"][CLIENT]["error"]
    html = page_for(course).get("/").text
    assert "The simulation stopped" in html and 'action="/retry"' in html
    course.continue_course(retry=True)
    assert course.wait(60) and course.status().phase == "failed"  # the same fault again, still shown
    course.close()


def test_one_course_per_run_directory(course):
    with pytest.raises(InputError, match="another muspsy-sim process"):
        PracticeCourse(course.plan).open()


def test_a_turn_received_but_not_taken_is_sent_after_a_restart(tmp_path):
    course = open_course(tmp_path)
    say(course, "Hello Priya.")
    plan = course.plan
    course.close()
    # The server was killed after writing the pending turn, before the graph took it.
    (plan.run_dir.path / PENDING_FILE).write_text(json.dumps(
        {"position": "1.2", "turn": {"text": "What worries you most?", "end_session": False}}))
    reopened = PracticeCourse(plan).open()
    reopened.continue_course()
    assert reopened.wait(60)
    status = reopened.status()
    assert counselor_texts(status) == [
        "Hello Priya.", "What worries you most?"]
    assert status.position == "1.4" and not (plan.run_dir.path / PENDING_FILE).exists()
    reopened.close()

    # A pending turn the graph already took is dropped, not sent twice.
    (plan.run_dir.path / PENDING_FILE).write_text(json.dumps(
        {"position": "1.2", "turn": {"text": "What worries you most?", "end_session": False}}))
    again = PracticeCourse(plan).open()
    again.continue_course()
    assert again.wait(60) and again.status().position == "1.4"
    assert not (plan.run_dir.path / PENDING_FILE).exists()
    again.close()


# -- the page -------------------------------------------------------------------------

@pytest.fixture
def page_for():
    from starlette.testclient import TestClient

    from muspsy_sim.simulation.practice.server import create_app

    return lambda course: TestClient(create_app(course), base_url="http://127.0.0.1:8765")


@pytest.fixture
def page(course, page_for):
    return page_for(course)


def _token(html: str) -> str:
    return re.search(r'name="token" value="([^"]+)"', html).group(1)


def _message(html: str) -> str:
    return re.search(r'<p class="message" role="alert">(.*?)</p>', html, flags=re.S).group(1)


def test_page_posts_a_turn_and_escapes_what_it_shows(page, course):
    html = page.get("/").text
    assert 'id="turn-form"' in html and 'id="instructor"' not in html
    injected = '<script>window.__pwned = 1</script><img src=x onerror="alert(1)">'
    response = page.post("/turn", data={"text": injected, "action": "send", "position": "1.0", "token": _token(html)},
                         follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"
    course.wait(60)
    html = page.get("/").text
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html
    assert "<script" not in html and "onerror=" not in html.replace("onerror=&#34;", "")


@pytest.mark.parametrize("field,value,status,reason", [
    ("text", "", 400, "empty"),
    ("text", "   ", 400, "empty"),
    ("text", "x" * 2001, 400, "2,001 characters"),
    ("position", "1.4", 400, "out of date"),
    ("token", "forged", 403, "earlier start"),
])
def test_refused_posts_show_a_message_and_change_nothing(page, course, field, value, status, reason):
    html = page.get("/").text
    fields = {"text": "Hello", "action": "send", "position": "1.0", "token": _token(html), field: value}
    before = _checkpoints(course)
    response = page.post("/turn", data=fields)
    assert response.status_code == status
    assert reason in _message(response.text)
    assert _checkpoints(course) == before and course.status().position == "1.0"
    if field == "text" and value.strip():
        assert value in response.text  # the text comes back in the box, to shorten


def test_a_100_kb_post_is_refused_unread(page, course):
    html = page.get("/").text
    body = f"token={_token(html)}&position=1.0&action=send&text=".encode() + b"a" * 100_000
    before = _checkpoints(course)
    response = page.post("/turn", content=body, headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413 and "at most 2,000 characters" in _message(response.text)

    def chunks():  # no Content-Length: the limit holds while reading
        for start in range(0, len(body), 8192):
            yield body[start:start + 8192]

    response = page.post("/turn", content=chunks(), headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413
    assert _checkpoints(course) == before and course.status().position == "1.0"


def test_page_has_no_network_urls_and_strict_headers(page):
    for path in ("/", "/?instructor=1"):
        response = page.get(path)
        html = response.text
        assert not re.search(r"https?://|//[a-z]", html, flags=re.I), "a URL to the network"
        for target in re.findall(r'(?:src|href|action)="([^"]*)"', html):
            assert target.startswith(("/", "data:")), target
        assert "default-src 'none'" in response.headers["content-security-policy"]
    css = page.get("/practice.css").text
    assert "url(" not in css and "@import" not in css


def test_instructor_view_shows_the_hidden_state_only_when_asked(page, course):
    from markupsafe import escape  # as the page escapes

    hidden = str(escape(course.profile.private_facts[0].text))
    trainee = page.get("/").text
    assert hidden not in trainee and str(escape(course.profile.background.split(".")[0])) not in trainee
    assert str(escape(course.profile.presenting_problem)) in trainee  # the intake sheet
    instructor = page.get("/?instructor=1").text
    assert 'id="instructor"' in instructor and hidden in instructor
    assert "distress" in instructor and "trust" in instructor


def test_other_host_names_are_refused(page):
    assert page.get("/", headers={"host": "attacker.example"}).status_code == 400


def test_practice_help_imports_nothing_heavy():
    import subprocess
    import sys

    from tests.conftest import REPO

    code = ("import sys, runpy; sys.argv=['run_sim.py','practice','--help']\n"
            "try:\n    runpy.run_path('run_sim.py', run_name='__main__')\nexcept SystemExit: pass\n"
            "print('HEAVY', [m for m in ('torch','litellm','chromadb','langgraph','starlette','uvicorn') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout and "--scenario" in out.stdout


def test_bad_practice_settings_exit_2_and_write_nothing(tmp_path):
    from tests.conftest import scripted_config

    config = scripted_config(tmp_path)
    result = runner.invoke(app, ["practice", "--scenario", "tag:anxiety", "--config", str(config)])
    assert result.exit_code == 2 and "give one profile id" in result.output
    result = runner.invoke(app, ["practice", "--scenario", "nobody", "--config", str(config)])
    assert result.exit_code == 2
    assert not (tmp_path / "runs").exists()


def test_self_reports_read_as_a_counselor_reads_them():
    from muspsy_sim.simulation.core.questionnaires import QuestionnaireResult
    from muspsy_sim.simulation.practice.page_view import questionnaire

    phq9 = questionnaire("phq9", QuestionnaireResult(answers=[2, 2, 2, 2, 2, 1, 1, 1, 2], total=15))
    assert (phq9["total"], phq9["maximum"], phq9["band"]) == (15, 27, "moderately severe")
    assert phq9["alert"] == "item 9: More than half the days"
    assert questionnaire("gad7", QuestionnaireResult(answers=[0] * 7, total=0))["band"] == "minimal"
    panas = questionnaire("panas", QuestionnaireResult(answers=[3] * 20, total=60,
                                                       subscales={"positive": 30, "negative": 30}))
    assert panas["total"] is None and panas["subscales"] == [("negative", 30, 50), ("positive", 30, 50)]
    assert questionnaire("wai_sr", None) is None
