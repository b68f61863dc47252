"""Answers over the wire: likelihood from a server's logprobs, one JSON request per questionnaire, and
fallback answers that stay marked, counted and out of the scores.

The server is tests/fake_openai_server.py (a TEST DOUBLE speaking OpenAI's HTTP API with the scripted
double's answers); the campaign reaches it through ``openai/...`` and ``api_base``, as a user would.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from muspsy_sim.agents.client.questionnaires import administer, instruments, item_set
from muspsy_sim.agents.client.state import ClientState
from muspsy_sim.agents.llm import Completion, ItemSet, MeteredModel, ModelSpec, UsageMeter
from muspsy_sim.agents.llm.choice_scoring import ScoringPlan
from muspsy_sim.agents.llm.choice_scoring.json_answers import SCHEMA_PROBE, JsonItems, read_answers
from muspsy_sim.agents.llm.choice_scoring.likelihood import TOP_NARROW, TOP_WIDE, WireLikelihood
from muspsy_sim.agents.llm.routing import LiteLLMModel
from muspsy_sim.scenarios.loader import LIBRARY_DIR, load_library
from muspsy_sim.simulation.cli import app
from tests.fake_openai_server import FakeOpenAIServer

runner = CliRunner()
ROLES = ("counselor", "client", "judge")


@pytest.fixture(autouse=True)
def dummy_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-dummy")


@pytest.fixture(scope="module")
def priya():
    profile = load_library(LIBRARY_DIR)["gad-priya-38"]
    return profile, ClientState.initial(profile)


def _over_the_wire(server, **role):
    return {name: {"model": "openai/fake", "api_base": server.url, **role} for name in ROLES}


def _run(make_config, tmp_path, models, *extra, name="wire", sessions=2):
    config = make_config(name=name, models=models, sessions=sessions, max_turns=1, scenarios=["gad-priya-38"])
    result = runner.invoke(app, ["run", "--config", str(config), "--no-progress", *extra])
    run_dir = tmp_path / "runs" / name
    sessions = run_dir / "sessions.jsonl"
    records = [json.loads(line) for line in sessions.read_text().splitlines()] if sessions.is_file() else []
    return result, records, json.loads((run_dir / "manifest.json").read_text()), run_dir


def _questionnaires(records):
    return [{k: v for k, v in r["questionnaires"].items() if k != "exit"} for r in records]


# --- likelihood over the wire ------------------------------------------------------------------------


def test_the_servers_logprobs_answer_as_the_in_process_likelihood_does(tmp_path, make_config):
    in_process = {name: {"model": "testdouble/scripted"} for name in ROLES}
    _, local, _, _ = _run(make_config, tmp_path, in_process, name="local")
    with FakeOpenAIServer() as server:
        result, wire, manifest, _ = _run(make_config, tmp_path, _over_the_wire(server), name="wire")
    assert result.exit_code == 0, result.output
    answers = lambda records: [{k: e["answers"] for k, e in q.items()} for q in _questionnaires(records)]  # noqa: E731
    assert answers(wire) == answers(local)
    methods = {m for q in _questionnaires(wire) for e in q.values() for m in e["methods"]}
    assert methods == {"likelihood-calibrated"}
    # Support is asked once per role (client; the counselor never scores options): 100 refused, then 20.
    probes = [b for b in server.bodies if b["messages"][0]["content"] == "Reply with one digit."]
    assert [b["top_logprobs"] for b in probes] == [TOP_WIDE, TOP_NARROW]
    items = [b for b in server.bodies if b.get("logprobs") and b not in probes]
    assert {b["top_logprobs"] for b in items} == {TOP_NARROW} and all(b["max_tokens"] == 1 for b in items)
    assert manifest["answers"]["client"]["phq9"] == {"asked": 27, "fallbacks": 0}


def test_a_server_that_lists_more_top_logprobs_is_asked_for_more():
    with FakeOpenAIServer(max_top_logprobs=200) as server:
        llm = LiteLLMModel(ModelSpec.parse("openai/fake"), api_base=server.url)
        assert llm.scoring.wire.detect(llm.send)[0] and llm.scoring.wire.top == TOP_WIDE
        assert llm.scoring.wire.detect(llm.send) == (True, ())  # asked once


def _response(entries: list[tuple[str, float]]):
    """A LiteLLM-shaped response whose first token lists ``entries`` as its top log-probabilities."""
    from types import SimpleNamespace as NS

    top = [{"token": t, "logprob": v} for t, v in entries]
    return NS(choices=[NS(logprobs={"content": [{"token": entries[0][0], "logprob": entries[0][1],
                                                   "top_logprobs": top}]})])


def test_options_below_a_full_list_get_its_last_logprob_and_a_list_without_options_is_asked_again():
    wire = WireLikelihood()
    wire.top = 4
    replies = iter([
        [("I", -1.0), ("2", -2.0), ("The", -3.0), ("1", -4.0)],  # full list: 0 and 3 below its last entry
        [("\ufffd", -1.0)],  # junk: asked again
        [("3", -0.5), ("0", -1.5), ("2", -2.5), ("1", -3.5)],
    ])
    sent = []

    def send(messages, sampling, **extra):
        sent.append(sampling.seed)
        return Completion(text="x", model="openai/fake"), _response(next(replies))

    first = wire.score(send, [], ["0", "1", "2", "3"], seed=7, baseline=None, output_retries=2)
    assert first.choice == "2" and first.scores == {"0": -4.0, "1": -4.0, "2": -2.0, "3": -4.0}
    second = wire.score(send, [], ["0", "1", "2", "3"], seed=9, baseline=None, output_retries=2)
    assert second.choice == "3" and [c.rejected != "" for c in second.completions] == [True, False]
    assert sent == [7, 9, 9]  # a re-ask repeats the request first


def test_scoring_logprobs_against_a_server_without_them_fails_the_step(tmp_path, make_config):
    with FakeOpenAIServer(logprobs=False) as server:
        models = _over_the_wire(server)
        models["client"]["scoring"] = "logprobs"
        result, records, manifest, _ = _run(make_config, tmp_path, models, sessions=1)
    assert result.exit_code == 1 and records == []
    course = manifest["courses"]["gad-priya-38"]
    assert course["status"] == "failed"
    assert course["failed_step"]["role"] == "client" and "returns no log-probabilities" in course["error"]


# --- one request per questionnaire --------------------------------------------------------------------


def test_without_logprobs_each_questionnaire_is_one_json_request(tmp_path, make_config):
    in_process = {name: {"model": "testdouble/scripted"} for name in ROLES}
    _, local, _, _ = _run(make_config, tmp_path, in_process, name="local", sessions=1)
    with FakeOpenAIServer(logprobs=False) as server:
        result, records, manifest, _ = _run(make_config, tmp_path, _over_the_wire(server), sessions=1)
    assert result.exit_code == 0, result.output
    asked = [b for b in server.bodies if (b.get("response_format") or {}).get("type") == "json_schema"
             and b["messages"] != SCHEMA_PROBE]  # the start of the run asks once whether the schema is enforced
    assert len(asked) == 6  # PHQ-9, GAD-7, WAI-SR, PANAS, and the exit assessment's PHQ-9 and GAD-7
    schema = asked[0]["response_format"]["json_schema"]["schema"]
    assert schema["required"] == [str(n) for n in range(1, 10)] and schema["properties"]["1"]["enum"] == [0, 1, 2, 3]
    methods = {m for q in _questionnaires(records) for e in q.values() for m in e["methods"]}
    assert methods == {"structured"} and manifest["usage"]["client"]["reasks"] == 0
    # Which answer went to which item: each item of the one JSON request is answered as the double answers it
    # alone in process, by likelihood (from how the client feels in words: distress for PHQ-9 and GAD-7,
    # trust for WAI-SR, mood and distress for PANAS's two halves), item for item.
    answers = lambda records: [{k: e["answers"] for k, e in q.items()} for q in _questionnaires(records)]  # noqa: E731
    assert answers(records) == answers(local)
    wire = answers(records)[0]
    assert len({a for instrument in wire.values() for a in instrument}) > 1  # not one answer for every item


def test_only_the_missing_or_invalid_items_are_asked_again(priya):
    profile, state = priya
    items = item_set(instruments()["gad7"], profile, state, 1)
    replies = iter(['{"1": 2, "2": 9, "3": 1, "5": "often"}', '{"2": 1, "4": 0, "5": 3, "6": 2}', '{"7": 3}'])
    prompts = []

    def send(messages, sampling, **extra):
        prompts.append((messages[0]["content"], extra["response_format"]["json_schema"]["schema"]["required"]))
        return Completion(text=next(replies), model="openai/fake"), None

    scored = JsonItems().score_items(send, items, seed=3, output_retries=2)
    assert [a.choice for a in scored.answers] == ["2", "1", "1", "0", "3", "2", "3"]
    assert {a.method for a in scored.answers} == {"structured"}
    assert [required for _, required in prompts] == [[str(n) for n in range(1, 8)], ["2", "4", "5", "6", "7"], ["7"]]
    assert "\n2. Statement:" in prompts[1][0] and "\n1. Statement:" not in prompts[1][0]
    assert [bool(c.rejected) for c in scored.completions] == [True, True, False]


def test_items_without_an_answer_after_the_re_asks_are_filled_in_and_marked(priya):
    profile, state = priya
    items = item_set(instruments()["phq9"], profile, state, 1)
    send = lambda messages, sampling, **extra: (Completion(text='{"1": 1}', model="x"), None)  # noqa: E731
    scored = JsonItems().score_items(send, items, seed=0, output_retries=2)
    assert scored.answers[0].choice == "1" and not scored.answers[0].filled_in
    assert all(a.filled_in and a.choice == "2" for a in scored.answers[1:])
    assert len(scored.completions) == 3
    assert read_answers('{"1": 1, "1": 3, "12": 2, "2": "3"', [1, 2], ("0", "1", "2", "3")) == {1: "1", 2: "3"}


@pytest.mark.parametrize("text", ["{1: 3, 2: 4}", "{'1': '3', '2': 4}", "{1: '3', \"2\": \"4\"}", "{ 1 :3,2:4 }",
                                  "Sure! {1: 3, 2: 4, 3: 9"])
def test_item_answers_are_read_from_the_loose_json_small_models_write(text):
    """Unquoted keys and single quotes (no schema held the model to JSON) are still the model's answers."""
    assert read_answers(text, [1, 2], ("1", "2", "3", "4", "5")) == {1: "3", 2: "4"}


def test_a_number_inside_a_value_or_a_time_is_no_key():
    assert read_answers('{"1": "at 10:30", "2": 4}', [1, 2, 10], ("4", "30")) == {2: "4"}


def test_the_item_set_api_serves_any_items_on_one_scale():
    """Not only questionnaires: e.g. ratings of one counselor turn, a few items sharing its text."""
    items = ItemSet("Counselor said: 'That sounds hard.'\nRate 1-5.", ("Empathy. Your level: 4", "Push. Your level: 1"),
                    ("1", "2", "3", "4", "5"))
    for mode, model in (("auto", "testdouble/scripted"), ("json", "testdouble/scripted"), ("auto", "testdouble/json-only")):
        meter = UsageMeter()
        llm = MeteredModel(LiteLLMModel(ModelSpec.parse(model), scoring=mode), "client", meter)
        scored = llm.score_items(items, seed=1)
        assert [a.choice for a in scored.answers] == ["4", "1"], (mode, model)
        assert meter.totals()["client"].calls == len(scored.completions)


def test_scoring_modes_are_checked(make_config):
    with pytest.raises(ValueError, match="scoring must be one of"):
        ScoringPlan(ModelSpec.parse("openai/x"), "guess")
    config = make_config(models={"client": {"model": "testdouble/scripted", "scoring": "guess"}})
    result = runner.invoke(app, ["run", "--config", str(config), "--no-progress"])
    assert result.exit_code == 2 and "models.client.scoring" in result.output


def test_json_per_item_asks_each_item_on_its_own(priya):
    profile, state = priya
    meter = UsageMeter()
    llm = MeteredModel(LiteLLMModel(ModelSpec.parse("testdouble/json-only"), scoring="json-per-item"), "client", meter)
    result, completions = administer(llm, instruments()["phq9"], profile, state, 1, 5)
    assert result.methods == {"structured": 9} and len(completions) == 9 and result.filled_in == []


# --- no silent fallbacks ----------------------------------------------------------------------------


def test_garbage_answers_are_marked_counted_warned_about_and_left_out_of_eval(tmp_path, make_config):
    with FakeOpenAIServer(garbage=True) as server:
        result, records, manifest, run_dir = _run(make_config, tmp_path, _over_the_wire(server))
        scored = runner.invoke(app, ["eval", str(run_dir)])
    assert result.exit_code == 0, result.output
    first = records[0]["questionnaires"]["phq9"]
    assert first["filled_in"] == list(range(1, 10)) and first["methods"] == {"fallback": 9}
    assert manifest["answers"]["client"]["phq9"] == {"asked": 27, "fallbacks": 27}  # 2 sessions and the exit
    assert [(s["session_index"], s["fallbacks"], s["asked"]) for s in manifest["fallback_heavy_sessions"]] == \
        [(1, 48, 48), (2, 64, 64)]
    printed = " ".join(result.output.split())
    assert "Questionnaire answers filled in (fallback): client: 112 of 112 (gad7 21/21," in printed
    assert ("WARNING: client gad-priya-38, session 1: 48 of 48 questionnaire answers (100%) were not given by the "
            "model but filled in with the scale's middle (threshold 5%).") in printed
    assert scored.exit_code == 0, scored.output
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    metrics = rows[0]["metrics"]
    assert metrics["phq9"] is None and metrics["wai_total"] is None and metrics["answer_coverage"] == 0.0
    assert metrics["distress_start"] is not None
    assert all(v is None for k, v in metrics.items() if k.startswith(("judge_", "ctrs_")))
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["answer_coverage"]["client"]["phq9"] == {"asked": 27, "answered": 0}
    assert summary["answer_coverage"]["judge"]["ratings"] == {"asked": 24, "answered": 0}
    assert "client gad7 0/21" in " ".join(scored.output.split())


def test_strict_fails_a_course_above_the_threshold(tmp_path, make_config):
    with FakeOpenAIServer(garbage=True) as server:
        result, records, manifest, _ = _run(make_config, tmp_path, _over_the_wire(server), "--strict", sessions=1)
    assert result.exit_code == 1 and len(records) == 1
    course = manifest["courses"]["gad-priya-38"]
    assert course["status"] == "failed" and manifest["status"] == "failed"
    assert course["error"].startswith("strict: 1 session(s) above the fallback threshold (5%); session 1: "
                                      "64 of 64 questionnaire answers filled in")
    assert manifest["config"]["answer_fallbacks"] == {"threshold": 0.05, "strict": True}
    assert "The course is marked failed (--strict)." in " ".join(result.output.split())


def test_a_share_under_the_threshold_passes_strict(tmp_path, make_config):
    config = make_config(name="clean", sessions=1, max_turns=1, scenarios=["gad-priya-38"],
                         answer_fallbacks={"threshold": 0.0, "strict": True})
    result = runner.invoke(app, ["run", "--config", str(config), "--no-progress"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "runs" / "clean" / "manifest.json").read_text())
    assert manifest["fallback_heavy_sessions"] == [] and "local_engine" not in manifest


def test_answer_items_asks_prompts_sharing_all_but_their_last_line_as_one_item_set():
    from muspsy_sim.agents.client.item_answers import answer_items, item_set_of

    prompts = [[{"role": "user", "content": f"The counselor said: 'That sounds hard.'\nRate 1-5.\nStatement: {s}"}]
               for s in ("Empathy. Your level: 4", "Push. Your level: 1")]
    meter = UsageMeter()
    llm = MeteredModel(LiteLLMModel(ModelSpec.parse("testdouble/scripted"), scoring="json"), "client", meter)
    answers = answer_items(llm, prompts, ["1", "2", "3", "4", "5"], seed=3)
    assert [a.choice for a in answers] == ["4", "1"] and meter.totals()["client"].calls == 1
    assert len(answers[0].completions) == 1 and answers[1].completions == ()
    other = [[{"role": "user", "content": "A\nStatement: x"}], [{"role": "user", "content": "B\nStatement: y"}]]
    assert item_set_of(other, ["1", "2"], None) is None


def test_the_double_answers_each_item_of_one_json_request_from_what_the_prompt_says(priya):
    """PANAS's positive items follow the mood in words, its negative items the distress: item by item, the
    same in one JSON request as one item at a time by likelihood (not one answer for all)."""
    profile, state = priya
    low_mood = state.model_copy(update={"distress": 9.5, "positive_affect": 0.05, "negative_affect": 0.9})
    items = item_set(instruments()["panas"], profile, low_mood, 1)
    json_answers = LiteLLMModel(ModelSpec.parse("testdouble/scripted"), scoring="json").score_items(items, seed=1)
    likelihood = LiteLLMModel(ModelSpec.parse("testdouble/scripted")).score_items(items, seed=1)
    chosen = [a.choice for a in json_answers.answers]
    assert chosen == [a.choice for a in likelihood.answers]
    positive = set(instruments()["panas"].subscales["positive"])
    assert {chosen[i - 1] for i in positive} == {"1"} and {c for i, c in enumerate(chosen, 1) if i not in positive} == {"5"}
