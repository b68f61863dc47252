"""Model faults: LiteLLM retries and fallbacks, re-asks for unusable output, failed steps, fault injection.

The faults come from the ``faulty/...`` TEST DOUBLE provider (agents/llm/providers/faulty.py),
which raises LiteLLM's own exceptions or spoils the inner model's answer. Backoff waits are
scaled down (``backoff_scale``) so the file stays fast; timings are never asserted.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from muspsy_sim.agents.counselor.muspsy import MusPsyCounselor
from muspsy_sim.agents.llm import (
    Completion,
    FailedStep,
    LanguageModel,
    MeteredModel,
    ModelSpec,
    ModelUnavailable,
    Sampling,
    UsageMeter,
    complete_checked,
    words_problem,
)
from muspsy_sim.agents.llm.providers.faulty import FAULT_KINDS, OUTPUT_FAULTS, TRANSPORT_FAULTS, FaultInjector
from muspsy_sim.agents.llm.routing import LiteLLMModel
from muspsy_sim.simulation.cli import app
from muspsy_sim.simulation.core.turns import ClientTurn, CounselorTurn

runner = CliRunner()
FAST = 0.001  # backoff_scale: LiteLLM's waits (0.5 s doubling, plus jitter) become milliseconds
PROMPTS = [
    [{"role": "system", "content": f"You are a warm, skilled psychological counselor in session 1 with Ann{i}."},
     {"role": "user", "content": f"I cannot sleep, night {i}. It is awful."}]
    for i in range(12)
]


def _metered(model: str, role: str = "counselor", fallback: str | None = None,
             **settings) -> tuple[MeteredModel, UsageMeter]:
    meter = UsageMeter()
    llm = LiteLLMModel(ModelSpec.parse(model), fallback=ModelSpec.parse(fallback) if fallback else None,
                       backoff_scale=FAST, **settings)
    return MeteredModel(llm, role, meter), meter


def _answers(llm, prompts=PROMPTS) -> list[str]:
    return [complete_checked(llm, p, Sampling(max_tokens=40, seed=i), step="turn", check=words_problem)[-1].text
            for i, p in enumerate(prompts)]


@pytest.fixture(scope="module")
def fault_free_answers():
    return _answers(_metered("testdouble/scripted")[0])


@pytest.mark.parametrize("kind", TRANSPORT_FAULTS)
def test_each_transport_fault_is_retried_by_litellm_and_recovered(kind, fault_free_answers):
    llm, meter = _metered("faulty/testdouble/scripted", params={"fault_rate": 0.5, "fault_seed": 3, "fault_kinds": [kind]},
                          retries=8)
    assert _answers(llm) == fault_free_answers
    totals = meter.totals()["counselor"]
    assert totals.retries > 0 and totals.reasks == 0 and totals.calls == len(PROMPTS)


@pytest.mark.parametrize("kind", OUTPUT_FAULTS)
def test_each_output_fault_is_detected_and_asked_again(kind, fault_free_answers):
    llm, meter = _metered("faulty/testdouble/scripted", params={"fault_rate": 0.5, "fault_seed": 3, "fault_kinds": [kind]},
                          output_retries=8)
    assert _answers(llm) == fault_free_answers
    totals = meter.totals()["counselor"]
    assert totals.reasks > 0 and totals.retries == 0 and totals.calls == len(PROMPTS) + totals.reasks


def test_option_scores_survive_injected_faults():
    prompt = [{"role": "user", "content": "How anxious are you? Your level: 2\nAnswer with one digit."}]
    clean = LiteLLMModel(ModelSpec.parse("testdouble/scripted")).score_choices(prompt, ["0", "1", "2", "3"], seed=5)
    llm, meter = _metered("faulty/testdouble/scripted", role="client", retries=8, output_retries=8,
                          params={"fault_rate": 0.6, "fault_seed": 1})
    faulty = [llm.score_choices(prompt, ["0", "1", "2", "3"], seed=5) for _ in range(6)]
    assert {(s.choice, s.method) for s in faulty} == {(clean.choice, "likelihood")} and clean.choice == "2"
    totals = meter.totals()["client"]
    assert totals.retries + totals.reasks > 0


def test_fallback_model_answers_when_the_main_one_keeps_failing(fault_free_answers):
    llm, meter = _metered("faulty/testdouble/scripted", params={"fault_rate": 1.0, "fault_kinds": ["rate_limit"]},
                          retries=2, fallback="testdouble/scripted")
    completion = llm.complete(PROMPTS[0], Sampling(max_tokens=40, seed=0))
    assert completion.text == fault_free_answers[0]
    assert completion.fallback and completion.model == "testdouble/scripted" and completion.retries >= 2
    assert meter.totals()["counselor"].fallbacks == 1


def test_a_model_that_stays_unreachable_fails_the_step_with_the_reason():
    llm, meter = _metered("faulty/testdouble/scripted", role="client", retries=1,
                          params={"fault_rate": 1.0, "fault_kinds": ["unavailable"]})
    with pytest.raises(FailedStep) as failed:
        complete_checked(llm, PROMPTS[0], Sampling(max_tokens=40, seed=0), step="turn", check=words_problem)
    assert str(failed.value).startswith("client turn: faulty/testdouble/scripted failed after 1 retries: "
                                        "ServiceUnavailableError")
    assert meter.failures() == {"client": 1}


def test_an_in_process_model_that_cannot_answer_is_unavailable_and_said_not_retried(monkeypatch):
    from muspsy_sim.agents.llm.providers.registration import IN_PROCESS_ANSWERS

    def out_of_memory(name, messages, params):
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setitem(IN_PROCESS_ANSWERS, "testdouble", out_of_memory)
    with pytest.raises(ModelUnavailable) as unavailable:
        LiteLLMModel(ModelSpec.parse("testdouble/scripted"), retries=3).complete(PROMPTS[0], Sampling(max_tokens=8))
    assert str(unavailable.value) == ("testdouble/scripted failed in process, not retried: "
                                      "RuntimeError: CUDA out of memory")


@pytest.mark.parametrize("fault", [KeyError("item"), TypeError("bad argument"), NotImplementedError()])
def test_a_fault_in_the_code_of_an_in_process_provider_is_no_outage(monkeypatch, fault):
    """A programming error in an in-process provider goes up as itself, not as "the model is unavailable"."""
    from muspsy_sim.agents.llm.providers.registration import IN_PROCESS_ANSWERS

    def broken(name, messages, params):
        raise fault

    monkeypatch.setitem(IN_PROCESS_ANSWERS, "testdouble", broken)
    model = LiteLLMModel(ModelSpec.parse("testdouble/scripted"), fallback=ModelSpec.parse("testdouble/scripted"))
    with pytest.raises(type(fault)):
        model.complete(PROMPTS[0], Sampling(max_tokens=8))


class _Blank(LanguageModel):
    """TEST DOUBLE model: always blank; keeps the sampling of every request."""

    model = "fake/blank"

    def __init__(self):
        self.seeds: list[int | None] = []

    def complete(self, messages, sampling):
        self.seeds.append(sampling.seed)
        return Completion(text="  ", model=self.model)


def test_unusable_output_is_asked_again_a_bounded_number_of_times_then_the_step_fails():
    blank = _Blank()
    meter = UsageMeter()
    llm = MeteredModel(blank, "counselor", meter)
    with pytest.raises(FailedStep) as failed:
        complete_checked(llm, PROMPTS[0], Sampling(seed=40), step="middle turn", check=words_problem)
    assert str(failed.value) == "counselor middle turn: empty output after 3 attempts"
    # The same request first (a transient fault then gives the fault-free answer), then a new seed.
    assert blank.seeds == [40, 40, 41]
    assert meter.totals()["counselor"].reasks == 2 and meter.failures() == {"counselor": 1}
    assert words_problem("No.") is None and words_problem("\ufffd ### 404") is not None


def test_memory_missing_fields_is_asked_again_then_filled_in_from_the_record():
    from muspsy_sim.agents.counselor.base import SessionContext
    from muspsy_sim.scenarios.loader import load_library
    from tests.conftest import LIBRARY
    from tests.fakes import RecordingModel

    answers = iter(["sad.\nSummary: short.", "sad.\nSummary: short.", "worried.\nSummary: brief."])
    model = RecordingModel(reply=lambda messages: next(answers))
    counselor = MusPsyCounselor(model, Sampling(seed=1))
    profile = load_library(LIBRARY)["gad-priya-38"]
    turns = [CounselorTurn(text="Hello."), ClientTurn(text="I worry."), CounselorTurn(text="This week, try a worry diary.")]
    extracted = counselor.extract_memory(SessionContext(profile, 1, goal="Calm the worry."), turns, seed=3)
    assert len(model.prompts) == 3 and len(extracted.completions) == 3
    assert extracted.memory.emotion_and_cognitive_state == "worried." and extracted.memory.summary == "brief."
    assert "counseling_assignments" in extracted.memory.filled_in


def test_memory_keeps_an_earlier_usable_answer_when_the_last_re_ask_comes_back_blank():
    from muspsy_sim.agents.counselor.base import SessionContext
    from muspsy_sim.scenarios.loader import load_library
    from tests.conftest import LIBRARY
    from tests.fakes import RecordingModel

    answers = iter(["sad.\nSummary: short.", "sad.\nSummary: short.", ""])
    model = RecordingModel(reply=lambda messages: next(answers))
    counselor = MusPsyCounselor(model, Sampling(seed=1))
    profile = load_library(LIBRARY)["gad-priya-38"]
    turns = [CounselorTurn(text="Hello."), ClientTurn(text="I worry.")]
    extracted = counselor.extract_memory(SessionContext(profile, 1, goal="Calm the worry."), turns, seed=3)
    assert len(model.prompts) == 3 and len(extracted.completions) == 3
    assert extracted.completions[-1].text.startswith("sad.")  # the accepted one comes last
    assert [bool(getattr(c, "rejected", None)) for c in extracted.completions] == [True, True, False]
    assert extracted.memory.summary == "short." and "counseling_assignments" in extracted.memory.filled_in


def test_fault_settings_are_validated():
    assert FaultInjector.from_params({}).kinds == FAULT_KINDS
    for bad in ({"fault_rate": 2}, {"fault_seed": "x"}, {"fault_kinds": ["meteor"]}):
        with pytest.raises(ValueError):
            FaultInjector.from_params(bad)


@pytest.mark.parametrize(
    ("role_settings", "field", "message"),
    [
        ({"model": "faulty/testdouble/scripted", "params": {"fault_rate": 1.5}}, "models.client.params", "fault_rate"),
        ({"model": "testdouble/scripted", "fallback": "nosuchprovider/x"}, "models.client.fallback", "unknown model"),
        ({"model": "faulty/nosuch/x"}, "models.client.model", "unknown model provider"),
        ({"model": "testdouble/scripted", "retries": -1}, "models.client.retries", "greater than or equal"),
    ],
)
def test_bad_fault_settings_are_one_line_exit_2(tmp_path, make_config, role_settings, field, message):
    config = make_config(models={"counselor": "testdouble/scripted", "client": role_settings,
                                 "judge": "testdouble/scripted"})
    result = runner.invoke(app, ["run", "--config", str(config), "--no-progress"])
    assert result.exit_code == 2, result.output
    line = result.output.strip()
    assert line.startswith(f"error: {config}: {field}:") and message in line and "\n" not in line


# -- whole campaigns ------------------------------------------------------------------------------

def _campaign(tmp_path, make_config, output: str, model: str, **overrides):
    # Generous bounds: with 20% faults, 7 transport faults or 6 unusable answers in a row for
    # one request are about one in a million, so every course can complete.
    role = {"model": model, "retries": 6, "output_retries": 5, "backoff_scale": FAST,
            "params": {"fault_rate": 0.2, "fault_seed": 2026} if model.startswith("faulty/") else {}}
    config = make_config(sessions=2, max_turns=1, output_dir=str(tmp_path / output),
                         models={"counselor": role, "client": role, "judge": "testdouble/scripted"}, **overrides)
    result = runner.invoke(app, ["run", "--config", str(config), "--no-progress"])
    run_dir = tmp_path / output / "scripted"
    records = [json.loads(line) for line in (run_dir / "sessions.jsonl").read_text().splitlines()]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    return result, sorted(records, key=lambda r: (r["client_id"], r["session_index"])), manifest


def _comparable(record: dict) -> dict:
    # usage holds call counts, tokens, seconds, retries and re-asks: those legitimately differ
    # between a run with faults and one without. The model strings differ by the faulty/ wrapper.
    models = {role: name.removeprefix("faulty/") for role, name in record["models"].items()}
    return {**{k: v for k, v in record.items() if k != "usage"}, "models": models}


def test_a_campaign_with_20_percent_faults_records_what_a_fault_free_run_records(tmp_path, make_config):
    clean_result, clean, _ = _campaign(tmp_path, make_config, "clean", "testdouble/scripted")
    assert clean_result.exit_code == 0, clean_result.output
    result, faulty, manifest = _campaign(tmp_path, make_config, "faulty", "faulty/testdouble/scripted")
    assert result.exit_code == 0, result.output
    assert {c["status"] for c in manifest["courses"].values()} == {"finished"}
    assert len(faulty) == len(clean) == 4
    assert [_comparable(r) for r in faulty] == [_comparable(r) for r in clean]
    for role in ("counselor", "client"):
        faults = manifest["faults"][role]
        assert faults["retries"] > 0 and faults["reasks"] > 0 and faults["failures"] == 0
        assert manifest["usage"][role]["calls"] > sum(r["usage"][role]["calls"] for r in clean)
    printed = " ".join(result.output.split())
    assert "Faults: client: " in printed and " re-asks, 0 failed steps" in printed


class BlankForDavid(MusPsyCounselor):
    """TEST DOUBLE counselor (by import path): its model goes blank in David's second session."""

    def __init__(self, llm, **options):
        super().__init__(_BlankWhen(llm, "in session 2 with David"), **options)


class _BlankWhen(LanguageModel):
    """Wraps the role model: its model string, role, re-ask bound and fault counting are the inner one's."""

    def __init__(self, inner: LanguageModel, marker: str):
        self.inner, self.marker = inner, marker
        self.model, self.role, self.output_retries = inner.model, inner.role, inner.output_retries

    def note_fault(self, kind: str) -> None:
        self.inner.note_fault(kind)

    def complete(self, messages, sampling):
        completion = self.inner.complete(messages, sampling)
        return replace(completion, text="") if self.marker in messages[0]["content"] else completion


def test_a_course_that_cannot_continue_fails_with_its_reason_while_the_others_finish(tmp_path, make_config):
    result, records, manifest = _campaign(tmp_path, make_config, "blank", "testdouble/scripted",
                                          counselor="tests.test_faults:BlankForDavid")
    assert result.exit_code == 1
    courses = manifest["courses"]
    assert {k: courses["gad-priya-38"][k] for k in ("status", "sessions_done", "ended_by")} == {
        "status": "finished", "sessions_done": 2, "ended_by": "completed"}
    david = courses["insomnia-david-47"]
    assert david["status"] == "failed" and david["sessions_done"] == 1
    assert david["error"] == "counselor closing turn: empty output after 6 attempts"
    assert david["failed_step"] == {"role": "counselor", "step": "closing turn", "reason": "empty output after 6 attempts"}
    assert [(r["client_id"], r["session_index"]) for r in records] == [
        ("gad-priya-38", 1), ("gad-priya-38", 2), ("insomnia-david-47", 1)]
    assert manifest["faults"]["counselor"]["failures"] == 1 and manifest["status"] == "failed"
    assert ("course insomnia-david-47: failed — counselor closing turn: empty output after 6 attempts"
            in " ".join(result.output.split()))


def test_a_refused_request_fails_at_once_without_the_fallback():
    """A 400 is the request's fault, not the server's: not retried, and not handed to the fallback model."""
    from tests.fake_openai_server import FakeOpenAIServer

    with FakeOpenAIServer(max_top_logprobs=20) as server, pytest.MonkeyPatch.context() as patch:
        patch.setenv("OPENAI_API_KEY", "sk-test-dummy")
        llm = LiteLLMModel(ModelSpec.parse("openai/fake"), api_base=server.url, retries=3, backoff_scale=FAST,
                           fallback=ModelSpec.parse("testdouble/scripted"))
        with pytest.raises(ModelUnavailable, match="BadRequestError"):
            llm.send(PROMPTS[0], Sampling(max_tokens=1), logprobs=True, top_logprobs=100)
        assert len(server.bodies) == 1
        completion, _ = llm.send(PROMPTS[0], Sampling(max_tokens=8))
        assert not completion.fallback and completion.model == "openai/fake"


def test_a_missing_or_refused_api_key_is_not_retried_and_moves_to_the_fallback(monkeypatch):
    """No retry brings a key: the request moves to the fallback at once (the move counts as the one retry)."""
    from tests.fake_openai_server import FakeOpenAIServer

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # LiteLLM reports the missing key as a server error (500)
    missing = LiteLLMModel(ModelSpec.parse("openai/gpt-4o-mini"), retries=3, backoff_scale=FAST,
                           fallback=ModelSpec.parse("testdouble/scripted"))
    completion = missing.complete(PROMPTS[0], Sampling(max_tokens=8))
    assert completion.fallback and completion.retries == 1
    with FakeOpenAIServer(key="sk-right") as server:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
        refused = LiteLLMModel(ModelSpec.parse("openai/fake"), api_base=server.url, retries=3, backoff_scale=FAST)
        with pytest.raises(ModelUnavailable, match="AuthenticationError"):
            refused.complete(PROMPTS[0], Sampling(max_tokens=8))
        assert len(server.bodies) == 1
