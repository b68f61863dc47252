"""``client_dynamics: {preset: legacy}`` reproduces the records of the code before issue 23, for the same seed.

tests/fixtures/legacy_default_sessions.jsonl is sessions.jsonl of the default campaign (configs/default.yaml)
with the test double in every role, as the code before issue 23 (and before the typed kernel, 2162a35) wrote
it. The same campaign with the legacy preset must write the same lines, apart from the time each model call
took (``usage.*.seconds``). Under the legacy preset nothing new is written to a session record (no traits, no
setback or sudden-gain flags).

``eval`` of that run writes metrics.jsonl byte for byte as before (tests/fixtures/eval-before-kernel), and a
summary.json that keeps every key and value it had, in order; what issue 23 adds (how courses ended, the
realism references, the reliable change's derivation, sudden gains) comes on top.
"""

from __future__ import annotations

import json
import re

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

    scored = runner.invoke(app, ["eval", str(run_dir)])
    assert scored.exit_code == 0, scored.output
    before = FIXTURES / "eval-before-kernel"
    assert (run_dir / "metrics.jsonl").read_bytes() == (before / "metrics.jsonl").read_bytes()
    added: list[str] = []
    _kept_in(json.loads((before / "summary.json").read_text()), json.loads((run_dir / "summary.json").read_text()),
             "", added)
    assert {re.sub(r"\.(gad-priya-38|insomnia-david-47)\b", ".*", path) for path in added} == ADDED_TO_THE_SUMMARY


# What issue 23 adds to summary.json (* a client).
ADDED_TO_THE_SUMMARY = {
    *(f".courses.*.{key}" for key in ("ended_by", "dropout_reason", "left_sessions_early", "sessions_planned")),
    ".trajectory_realism.dropout", ".trajectory_realism.excluded_failed", ".trajectory_realism.references",
    *(f".trajectory_realism.{instrument}.{key}" for instrument in ("phq9", "gad7")
      for key in ("with_sudden_gain", "sudden_gain_among_improving", "mean_change", "sd_session_change",
                  "reliable_change", "setback_threshold", "by_client.*.sudden_gain", "by_client.*.measurements",
                  "by_client.*.ended_by")),
}


def _kept_in(old, new, path: str, added: list[str]) -> None:
    """Every key of ``old`` is in ``new`` with the same value and JSON type, in the same order; ``added``: the rest."""
    if isinstance(old, dict):
        assert isinstance(new, dict) and list(old) == [key for key in new if key in old], path
        for key in old:
            _kept_in(old[key], new[key], f"{path}.{key}", added)
        added.extend(f"{path}.{key}" for key in new if key not in old)
    elif isinstance(old, list):
        assert isinstance(new, list) and len(old) == len(new), path
        for position, (a, b) in enumerate(zip(old, new)):
            _kept_in(a, b, f"{path}[{position}]", added)
    else:
        assert (old, type(old)) == (new, type(new)), path
