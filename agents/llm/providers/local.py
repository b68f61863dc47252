"""LiteLLM provider serving ``local/...`` model strings in-process (the engine in ``agents/llm/local/``)."""

from __future__ import annotations

import asyncio
import time

from muspsy_sim.agents.llm.local.loading import load_local_model
from muspsy_sim.agents.llm.local.resolution import resolve_local_model
from muspsy_sim.agents.llm.local.serving import generate, next_token_logprobs
from muspsy_sim.agents.llm.providers.responses import logprobs_response

LOCAL_PROVIDER = "local"


def make_handler():
    """LiteLLM's handler for ``local/<alias-or-path>``: one shared model per process."""
    # lazy: litellm takes seconds to import; the handler subclasses its CustomLLM
    from litellm import CustomLLM
    from litellm.types.utils import Usage

    class LocalTransformersLLM(CustomLLM):
        """Serves ``local/<alias-or-path>`` from transformers, one shared model per process."""

        def completion(self, model, messages, model_response, optional_params, *args, **kwargs):
            started = time.perf_counter()
            loaded = load_local_model(resolve_local_model(model))
            if optional_params.get("logprobs"):
                # Scoring options: one forward pass, no sampling.
                tokens, prompt_tokens = next_token_logprobs(
                    loaded, messages, int(optional_params.get("top_logprobs") or 20), optional_params.get("score_options"))
                logprobs_response(model_response, tokens)
                model_response.usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=1,
                                             total_tokens=prompt_tokens + 1)
                model_response.model = f"{LOCAL_PROVIDER}/{model}"
                return model_response
            stop = optional_params.get("stop") or []
            text, prompt_tokens, completion_tokens = generate(
                loaded,
                messages,
                max_tokens=int(optional_params.get("max_tokens") or 128),
                temperature=float(optional_params.get("temperature", 0.7)),
                seed=optional_params.get("seed"),
                stop=[stop] if isinstance(stop, str) else list(stop),
            )
            model_response.choices[0].message.content = text
            model_response.choices[0].finish_reason = "stop"
            model_response.model = f"{LOCAL_PROVIDER}/{model}"
            model_response.usage = Usage(
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                total_tokens=prompt_tokens + completion_tokens,
            )
            model_response._hidden_params["generation_seconds"] = time.perf_counter() - started
            return model_response

        async def acompletion(self, *args, **kwargs):
            return await asyncio.to_thread(self.completion, *args, **kwargs)

    return LocalTransformersLLM()
