"""``client_dynamics: {preset: legacy}`` reproduces the records of the code before issue 23, for the same seed.

tests/fixtures/legacy_default_sessions.jsonl is sessions.jsonl of the default campaign (configs/default.yaml)
with the test double in every role, as the code before issue 23 wrote it. The same campaign with the legacy
preset must write the same lines, apart from the time each model call took (``usage.*.seconds``). Under the
legacy preset nothing new is written to a session record (no traits, no setback or sudden-gain flags).
"""

from __future__ import annotations

import json

import yaml
from typer.testing import CliRunner

from muspsy_sim.simulation.cli import app
from tests.conftest import FIXTURES, LIBRARY, REPO

runner = CliRunner()
TEST_DOUBLE = ["--counselor-model", "testdouble/scripted", "--client-model", "testdouble/scripted",
               "--judge-model", "testdouble/scripted"]


def _comparable(path) -> list[str]:
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        for usage in record.get("usage", {}).values():
            usage["seconds"] = 0  # wall time, not simulation
        lines.append(json.dumps(record, sort_keys=True))
    return sorted(lines)


def test_the_legacy_preset_writes_the_records_of_before(tmp_path, monkeypatch):
    from muspsy_sim.memory import shared_embedder
    from muspsy_sim.simulation.engine import components

    # The records list what retrieval found, so the embedder must be MiniLM, as when the fixture was written
    # (`bench cost --quick`, run in-process by tests/test_bench_cli.py, leaves a hashing embedder behind).
    monkeypatch.setattr(components, "shared_embedder", shared_embedder)
    config = yaml.safe_load((REPO / "configs" / "default.yaml").read_text())
    config.update(client_dynamics={"preset": "legacy"}, output_dir=str(tmp_path / "runs"), scenario_dir=str(LIBRARY))
    path = tmp_path / "legacy.yaml"
    path.write_text(yaml.safe_dump(config))
    result = runner.invoke(app, ["run", "--config", str(path), "--no-progress", *TEST_DOUBLE])
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "runs" / config["name"]
    assert _comparable(run_dir / "sessions.jsonl") == _comparable(FIXTURES / "legacy_default_sessions.jsonl")
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["components"]["client"]["dynamics_preset"] == "legacy"
    assert all("traits" not in course and course["ended_by"] == "completed" for course in manifest["courses"].values())
