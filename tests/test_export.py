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


def _is_inference_chat(row, seen) -> bool:
    """Whether an example's chat is one the counselor model was sent (closing and memory steps add a prefill);
    the weight marks (what to learn) are the export's, not part of the chat."""
    context = [{k: v for k, v in m.items() if k != "weight"} for m in row["messages"][:-1]]
    return any(chat[:len(context)] == context for chat in seen)


def test_exported_examples_are_what_the_counselor_saw(run_and_prompts):
    run_dir, seen, tmp = run_and_prompts
    rows = _export(run_dir, tmp / "openai.jsonl", "--format", "openai")
    assert {r["task"] for r in rows} == {"memory", "goal", "counseling"}
    assert {r["session_index"] for r in rows if r["task"] == "counseling"} == {1, 2, 3}
    for row in rows:
        messages = row["messages"]
        assert messages[-1]["role"] == "assistant"
        if row["task"] == "counseling":
            assert messages[0]["role"] == "system"
            roles = [m["role"] for m in messages[1:]]
            assert roles == ["user", "assistant"] * (len(roles) // 2)
        assert _is_inference_chat(row, seen), (row["task"], row["session_index"], messages[-1]["content"][:60])
        assert not messages[-1]["content"].startswith("Welcome back")  # template check-ins are no target


def test_template_turns_are_exported_only_when_asked(run_and_prompts):
    run_dir, seen, tmp = run_and_prompts
    default = _export(run_dir, tmp / "default.jsonl", "--format", "openai", "--task", "counseling")
    asked = _export(run_dir, tmp / "asked.jsonl", "--format", "openai", "--task", "counseling", "--include-filled-in")
    check_ins = [r for r in asked if r["messages"][-1]["content"].startswith("Welcome back")]
    assert len(check_ins) == 6  # sessions 2 and 3 of three clients
    # Every closing turn the program began with "This week, try" (9 sessions): its first words are no target.
    closings = [r for r in asked if r["messages"][-1]["content"].startswith("This week, try")]
    assert len(closings) == 9 and not [r for r in default if r["messages"][-1]["content"].startswith("This week")]
    assert len(asked) == len(default) + 6 + 9
    assert not any(_is_inference_chat(r, seen) for r in check_ins)  # no model was asked for them
    result = runner.invoke(app, ["export", str(run_dir), "--out", str(tmp / "x.jsonl"), "--task", "counseling"])
    assert "9 prefilled closings" in result.output


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


def test_a_planted_duplicate_is_dropped(tmp_path):
    """The same reference client imported twice under two ids: every example of the copy is a duplicate."""
    imported = tmp_path / "imported"
    result = runner.invoke(app, ["scenarios", "import", "muspsy", str(FIXTURES / "muspsy"), "--out", str(imported)])
    assert result.exit_code == 0, result.output
    original = sorted(imported.glob("*.dialogues.json"))[0].name.removesuffix(".dialogues.json")
    copy = f"{original}-copy"
    profile = (imported / f"{original}.yaml").read_text(encoding="utf-8")
    assert f"id: {original}\n" in profile
    (imported / f"{copy}.yaml").write_text(profile.replace(f"id: {original}\n", f"id: {copy}\n"), encoding="utf-8")
    (imported / f"{copy}.dialogues.json").write_text(
        (imported / f"{original}.dialogues.json").read_text(encoding="utf-8"), encoding="utf-8")
    kept = _export(imported, tmp_path / "kept.jsonl", "--format", "openai")
    with_dupes = _export(imported, tmp_path / "all.jsonl", "--format", "openai", "--no-dedupe")
    of_original = [r for r in kept if r["client_id"] == original]
    assert of_original and not [r for r in kept if r["client_id"] == copy]
    assert len(with_dupes) == len(kept) + len(of_original)
    assert len({json.dumps(r["messages"]) for r in with_dupes}) == len(kept)


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
    """The exporter renders through the counselor the run names, not the MusPsy counselor: every example."""
    from tests.conftest import scripted_config

    seen = []
    original = test_double.scripted_reply

    def recording(messages, script="scripted"):
        seen.append(json.loads(json.dumps(messages)))
        return original(messages, script)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(test_double, "scripted_reply", recording)
        # postnatal-aisha-30 discloses risk in session 2: the run holds a safety step.
        config = scripted_config(tmp_path, sessions=2, max_turns=2, scenarios=["insomnia-david-47", "postnatal-aisha-30"],
                                 counselor=counselor)
        assert runner.invoke(app, ["run", "--config", str(config), "--no-progress"]).exit_code == 0
    run_dir = tmp_path / "runs" / "scripted"
    sources = {t.get("source") for r in map(json.loads, (run_dir / "sessions.jsonl").read_text().splitlines())
               for t in r["turns"] if t["speaker"] == "counselor"}
    assert "safety" in sources
    rows = _export(run_dir, tmp_path / "out.jsonl", "--format", "openai")
    checked = {"memory": 0, "goal": 0, "counseling": 0}
    for row in rows:
        assert _is_inference_chat(row, seen), (row["task"], row["session_index"])
        checked[row["task"]] += 1
    closings = sum(1 for r in map(json.loads, (run_dir / "sessions.jsonl").read_text().splitlines())
                   for t in r["turns"] if t.get("prefilled"))
    assert closings == 4  # the program began each closing: left out of the default export
    assert checked["memory"] == checked["goal"] == 4 and checked["counseling"] >= 4


@pytest.fixture(scope="module")
def risk_run(tmp_path_factory):
    """MusPsy on a client who discloses risk in session 2: a safety step, then a safety check-in in session 3."""
    from tests.conftest import scripted_config

    tmp = tmp_path_factory.mktemp("export-risk")
    config = scripted_config(tmp, sessions=3, max_turns=2, scenarios=["postnatal-aisha-30"], workers=1)
    assert runner.invoke(app, ["run", "--config", str(config), "--no-progress"]).exit_code == 0
    return tmp / "runs" / "scripted"


def _program_texts(run_dir) -> set[str]:
    return {t["text"] for r in map(json.loads, (run_dir / "sessions.jsonl").read_text().splitlines())
            for t in r["turns"] if t["speaker"] == "counselor" and t.get("source") != "model"}


def test_safety_and_template_turns_are_no_training_targets_unless_asked(risk_run, tmp_path):
    program = _program_texts(risk_run)
    sources = {t.get("source") for r in map(json.loads, (risk_run / "sessions.jsonl").read_text().splitlines())
               for t in r["turns"] if t["speaker"] == "counselor"}
    assert {"safety", "template"} <= sources
    default = _export(risk_run, tmp_path / "default.jsonl", "--format", "openai", "--task", "counseling")
    assert default and not [r for r in default if r["messages"][-1]["content"] in program]
    asked = _export(risk_run, tmp_path / "asked.jsonl", "--format", "openai", "--task", "counseling",
                    "--include-filled-in")
    assert {r["messages"][-1]["content"] for r in asked} >= program
    result = runner.invoke(app, ["export", str(risk_run), "--out", str(tmp_path / "x.jsonl"), "--task", "counseling"])
    assert "left out" in result.output and "safety" in result.output and "template" in result.output


def test_fallback_goals_and_filled_in_memories_are_left_out_unless_asked(risk_run, tmp_path):
    edited = tmp_path / "edited"
    edited.mkdir()
    for name in ("manifest.json",):
        (edited / name).write_text((risk_run / name).read_text(encoding="utf-8"), encoding="utf-8")
    records = [json.loads(line) for line in (risk_run / "sessions.jsonl").read_text().splitlines()]
    records[0]["goal_source"] = "fallback"
    records[1]["memory"]["filled_in"] = ["summary"]
    (edited / "sessions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    default = _export(edited, tmp_path / "default.jsonl", "--format", "openai", "--task", "goal", "--task", "memory")
    kept = {(r["task"], r["session_index"]) for r in default}
    assert ("goal", 1) not in kept and ("memory", 2) not in kept
    assert {("goal", 2), ("goal", 3), ("memory", 1), ("memory", 3)} <= kept
    asked = _export(edited, tmp_path / "asked.jsonl", "--format", "openai", "--task", "goal", "--task", "memory",
                    "--include-filled-in")
    assert {("goal", 1), ("memory", 2)} <= {(r["task"], r["session_index"]) for r in asked}


# --- only what a model wrote is trainable (issue 22, point 7) -------------------------------------------------


def _model_turns(run_dir) -> list[str]:
    """The counselor turns the counselor's model wrote alone, in the run's records."""
    return [t["text"] for record in map(json.loads, (run_dir / "sessions.jsonl").read_text().splitlines())
            for t in record["turns"] if t["speaker"] == "counselor" and t["source"] == "model"
            and not t.get("prefilled")]


def _scaffold_turns(run_dir) -> set[str]:
    """The counselor turns the program wrote, or began (the closing prefix)."""
    return {t["text"] for record in map(json.loads, (run_dir / "sessions.jsonl").read_text().splitlines())
            for t in record["turns"] if t["speaker"] == "counselor" and (t["source"] != "model" or t.get("prefilled"))}


@pytest.mark.parametrize("fmt,key,assistant,text", [("openai", "messages", "assistant", "content"),
                                                    ("sharegpt", "conversations", "gpt", "value")])
@pytest.mark.parametrize("form", ["turn", "session"])
def test_no_scaffold_turn_is_trainable_and_each_model_turn_is_trained_once(run_and_prompts, fmt, key, assistant,
                                                                           text, form):
    """The default campaign's shape, with session-2+ template check-ins: only weight-1 messages are learnt."""
    from muspsy_sim.agents.training.data import load_training_data

    run_dir, _, tmp = run_and_prompts
    out = tmp / f"weights-{fmt}-{form}.jsonl"
    rows = _export(run_dir, out, "--format", fmt, "--task", "counseling", "--form", form, "--no-dedupe")
    scaffold = _scaffold_turns(run_dir)
    assert any(s.startswith("Welcome back") for s in scaffold)
    assistants = [m for row in rows for m in row[key] if m["from" if fmt == "sharegpt" else "role"] == assistant]
    assert all(m["weight"] in (0, 1) for m in assistants)  # every assistant message says whether to learn it
    trained = [m[text] for m in assistants if m["weight"] == 1]
    assert not set(trained) & scaffold and all(m["weight"] == 0 for m in assistants if m[text] in scaffold)
    model_turns = _model_turns(run_dir)
    assert sorted(trained) == sorted(model_turns)  # each model turn once, however often it is context
    if form == "session":
        assert len(rows) == 9  # 3 clients x 3 sessions
    else:
        assert len(rows) == len(model_turns) and all(row[key][-1]["weight"] == 1 for row in rows)
    # The project's trainer learns the same messages.
    data = load_training_data(out)
    assert sorted(e["completion"][0]["content"] for e in data.examples) == sorted(model_turns)
    trainers = json.loads((tmp / f"weights-{fmt}-{form}.trainers.json").read_text())
    assert trainers["axolotl"]["datasets"][0]["message_field_training"] == "weight"
    assert trainers["llama_factory"]["training_args"] == {"mask_history": True}


def test_the_session_form_needs_a_format_with_weights(run_and_prompts):
    run_dir, _, tmp = run_and_prompts
    result = runner.invoke(app, ["export", str(run_dir), "--out", str(tmp / "x.jsonl"), "--form", "session"])
    assert result.exit_code == 2 and "--form" in result.output


@pytest.mark.parametrize("rendering", ["windowed", "trailing"])
def test_a_counselor_that_renders_history_otherwise_is_refused_by_the_session_form(run_and_prompts, rendering):
    """The session form puts weight 1 on the messages of the model's turns by their position at the chat's end
    (``counseling_messages``' contract). A counselor that windows its history, or adds a message after the turns,
    would move the weights onto other messages: refused, naming the counselor, never silently mis-weighted."""
    from muspsy_sim.simulation.core.errors import InputError
    from muspsy_sim.simulation.export.examples import session_example
    from muspsy_sim.simulation.export.sources import load_sessions

    run_dir, _, _ = run_and_prompts
    loaded = load_sessions(run_dir)
    session = min(loaded.sessions, key=lambda s: (s.profile.id, s.session_index))
    counselor = loaded.counselor
    example = session_example(session, [], counselor)
    assert example is not None and all(example.messages[i]["role"] == "assistant" for i in example.trained)
    render = counselor.counseling_messages

    def otherwise(context, turns, stage, recalled):
        chat = render(context, turns, stage, recalled)
        if rendering == "windowed":
            return [chat[0], *chat[-3:]]  # the system prompt and the last three messages
        return [*chat, {"role": "user", "content": "Reply in one sentence."}]

    counselor.counseling_messages = otherwise
    try:
        with pytest.raises(InputError) as raised:
            session_example(session, [], counselor)
    finally:
        del counselor.counseling_messages
    assert type(counselor).__qualname__ in str(raised.value) and "counseling_messages" in str(raised.value)
