"""The one path every LLM call takes: a model string served through LiteLLM's Router.

Each model gets one ``litellm.Router`` with its main deployment and, when
configured, a fallback deployment. The Router retries timeouts, connection
errors, rate limits and server errors with exponential backoff (LiteLLM's own:
0.5 s doubling per retry, up to 8 s, plus up to 0.75 s jitter, or the server's
Retry-After), then moves to the fallback. ``backoff_scale`` multiplies those
waits (1 for real runs; a tiny value makes fault tests fast); LiteLLM computes
the waits in its router core, so the scale is applied where the Router sleeps,
through its host (``Router.from_config(config, host)``).
"""

from __future__ import annotations

import contextvars
import json
import math
import re
import threading
import time
from functools import lru_cache
from typing import Any

from muspsy_sim.agents.llm.base import ChoiceScores, Completion, Message, Sampling
from muspsy_sim.agents.llm.output_checks import DEFAULT_OUTPUT_RETRIES, ModelUnavailable, rejected, reask_sampling
from muspsy_sim.agents.llm.providers import litellm_with_providers, serving_provider
from muspsy_sim.agents.llm.usage import ServedCompletion

# Providers whose next-token log-probabilities we trust for scoring options.
LIKELIHOOD_PROVIDERS = frozenset({"local", "testdouble"})
STRUCTURED_RETRIES = 3
DEFAULT_RETRIES = 3
_JSON_OBJECT = re.compile(r"\{.*?\}", re.DOTALL)
_MAIN, _FALLBACK = "main", "fallback"
# Backoff waits of the Router call running in this context: its retries (and its move to the fallback).
_WAITS: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("litellm_model_waits", default=None)


class LiteLLMModel:
    """``LanguageModel`` over any LiteLLM model string (``local/...``, ``openai/...``, ...).

    ``retries``: transport retries per deployment; ``timeout``: seconds per request;
    ``fallback``: a model string tried when the main one keeps failing;
    ``output_retries``: how often agents re-ask for unusable output (``output_checks``);
    ``backoff_scale``: multiplies LiteLLM's retry backoff. ``params`` are extra request
    parameters; for ``faulty/...`` models the ``fault_*`` ones configure the injected faults.
    """

    def __init__(self, model: str, *, api_base: str | None = None, params: dict[str, Any] | None = None,
                 retries: int = DEFAULT_RETRIES, timeout: float | None = None, fallback: str | None = None,
                 output_retries: int = DEFAULT_OUTPUT_RETRIES, backoff_scale: float = 1.0):
        from muspsy_sim.agents.llm.fault_injection import FAULT_PARAMS, FaultInjector

        self.model = model
        self.api_base = api_base
        params = dict(params or {})
        faulty = any(serving_provider(m) != m.partition("/")[0] for m in (model, fallback) if m)
        self._faults = FaultInjector.from_params(params) if faulty else None
        self.params = {k: v for k, v in params.items() if k not in FAULT_PARAMS}
        self.retries = retries
        self.timeout = timeout
        self.fallback = fallback
        self.output_retries = output_retries
        self.backoff_scale = backoff_scale
        self._baselines: dict[str, dict[str, float]] = {}
        self._router = None
        self._router_lock = threading.Lock()

    def _deployment(self, name: str, model: str, api_base: str | None) -> dict:
        params: dict[str, Any] = {"model": model}
        if api_base:
            params["api_base"] = api_base
        if self.timeout is not None:
            params["timeout"] = self.timeout
        if self._faults is not None and serving_provider(model) != model.partition("/")[0]:
            params["fault_injector"] = self._faults
        return {"model_name": name, "litellm_params": params}

    def _routed(self):
        with self._router_lock:
            if self._router is None:
                litellm_with_providers()
                from litellm.router import Router, router_arguments
                from litellm.router_config import build_router_config

                deployments = [self._deployment(_MAIN, self.model, self.api_base)]
                if self.fallback:
                    deployments.append(self._deployment(_FALLBACK, self.fallback, None))
                arguments = router_arguments(
                    model_list=deployments,
                    num_retries=self.retries,
                    fallbacks=[{_MAIN: [_FALLBACK]}] if self.fallback else [],
                    timeout=self.timeout,
                    # One deployment per name: a cooldown would only lock the role out of its own model.
                    disable_cooldowns=True,
                )
                self._router = Router.from_config(build_router_config(arguments), _backoff_host(self.backoff_scale))
            return self._router

    def _call(self, messages: list[Message], sampling: Sampling, **extra: Any):
        litellm = litellm_with_providers()
        router = self._routed()
        request: dict[str, Any] = {
            "model": _MAIN,
            "messages": messages,
            "max_tokens": sampling.max_tokens,
            "temperature": sampling.temperature,
            "drop_params": True,
            **self.params,
            **extra,
        }
        if sampling.seed is not None:
            request["seed"] = sampling.seed
        if sampling.stop:
            request["stop"] = list(sampling.stop)
        started = time.perf_counter()
        waits = _WAITS.set([0])
        try:
            response = router.completion(**request)
        except tuple(litellm.LITELLM_EXCEPTION_TYPES) as error:
            tried = f"{self.model} (fallback {self.fallback})" if self.fallback else self.model
            raise ModelUnavailable(f"{tried} failed after {self.retries} retries: {type(error).__name__}: "
                                   f"{str(error).splitlines()[0][:200]}") from error
        finally:
            retries = (_WAITS.get() or [0])[0]
            _WAITS.reset(waits)
        seconds = time.perf_counter() - started
        usage = getattr(response, "usage", None)
        headers = (getattr(response, "_hidden_params", None) or {}).get("additional_headers") or {}
        fallback = headers.get("x-litellm-model-group") == _FALLBACK
        completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        finish_reason = str(response.choices[0].finish_reason or "")
        completion = ServedCompletion(
            text=(response.choices[0].message.content or "").strip(),
            model=self.fallback if fallback else self.model,
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=completion_tokens,
            seconds=round(seconds, 6),
            retries=retries,
            fallback=fallback,
            finish_reason=finish_reason,
            cut_off=finish_reason == "length" and completion_tokens < sampling.max_tokens,
        )
        return completion, response

    def complete(self, messages: list[Message], sampling: Sampling) -> Completion:
        return self._call(messages, sampling)[0]

    def score_choices(self, messages: list[Message], choices: list[str], seed: int | None = None,
                      baseline: list[Message] | None = None) -> ChoiceScores:
        """Pick one of ``choices``: by next-token likelihood where the provider gives it, else by validated JSON.

        ``baseline`` is the same prompt with its content replaced by "N/A": its option scores are
        subtracted ("calibrate before use", Zhao et al. 2021), so a small model's prior preference
        for one digit does not decide every answer. It is scored once and cached.
        """
        if serving_provider(self.model) in LIKELIHOOD_PROVIDERS:
            scored = self._score_by_likelihood(messages, choices, seed)
            if scored is not None and baseline is not None:
                scored = self._calibrated(scored, baseline, choices)
            if scored is not None:
                return scored
        return self._choose_structured(messages, choices, seed)

    def _calibrated(self, scored: ChoiceScores, baseline: list[Message], choices: list[str]) -> ChoiceScores:
        key = json.dumps([baseline, choices])
        completions = scored.completions
        if key not in self._baselines:
            prior = self._score_by_likelihood(baseline, choices, None)
            if prior is None:
                return scored
            self._baselines[key] = prior.scores
            completions = (*completions, *prior.completions)
        prior_scores = self._baselines[key]
        adjusted = {c: scored.scores[c] - prior_scores[c] for c in choices}
        best = max(choices, key=lambda c: adjusted[c])
        return ChoiceScores(best, adjusted, "likelihood-calibrated", completions)

    def _score_by_likelihood(self, messages, choices, seed) -> ChoiceScores | None:
        """Scores from log-probabilities; None when the model gives none (then JSON answers decide).

        An answer that has log-probabilities but not one for every option (empty, cut off or
        junk) is asked again, the same way as unusable text (``output_checks``).
        """
        completions: list[Completion] = []
        for attempt in range(self.output_retries + 1):
            # score_options is this project's provider extension: the log-probability of
            # exactly these options, rather than of whatever the top 20 tokens happen to be.
            completion, response = self._call(
                messages, reask_sampling(Sampling(max_tokens=1, temperature=0.0, seed=seed), attempt),
                logprobs=True, top_logprobs=20, score_options=list(choices),
            )
            if not _has_logprobs(response):
                return None
            top = _top_logprobs(response)
            scores = {choice: top.get(choice, -math.inf) for choice in choices}
            if not any(math.isinf(v) for v in scores.values()):
                best = max(choices, key=lambda c: scores[c])
                return ChoiceScores(best, scores, "likelihood", (*completions, completion))
            completions.append(rejected(completion, "log-probabilities missing for some options"))
        if all(math.isinf(v) for v in scores.values()):
            return None
        best = max(choices, key=lambda c: scores[c])
        return ChoiceScores(best, scores, "likelihood", tuple(completions))

    def _choose_structured(self, messages, choices, seed) -> ChoiceScores:
        instruction = (
            f'Reply with JSON only, exactly like {{"answer": "{choices[0]}"}}, '
            f"where answer is one of: {', '.join(choices)}."
        )
        asked = [*messages, {"role": "user", "content": instruction}]
        completions = []
        for attempt in range(max(STRUCTURED_RETRIES, self.output_retries + 1)):
            completion, _ = self._call(
                asked, reask_sampling(Sampling(max_tokens=24, temperature=0.0, seed=seed), attempt),
                response_format={"type": "json_object"},
            )
            answer = _json_answer(completion.text)
            if answer in choices and not completion.cut_off:
                completions.append(completion)
                scores = {c: 0.0 if c == answer else -math.inf for c in choices}
                return ChoiceScores(answer, scores, "structured", tuple(completions))
            completions.append(rejected(completion, "no valid JSON answer"))
        middle = choices[len(choices) // 2]
        return ChoiceScores(middle, {c: -math.inf for c in choices}, "fallback", tuple(completions))


def _has_logprobs(response) -> bool:
    return getattr(response.choices[0], "logprobs", None) is not None


@lru_cache(maxsize=None)
def _backoff_host(scale: float):
    """LiteLLM's router host, with every backoff wait multiplied by ``scale`` and counted in ``_WAITS``."""
    import asyncio

    from litellm.router_python_host import PythonHost

    class ScaledBackoffHost(PythonHost):
        __slots__ = ()

        def sleep_sync(self, seconds: float) -> None:
            _count_wait()
            time.sleep(seconds * scale)

        def sleep(self, seconds: float):
            _count_wait()
            return asyncio.sleep(seconds * scale)

    return ScaledBackoffHost()


def _count_wait() -> None:
    waits = _WAITS.get()
    if waits is not None:
        waits[0] += 1


def _top_logprobs(response) -> dict[str, float]:
    try:
        content = response.choices[0].logprobs["content"] if isinstance(response.choices[0].logprobs, dict) \
            else response.choices[0].logprobs.content
        first = content[0]
        entries = first["top_logprobs"] if isinstance(first, dict) else first.top_logprobs
    except (AttributeError, IndexError, KeyError, TypeError):
        return {}
    table: dict[str, float] = {}
    for entry in entries:
        token = (entry["token"] if isinstance(entry, dict) else entry.token).strip()
        logprob = float(entry["logprob"] if isinstance(entry, dict) else entry.logprob)
        if token and logprob > table.get(token, -math.inf):
            table[token] = logprob
    return table


def _json_answer(text: str) -> str | None:
    match = _JSON_OBJECT.search(text)
    if not match:
        return None
    try:
        value = json.loads(match.group(0)).get("answer")
    except (ValueError, AttributeError):
        return None
    return str(value).strip() if value is not None else None
