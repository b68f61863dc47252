"""The one path every LLM call takes: a model string served through LiteLLM."""

from __future__ import annotations

import time
from typing import Any

from agents.llm.base import Completion, Message, Sampling
from agents.llm.providers import litellm_with_providers


class LiteLLMModel:
    """``LanguageModel`` over any LiteLLM model string (``local/...``, ``openai/...``, ...)."""

    def __init__(self, model: str, *, api_base: str | None = None, params: dict[str, Any] | None = None):
        self.model = model
        self.api_base = api_base
        self.params = dict(params or {})

    def complete(self, messages: list[Message], sampling: Sampling) -> Completion:
        litellm = litellm_with_providers()
        request: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": sampling.max_tokens,
            "temperature": sampling.temperature,
            "drop_params": True,
            **self.params,
        }
        if sampling.seed is not None:
            request["seed"] = sampling.seed
        if sampling.stop:
            request["stop"] = list(sampling.stop)
        if self.api_base:
            request["api_base"] = self.api_base
        started = time.perf_counter()
        response = litellm.completion(**request)
        seconds = time.perf_counter() - started
        usage = getattr(response, "usage", None)
        return Completion(
            text=(response.choices[0].message.content or "").strip(),
            model=self.model,
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            seconds=round(seconds, 6),
        )
