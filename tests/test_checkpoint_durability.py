"""A course's checkpoints are saved before its next step runs, so a save that fails stops the course there.

With LangGraph's default durability ("async") a failed save surfaced only when the graph exited: the
steps after it had already recorded their session and called the models, and `resume`, starting from the
last saved checkpoint, ran them again (a second memory for a recorded session, paid for and not
recorded). Here every save fails from the course's checkpoint after session 1's dialogue on, as a disk
that fills up there would.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter

from langgraph.checkpoint.sqlite import SqliteSaver
from typer.testing import CliRunner

from muspsy_sim.agents.counselor.muspsy import MusPsyCounselor
from muspsy_sim.simulation.cli import app
from tests.conftest import scripted_config


def test_a_failed_checkpoint_save_stops_the_course_before_its_next_step(tmp_path, monkeypatch):
    config = scripted_config(tmp_path, name="durable", scenarios=["gad-priya-38"], sessions=3, max_turns=2,
                             workers=1, client={"self_report": "latent"})
    run_dir = tmp_path / "runs" / "durable"
    memories: Counter[int] = Counter()
    extract_memory = MusPsyCounselor.extract_memory

    def counted(self, context, turns, seed):
        memories[context.session_index] += 1
        return extract_memory(self, context, turns, seed)

    save = SqliteSaver.put
    failing = {"on": False}

    def put(self, config, checkpoint, metadata, new_versions):
        top_level = config["configurable"].get("checkpoint_ns", "") == ""
        if failing["on"] or (top_level and metadata.get("step", -1) >= 3):  # after session 1's dialogue
            failing["on"] = True
            raise sqlite3.OperationalError("database or disk is full")
        return save(self, config, checkpoint, metadata, new_versions)

    monkeypatch.setattr(MusPsyCounselor, "extract_memory", counted)
    monkeypatch.setattr(SqliteSaver, "put", put)
    stopped = CliRunner().invoke(app, ["run", "--config", str(config), "--no-progress"])
    assert stopped.exit_code == 75, stopped.output
    assert memories == Counter(), "a step after the failed save ran"

    monkeypatch.setattr(SqliteSaver, "put", save)  # space freed
    resumed = CliRunner().invoke(app, ["resume", str(run_dir), "--no-progress"])
    assert resumed.exit_code == 0, resumed.output
    records = [json.loads(line) for line in (run_dir / "sessions.jsonl").read_text().splitlines()]
    assert sorted(record["session_index"] for record in records) == [1, 2, 3]
    assert memories == Counter({1: 1, 2: 1, 3: 1}), "a session's memory was extracted twice"
