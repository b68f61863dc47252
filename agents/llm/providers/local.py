"""The provider serving ``local/...`` model strings in-process (the engine in ``agents/llm/local/``).

``local_answer`` is called by routing directly (no LiteLLM in between); ``make_handler`` registers the
same answers with LiteLLM, for anyone who calls ``litellm.completion`` with a ``local/`` model.
"""

from __future__ import annotations

import asyncio

from ..local.loading import load_local_model
from ..local.resolution import resolve_local_model
from ..local.serving import generate, next_token_logprobs
from ..spec import LOCAL
from .responses import ChatResponse, fill_model_response


def local_answer(name: str, messages: list[dict], params: dict) -> ChatResponse:
    """One request to the local model ``name`` (loaded once per process); ``params`` as LiteLLM passes them."""
    loaded = load_local_model(resolve_local_model(name))
    model = f"{LOCAL}/{name}"
    if params.get("logprobs"):
        # Scoring options: one forward pass, no sampling.
        tokens, prompt_tokens = next_token_logprobs(
            loaded, messages, int(params.get("top_logprobs") or 20), params.get("score_options"))
        return ChatResponse.of_logprobs(tokens, model, prompt_tokens)
    stop = params.get("stop") or []
    text, prompt_tokens, completion_tokens = generate(
        loaded,
        messages,
        max_tokens=int(params.get("max_tokens") or 128),
        temperature=float(params.get("temperature", 0.7)),
        seed=params.get("seed"),
        stop=[stop] if isinstance(stop, str) else list(stop),
    )
    return ChatResponse.of_text(text, model, prompt_tokens, completion_tokens)


def make_handler():
    """LiteLLM's handler for ``local/<alias-or-path>``: one shared model per process."""
    # lazy: litellm takes seconds to import; the handler subclasses its CustomLLM
    from litellm import CustomLLM

    class LocalTransformersLLM(CustomLLM):
        """Serves ``local/<alias-or-path>`` from transformers, one shared model per process."""

        def completion(self, model, messages, model_response, optional_params, *args, **kwargs):
            # LiteLLM strips the "local/" prefix: ``model`` is the alias or path.
            return fill_model_response(model_response, local_answer(model, messages, optional_params))

        async def acompletion(self, *args, **kwargs):
            return await asyncio.to_thread(self.completion, *args, **kwargs)

    return LocalTransformersLLM()
