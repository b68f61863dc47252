"""The typed kernel (simulation/core): values that read and write as before, one home for each shared idea,
what eval writes typed and schema'd, and reading a config that loads no engine."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import jsonschema
import pytest
from typer.testing import CliRunner

from muspsy_sim.simulation.cli import app
from muspsy_sim.simulation.core.metrics import CampaignSummary, SessionMetrics
from muspsy_sim.simulation.core.turns import (
    ClientTurn,
    CounselorTurn,
    RetrievedMemory,
    SafetyStep,
    client_turn_count,
    exchange_chunks,
    format_turns,
    last_client_text,
    turns_of,
)
from muspsy_sim.simulation.core.usage import RoleUsage, add_tables, usage_reducer
from muspsy_sim.simulation.record.run_log import read_metric_rows, read_summary
from muspsy_sim.simulation.record.schema import json_schema
from tests.conftest import FIXTURES, REPO

runner = CliRunner()
BEFORE_KERNEL = FIXTURES / "eval-before-kernel"
PRODUCT_FOLDERS = ("agents", "memory", "scenarios", "simulation", "bench")


def _product_sources():
    for folder in PRODUCT_FOLDERS:
        for path in sorted((REPO / folder).rglob("*.py")):
            yield path, path.read_text(encoding="utf-8")


# --- what eval wrote before the kernel still reads, typed, and writes back the same ----------------


def test_metrics_and_summary_written_before_the_kernel_read_and_write_back_the_same(tmp_path):
    rows = read_metric_rows(BEFORE_KERNEL)
    assert rows and all(isinstance(row, SessionMetrics) for row in rows)
    lines = (BEFORE_KERNEL / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.dumps(row.to_dict(), ensure_ascii=False) for row in rows] == lines
    assert rows[1].value("followed_up_assignment") == 1.0 and rows[0].value("followed_up_assignment") is None
    assert rows[0].judge is not None and rows[0].judge.methods == {"likelihood-calibrated": 12}

    summary = read_summary(BEFORE_KERNEL)
    assert isinstance(summary, CampaignSummary)
    assert json.dumps(summary.to_dict(), indent=2, ensure_ascii=False) + "\n" == \
        (BEFORE_KERNEL / "summary.json").read_text(encoding="utf-8")
    assert summary.trajectory_realism.phq9.by_client["gad-priya-38"].class_ == "improving"
    assert summary.self_report_agreement.instruments["phq9"].modes == ["latent"]


@pytest.mark.parametrize("kind", ["metrics", "summary"])
def test_what_eval_writes_has_a_printed_json_schema(kind):
    printed = runner.invoke(app, ["schema", kind])
    assert printed.exit_code == 0, printed.output
    schema = json.loads(printed.output)
    assert schema == json_schema(kind)
    if kind == "metrics":
        documents = [json.loads(line) for line in (BEFORE_KERNEL / "metrics.jsonl").read_text().splitlines()]
    else:
        documents = [json.loads((BEFORE_KERNEL / "summary.json").read_text())]
    validator = jsonschema.Draft202012Validator(schema)
    for document in documents:
        assert list(validator.iter_errors(document)) == []
    broken = dict(documents[0])
    broken["metrics" if kind == "metrics" else "sessions"] = "many"
    assert list(validator.iter_errors(broken))


def test_a_metric_row_that_is_not_a_number_is_named_by_file_line_and_field(tmp_path):
    line = (BEFORE_KERNEL / "metrics.jsonl").read_text().splitlines()[0]
    row = json.loads(line)
    row["metrics"]["wai_total"] = "high"
    (tmp_path / "metrics.jsonl").write_text(line + "\n" + json.dumps(row) + "\n")
    with pytest.raises(Exception) as raised:
        read_metric_rows(tmp_path)
    assert str(raised.value) == f"{tmp_path / 'metrics.jsonl'}: line 2: metrics.wai_total: expected a number or null"


# --- the values ---------------------------------------------------------------------------------------


def test_a_turn_made_in_code_writes_every_field_and_one_read_back_writes_what_it_had():
    made = ClientTurn(text="Hi.")
    assert list(made.to_dict()) == ["speaker", "text", "state", "appraisal", "disclosed_fact", "risk_disclosed"]
    read = ClientTurn.read({"speaker": "client", "text": "Hi.", "mood": "calm"})
    assert read.to_dict() == {"speaker": "client", "text": "Hi.", "mood": "calm"}
    step = CounselorTurn(text="Are you safe?", safety=SafetyStep(reason="follow_up", elements=["check_safety"]))
    assert step.to_dict()["safety"] == {"reason": "follow_up", "elements": ["check_safety"]}
    assert "safety" not in CounselorTurn(text="Hello.").to_dict()


def test_turn_helpers_are_the_one_home_of_counting_and_rendering_turns():
    turns = turns_of([
        {"speaker": "counselor", "text": "Hello."},
        {"speaker": "client", "text": "I slept badly."},
        {"speaker": "counselor", "text": "That sounds hard."},
        {"speaker": "client", "text": "It was."},
    ])
    assert client_turn_count(turns) == 2 and last_client_text(turns) == "It was."
    assert format_turns(turns[:2]) == "Counselor: Hello.\nClient: I slept badly."
    assert exchange_chunks(turns) == ["Counselor: Hello.\nClient: I slept badly.\nCounselor: That sounds hard.",
                                      "Client: It was."]


def test_usage_tables_add_by_role_and_the_state_reducer_keeps_plain_data():
    one = {"client": RoleUsage(calls=1, prompt_tokens=10, seconds=0.1)}
    two = {"client": RoleUsage(calls=2, completion_tokens=5, seconds=0.2), "judge": RoleUsage(calls=1)}
    total = add_tables(one, two)
    assert total["client"].calls == 3 and total["client"].seconds == 0.3 and total["judge"].calls == 1
    plain = usage_reducer({"client": one["client"].model_dump()}, {"client": {"calls": 1}})
    assert plain == {"client": {"calls": 2, "prompt_tokens": 10, "completion_tokens": 0, "seconds": 0.1, "retries": 0,
                                "fallbacks": 0, "reasks": 0}}


def test_a_retrieved_memory_is_a_frozen_value():
    hit = RetrievedMemory(id="c:x:s1:memory", client_id="x", session_index=1, kind="memory", text="t", distance=0.5)
    with pytest.raises(Exception):
        hit.text = "other"


# --- one home for each shared idea; no dicts where the kernel has a type ----------------------------


def test_no_layer_reads_a_turn_a_metrics_row_or_a_summary_as_a_dict():
    pattern = re.compile(r'\["speaker"\]|\["metrics"\]|summary\["')
    found = [f"{path.relative_to(REPO)}:{number}" for path, text in _product_sources()
             if "simulation/core/" not in path.as_posix()
             for number, line in enumerate(text.splitlines(), start=1) if pattern.search(line)]
    assert found == []


def test_component_names_and_the_top_k_default_have_one_home_each():
    qualname = [str(path.relative_to(REPO)) for path, text in _product_sources() if "__qualname__" in text]
    assert qualname == ["simulation/core/provenance.py"]
    literal_top_k = [str(path.relative_to(REPO)) for path, text in _product_sources()
                     if re.search(r"top_k: int = \d", text)]
    assert literal_top_k == []


# --- reading a config loads no engine ------------------------------------------------------------------


def test_reading_a_config_imports_no_engine_no_provider_and_no_heavy_library():
    probe = (
        "import sys\n"
        "from muspsy_sim.simulation.config import load_config\n"
        f"config = load_config(__import__('pathlib').Path({str(REPO / 'configs' / 'default.yaml')!r}))\n"
        "assert config.models.counselor.model.provider == 'local'\n"
        "heavy = ('torch', 'transformers', 'litellm', 'chromadb', 'langgraph', 'muspsy_sim.agents.llm.local',\n"
        "         'muspsy_sim.agents.llm.providers', 'muspsy_sim.agents.llm.routing')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
