"""Ctrl+C stops a campaign: courses not started stay pending, running ones stop at their next turn, the run
ends interrupted (exit 75), and `resume` finishes it with every session recorded once."""

from __future__ import annotations

import json
import os
import signal
from collections import Counter

from typer.testing import CliRunner

from muspsy_sim.simulation.campaign import prepare_campaign, run_campaign
from muspsy_sim.simulation.cli import app
from muspsy_sim.simulation.config import load_config
from muspsy_sim.simulation.engine.states import NoProgress
from tests.conftest import scripted_config

CLIENTS = ["gad-priya-38", "insomnia-david-47", "grief-amara-29", "debt-rosa-47", "burnout-sofia-41"]


class CtrlCAfterFirstSession(NoProgress):
    """Presses Ctrl+C (a real SIGINT to this process) when the first session ends."""

    def __init__(self) -> None:
        self.pressed = False
        self.turns_after: Counter[str] = Counter()

    def session_finished(self, client_id: str, session_index: int, client_turns: int) -> None:
        if not self.pressed:
            self.pressed = True
            os.kill(os.getpid(), signal.SIGINT)

    def turn_done(self, client_id: str) -> None:
        if self.pressed:
            self.turns_after[client_id] += 1


def test_ctrl_c_stops_the_campaign_resumably(tmp_path):
    path = scripted_config(tmp_path, name="stopped", scenarios=CLIENTS, sessions=2, max_turns=3, workers=2,
                           client={"self_report": "latent"})
    plan = prepare_campaign(load_config(path), path)
    progress = CtrlCAfterFirstSession()
    result = run_campaign(plan, progress=progress)

    assert result.status == "interrupted" and result.interruption == "stopped by Ctrl+C"
    statuses = Counter(entry.status for entry in result.courses.values())
    assert statuses["pending"] >= len(CLIENTS) - 2, statuses  # at most the two running courses went on
    assert statuses["finished"] == 0, statuses
    # The other running course stopped at its next turn: at most the one client turn already under way.
    assert all(count <= 1 for count in progress.turns_after.values()), progress.turns_after

    resumed = CliRunner().invoke(app, ["resume", str(plan.run_dir.path), "--no-progress"])
    assert resumed.exit_code == 0, resumed.output
    lines = (plan.run_dir.path / "sessions.jsonl").read_text().splitlines()
    recorded = Counter((record["client_id"], record["session_index"]) for record in map(json.loads, lines))
    assert recorded == Counter({(client, session): 1 for client in CLIENTS for session in (1, 2)})
