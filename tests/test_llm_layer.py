"""The model layer: LiteLLM providers, usage accounting, model strings."""

import pytest

from muspsy_sim.agents.llm import MeteredModel, ModelSpec, Sampling, UnknownModel, UsageMeter
from muspsy_sim.agents.llm.local.resolution import (
    EMBEDDED_MODEL,
    LocalModelNotFound,
    resolve_local_model,
)
from muspsy_sim.agents.llm.providers.registration import litellm_with_providers
from muspsy_sim.agents.llm.routing import LiteLLMModel, servable


def test_test_double_answers_in_process_as_through_litellm_and_is_metered():
    meter = UsageMeter()
    model = MeteredModel(LiteLLMModel(ModelSpec.parse("testdouble/scripted")), "counselor", meter)
    messages = [{"role": "system", "content": "You are a warm, skilled psychological counselor in session 1 with Ann."},
                {"role": "user", "content": "I cannot sleep. It is awful."}]
    sampling = Sampling(max_tokens=40, seed=3)
    completion = model.complete(messages, sampling)
    assert completion.text.startswith("It sounds like i cannot sleep")
    assert completion.prompt_tokens > 0 and completion.completion_tokens > 0
    totals = meter.totals()["counselor"]
    assert totals.calls == 1 and totals.completion_tokens == completion.completion_tokens
    # Routing calls the test double in process; registered with LiteLLM, it is an ordinary provider that answers alike.
    through_litellm = litellm_with_providers().completion(model="testdouble/scripted", messages=messages,
                                                          max_tokens=sampling.max_tokens,
                                                          temperature=sampling.temperature, seed=sampling.seed)
    assert through_litellm.choices[0].message.content.strip() == completion.text
    assert through_litellm.choices[0].finish_reason == completion.finish_reason
    assert through_litellm.usage.prompt_tokens == completion.prompt_tokens
    assert through_litellm.usage.completion_tokens == completion.completion_tokens


def test_model_strings_are_checked():
    servable(ModelSpec.parse("testdouble/scripted"))
    servable(ModelSpec.parse(f"local/{EMBEDDED_MODEL}"))
    servable(ModelSpec.parse("openai/gpt-4o-mini"))  # known to LiteLLM; needs no key to be checked
    servable(ModelSpec.parse("hosted_vllm/my-model"))
    for bad in ("gpt-4o-mini-without-provider-prefix-xyz", "nosuch/x", "local/nowhere", "testdouble/unknown"):
        with pytest.raises(UnknownModel):
            servable(ModelSpec.parse(bad))


def test_the_json_only_script_and_its_model_string_are_one_name():
    """The test double's script and the model string that names it: one derived from the other, not two
    constants of one name and different values."""
    from muspsy_sim.agents.llm import spec

    model = ModelSpec.parse(spec.JSON_ONLY_MODEL)
    assert (model.provider, model.name) == (spec.TEST_DOUBLE, spec.JSON_ONLY_SCRIPT)
    assert spec.JSON_ONLY_SCRIPT in spec.TEST_DOUBLE_SCRIPTS
    assert not model.offers_likelihoods and ModelSpec.parse("testdouble/scripted").offers_likelihoods


def test_local_model_strings_resolve_alias_gguf_file_and_hf_directory(tmp_path):
    embedded = resolve_local_model(EMBEDDED_MODEL)
    assert (embedded.directory / embedded.gguf_file).is_file()
    gguf = resolve_local_model(str(embedded.directory / embedded.gguf_file))
    assert gguf.gguf_file == embedded.gguf_file
    hf_dir = tmp_path / "hf"
    hf_dir.mkdir()
    (hf_dir / "config.json").write_text("{}")
    assert resolve_local_model(str(hf_dir)).gguf_file is None
    with pytest.raises(LocalModelNotFound):
        resolve_local_model(str(tmp_path / "empty"))
