"""The run record: its schema, the one reader (RunLog) and its error story, and runs written before the schema."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from muspsy_sim.agents.client import Client, SimulatedClient
from muspsy_sim.agents.llm import Sampling
from muspsy_sim.memory import MemoryStore, SessionStore
from muspsy_sim.simulation.cli import app
from muspsy_sim.simulation.config import load_config
from muspsy_sim.simulation.core.errors import InputError
from muspsy_sim.simulation.core.turns import TURN, ClientTurn, CounselorTurn, TurnRating
from muspsy_sim.simulation.record import SCHEMA_VERSION, RunLog, SessionRecord, json_schema
from tests.conftest import FIXTURES, REPO, scripted_config

V0_RUN = FIXTURES / "runs" / "v0-testdouble"  # written by the code before the record schema (no schema_version)
runner = CliRunner(env={"COLUMNS": "200"})


def copy_of(run: Path, target: Path) -> Path:
    shutil.copytree(run, target)
    return target


def validator(kind: str) -> jsonschema.Draft202012Validator:
    schema = json_schema(kind)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture(scope="module")
def campaign(tmp_path_factory) -> Path:
    """A test-double campaign with a risk disclosure (so a safety turn) and exit questionnaires."""
    tmp = tmp_path_factory.mktemp("record")
    config = scripted_config(tmp, scenarios=["gad-priya-38", "postnatal-aisha-30"], sessions=2, max_turns=2)
    result = runner.invoke(app, ["run", "--config", str(config), "--no-progress"])
    assert result.exit_code == 0, result.output
    return tmp / "runs" / "scripted"


# --- the schema --------------------------------------------------------------------------------------


def test_every_line_and_the_manifest_validate_against_the_printed_schema(campaign):
    lines = (campaign / "sessions.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 4
    session, turn = validator("session"), validator("turn")
    for record in records:
        session.validate(record)
        for item in record["turns"]:
            turn.validate(item)
    manifest = json.loads((campaign / "manifest.json").read_text(encoding="utf-8"))
    validator("manifest").validate(manifest)
    assert manifest["schema_version"] == SCHEMA_VERSION
    assert all("schema_version" not in record for record in records)
    # The run exercised the optional parts: a safety step, the exit questionnaires, a week before.
    turns = [t for r in records for t in r["turns"]]
    assert any("safety" in t for t in turns) and any("safety" not in t for t in turns if t["speaker"] == "counselor")
    assert any("exit" in r["questionnaires"] for r in records) and any(r["week_before"] for r in records)


def test_the_schema_says_what_a_record_must_hold():
    schema = json_schema("session")
    assert {"client_id", "session_index", "turns", "questionnaires", "memory", "usage"} <= set(schema["required"])
    counselor = schema["$defs"]["CounselorTurn"]
    assert "safety" not in counselor["required"] and "retrieved" in counselor["required"]
    invalid = {**json.loads((V0_RUN / "sessions.jsonl").read_text(encoding="utf-8").splitlines()[0]), "session_index": 0}
    assert list(validator("session").iter_errors(invalid))
    with pytest.raises(ValueError):
        json_schema("week")


def test_records_read_and_write_back_byte_for_byte():
    for line in (V0_RUN / "sessions.jsonl").read_text(encoding="utf-8").splitlines():
        assert SessionRecord.read(json.loads(line)).to_json_line() == line


def test_a_counselor_turn_has_safety_only_when_set():
    plain = CounselorTurn(speaker="counselor", text="Hello.", stage="opening", source="model", retrieved=[],
                                safety=None)
    assert plain.to_dict() == {"speaker": "counselor", "text": "Hello.", "stage": "opening", "source": "model",
                               "retrieved": []}
    step = TURN.validate_python({**plain.to_dict(), "safety": {"reason": "follow_up", "elements": ["check_safety"]}})
    assert list(step.to_dict()) == ["speaker", "text", "stage", "source", "retrieved", "safety"]


def test_a_persons_fields_are_written_only_for_a_session_a_person_played(campaign):
    """ClientTurn.source and SessionRecord client, rater and turn_ratings (WRITTEN_WHEN_GIVEN): the simulated
    client's records have none of them, so they are written as before those fields existed."""
    records = [json.loads(line) for line in (campaign / "sessions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert not any(key in record for record in records for key in ("client", "rater", "turn_ratings"))
    assert not any("source" in turn for record in records for turn in record["turns"] if turn["speaker"] == "client")
    assert ClientTurn(text="Hi.", source=None).to_dict() == {
        "speaker": "client", "text": "Hi.", "state": None, "appraisal": None, "disclosed_fact": None,
        "risk_disclosed": False}
    person = SessionRecord.read(records[0]).model_copy(deep=True)
    played = SessionRecord(**{**{name: getattr(person, name) for name in SessionRecord.model_fields},
                              "client": "human", "rater": "P01",
                              "turn_ratings": [TurnRating(turn=0, item="empathy", rating=None, rater="P01")]})
    written = played.to_dict()
    assert list(written)[-3:] == ["client", "rater", "turn_ratings"] and played.played_by_person
    assert written["turn_ratings"] == [{"turn": 0, "item": "empathy", "rating": None, "source": "human", "rater": "P01"}]
    validator("session").validate(written)
    # Read back, a record writes what it had, an explicit null included.
    line = json.dumps({**records[0], "client": None}, ensure_ascii=False)
    assert SessionRecord.read(json.loads(line)).to_json_line() == line
    schema = json_schema("session")
    assert not {"client", "rater", "turn_ratings"} & set(schema["required"])
    assert "source" not in schema["$defs"]["ClientTurn"]["required"]
    assert "rater" in schema["$defs"]["TurnRating"]["required"]
    with pytest.raises(ValueError):
        TurnRating(turn=0, item="empathy", rating=6)


def test_a_persons_unanswered_items_are_null_and_the_totals_holding_them_too():
    from muspsy_sim.simulation.core.questionnaires import QuestionnaireResult

    answered = QuestionnaireResult(answers=[1, None, 2], total=None, subscales={"a": 3, "b": None},
                                   methods={"human": 2}, mode="human")
    assert answered.unanswered_items() == {2} and answered.filled_in_items() == set()
    schema = json_schema("session")["$defs"]["QuestionnaireResult"]["properties"]
    validator("session")  # the printed schema compiles with the nullable answers
    assert {"type": "null"} in schema["answers"]["items"]["anyOf"] and {"type": "null"} in schema["total"]["anyOf"]


def test_a_manifest_from_before_a_later_config_key_writes_back_without_it(tmp_path):
    """client.kind and client.rater came after schema version 1: an older manifest whose client block lacks
    them writes back as it was; one without a client block at all (v0) too."""
    from muspsy_sim.simulation.record.schema import Manifest

    config = scripted_config(tmp_path)
    fresh = Manifest.new(load_config(config), str(config), ["gad-priya-38"]).to_dict()
    assert fresh["config"]["client"]["kind"] == "simulated" and "rater" in fresh["config"]["client"]
    older = json.loads(json.dumps(fresh))
    del older["config"]["client"]["kind"], older["config"]["client"]["rater"]
    assert Manifest.read(older).to_dict() == older


def test_unknown_keys_are_kept():
    line = (V0_RUN / "sessions.jsonl").read_text(encoding="utf-8").splitlines()[0]
    data = json.loads(line)
    data["turns"][1]["emotion"] = "calm"
    data["added_later"] = {"x": 1}
    record = SessionRecord.read(data)
    assert json.loads(record.to_json_line()) == data


# --- a run written before the schema -------------------------------------------------------------------


def test_a_v0_run_is_upgraded_on_reading():
    run = RunLog.open(V0_RUN)
    assert "schema_version" not in json.loads((V0_RUN / "manifest.json").read_text(encoding="utf-8"))
    assert run.manifest.schema_version == SCHEMA_VERSION
    # Before the namespace, component classes were named agents.x:Y.
    assert run.manifest.components.counselor.class_name == "muspsy_sim.agents.counselor.muspsy:MusPsyCounselor"
    assert run.manifest.components.memory_store.class_name == "muspsy_sim.memory.store:MemoryStore"
    assert run.config.name == "baseline-td" and run.clients() == ["gad-priya-38", "insomnia-david-47"]
    # Nothing else changes: written back, the manifest is the old one plus its version.
    original = json.loads((V0_RUN / "manifest.json").read_text(encoding="utf-8"))
    upgraded = run.manifest.to_dict()
    assert upgraded.pop("schema_version") == SCHEMA_VERSION and list(upgraded) == list(original)
    for part in ("counselor", "client", "memory_store"):
        upgraded["components"][part]["class"] = upgraded["components"][part]["class"].removeprefix("muspsy_sim.")
    assert upgraded == original
    assert [r.key for r in run.sessions] == [(c, s) for c in run.clients() for s in (1, 2, 3)]


def test_eval_report_and_inspect_load_a_v0_run(tmp_path, monkeypatch):
    run = copy_of(V0_RUN, tmp_path / "v0-testdouble")
    monkeypatch.chdir(REPO)  # the recorded scenario_dir is relative to the repository
    scored = runner.invoke(app, ["eval", str(run)])
    assert scored.exit_code == 0, scored.output
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 6 and all(r["metrics"]["wai_total"] is not None for r in rows)
    later = [r for r in rows if r["session_index"] > 1]
    # Its check-ins are the template's: credited to the scaffold, not the counselor model.
    assert len(later) == 4 and all(r["scaffold"]["followed_up_assignment"] == 1.0 for r in later)
    report = runner.invoke(app, ["report", str(run), "--out", str(tmp_path / "report.html")])
    assert report.exit_code == 0, report.output
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "insomnia-david-47" in html and "Exit PHQ-9" in html and "judge_empathy" in html
    overview = runner.invoke(app, ["inspect", str(run)])
    assert overview.exit_code == 0 and "baseline-td" in overview.output and "finished 3/3" in overview.output
    transcript = runner.invoke(app, ["inspect", str(run), "--client", "insomnia-david-47", "--session", "2"])
    assert transcript.exit_code == 0, transcript.output
    assert "Welcome back, David" in transcript.output and "[s1 " in transcript.output


# --- one reader, one error story -------------------------------------------------------------------------


def test_a_torn_last_line_is_dropped(tmp_path):
    run = copy_of(V0_RUN, tmp_path / "run")
    with open(run / "sessions.jsonl", "a", encoding="utf-8") as out:
        out.write('{"campaign": "baseline-td", "client_id": "gad-pri')  # a crash in the middle of an append
    assert len(RunLog.open(run).sessions) == 6


def _error(run: Path) -> InputError:
    with pytest.raises(InputError) as caught:
        RunLog.open(run)
    return caught.value


def test_any_other_bad_session_line_names_its_line(tmp_path):
    run = copy_of(V0_RUN, tmp_path / "run")
    lines = (run / "sessions.jsonl").read_text(encoding="utf-8").splitlines()
    (run / "sessions.jsonl").write_text("\n".join([*lines[:2], "{not json", *lines[2:]]) + "\n", encoding="utf-8")
    error = _error(run)
    assert error.source == str(run / "sessions.jsonl") and error.field == "line 3"
    bad = json.loads(lines[0])
    bad["turns"][1]["speaker"] = "narrator"
    (run / "sessions.jsonl").write_text("\n".join([lines[1], json.dumps(bad)]) + "\n", encoding="utf-8")
    error = _error(run)
    assert error.field.startswith("line 2: turns.1") and "narrator" in error.message
    bad = {**json.loads(lines[0]), "client_id": "../../etc/passwd"}  # names read back go into paths
    (run / "sessions.jsonl").write_text(json.dumps(bad) + "\n", encoding="utf-8")
    assert _error(run).field == "line 1: client_id"
    (run / "sessions.jsonl").write_text(json.dumps(bad), encoding="utf-8")  # whole, though its newline is missing
    assert _error(run).field == "line 1: client_id"


def test_an_unreadable_manifest_names_the_file_and_the_field(tmp_path):
    assert _error(tmp_path).field == "run_dir" and "manifest.json" in _error(tmp_path).message
    run = copy_of(V0_RUN, tmp_path / "run")
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    (run / "manifest.json").write_text('{\n  "name": "x",\n  oops\n}', encoding="utf-8")
    error = _error(run)
    assert error.source == str(run / "manifest.json") and error.field == "line 3"
    (run / "manifest.json").write_text(json.dumps({**manifest, "config": {**manifest["config"], "sessions": 0}}))
    assert _error(run).field == "config.sessions"
    (run / "manifest.json").write_text(json.dumps({**manifest, "schema_version": SCHEMA_VERSION + 1}))
    error = _error(run)
    assert error.field == "schema_version" and "newer muspsy-sim" in error.message
    (run / "manifest.json").write_text("[]")
    assert _error(run).field == "(top level)"


def test_commands_report_unreadable_runs_in_one_line(tmp_path):
    run = copy_of(V0_RUN, tmp_path / "run")
    with open(run / "sessions.jsonl", "r+", encoding="utf-8") as data:
        lines = data.read().splitlines()
        data.seek(0)
        data.write("\n".join([lines[0], "[1, 2]", *lines[1:]]) + "\n")
    for command in (["eval", str(run)], ["inspect", str(run)], ["report", str(run), "--out", str(tmp_path / "r.html")],
                    ["export", str(run), "--out", str(tmp_path / "x.jsonl")]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, (command, result.output)
        assert f"{run / 'sessions.jsonl'}: line 2: not a JSON object" in result.output, command


def test_names_read_back_are_checked_before_any_command_uses_them(tmp_path):
    """eval, export and report refuse a run whose records name a client outside the profile-id alphabet, and a
    torn last line (only the last) does not stop them (issue 16, point 8)."""
    run = copy_of(V0_RUN, tmp_path / "run")
    monkeypatch_dir = pytest.MonkeyPatch()
    monkeypatch_dir.chdir(REPO)  # the recorded scenario_dir is relative to the repository
    try:
        lines = (run / "sessions.jsonl").read_text(encoding="utf-8").splitlines()
        bad = {**json.loads(lines[2]), "client_id": "../../../tmp/escape"}
        (run / "sessions.jsonl").write_text("\n".join([*lines[:2], json.dumps(bad), *lines[3:]]) + "\n",
                                            encoding="utf-8")
        commands = (["eval", str(run), "--no-judge"], ["report", str(run), "--out", str(tmp_path / "r.html")],
                    ["export", str(run), "--out", str(tmp_path / "x.jsonl")])
        for command in commands:
            result = runner.invoke(app, command)
            assert result.exit_code == 2, (command, result.output)
            assert f"{run / 'sessions.jsonl'}: line 3: client_id" in " ".join(result.output.split()), command
        torn = "\n".join(lines) + "\n" + lines[0][: len(lines[0]) // 2]  # a crash in the middle of an append
        (run / "sessions.jsonl").write_text(torn, encoding="utf-8")
        for command in commands:
            result = runner.invoke(app, command)
            assert result.exit_code == 0, (command, result.output)
    finally:
        monkeypatch_dir.undo()


def test_client_ids_of_metric_rows_are_checked(tmp_path):
    from muspsy_sim.simulation.record.run_log import read_metric_rows

    run = copy_of(V0_RUN, tmp_path / "run")
    row = {"run": "baseline-td", "client_id": "gad-priya-38", "session_index": 1, "metrics": {"phq9": 3}}
    (run / "metrics.jsonl").write_text(json.dumps(row) + "\n" + json.dumps({**row, "client_id": "../x"}) + "\n")
    with pytest.raises(InputError) as caught:
        read_metric_rows(run)
    assert caught.value.field == "line 2: client_id"


def test_resume_config_follows_the_run_directory(tmp_path):
    run = copy_of(V0_RUN, tmp_path / "moved-here")
    config = RunLog.open(run).resume_config(workers=1)
    assert (config.name, config.output_dir, config.workers) == ("moved-here", str(tmp_path), 1)
    assert config.model_dump(exclude={"name", "output_dir", "workers"}) == \
        RunLog.open(V0_RUN).config.model_dump(exclude={"name", "output_dir", "workers"})


# --- typed seams ------------------------------------------------------------------------------------------


def test_the_engine_seams_are_implemented():
    assert issubclass(MemoryStore, SessionStore)
    assert isinstance(SimulatedClient(None, Sampling()), Client)
