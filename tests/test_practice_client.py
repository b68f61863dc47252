"""A person in the client's chair (`practice --as client`): the course waits for their replies, ratings and
answers (LangGraph interrupts), records them as given (nothing filled in), and the run reads like any other."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from muspsy_sim.simulation.cli import app
from muspsy_sim.simulation.core.turns import ClientTurn, CounselorTurn, TurnRating
from muspsy_sim.simulation.practice.course_driver import PENDING_FILE, PracticeCourse, Refused
from tests.practice_helpers import CLIENT, act, open_client_course
from tests.test_record import validator

runner = CliRunner()


@pytest.fixture
def course(tmp_path):
    course = open_client_course(tmp_path)
    yield course
    course.wait(60)
    course.close()


def _checkpoints(course: PracticeCourse) -> int:
    return sum(1 for _ in course.graph.get_state_history(course.thread))


def _play_course(course: PracticeCourse) -> list[str]:
    """Play the whole course: every turn rated (one item left unrated), questionnaires answered but one item."""
    kinds = []
    while (status := course.status()).phase == "your_turn":
        kinds.append(status.request["kind"])
        act(course, ratings={"empathy": 4, "relevance": None, "push": 2, "engagement": 5},
            answer=lambda key, n: None if (key, n) in {("phq9", 2), ("wai_sr", 2)} else 1)
    assert status.phase == "finished", status
    return kinds


def test_the_course_waits_for_the_person_where_a_client_acts(course):
    status = course.status()
    # Before session 1: PHQ-9 and GAD-7, from the person; the counselor's goal is planned already.
    assert status.request["kind"] == "questionnaires" and status.request["keys"] == ["phq9", "gad7"]
    assert status.position == "1.before.phq9+gad7" and status.course.goal
    status = act(course)
    # The counselor (the test double's MusPsy counselor) opened; the person replies and rates the opening.
    assert status.request == {"kind": "client_turn", "client_id": CLIENT, "session_index": 1, "turn_index": 1,
                              "position": "1.1", "rate": True}
    opening = status.session.turns[0]
    assert isinstance(opening, CounselorTurn) and opening.source == "model" and "Priya" in opening.text
    status = act(course, text="  Work keeps me up at night.  ")
    counselor, client, answer = status.session.turns
    assert client.to_dict() == {"speaker": "client", "text": "Work keeps me up at night.", "state": None,
                                "appraisal": None, "disclosed_fact": None, "risk_disclosed": False, "source": "human"}
    assert client.by_person
    assert "work keeps me up at night" in answer.text.lower()  # the counselor heard the person
    assert status.session.turn_ratings[0] == TurnRating(turn=0, item="empathy", rating=4, source="human", rater="ana")
    assert not (course.run_dir.path / PENDING_FILE).exists()


def test_two_sessions_are_recorded_with_the_persons_ratings_and_nothing_filled_in(course, tmp_path):
    kinds = _play_course(course)
    # Per session: PHQ-9/GAD-7, two replies (max_turns 2), the closing turn's rating, WAI-SR/PANAS; exit at the end.
    session = ["questionnaires", "client_turn", "client_turn", "rate_turn", "questionnaires"]
    assert kinds == session + session + ["questionnaires"]
    lines = (course.run_dir.path / "sessions.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    session_schema, turn_schema = validator("session"), validator("turn")
    for record in records:
        session_schema.validate(record)
        for turn in record["turns"]:
            turn_schema.validate(turn)
        assert (record["client"], record["rater"], record["counselor"]) == ("human", "ana", "muspsy")
        counselor_turns = [i for i, t in enumerate(record["turns"]) if t["speaker"] == "counselor"]
        assert sorted({r["turn"] for r in record["turn_ratings"]}) == counselor_turns  # the closing one too
        assert all(r["source"] == "human" for r in record["turn_ratings"])
        assert [r["rating"] for r in record["turn_ratings"] if r["item"] == "relevance"] == [None] * 3
        phq9 = record["questionnaires"]["phq9"]
        assert phq9["answers"][1] is None and phq9["total"] is None and phq9["filled_in"] == []
        assert phq9["mode"] == "human" and phq9["methods"] == {"human": 8} and phq9["latent"] == []
        assert record["questionnaires"]["wai_sr"]["subscales"]["task"] is None  # item 2 is a task item
        assert record["questionnaires"]["wai_sr"]["subscales"]["bond"] == 4
    assert "exit" in records[1]["questionnaires"] and records[1]["week_before"]["life_events"] is not None
    manifest = json.loads(course.run_dir.manifest_path.read_text())
    validator("manifest").validate(manifest)
    assert manifest["config"]["client"]["kind"] == "human" and manifest["config"]["client"]["rater"] == "ana"
    assert manifest["components"]["client"]["appraisal"] == "human" and manifest["status"] == "finished"

    run_dir = str(course.run_dir.path)
    course.close()
    assert runner.invoke(app, ["eval", run_dir]).exit_code == 0
    rows = [json.loads(line) for line in (course.run_dir.path / "metrics.jsonl").read_text().splitlines()]
    first = rows[0]
    assert first["client"] == "human" and first["rater"] == "ana"
    assert first["metrics"]["phq9"] is None and first["metrics"]["gad7"] == 7.0  # unanswered item: no total
    assert first["metrics"]["rated_empathy"] == 4.0 and first["metrics"]["rated_relevance"] is None
    assert first["metrics"]["distress_start"] is None and "distress_start" in first["not_applicable"]
    assert first["answers"]["phq9"] == {"asked": 9, "answered": 8}
    summary = json.loads((course.run_dir.path / "summary.json").read_text())
    assert summary["answer_coverage"]["person"]["turn_ratings"] == {"asked": 24, "answered": 18}
    assert "client" not in summary["answer_coverage"]  # no model answered for the client
    report = runner.invoke(app, ["report", run_dir, "--out", str(tmp_path / "report.html")])
    assert report.exit_code == 0, report.output
    exported = runner.invoke(app, ["export", run_dir, "--out", str(tmp_path / "train.jsonl")])
    assert exported.exit_code == 0 and "sessions kept 2" in exported.output
    shown = runner.invoke(app, ["inspect", run_dir, "--client", CLIENT, "--session", "1"])
    assert shown.exit_code == 0 and "rated by the client: empathy 4" in shown.output
    ratings = runner.invoke(app, ["export", run_dir, "--format", "ratings", "--out", str(tmp_path / "r.csv")])
    assert ratings.exit_code == 0, ratings.output
    table = (tmp_path / "r.csv").read_text().splitlines()
    assert len([line for line in table if ",turn,appraisal," in line]) == 24  # 2 sessions x 3 turns x 4 items


def test_a_person_who_leaves_ends_the_session_and_the_closing_turn_is_rated(course):
    act(course)  # PHQ-9, GAD-7
    status = act(course, text="I think I want to stop here.", end=True)
    assert status.request["kind"] == "rate_turn" and status.session.ended_by == "client"
    status = act(course, ratings={})  # nothing rated: recorded as unrated
    status = act(course)  # WAI-SR, PANAS
    record = status.records[0]
    assert record.ended_by == "client" and [t.speaker for t in record.turns] == ["counselor", "client", "counselor"]
    assert [r.rating for r in record.turn_ratings if r.turn == 2] == [None] * 4


def test_a_risk_disclosure_in_the_persons_words_gets_the_counselors_safety_step(course):
    act(course)
    status = act(course, text="Some nights I want to die.")
    reply = status.session.turns[-1]
    assert status.session.turns[1].risk_disclosed is True
    assert reply.source == "safety" and reply.safety.reason == "disclosure"


@pytest.mark.parametrize("value,reason,on_page", [
    ({"text": "", "end_session": False, "ratings": {}}, "empty", True),
    ({"text": "x" * 2001, "end_session": False, "ratings": {}}, "at most 2,000", True),
    ({"text": "hi", "end_session": False, "ratings": {"empathy": 7}}, "whole number from 1 to 5", True),
    # The page reads only the four items' fields, so this one can only come from elsewhere.
    ({"text": "hi", "end_session": False, "ratings": {"mood": 3}}, "unknown rating item", False),
])
def test_unusable_replies_are_refused_on_the_page_and_asked_again_in_the_graph(course, value, reason, on_page):
    from langgraph.types import Command

    from muspsy_sim.simulation.engine.human_client import reply_of
    from muspsy_sim.simulation.practice.client_page import ClientPage

    act(course)
    with pytest.raises(ValueError, match=reason):
        reply_of(value)
    status, before = course.status(), _checkpoints(course)
    form = {"form": "client_turn", "position": status.position, "text": value["text"], "action": "send",
            **{f"rate_{k}": str(v) for k, v in value["ratings"].items()}}
    if on_page:
        with pytest.raises(Refused):
            ClientPage().post(course, form)
    assert _checkpoints(course) == before and course.status().position == "1.1"
    # Sent to the graph anyway (an old page, a hand-made post): the client node asks again, nothing recorded.
    course.graph.invoke(Command(resume={status.interrupt_id: value}), course.thread, context=course.context)
    again = course.status()
    assert again.position == "1.1" and again.request["asked_again"] == 1 and len(again.session.turns) == 1


def test_answers_out_of_the_scale_and_stale_posts_are_refused(course):
    from muspsy_sim.simulation.practice.client_page import ClientPage

    status, before = course.status(), _checkpoints(course)
    page = ClientPage()
    with pytest.raises(Refused, match="not one of the answers"):
        page.post(course, {"form": "questionnaires", "position": status.position, "q_phq9_1": "4"})
    with pytest.raises(Refused, match="out of date"):
        page.post(course, {"form": "questionnaires", "position": "2.before.phq9+gad7", "q_phq9_1": "1"})
    with pytest.raises(Refused, match="not waiting for this"):
        page.post(course, {"form": "client_turn", "position": status.position, "text": "hello"})
    with pytest.raises(Refused, match="does not belong"):
        page.post(course, {"form": "questionnaires", "position": "1.before.phq9+evil"})
    assert _checkpoints(course) == before and course.status().position == "1.before.phq9+gad7"


def test_a_reply_received_but_not_taken_is_sent_after_a_restart(tmp_path):
    course = open_client_course(tmp_path)
    act(course)
    plan = course.plan
    course.close()
    pending = {"position": "1.1", "resume": {"text": "I could not sleep.", "end_session": False,
                                              "ratings": {"empathy": 5, "relevance": 4, "push": 1, "engagement": 5}}}
    (plan.run_dir.path / PENDING_FILE).write_text(json.dumps(pending))
    reopened = PracticeCourse(plan, other="counselor").open()
    reopened.continue_course()
    assert reopened.wait(60)
    status = reopened.status()
    assert [t.text for t in status.session.turns if isinstance(t, ClientTurn)] == ["I could not sleep."]
    assert [r.rating for r in status.session.turn_ratings] == [5, 4, 1, 5]
    assert status.position == "1.3" and not (plan.run_dir.path / PENDING_FILE).exists()
    reopened.close()


def test_the_page_shows_the_role_never_the_state_and_escapes_what_it_shows(course):
    from markupsafe import escape
    from starlette.testclient import TestClient

    from muspsy_sim.simulation.practice.client_page import ClientPage
    from muspsy_sim.simulation.practice.server import create_app

    page = TestClient(create_app(course, page=ClientPage()), base_url="http://127.0.0.1:8765")
    html = page.get("/").text
    assert 'data-kind="questionnaires"' in html and "Before session 1" in html and "not a clinical service" in html
    assert str(escape(course.profile.private_facts[0].text)) in html  # the role's private facts, to play
    assert "trust_threshold" not in html and "distress" not in html.lower().replace("distress of your own", "")
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    answers = {f"q_{key}_{n}": "1" for key, count in (("phq9", 9), ("gad7", 7)) for n in range(1, count + 1)}
    response = page.post("/turn", data={"form": "questionnaires", "position": "1.before.phq9+gad7", "token": token,
                                        **answers}, follow_redirects=False)
    assert response.status_code == 303
    course.wait(60)
    html = page.get("/").text
    assert 'name="rate_empathy"' in html and "I felt understood by the counselor." in html
    injected = '<script>window.__pwned = 1</script>'
    fields = {"form": "client_turn", "position": "1.1", "token": token, "text": injected, "action": "send",
              "rate_empathy": "5"}
    assert page.post("/turn", data=fields, follow_redirects=False).status_code == 303
    course.wait(60)
    html = page.get("/").text
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in html and "<script" not in html
    assert not re.search(r"https?://|//[a-z]", html, flags=re.I)
    refused = page.post("/turn", data={**fields, "position": "1.3", "text": "again", "rate_empathy": "9"})
    assert refused.status_code == 400 and "not one of the answers" in refused.text and ">again</textarea>" in refused.text
    assert page.post("/turn", data={**fields, "token": "forged"}).status_code == 403
    assert page.get("/", headers={"host": "attacker.example"}).status_code == 400


def test_free_role_play_starts_from_the_profile_the_person_fills_in(tmp_path):
    from starlette.testclient import TestClient

    from muspsy_sim.simulation.practice.client_page import ClientPage
    from muspsy_sim.simulation.practice.free_profile import profile_path
    from muspsy_sim.simulation.practice.practice_run import client_practice_config, prepare_practice
    from muspsy_sim.simulation.practice.server import FreeSetup, create_app
    from tests.conftest import scripted_config

    config_path = scripted_config(tmp_path, sessions=1)
    config = client_practice_config(config_path, "free", max_turns=1, rater="me")
    opened = []

    def start(profile):
        from muspsy_sim.simulation.practice.free_profile import save_free_profile

        save_free_profile(config.run_dir(), profile)
        opened.append(PracticeCourse(prepare_practice(config, config_path), other="counselor").open())
        return opened[-1]

    page = TestClient(create_app(None, page=ClientPage(), setup=FreeSetup(start)), base_url="http://127.0.0.1:8765")
    html = page.get("/").text
    assert 'id="profile-form"' in html
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    refused = page.post("/profile", data={"token": token, "pseudonym": "Sam", "age": "7",
                                          "presenting_problem": "<b>exams</b>"})
    assert refused.status_code == 400 and "from 10 to 110" in refused.text and "&lt;b&gt;exams" in refused.text
    assert not profile_path(config.run_dir()).exists()
    done = page.post("/profile", data={"token": token, "pseudonym": "Sam", "age": "21",
                                       "presenting_problem": "Exams make me panic."}, follow_redirects=False)
    assert done.status_code == 303 and profile_path(config.run_dir()).is_file()
    course = opened[0]
    assert course.wait(60) and course.status().request["kind"] == "questionnaires"
    html = page.get("/").text
    assert "You, in this role-play" in html and "Exams make me panic." in html
    assert config.client_dynamics == {"trait_dropout_rate": 0.0, "random_event_chance": 0.0}  # scripted_config: no dropout
    course.close()


def test_practice_as_client_options_and_bad_settings_exit_2_and_write_nothing(tmp_path):
    from tests.conftest import scripted_config

    config = scripted_config(tmp_path)
    for args, message in (
        (["--as", "client", "--client-model", "testdouble/scripted"], "no client model runs"),
        (["--as", "counselor", "--rater", "ana"], "only with --as client"),
        (["--as", "judge"], "neither counselor nor client"),
        (["--as", "client", "--counselor", "nobody:Nothing"], "counselor"),
        (["--as", "client", "--rater", "../etc"], "client.rater"),
    ):
        result = runner.invoke(app, ["practice", "--scenario", CLIENT, "--config", str(config), *args])
        assert result.exit_code == 2 and message in result.output, (args, result.output)
    result = runner.invoke(app, ["practice", "--as", "client", "--scenario", "free", "--config", str(config),
                                 "--counselor", "nobody:Nothing"])
    assert result.exit_code == 2 and "counselor" in result.output  # checked before the page asks who they are
    assert not (tmp_path / "runs").exists()


def test_free_role_play_from_the_command_line(tmp_path):
    from tests.conftest import scripted_config
    from tests.practice_helpers import PracticeServer, form_value

    config = scripted_config(tmp_path, sessions=1)
    server = PracticeServer(config, tmp_path / "runs", sessions=1, max_turns=1, scenario="free",
                            extra=("--as", "client")).start()
    try:
        html = server.get()
        assert 'id="profile-form"' in html and "Role-play as yourself" in html
        fields = {"token": form_value(html, "token"), "pseudonym": "Sam", "age": "30",
                  "presenting_problem": "I cannot switch off after work."}
        assert server.post("/profile", fields) == 200
        html = server.wait_for_turn(form='data-kind="questionnaires"')
        assert "I cannot switch off after work." in html
    finally:
        server.kill()
    run_dir = tmp_path / "runs" / "practice-client-free"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["config"]["scenario_dir"].endswith("practice-client-free/profile")
    assert manifest["config"]["client"] == {**manifest["config"]["client"], "kind": "human",
                                            "rater": "practice-client-free"}
    assert (run_dir / "profile" / "free.yaml").is_file()


def test_resume_does_not_replace_the_person_with_a_model(tmp_path):
    course = open_client_course(tmp_path)
    act(course)
    act(course, text="I could not sleep.")
    course.close()
    result = runner.invoke(app, ["resume", str(course.run_dir.path), "--no-progress"])
    assert result.exit_code == 0 and "waiting for a person" in result.output and "--as client" in result.output
    records = course.run_dir.path / "sessions.jsonl"
    assert not records.exists()  # nothing was simulated in the person's place
    reopened = PracticeCourse(course.plan, other="counselor").open()
    reopened.continue_course()
    assert reopened.wait(60) and reopened.status().position == "1.3"
    reopened.close()


def test_a_course_forked_and_played_on_by_another_person_gives_a_shared_turn(tmp_path, monkeypatch):
    """Person A plays 2 sessions; the run is forked after session 1 and person B plays session 2. With a
    deterministic counselor both heard the same opening of session 2: a turn two people rated (the ceiling)."""
    from muspsy_sim.simulation.practice.practice_run import client_practice_config, prepare_practice

    first = open_client_course(tmp_path, rater="A")
    while first.status().phase == "your_turn":
        act(first, ratings={"empathy": 4, "relevance": 4, "push": 1, "engagement": 5})
    first.close()
    run = first.run_dir.path
    monkeypatch.chdir(tmp_path)  # the fork is given a relative path, as in the README; practice below an absolute one
    forked = runner.invoke(app, ["fork", str(run.relative_to(tmp_path)), "--after-session", "1", "--name", "B",
                                 "--no-progress"])
    # The fork stops where person B must act: it waits, it has not failed, and it says how to go on.
    assert forked.exit_code == 0, forked.output
    assert json.loads((run.parent / "B" / "manifest.json").read_text())["courses"][CLIENT]["status"] == "waiting"
    # Session 1, which person A played: no simulated distress, and A's answers counted as a person's.
    row = next(line for line in forked.output.splitlines() if CLIENT in line and "│" in line)
    assert [cell.strip() for cell in row.split("│")][5] == "person", row
    answers = next(line for line in forked.output.splitlines() if "filled in (fallback" in line)
    assert "person: 0 of " in answers and "client:" not in answers, answers
    assert (f"course {CLIENT}: waiting for a person after session 1; go on with `python run_sim.py practice --as client "
            f"--counselor muspsy --counselor-model testdouble/scripted --scenario {CLIENT} --name B --out runs "
            f"--sessions 2 --max-turns 2`") in " ".join(forked.output.split())
    config = client_practice_config(tmp_path / "campaign.yaml", CLIENT, max_turns=2, rater="B", name="B",
                                    out=tmp_path / "runs")
    second = PracticeCourse(prepare_practice(config, tmp_path / "campaign.yaml"), other="counselor").open()
    second.continue_course()
    assert second.wait(60) and second.status().position == "2.before.phq9+gad7"
    while second.status().phase == "your_turn":
        act(second, ratings={"empathy": 5, "relevance": 4, "push": 1, "engagement": 4}, text="It went badly.")
    second.close()
    records = [json.loads(line) for line in (run.parent / "B" / "sessions.jsonl").read_text().splitlines()]
    assert [(r["session_index"], r["rater"]) for r in records] == [(1, "A"), (2, "B")]
    result = runner.invoke(app, ["validity", "human", str(run), str(run.parent / "B"), "--self-report", "latent",
                                 "--out", str(tmp_path / "v")])
    assert result.exit_code == 0, result.output
    written = json.loads((tmp_path / "v" / "validity.json").read_text())
    assert written["sessions"]["copies_left_out"] == ["B/gad-priya-38/1"]  # A's session 1, copied by the fork
    assert written["sessions"]["replayed"] == 3 and written["sessions"]["raters"] == ["A", "B"]
    people = written["ceiling"]["empathy"]["people"]
    assert (people["units"], people["raters"]) == (1, 2)  # the opening of session 2
