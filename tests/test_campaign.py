"""A whole campaign with the scripted test double: output contract, memory, check-ins."""

import json

import pytest
from typer.testing import CliRunner

from muspsy_sim.simulation.cli import app

runner = CliRunner()

REQUIRED = {"client_id", "session_index", "counselor", "models", "goal", "turns", "client_state_start",
            "client_state_end", "memory", "usage"}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    from tests.conftest import scripted_config

    tmp = tmp_path_factory.mktemp("campaign")
    config = scripted_config(tmp)
    result = runner.invoke(app, ["run", "--config", str(config), "--no-progress"])
    assert result.exit_code == 0, result.output
    return tmp / "runs" / "scripted", result.output


def _records(run_dir):
    return [json.loads(line) for line in (run_dir / "sessions.jsonl").read_text().splitlines()]


def test_run_directory_contract(finished_run):
    run_dir, output = finished_run
    for name in ("manifest.json", "sessions.jsonl", "checkpoints.sqlite", "chroma"):
        assert (run_dir / name).exists(), name
    records = _records(run_dir)
    assert sorted((r["client_id"], r["session_index"]) for r in records) == [
        (c, s) for c in ("gad-priya-38", "insomnia-david-47") for s in (1, 2, 3)
    ]
    for record in records:
        assert REQUIRED <= record.keys()
        assert record["models"] == {"counselor": "testdouble/scripted", "client": "testdouble/scripted",
                                    "judge": "testdouble/scripted"}
        assert {t["speaker"] for t in record["turns"]} == {"counselor", "client"}
        assert record["turns"][0]["speaker"] == "counselor" and record["turns"][-1]["speaker"] == "counselor"
        assert record["usage"]["counselor"]["calls"] >= 1
    assert "Results:" in output and "gad-priya-38" in output


def test_manifest_records_status_components_and_usage(finished_run):
    run_dir, _ = finished_run
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "finished"
    assert set(manifest["courses"]) == {"gad-priya-38", "insomnia-david-47"}
    for course in manifest["courses"].values():
        assert {k: course[k] for k in ("status", "sessions_done", "ended_by")} == {
            "status": "finished", "sessions_done": 3, "ended_by": "completed"}
        # Each client's traits, drawn for this seed, are on its course (and on every state it records).
        assert set(course["traits"]) == {"responsiveness", "volatility", "sudden_gain_propensity",
                                         "dropout_propensity", "event_sensitivity", "pinned"}
    for record in _records(run_dir):
        assert record["client_state_start"]["traits"] == manifest["courses"][record["client_id"]]["traits"]
    assert manifest["components"]["counselor"]["name"] == "muspsy"
    assert manifest["components"]["client"]["dynamics_preset"] == "calibrated"
    assert manifest["package_versions"]["langgraph"]
    calls = sum(r["usage"]["client"]["calls"] for r in _records(run_dir))
    assert manifest["usage"]["client"]["calls"] == calls > 0


def test_sessions_after_the_first_open_with_the_last_assignment(finished_run):
    run_dir, _ = finished_run
    records = {(r["client_id"], r["session_index"]): r for r in _records(run_dir)}
    for (client, index), record in records.items():
        if index == 1:
            continue
        assignment = records[(client, index - 1)]["memory"]["counseling_assignments"]
        assert assignment
        opening = record["turns"][0]
        assert opening["speaker"] == "counselor" and assignment in opening["text"]


def test_retrieved_memories_come_from_the_same_clients_earlier_sessions(finished_run):
    run_dir, _ = finished_run
    seen = 0
    for record in _records(run_dir):
        for turn in record["turns"]:
            for hit in turn.get("retrieved", []):
                seen += 1
                assert hit["client_id"] == record["client_id"]
                assert hit["session_index"] < record["session_index"]
                assert hit["id"].startswith(f"scripted:{record['client_id']}:s{hit['session_index']}:")
    assert seen > 0


def test_chroma_holds_one_memory_per_session(finished_run):
    from muspsy_sim.memory import MemoryStore
    from tests.test_memory_store import HashEmbedder

    run_dir, _ = finished_run
    store = MemoryStore("scripted", HashEmbedder(), path=run_dir / "chroma")
    memories = [r for r in store.records() if r.kind == "memory"]
    assert sorted((m.client_id, m.session_index) for m in memories) == [
        (c, s) for c in ("gad-priya-38", "insomnia-david-47") for s in (1, 2, 3)
    ]


def test_same_seed_same_trajectory(tmp_path, make_config):
    first = runner.invoke(app, ["run", "--config", str(make_config()), "--no-progress", "--name", "a"])
    second = runner.invoke(app, ["run", "--config", str(make_config()), "--no-progress", "--name", "b"])
    assert first.exit_code == second.exit_code == 0

    def trajectory(name):
        return [(r["client_id"], r["session_index"], r["client_state_end"], [t["text"] for t in r["turns"]])
                for r in sorted(_records(tmp_path / "runs" / name), key=lambda r: (r["client_id"], r["session_index"]))]

    assert trajectory("a") == trajectory("b")
