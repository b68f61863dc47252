"""Memories in a Chroma server (`chroma run`) reached through HttpClient, not the run directory."""

import json
from collections import Counter

from typer.testing import CliRunner

from muspsy_sim.simulation.cli import app

runner = CliRunner()
CLIENTS = ("gad-priya-38", "insomnia-david-47")
EXPECTED = [(c, s) for c in CLIENTS for s in (1, 2)]


def test_campaign_keeps_its_memories_in_the_chroma_server(tmp_path, make_config, chroma_server):
    from muspsy_sim.memory import MemoryStore
    from tests.test_memory_store import HashEmbedder

    config = make_config(name="on-server", sessions=2, max_turns=2, memory={"chroma_url": chroma_server})
    result = runner.invoke(app, ["run", "--config", str(config), "--no-progress"])
    assert result.exit_code == 0, result.output

    run_dir = tmp_path / "runs" / "on-server"
    assert not (run_dir / "chroma").exists(), "with chroma_url nothing is stored in the run directory"
    records = [json.loads(line) for line in (run_dir / "sessions.jsonl").read_text().splitlines()]
    assert sorted((r["client_id"], r["session_index"]) for r in records) == EXPECTED

    stored = MemoryStore("on-server", HashEmbedder(), url=chroma_server).records()
    assert Counter((h.client_id, h.session_index) for h in stored if h.kind == "memory") == Counter(EXPECTED)
    assert {(h.client_id, h.session_index) for h in stored if h.kind == "transcript"} == set(EXPECTED)
    # Session 2 recalled session 1 from the server, for each client only its own.
    for record in records:
        recalled = {(m["client_id"], m["session_index"]) for t in record["turns"] for m in t.get("retrieved") or []}
        expected = {(record["client_id"], 1)} if record["session_index"] == 2 else set()
        assert recalled == expected, record["client_id"]
