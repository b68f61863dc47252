"""Export: the three MusPsy tasks, speaker order, formats, filters, splits, and inference parity."""

import json

import pytest
from typer.testing import CliRunner

import muspsy_sim.agents.llm.providers.scripted as test_double
from muspsy_sim.agents.counselor.muspsy import SESSION_START
from muspsy_sim.simulation.cli import app
from tests.conftest import FIXTURES

runner = CliRunner()


@pytest.fixture(scope="module")
def run_and_prompts(tmp_path_factory):
    """A scripted run, with every chat the counselor model was sent at inference."""
    from tests.conftest import scripted_config

    tmp = tmp_path_factory.mktemp("export")
    seen = []
    original = test_double.scripted_reply

    def recording(messages, script="scripted"):
        seen.append(json.loads(json.dumps(messages)))
        return original(messages, script)

    patch = pytest.MonkeyPatch()
    patch.setattr(test_double, "scripted_reply", recording)
    try:
        config = scripted_config(tmp, sessions=3, scenarios=["gad-priya-38", "insomnia-david-47", "panic-lucia-33"])
        assert runner.invoke(app, ["run", "--config", str(config), "--no-progress"]).exit_code == 0
    finally:
        patch.undo()
    return tmp / "runs" / "scripted", seen, tmp


def _export(source, out, *args):
    result = runner.invoke(app, ["export", str(source), "--out", str(out), *args])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in out.read_text().splitlines()]


def _session_texts(run_dir):
    texts = {"counselor": set(), "client": set()}
    for record in map(json.loads, (run_dir / "sessions.jsonl").read_text().splitlines()):
        for turn in record["turns"]:
            texts[turn["speaker"]].add(turn["text"])
    return texts


def test_muspsy_export_has_three_tasks_and_right_speaker_order(run_and_prompts):
    run_dir, _, tmp = run_and_prompts
    rows = _export(run_dir, tmp / "muspsy.jsonl", "--format", "muspsy")
    assert {r["task"] for r in rows} == {"memory", "goal", "counseling"}
    texts = _session_texts(run_dir)
    counseling = [r for r in rows if r["task"] == "counseling"]
    assert counseling
    for row in counseling:
        assert set(row) >= {"instruction", "input", "output", "history"}
        assert row["output"] in texts["counselor"]
        assert row["input"] in texts["client"] | {SESSION_START}
        for client_said, counselor_said in row["history"]:
            assert client_said in texts["client"] | {SESSION_START}
            assert counselor_said in texts["counselor"]
        assert len(row["history"]) == 0 or row["history"][0][0] == SESSION_START


def test_exported_counseling_chats_are_what_the_counselor_saw(run_and_prompts):
    run_dir, seen, tmp = run_and_prompts
    rows = _export(run_dir, tmp / "openai.jsonl", "--format", "openai", "--task", "counseling")
    model_turns = {r["session_index"] for r in rows}
    assert model_turns == {1, 2, 3}
    template_openings = 0
    for row in rows:
        messages = row["messages"]
        assert messages[0]["role"] == "system" and messages[-1]["role"] == "assistant"
        roles = [m["role"] for m in messages[1:]]
        assert roles == ["user", "assistant"] * (len(roles) // 2)
        context = messages[:-1]
        if messages[-1]["content"].startswith("This week, try"):
            context = [*context, {"role": "assistant", "content": "This week, try"}]
        if context in seen:
            continue
        template_openings += 1  # check-ins come from a template, not a model call
        assert messages[-1]["content"].startswith("Welcome back")
    assert template_openings == 6  # sessions 2 and 3 of three clients


def test_sharegpt_and_round_trip(run_and_prompts):
    run_dir, _, tmp = run_and_prompts
    rows = _export(run_dir, tmp / "sharegpt.jsonl", "--format", "sharegpt")
    for row in rows:
        assert [c["from"] for c in row["conversations"]][-1] == "gpt"
        assert all(c["value"] for c in row["conversations"])


def test_split_by_client_and_filters(run_and_prompts):
    run_dir, _, tmp = run_and_prompts
    out = tmp / "split.jsonl"
    train = _export(run_dir, out, "--format", "muspsy", "--validation", "0.34", "--seed", "3")
    validation = [json.loads(line) for line in (tmp / "split.validation.jsonl").read_text().splitlines()]
    assert train and validation
    assert not {r["client_id"] for r in train} & {r["client_id"] for r in validation}
    everything = _export(run_dir, tmp / "all.jsonl", "--format", "muspsy")
    none_left = runner.invoke(app, ["export", str(run_dir), "--out", str(tmp / "none.jsonl"), "--min-wai", "61"])
    assert none_left.exit_code == 0 and (tmp / "none.jsonl").read_text() == ""
    assert len(everything) == len(train) + len(validation)


def test_duplicates_are_dropped(run_and_prompts):
    run_dir, _, tmp = run_and_prompts
    kept = _export(run_dir, tmp / "d1.jsonl", "--format", "openai")
    with_dupes = _export(run_dir, tmp / "d2.jsonl", "--format", "openai", "--no-dedupe")
    assert len({json.dumps(r["messages"]) for r in with_dupes}) == len(kept) <= len(with_dupes)


def test_export_from_a_musPsy_release_directory(tmp_path):
    rows = _export(FIXTURES / "muspsy", tmp_path / "ref.jsonl", "--format", "muspsy", "--task", "counseling")
    assert {r["client_id"] for r in rows} == {"muspsy-323", "muspsy-538", "muspsy-1079", "muspsy-1402"}
    for row in rows:
        pairs = row["history"]
        assert all(len(pair) == 2 and pair[0] and pair[1] for pair in pairs)
        assert row["output"] and row["input"]


def test_unknown_format_or_source_is_an_input_error(tmp_path, run_and_prompts):
    run_dir, _, _ = run_and_prompts
    bad = runner.invoke(app, ["export", str(run_dir), "--out", str(tmp_path / "x.jsonl"), "--format", "csv"])
    assert bad.exit_code == 2 and "unknown format" in bad.output
    nowhere = runner.invoke(app, ["export", str(tmp_path), "--out", str(tmp_path / "x.jsonl")])
    assert nowhere.exit_code == 2


@pytest.mark.parametrize("counselor", ["no-memory", "full-history"])
def test_exports_of_other_counselors_are_what_that_counselor_saw(tmp_path, counselor):
    """The exporter renders through the counselor the run names, not the MusPsy counselor."""
    from tests.conftest import scripted_config

    seen = []
    original = test_double.scripted_reply

    def recording(messages, script="scripted"):
        seen.append(json.loads(json.dumps(messages)))
        return original(messages, script)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(test_double, "scripted_reply", recording)
        config = scripted_config(tmp_path, sessions=2, max_turns=2, scenarios=["insomnia-david-47"], counselor=counselor)
        assert runner.invoke(app, ["run", "--config", str(config), "--no-progress"]).exit_code == 0
    run_dir = tmp_path / "runs" / "scripted"
    model_turns = {t["text"] for r in map(json.loads, (run_dir / "sessions.jsonl").read_text().splitlines())
                   for t in r["turns"] if t["speaker"] == "counselor" and t["source"] == "model"}
    rows = _export(run_dir, tmp_path / "out.jsonl", "--format", "openai")
    checked = {"memory": 0, "goal": 0, "counseling": 0}
    for row in rows:
        target = row["messages"][-1]["content"]
        if row["task"] == "counseling" and target not in model_turns:
            continue  # safety turns come from the program, not from a model call
        context = row["messages"][:-1]
        # Each example's chat is what the model was sent (closing and memory steps add a prefill after it).
        assert any(chat[:len(context)] == context for chat in seen), (row["task"], row["session_index"])
        checked[row["task"]] += 1
    assert checked["memory"] == checked["goal"] == 2 and checked["counseling"] >= 4
