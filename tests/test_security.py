"""Security: keys only from the environment, never written; no path escapes; strict checkpoints."""

import json

import pytest
from typer.testing import CliRunner

from muspsy_sim.simulation.cli import app
from tests.fake_openai_server import FakeOpenAIServer

runner = CliRunner()
CANARY_KEY = "sk-muspsy-canary-7f3a9c1e5b2d4086"


def test_api_key_is_used_but_never_written(tmp_path, make_config, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", CANARY_KEY)
    with FakeOpenAIServer() as server:
        models = {role: {"model": "openai/gpt-fake", "api_base": server.url} for role in ("counselor", "client", "judge")}
        config = make_config(models=models, name="keyed", sessions=1, max_turns=1, scenarios=["gad-priya-38"])
        run_dir = tmp_path / "runs" / "keyed"
        outputs = [runner.invoke(app, ["run", "--config", str(config), "--no-progress"]),
                   runner.invoke(app, ["eval", str(run_dir)]),
                   runner.invoke(app, ["report", str(run_dir), "--out", str(run_dir / "report.html")]),
                   runner.invoke(app, ["export", str(run_dir), "--out", str(tmp_path / "export" / "train.jsonl")])]
    assert [r.exit_code for r in outputs] == [0, 0, 0, 0], [r.output for r in outputs]
    # The key really reached the server, from the environment...
    assert server.authorizations and set(server.authorizations) == {f"Bearer {CANARY_KEY}"}
    # ...and appears in no file, log or printed output.
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) > 5
    leaks = [str(p) for p in written if CANARY_KEY.encode() in p.read_bytes()]
    assert leaks == []
    assert all(CANARY_KEY not in r.output for r in outputs)


@pytest.mark.parametrize("command", [
    ["run", "--name", "../escaped"],
    ["run", "--name", "/tmp/absolute"],
    ["run", "--name", ".hidden"],
    ["run", "--scenario", "../../etc/passwd"],
    ["run", "--scenario", "/etc/passwd"],
])
def test_run_names_and_client_ids_cannot_escape(tmp_path, make_config, command):
    result = runner.invoke(app, [command[0], "--config", str(make_config()), "--no-progress", *command[1:]])
    assert result.exit_code == 2, result.output
    assert not (tmp_path / "runs").exists() and not (tmp_path.parent / "escaped").exists()


def test_fork_name_and_inspect_client_cannot_escape(tmp_path, make_config):
    config = make_config(sessions=2, max_turns=1, scenarios=["gad-priya-38"])
    assert runner.invoke(app, ["run", "--config", str(config), "--no-progress"]).exit_code == 0
    run_dir = tmp_path / "runs" / "scripted"
    before = sorted(p.name for p in tmp_path.iterdir())
    forked = runner.invoke(app, ["fork", str(run_dir), "--after-session", "1", "--name", "../../fork-out", "--no-progress"])
    assert forked.exit_code == 2 and forked.output.startswith("error: --name: String should match pattern")
    inspected = runner.invoke(app, ["inspect", str(run_dir), "--client", "../../etc/passwd", "--session", "1"])
    assert inspected.exit_code == 2, inspected.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["scripted"]


def _malicious_checkpoint_blob(marker):
    """A msgpack checkpoint value that would run ``os.system`` if revived permissively."""
    import ormsgpack
    from langgraph.checkpoint.serde.jsonplus import EXT_CONSTRUCTOR_POS_ARGS

    call = ormsgpack.packb(["os", "system", [f"touch {marker}"]])
    return ormsgpack.packb({"profile": ormsgpack.Ext(EXT_CONSTRUCTOR_POS_ARGS, call)})


def test_checkpoints_are_deserialized_strictly(tmp_path):
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    from muspsy_sim.simulation.engine.checkpointers import strict_serializer

    strict_marker, permissive_marker = tmp_path / "strict-ran", tmp_path / "permissive-ran"
    value = strict_serializer().loads_typed(("msgpack", _malicious_checkpoint_blob(strict_marker)))
    assert not strict_marker.exists()
    assert value["profile"] == [f"touch {strict_marker}"]  # left as inert data
    with pytest.raises(NotImplementedError):
        strict_serializer().loads_typed(("pickle", b"cos\nsystem\n(S'true'\ntR."))
    # The permissive default would have run the command: the strict setting is what stops it.
    JsonPlusSerializer(allowed_msgpack_modules=True).loads_typed(
        ("msgpack", _malicious_checkpoint_blob(permissive_marker)))
    assert permissive_marker.exists()


def test_a_campaign_round_trips_through_the_strict_serializer(tmp_path, make_config):
    """Course state holds only plain values, so strictness costs nothing on resume."""
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    from muspsy_sim.simulation.engine.checkpointers import strict_serializer

    config = make_config(sessions=1, max_turns=1, scenarios=["gad-priya-38"])
    assert runner.invoke(app, ["run", "--config", str(config), "--no-progress"]).exit_code == 0
    connection = sqlite3.connect(tmp_path / "runs" / "scripted" / "checkpoints.sqlite")
    saver = SqliteSaver(connection, serde=strict_serializer())
    checkpoints = list(saver.list({"configurable": {"thread_id": "gad-priya-38"}}))
    assert checkpoints
    for checkpoint in checkpoints:
        json.dumps(checkpoint.checkpoint["channel_values"])  # plain JSON-able values only
