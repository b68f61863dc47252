"""Against a real server: llama.cpp's llama-server, serving the embedded SmolLM2 GGUF on loopback.

The binary is built by .ci/build-llama-server (CI runs it before the tests; a first build takes
minutes, later calls find it cached). Where it is not built, the test skips with the script's reason.
A 1-client x 2-session campaign goes through ``openai/...`` with ``api_base``, as a user's would: its
questionnaires must be answered by likelihood (the server's logprobs), with no answer filled in.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from muspsy_sim.agents.llm.local.resolution import EMBEDDED_MODEL, LocalModelNotFound, resolve_local_model
from muspsy_sim.bench.servers import LlamaServerUnavailable, llama_server, llama_server_binary
from muspsy_sim.simulation.cli import app

pytestmark = pytest.mark.llama_server


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    try:
        binary = llama_server_binary()
        embedded = resolve_local_model(EMBEDDED_MODEL)
    except (LlamaServerUnavailable, LocalModelNotFound) as reason:
        pytest.skip(f"no llama-server: {reason}")
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with llama_server(binary, embedded.directory / embedded.gguf_file, slots=4, log=log) as url:
        yield url


def test_a_campaign_over_llama_cpps_server_answers_by_likelihood(server_url, tmp_path, make_config, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-dummy")
    models = {role: {"model": "openai/smollm2", "api_base": server_url, "max_tokens": 24, "timeout": 120}
              for role in ("counselor", "client", "judge")}
    config = make_config(name="llama", scenarios=["gad-priya-38"], sessions=2, max_turns=1, models=models,
                         workers=1, counselor_options={"memory_max_tokens": 48, "goal_max_tokens": 16})
    result = CliRunner().invoke(app, ["run", "--config", str(config), "--no-progress", "--strict"])
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "runs" / "llama"
    records = [json.loads(line) for line in (run_dir / "sessions.jsonl").read_text().splitlines()]
    assert [r["session_index"] for r in records] == [1, 2]
    for record in records:
        assert all(turn["text"].strip() for turn in record["turns"])
        for key in ("phq9", "gad7", "wai_sr", "panas"):
            entry = record["questionnaires"][key]
            assert entry["methods"] == {"likelihood-calibrated": len(entry["answers"])}, (key, entry)
            assert entry["filled_in"] == []
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert all(t["fallbacks"] == 0 for t in manifest["answers"]["client"].values())
    assert manifest["fallback_heavy_sessions"] == [] and manifest["status"] == "finished"
    assert "local_engine" not in manifest
