"""Dropout is a course outcome (issue 23, point 2): recorded, resumable, and counted in eval's denominator."""

from __future__ import annotations

import json
import math
import random
import shutil

import pytest
import yaml
from typer.testing import CliRunner

from muspsy_sim.agents.client import ClientState
from muspsy_sim.agents.client.dropout import decide_return
from muspsy_sim.agents.client.dynamics import DynamicsParams
from muspsy_sim.agents.client.traits import ClientTraits
from muspsy_sim.scenarios.loader import load_profile
from muspsy_sim.simulation.cli import app
from tests.conftest import LIBRARY, scripted_config

runner = CliRunner()
LEAVER, STAYER = "gad-priya-38", "insomnia-david-47"


def _library_with_a_leaver(tmp_path):
    """The two profiles; the first pins a dropout propensity of 1: it does not come back after session 1."""
    library = tmp_path / "library"
    library.mkdir()
    for client in (LEAVER, STAYER):
        shutil.copy(LIBRARY / f"{client}.yaml", library / f"{client}.yaml")
    data = yaml.safe_load((library / f"{LEAVER}.yaml").read_text())
    data["traits"] = {"dropout_propensity": 1.0}
    (library / f"{LEAVER}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return library


@pytest.fixture(scope="module")
def dropout_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dropout")
    config = scripted_config(tmp, name="leaving", scenario_dir=str(_library_with_a_leaver(tmp)),
                             scenarios=[LEAVER, STAYER], sessions=3, max_turns=2)
    result = runner.invoke(app, ["run", "--config", str(config), "--no-progress"], terminal_width=200)
    assert result.exit_code == 0, result.output
    return config, tmp / "runs" / "leaving", result.output


def _manifest(run_dir):
    return json.loads((run_dir / "manifest.json").read_text())


def _lines(run_dir):
    return (run_dir / "sessions.jsonl").read_text().splitlines()


def test_a_dropout_ends_the_course_and_the_manifest_says_when_and_why(dropout_run):
    _, run_dir, output = dropout_run
    manifest = _manifest(run_dir)
    leaver = manifest["courses"][LEAVER]
    assert leaver["status"] == "finished" and leaver["ended_by"] == "dropout" and leaver["sessions_done"] == 1
    assert leaver["dropout"]["after_session"] == 1 and leaver["dropout"]["probability"] > 0.99
    assert leaver["dropout"]["reason"] and set(leaver["dropout"]["factors"]) == {
        "early in the course", "low alliance", "no improvement", "resistance"}
    assert leaver["traits"]["dropout_propensity"] == 1.0 and leaver["traits"]["pinned"] == ["dropout_propensity"]
    assert manifest["courses"][STAYER]["ended_by"] == "completed"
    assert manifest["status"] == "finished"
    records = [json.loads(line) for line in _lines(run_dir)]
    assert sorted((r["client_id"], r["session_index"]) for r in records) == [
        (LEAVER, 1), (STAYER, 1), (STAYER, 2), (STAYER, 3)]
    # The session the client left after ended as sessions do: the course's end is the manifest's, not the session's.
    assert next(r for r in records if r["client_id"] == LEAVER)["ended_by"] == "max_turns"
    assert "Dropped out: 1 of 2 courses" in output and f"{LEAVER} after session 1" in output


def test_a_dropout_resumes_from_its_checkpoint_without_redoing_anything(dropout_run):
    config, run_dir, _ = dropout_run
    before = _lines(run_dir)
    recorded = _manifest(run_dir)["courses"][LEAVER]
    # As if the process died after the course ended but before its manifest entry was written.
    manifest = _manifest(run_dir)
    manifest["courses"][LEAVER] = {"status": "running", "sessions_done": 1}
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    result = runner.invoke(app, ["run", "--config", str(config), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert _lines(run_dir) == before
    assert _manifest(run_dir)["courses"][LEAVER] == recorded


def test_eval_counts_the_dropout_in_the_denominator(dropout_run):
    _, run_dir, _ = dropout_run
    result = runner.invoke(app, ["eval", str(run_dir), "--no-judge"], terminal_width=200)
    assert result.exit_code == 0, result.output
    summary = json.loads((run_dir / "summary.json").read_text())
    realism = summary["trajectory_realism"]
    assert realism["dropout"]["share"] == 0.5 and realism["dropout"]["after_session"] == {"1": 1}
    # Intention to treat: the leaver's one measurement carried forward, so two courses, one of them unchanged.
    assert realism["phq9"]["courses"] == 2 and realism["phq9"]["by_client"][LEAVER]["class"] == "flat"
    course = summary["courses"][LEAVER]
    assert course["dropped_out"] and course["dropout_session"] == 2 and course["ended_by"] == "dropout"
    assert course["dropout_reason"] == _manifest(run_dir)["courses"][LEAVER]["dropout"]["reason"]
    assert not summary["courses"][STAYER]["dropped_out"]
    assert "dropped out" in result.output and "50% *" in result.output  # 50% is above the 10-30% reference


def test_the_chance_of_not_coming_back_rises_with_a_poor_alliance_and_no_improvement():
    profile = load_profile(LIBRARY / "gad-priya-38.yaml")
    start = ClientState.initial(profile)
    traits = ClientTraits(dropout_propensity=0.05)
    params = DynamicsParams()
    good = start.model_copy(update={"trust": 8.0, "distress": start.distress - 2, "traits": traits})
    poor = start.model_copy(update={"trust": 1.0, "distress": start.distress + 1, "traits": traits})
    p_good = decide_return(good, start, 3, params, random.Random(0)).probability
    p_poor = decide_return(poor, start, 3, params, random.Random(0)).probability
    assert p_good < 0.1 and p_poor > 3 * p_good
    # Earlier in the course, more likely (log-odds + dropout_early, halving each session).
    early = decide_return(good, start, 1, params, random.Random(0)).probability
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    assert logit(early) - logit(p_good) == pytest.approx(params.dropout_early * (1 - 0.25), abs=1e-3)
    # A client without traits (the legacy preset) always comes back.
    assert decide_return(start.model_copy(update={"trust": 0.0}), start, 1, params, random.Random(0)).comes_back


def test_a_practice_client_who_does_not_come_back_ends_the_course_on_the_page(tmp_path):
    from starlette.testclient import TestClient

    from muspsy_sim.simulation.practice.server import create_app
    from tests.practice_helpers import open_course, say

    course = open_course(tmp_path, sessions=3, scenario_dir=str(_library_with_a_leaver(tmp_path)))
    try:
        say(course, "Hello Priya, what brings you here today?")
        status = say(course, "Let's stop here. This week, try writing down one worry each evening.", end=True)
        assert status.phase == "finished" and len(status.records) == 1
        entry = course.run_dir.read_manifest().courses[LEAVER]
        assert entry.status == "finished" and entry.ended_by == "dropout" and entry.dropout.after_session == 1
        html = TestClient(create_app(course), base_url="http://127.0.0.1:8765").get("/").text
        assert "The client did not come back" in html and "After session 1" in html
    finally:
        course.wait(60)
        course.close()


def test_a_course_that_ended_by_dropout_is_not_forked_after_its_last_session(dropout_run, tmp_path):
    _, run_dir, _ = dropout_run
    named = runner.invoke(app, ["fork", str(run_dir), "--after-session", "1", "--client", LEAVER, "--name", "f1"])
    assert named.exit_code == 2 and "did not come back after session 1" in named.output
    # Unnamed, the fork takes the clients who went on.
    forked = runner.invoke(app, ["fork", str(run_dir), "--after-session", "1", "--name", "f2", "--no-progress"])
    assert forked.exit_code == 0, forked.output
    fork = json.loads((run_dir.parent / "f2" / "manifest.json").read_text())
    assert list(fork["courses"]) == [STAYER] and fork["courses"][STAYER]["ended_by"] == "completed"


def test_a_person_in_the_clients_chair_draws_no_traits_and_no_dropout(tmp_path):
    """What a person feels and whether they come back are theirs: even a profile that pins a certain dropout gives
    a person's course no traits and no simulated dropout (docs/client_state.md, "People in the client's chair")."""
    from tests.practice_helpers import act, open_client_course

    course = open_client_course(tmp_path, sessions=2, scenario_dir=str(_library_with_a_leaver(tmp_path)))
    try:
        while (status := course.status()).phase == "your_turn":
            act(course)
        assert status.phase == "finished", status
        entry = course.run_dir.read_manifest().courses[LEAVER]
        assert (entry.status, entry.sessions_done, entry.ended_by) == ("finished", 2, "completed")
        assert entry.traits is None and entry.dropout is None
        records = [json.loads(line) for line in _lines(course.run_dir.path)]
        assert [r["session_index"] for r in records] == [1, 2] and all(r["client"] == "human" for r in records)
        assert all("traits" not in r["client_state_start"] and "traits" not in r["client_state_end"] for r in records)
        assert "setback" not in records[1]["week_before"] and "sudden_gain" not in records[1]["week_before"]
    finally:
        course.wait(60)
        course.close()


def _progress_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "muspsy-sim:" in line]


def test_progress_counts_a_course_that_dropped_out_as_done_with_its_sessions_skipped(tmp_path):
    config = scripted_config(tmp_path, name="leaving-progress", scenario_dir=str(_library_with_a_leaver(tmp_path)),
                             scenarios=[LEAVER, STAYER], sessions=3, max_turns=2)
    result = runner.invoke(app, ["run", "--config", str(config)])  # not a terminal: plain progress lines
    assert result.exit_code == 0, result.output
    assert "stopped: 2/2 courses, 6/6 sessions done (2 skipped: 1 dropped out)" in _progress_lines(result.stderr)[-1]
    # Run again after its end: the courses that ended before count as done from the start.
    again = runner.invoke(app, ["run", "--config", str(config)])
    assert again.exit_code == 0, again.output
    assert "started: 2/2 courses, 6/6 sessions done (2 skipped: 1 dropped out)" in _progress_lines(again.stderr)[0]


def test_the_progress_bars_fill_when_a_course_drops_out():
    from io import StringIO

    from rich.console import Console

    from muspsy_sim.simulation.progress import CampaignProgress

    events = CampaignProgress([LEAVER, STAYER], 3, 2, console=Console(file=StringIO()))
    events.session_finished(LEAVER, 1, 2)
    events.course_ended(LEAVER, 1)
    events.course_ended(LEAVER, 1)  # said again (a course resumed after its end): counted once
    for index in (1, 2, 3):
        events.session_finished(STAYER, index, 2)
    events.course_ended(STAYER, 3)
    courses, sessions, turns = (events.progress.tasks[task] for task in (events.courses, events.session_bar,
                                                                         events.turns))
    assert (courses.completed, courses.total) == (2, 2) and "1 dropped out" in courses.fields["note"]
    assert (sessions.completed, sessions.total) == (6, 6)
    assert turns.completed == 2 * 2, "the two skipped sessions fill their turns (no turn_done was sent here)"
