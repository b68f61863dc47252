"""TEST DOUBLE: a LiteLLM provider that wraps another model and injects faults.

``faulty/<model string>`` (e.g. ``faulty/testdouble/scripted``) answers through
the inner model, except that a share of calls fails the way a real API fails:

- transport faults, raised as LiteLLM's own exceptions so ``LiteLLMModel`` retries them
  as it would a real API's: ``timeout``, ``connection``, ``rate_limit`` (429),
  ``server_error`` (500), ``unavailable`` (503);
- output faults, the inner answer spoiled: ``empty`` (no text, no log-probabilities),
  ``truncated`` (cut to a third, ``finish_reason`` "length" before the token budget
  was spent) and ``malformed`` (junk without a letter, log-probabilities of junk tokens).

Configured by the role's ``params`` (``routing.LiteLLMModel`` builds the injector from them
and hands it to the provider with each request): ``fault_rate`` (share of calls,
default 0.2), ``fault_seed`` (default 0) and ``fault_kinds`` (default all).
Whether the n-th sending of a request fails, and how, is a hash of (seed, request,
n): runs are reproducible, and a retried request gets a fresh draw.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections.abc import Mapping
from typing import Any

from ..spec import FAULTY

TRANSPORT_FAULTS = ("timeout", "connection", "rate_limit", "server_error", "unavailable")
OUTPUT_FAULTS = ("empty", "truncated", "malformed")
FAULT_KINDS = TRANSPORT_FAULTS + OUTPUT_FAULTS
FAULT_PARAMS = ("fault_rate", "fault_seed", "fault_kinds")
_JUNK = "\ufffd\ufffd ### {{ ]] -- 404 %% \ufffd"
# Request fields that decide the answer, and so identify "the same request".
_REQUEST_KEYS = ("max_tokens", "temperature", "seed", "stop", "logprobs", "top_logprobs", "score_options",
                 "response_format")


class FaultInjector:
    """Decides, reproducibly, which sendings of which requests fail and how. One per model instance."""

    def __init__(self, rate: float = 0.2, seed: int = 0, kinds: tuple[str, ...] = FAULT_KINDS):
        self.rate = rate
        self.seed = seed
        self.kinds = kinds
        self._sent: dict[str, int] = {}
        self._lock = threading.Lock()

    def __deepcopy__(self, memo):
        # LiteLLM deep-copies deployment parameters; the injector's count of sendings must stay one.
        return self

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "FaultInjector":
        """From a role's ``params``; ``ValueError`` names the bad key."""
        rate = params.get("fault_rate", 0.2)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError(f"fault_rate must be a number from 0 to 1, got {rate!r}")
        seed = params.get("fault_seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"fault_seed must be an integer, got {seed!r}")
        kinds = params.get("fault_kinds", list(FAULT_KINDS))
        if isinstance(kinds, str):
            kinds = [kinds]
        unknown = [k for k in kinds if k not in FAULT_KINDS] if isinstance(kinds, list) else [kinds]
        if unknown or not kinds:
            raise ValueError(f"fault_kinds must list some of {', '.join(FAULT_KINDS)}; got {kinds!r}")
        return cls(float(rate), seed, tuple(kinds))

    def decide(self, model: str, messages: list[dict], request: Mapping[str, Any]) -> str | None:
        """The fault for this sending of this request, or None."""
        identity = json.dumps([model, messages, {k: request.get(k) for k in _REQUEST_KEYS}], sort_keys=True, default=str)
        key = hashlib.sha256(identity.encode()).hexdigest()
        with self._lock:
            sending = self._sent.get(key, 0)
            self._sent[key] = sending + 1
        draw = hashlib.sha256(f"{self.seed}:{key}:{sending}".encode()).digest()
        if int.from_bytes(draw[:8], "big") / 2**64 >= self.rate:
            return None
        return self.kinds[int.from_bytes(draw[8:16], "big") % len(self.kinds)]


def _raise_transport_fault(kind: str, model: str) -> None:
    import litellm  # lazy: litellm takes seconds to import (this runs inside one of its calls)

    message = f"injected {kind} fault (faulty/ test double)"
    if kind == "timeout":
        raise litellm.Timeout(message, model=model, llm_provider=FAULTY)
    if kind == "connection":
        raise litellm.APIConnectionError(message, llm_provider=FAULTY, model=model)
    if kind == "rate_limit":
        raise litellm.RateLimitError(message, llm_provider=FAULTY, model=model)
    if kind == "server_error":
        raise litellm.InternalServerError(message, llm_provider=FAULTY, model=model)
    raise litellm.ServiceUnavailableError(message, llm_provider=FAULTY, model=model)


def _spoil(response, kind: str):
    """Apply an output fault to the inner model's response, in place."""
    from litellm.types.utils import ChoiceLogprobs  # lazy: litellm takes seconds to import

    choice = response.choices[0]
    text = choice.message.content or ""
    logprobs = getattr(choice, "logprobs", None)
    entries = _logprob_entries(logprobs)
    if kind == "empty":
        text = ""
        entries = []
    elif kind == "truncated":
        words = text.split()
        text = " ".join(words[: len(words) // 3])
        entries = [{**entry, "top_logprobs": entry["top_logprobs"][:1]} for entry in entries][:1]
        choice.finish_reason = "length"
    else:
        text = _JUNK
        entries = [{**entry, "token": "\ufffd", "top_logprobs": [{"token": "\ufffd" * (i + 1), "logprob": -1.0}
                                                                for i, _ in enumerate(entry["top_logprobs"])]}
                   for entry in entries]
    choice.message.content = text
    if logprobs is not None:
        choice.logprobs = ChoiceLogprobs(content=entries)
    if getattr(response, "usage", None) is not None:
        response.usage.completion_tokens = len(text.split())
        response.usage.total_tokens = response.usage.prompt_tokens + response.usage.completion_tokens
    return response


def _logprob_entries(logprobs) -> list[dict]:
    if logprobs is None:
        return []
    content = logprobs["content"] if isinstance(logprobs, dict) else getattr(logprobs, "content", None)
    entries = []
    for entry in content or []:
        data = entry if isinstance(entry, dict) else entry.model_dump()
        data["top_logprobs"] = [t if isinstance(t, dict) else t.model_dump() for t in data.get("top_logprobs") or []]
        entries.append(data)
    return entries


def make_handler():
    """LiteLLM's handler for ``faulty/<model string>``."""
    # lazy: litellm takes seconds to import; the handler subclasses its CustomLLM
    import litellm
    from litellm import CustomLLM

    class FaultInjectingProvider(CustomLLM):
        """TEST DOUBLE provider: the inner model's answers, with injected faults."""

        def completion(self, model, messages, model_response, optional_params, *args, **kwargs):
            inner = model  # LiteLLM strips the "faulty/" prefix: the inner model string
            params = dict(optional_params)
            injector = params.pop("fault_injector", None)
            if not isinstance(injector, FaultInjector):
                raise ValueError("faulty/... needs a fault_injector (LiteLLMModel builds one from the role's params)")
            params.pop("max_retries", None)
            fault = injector.decide(inner, messages, params)
            if fault in TRANSPORT_FAULTS:
                _raise_transport_fault(fault, inner)
            # The inner call must not retry on its own: retrying is the outer LiteLLMModel's job.
            response = litellm.completion(model=inner, messages=messages, drop_params=True, num_retries=0,
                                          api_base=kwargs.get("api_base"), **params)
            return _spoil(response, fault) if fault else response

        async def acompletion(self, *args, **kwargs):
            return await asyncio.to_thread(self.completion, *args, **kwargs)

    return FaultInjectingProvider()
