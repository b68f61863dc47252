"""``client_dynamics: {preset: legacy}`` reproduces the records of the code before issue 23, for the same seed.

tests/fixtures/legacy_default_sessions.jsonl is sessions.jsonl of the default campaign (configs/default.yaml)
with the test double in every role, as the code before issue 23 (and before the typed kernel, 2162a35) wrote
it. The same campaign with the legacy preset must write the same records, apart from the time each model call
took (``usage.*.seconds``) and the fields later issues added on purpose (``ADDED_TO_THE_SESSIONS``: issue 22's
``store_returned`` and the appraisal's ``filled_in``; the closing's ``prefilled``), which must be there and be all that is new, and the
last bits of a retrieved record's distance (``CHANGED_BY_ISSUE_25``: MiniLM encodes each text on its own). Under the
legacy preset nothing of issue 23 is written to a session record (no traits, no setback or sudden-gain flags).

``eval`` of that run writes metrics.jsonl and summary.json that keep every key, value and JSON type they had
before the kernel (tests/fixtures/eval-before-kernel), in order, except what later issues changed on purpose:
issue 22 credits the counselor metrics to the counselor's model (the scaffold's share beside them) and has
the judge read the transcript with the program's turns masked (``CHANGED_BY_ISSUE_22``). What was added
(``ADDED_TO_THE_METRICS``, ``ADDED_TO_THE_SUMMARY``) is listed with the issue that added it. Every list is
exact: an unlisted difference fails, and so does a listed one that no longer happens.
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


def _records(path) -> list[dict]:
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        for usage in record.get("usage", {}).values():
            usage["seconds"] = 0  # wall time, not simulation
        records.append(record)
    return sorted(records, key=lambda record: (record["client_id"], record["session_index"]))


def _differences(old: list[dict], new: list[dict]) -> tuple[set[str], set[str]]:
    """The paths added and changed from ``old`` to ``new`` (records in the same order), clients and positions
    in lists written as *."""
    assert [(r["client_id"], r["session_index"]) for r in old] == [(r["client_id"], r["session_index"]) for r in new]
    added: list[str] = []
    changed: list[str] = []
    for before, after in zip(old, new):
        _kept_in(before, after, "", added, changed)
    return _general(added), _general(changed)


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
    added, changed = _differences(_records(FIXTURES / "legacy_default_sessions.jsonl"),
                                  _records(run_dir / "sessions.jsonl"))
    assert (added, changed) == (ADDED_TO_THE_SESSIONS, CHANGED_BY_ISSUE_25)
    _same_records_retrieved_nearly_as_far(_records(FIXTURES / "legacy_default_sessions.jsonl"),
                                          _records(run_dir / "sessions.jsonl"))
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["components"]["client"]["dynamics_preset"] == "legacy"
    assert all("traits" not in course and course["ended_by"] == "completed" for course in manifest["courses"].values())

    scored = runner.invoke(app, ["eval", str(run_dir)])
    assert scored.exit_code == 0, scored.output
    before = FIXTURES / "eval-before-kernel"
    added, changed = _differences(_records(before / "metrics.jsonl"), _records(run_dir / "metrics.jsonl"))
    assert added == ADDED_TO_THE_METRICS
    assert changed == {f".{path}" for path in CHANGED_BY_ISSUE_22}
    added_to_summary: list[str] = []
    changed_in_summary: list[str] = []
    _kept_in(json.loads((before / "summary.json").read_text()), json.loads((run_dir / "summary.json").read_text()),
             "", added_to_summary, changed_in_summary)
    assert _general(added_to_summary) == ADDED_TO_THE_SUMMARY
    assert _general(changed_in_summary) == {f".metrics.{path.removeprefix('metrics.')}.mean"
                                            for path in CHANGED_BY_ISSUE_22 if path.startswith("metrics.")}


# Fields later issues added to a session record on purpose (* a position in a list).
ADDED_TO_THE_SESSIONS = {
    ".turns[*].store_returned",  # issue 22: the ids the memory store returned, as the engine saw them
    ".turns[*].appraisal.filled_in",  # issue 22: appraisal items filled in, not rated (none under rules)
    ".turns[*].prefilled",  # the closing's words the program wrote (its "This week, try" prefix), marked
}

# Values issue 25 changed on purpose: MiniLM encodes each text on its own (a padded batch moved the last bits of a
# vector with the texts beside it), so a retrieved record's distance moves in float32's last bits: the same
# records are retrieved, in the same order, at distances within 1e-6 (checked below).
CHANGED_BY_ISSUE_25 = {".turns[*].retrieved[*].distance"}


def _same_records_retrieved_nearly_as_far(old: list[dict], new: list[dict]) -> None:
    for before, after in zip(old, new):
        for turn_before, turn_after in zip(before["turns"], after["turns"]):
            retrieved_before, retrieved_after = turn_before.get("retrieved") or [], turn_after.get("retrieved") or []
            assert [r["id"] for r in retrieved_before] == [r["id"] for r in retrieved_after]
            assert all(abs(a["distance"] - b["distance"]) < 1e-6 for a, b in zip(retrieved_before, retrieved_after))


# Metrics issue 22 changed on purpose: counselor metrics credit the counselor's model (the session-2/3 template
# check-in that followed up and referred back is the scaffold's now, beside them), and the judge reads the
# transcript with the program's turns masked (and the test double, since issue 22, answers from what it reads).
CHANGED_BY_ISSUE_22 = {
    "judge.transcript", "metrics.followed_up_assignment", "metrics.references_back",
    *(f"metrics.judge_{item}" for item in ("helpfulness", "coherence", "empathy", "guidance")),
    *(f"metrics.ctrs_{item}" for item in ("agenda", "collaboration", "feedback", "guided_discovery", "homework",
                                         "interpersonal_effectiveness", "key_cognitions", "understanding")),
}

# What issue 22 adds to a metrics row: the scaffold's share beside the counselor metrics, the metrics left
# out on purpose and why, and the share of counselor turns the program wrote.
# Later: how the model took the closing prefix the program began its turn with.
ADDED_TO_THE_METRICS = {".scaffold", ".left_out", ".metrics.scaffold_turn_share", ".closing_prefill"}

# What later issues add to summary.json (* a client).
ADDED_TO_THE_SUMMARY = {
    # issue 23: how courses ended, the realism references, the reliable change's derivation, sudden gains
    *(f".courses.*.{key}" for key in ("ended_by", "dropout_reason", "left_sessions_early", "sessions_planned")),
    ".trajectory_realism.dropout", ".trajectory_realism.excluded_failed", ".trajectory_realism.references",
    *(f".trajectory_realism.{instrument}.{key}" for instrument in ("phq9", "gad7")
      for key in ("with_sudden_gain", "sudden_gain_among_improving", "mean_change", "sd_session_change",
                  "reliable_change", "setback_threshold", "by_client.*.sudden_gain", "by_client.*.measurements",
                  "by_client.*.ended_by",
                  # issue 22 meeting 23: measurements eval left out, counted in the realism view
                  "skipped", "unmeasured")),
    # issue 22: the scaffold's share beside each counselor metric, the sessions with metrics left out
    *(f".metrics.{path.removeprefix('metrics.')}.scaffold"
      for path in CHANGED_BY_ISSUE_22 if path.startswith("metrics.")),
    ".metrics.contradiction_rate.scaffold", ".metrics.recall_at_k.scaffold", ".metrics.scaffold_turn_share",
    ".left_out_sessions",
    ".prefilled_closings",  # the closings the program began with its prefix, by how the model took it
    # review of the client: how many client turns the program appended a sentence to (none here: a count of 0)
    ".client_sentences_added",
}


def _general(paths: list[str]) -> set[str]:
    """Paths with clients and list positions written as *."""
    return {re.sub(r"\[\d+\]", "[*]", re.sub(r"\.(gad-priya-38|insomnia-david-47)\b", ".*", path)) for path in paths}


def _kept_in(old, new, path: str, added: list[str], changed: list[str]) -> None:
    """Every key of ``old`` is in ``new`` in the same order; ``added``: keys ``new`` has on top; ``changed``: values
    (or JSON types) that differ."""
    if isinstance(old, dict):
        assert isinstance(new, dict) and list(old) == [key for key in new if key in old], path
        for key in old:
            _kept_in(old[key], new[key], f"{path}.{key}", added, changed)
        added.extend(f"{path}.{key}" for key in new if key not in old)
    elif isinstance(old, list):
        assert isinstance(new, list) and len(old) == len(new), path
        for position, (a, b) in enumerate(zip(old, new)):
            _kept_in(a, b, f"{path}[{position}]", added, changed)
    elif (old, type(old)) != (new, type(new)):
        changed.append(path)
