"""The one path every LLM call takes: a model spec served through LiteLLM's Router.

Each model gets one ``litellm.Router`` with its main deployment and, when
configured, a fallback deployment. The Router retries timeouts, connection
errors, rate limits and server errors with exponential backoff (LiteLLM's own:
0.5 s doubling per retry, up to 8 s, plus up to 0.75 s jitter, or the server's
Retry-After), then moves to the fallback. ``backoff_scale`` multiplies those
waits (1 for real runs; a tiny value makes fault tests fast); LiteLLM computes
the waits in its router core, so the scale is applied where the Router sleeps,
through its host (``Router.from_config(config, host)``).

LiteLLM hands each request to the provider named by the model string's prefix:
this project's own (``providers/``: ``local``, ``testdouble``, ``faulty``) or its built-in ones.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from muspsy_sim.agents.llm.choice_scoring import ScoringPlan
from muspsy_sim.agents.llm.interface import (
    DEFAULT_OUTPUT_RETRIES,
    ChoiceScores,
    Completion,
    ItemScores,
    ItemSet,
    LanguageModel,
    Message,
    ModelUnavailable,
    Sampling,
)
from muspsy_sim.agents.llm.providers.faulty import FAULT_PARAMS, FaultInjector
from muspsy_sim.agents.llm.providers.registration import litellm_with_providers
from muspsy_sim.agents.llm.spec import ModelSpec

DEFAULT_RETRIES = 3
_MAIN, _FALLBACK = "main", "fallback"
# Backoff waits of the Router call running in this context: its retries (and its move to the fallback).
_WAITS: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("litellm_model_waits", default=None)


def fault_injector_for(specs: Iterable[ModelSpec], params: Mapping[str, Any]) -> FaultInjector | None:
    """The injector a role's ``params`` configure when one of its models is ``faulty/...``, else None.

    ``ValueError`` names a bad ``fault_*`` setting.
    """
    return FaultInjector.from_params(params) if any(spec.injects_faults for spec in specs) else None


class LiteLLMModel(LanguageModel):
    """``LanguageModel`` over any model spec (``local/...``, ``openai/...``, ...), through a LiteLLM Router.

    ``retries``: transport retries per deployment; ``timeout``: seconds per request;
    ``fallback``: a model tried when the main one keeps failing;
    ``output_retries``: how often agents re-ask for unusable output (``output_checks``);
    ``backoff_scale``: multiplies LiteLLM's retry backoff; ``scoring``: how options are chosen
    (``choice_scoring``: auto, logprobs, json, json-per-item). ``params`` are extra request
    parameters; for ``faulty/...`` models the ``fault_*`` ones configure the injected faults.
    ``model`` and ``fallback`` are the model strings (as recorded); ``spec`` and
    ``fallback_spec`` their parsed specs.
    """

    def __init__(self, spec: ModelSpec, *, api_base: str | None = None, params: dict[str, Any] | None = None,
                 retries: int = DEFAULT_RETRIES, timeout: float | None = None, fallback: ModelSpec | None = None,
                 output_retries: int = DEFAULT_OUTPUT_RETRIES, backoff_scale: float = 1.0, scoring: str = "auto"):
        self.spec = spec
        self.fallback_spec = fallback
        self.model = spec.text
        self.fallback = fallback.text if fallback else None
        self.api_base = api_base
        params = dict(params or {})
        self._faults = fault_injector_for([s for s in (spec, fallback) if s], params)
        self.params = {k: v for k, v in params.items() if k not in FAULT_PARAMS}
        self.retries = retries
        self.timeout = timeout
        self.output_retries = output_retries
        self.backoff_scale = backoff_scale
        self.scoring = ScoringPlan(spec, scoring)
        self._router = None
        self._router_lock = threading.Lock()

    def _deployment(self, name: str, spec: ModelSpec, api_base: str | None) -> dict:
        params: dict[str, Any] = {"model": spec.text}
        if api_base:
            params["api_base"] = api_base
        if self.timeout is not None:
            params["timeout"] = self.timeout
        if self._faults is not None and spec.injects_faults:
            params["fault_injector"] = self._faults
        return {"model_name": name, "litellm_params": params}

    def _routed(self):
        with self._router_lock:
            if self._router is None:
                litellm_with_providers()
                # lazy: litellm takes seconds to import (litellm_with_providers just imported it)
                from litellm.router import Router, router_arguments
                from litellm.router_config import build_router_config

                deployments = [self._deployment(_MAIN, self.spec, self.api_base)]
                if self.fallback_spec:
                    deployments.append(self._deployment(_FALLBACK, self.fallback_spec, None))
                arguments = router_arguments(
                    model_list=deployments,
                    num_retries=self.retries,
                    fallbacks=[{_MAIN: [_FALLBACK]}] if self.fallback_spec else [],
                    timeout=self.timeout,
                    # One deployment per name: a cooldown would only lock the role out of its own model.
                    disable_cooldowns=True,
                )
                self._router = Router.from_config(build_router_config(arguments), _backoff_host(self.backoff_scale))
            return self._router

    def send(self, messages: list[Message], sampling: Sampling, **extra: Any) -> tuple[Completion, Any]:
        """One request through the Router: the completion, and LiteLLM's raw response (for log-probabilities).

        ``extra`` are request fields beyond ``sampling`` (``logprobs``, ``response_format``, ...).
        """
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
        completion = Completion(
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
        return self.send(messages, sampling)[0]

    def score_choices(self, messages: list[Message], choices: list[str], seed: int | None = None,
                      baseline: list[Message] | None = None) -> ChoiceScores:
        """Pick one of ``choices`` as the role's ``scoring`` says (``choice_scoring``)."""
        return self.scoring.score_choices(self.send, messages, choices, seed=seed, baseline=baseline,
                                          output_retries=self.output_retries)

    def score_items(self, items: ItemSet, seed: int | None = None) -> ItemScores:
        """Answer every item of ``items``: per item by likelihood, or in one JSON request (``choice_scoring``)."""
        return self.scoring.score_items(self.send, items, seed=seed, output_retries=self.output_retries)


@lru_cache(maxsize=None)
def _backoff_host(scale: float):
    """LiteLLM's router host, with every backoff wait multiplied by ``scale`` and counted in ``_WAITS``."""
    # lazy: litellm takes seconds to import
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
