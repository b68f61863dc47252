"""The model layer: LiteLLM providers, usage accounting, model strings."""

import pytest

from muspsy_sim.agents.llm import (
    LiteLLMModel,
    MeteredModel,
    ModelSpec,
    Sampling,
    UnknownModel,
    UsageMeter,
)
from muspsy_sim.agents.llm.local.resolution import (
    EMBEDDED_MODEL,
    LocalModelNotFound,
    resolve_local_model,
)


def test_test_double_is_served_through_litellm_and_metered():
    meter = UsageMeter()
    model = MeteredModel(LiteLLMModel(ModelSpec.parse("testdouble/scripted")), "counselor", meter)
    messages = [{"role": "system", "content": "You are a warm, skilled psychological counselor in session 1 with Ann."},
                {"role": "user", "content": "I cannot sleep. It is awful."}]
    completion = model.complete(messages, Sampling(max_tokens=40, seed=3))
    assert completion.text.startswith("It sounds like i cannot sleep")
    assert completion.prompt_tokens > 0 and completion.completion_tokens > 0
    totals = meter.totals()["counselor"]
    assert totals["calls"] == 1 and totals["completion_tokens"] == completion.completion_tokens


def test_model_strings_are_checked():
    ModelSpec.parse("testdouble/scripted").check()
    ModelSpec.parse(f"local/{EMBEDDED_MODEL}").check()
    ModelSpec.parse("openai/gpt-4o-mini").check()  # known to LiteLLM; needs no key to be checked
    ModelSpec.parse("hosted_vllm/my-model").check()
    for bad in ("gpt-4o-mini-without-provider-prefix-xyz", "nosuch/x", "local/nowhere", "testdouble/unknown"):
        with pytest.raises(UnknownModel):
            ModelSpec.parse(bad).check()


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
