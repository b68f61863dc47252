"""The one path every LLM call takes: a model spec served through ``litellm.completion``, with retries and a fallback.

Each request goes to the role's main model; timeouts, connection errors, rate limits (429) and
server errors (500, 502, 503) are retried with LiteLLM's own exponential backoff
(``litellm.calculate_retry_after``: 0.5 s doubling per retry, up to 8 s, plus up to 0.75 s jitter,
or the server's Retry-After), then the request moves to the fallback model, when one is
configured, which gets the same retries. A request the model refuses (400: asked for too many
log-probabilities, say) fails at once, without the fallback; any other error (a refused key, an
unknown model) is not retried and moves straight to the fallback, as does a missing API key, which
LiteLLM reports as a server error (500) but which no retry fixes. ``backoff_scale`` multiplies the
waits (1 for real runs; a tiny value makes fault tests fast).

This used to be a ``litellm.Router`` per role (one main and one fallback deployment). The Router
cost 0.3 ms per request more than ``litellm.completion`` against the test double, 1.0 ms against a
local HTTP server, and 1.3-1.8 ms with a fallback configured (README, Benchmarks), for retries and
a fallback that these few lines give, with the waits and the move to the fallback counted directly
rather than through the Router's host.

LiteLLM hands each request to the provider named by the model string's prefix: its built-in ones,
or this project's ``faulty`` test double. This project's in-process providers (``local``,
``testdouble``) are called directly (``providers.registration.IN_PROCESS_ANSWERS``): their answers
have LiteLLM's response shape, so nothing after differs, and a campaign on them never imports
LiteLLM. An in-process provider's failure to answer (``registration.IN_PROCESS_FAILURES``: missing
files, memory, the engine failing) is not a fault of transport: it is not retried, and the request
moves to the fallback model, if any, and is reported as such ("failed in process, not retried"). Any
other exception it raises is a fault in the code and propagates unchanged.

``servable`` says whether a model string can be served at all (a local model's files, a test
double's script, a provider LiteLLM knows); the campaign asks it before anything runs.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from .choice_scoring import ScoringPlan
from .interface import (
    DEFAULT_OUTPUT_RETRIES,
    ChoiceScores,
    Completion,
    ItemScores,
    ItemSet,
    LanguageModel,
    Message,
    ModelUnavailable,
    Sampling,
    ScoringOffer,
)
from .local.resolution import LocalModelNotFound, resolve_local_model
from .providers.faulty import FAULT_PARAMS, FaultInjector
from .providers.registration import (
    IN_PROCESS_ANSWERS,
    IN_PROCESS_CODE_FAULTS,
    IN_PROCESS_FAILURES,
    litellm_with_providers,
)
from .spec import LOCAL, TEST_DOUBLE, TEST_DOUBLE_SCRIPTS, ModelSpec, UnknownModel

DEFAULT_RETRIES = 3
# LiteLLM's exceptions for faults in transit, retried with backoff (the OpenAI SDK retries the same).
TRANSIENT_ERRORS = ("Timeout", "APIConnectionError", "RateLimitError", "InternalServerError",
                    "ServiceUnavailableError", "BadGatewayError")


def _no_credentials(failure: Exception) -> bool:
    """A "server error" that is no fault in transit: no API key was given, and the OpenAI SDK raised its bare
    ``OpenAIError`` before sending anything (LiteLLM reports it as an InternalServerError). No retry fixes it;
    a refused key (401) is LiteLLM's AuthenticationError, which is not retried either."""
    import openai  # lazy: LiteLLM has loaded it by now

    cause = failure.__cause__ or failure.__context__
    for _ in range(5):  # LiteLLM wraps it twice: its provider's error, then its own exception type
        if cause is None or type(cause) is openai.OpenAIError:
            break
        cause = cause.__cause__ or cause.__context__
    return type(cause) is openai.OpenAIError


def servable(spec: ModelSpec) -> ModelSpec:
    """``spec``, when it can be served; ``UnknownModel`` with the reason otherwise.

    A local model must resolve to files, a test double must name a script; any other provider must be
    one LiteLLM knows (asking it imports LiteLLM).
    """
    if spec.inner is not None:
        servable(spec.inner)
    elif spec.provider == LOCAL:
        try:
            resolve_local_model(spec.name)
        except LocalModelNotFound as error:
            raise UnknownModel(str(error)) from None
    elif spec.provider == TEST_DOUBLE:
        if spec.name not in TEST_DOUBLE_SCRIPTS:
            raise UnknownModel(f"unknown test double '{spec.name}' (known: {', '.join(sorted(TEST_DOUBLE_SCRIPTS))})")
    else:
        try:
            litellm_with_providers().get_llm_provider(spec.text)
        except Exception:
            raise UnknownModel(f"unknown model provider '{spec.provider}' in '{spec.text}'") from None
    return spec


def fault_injector_for(specs: Iterable[ModelSpec], params: Mapping[str, Any]) -> FaultInjector | None:
    """The injector a role's ``params`` configure when one of its models is ``faulty/...``, else None.

    ``ValueError`` names a bad ``fault_*`` setting.
    """
    return FaultInjector.from_params(params) if any(spec.injects_faults for spec in specs) else None


class LiteLLMModel(LanguageModel):
    """``LanguageModel`` over any model spec (``local/...``, ``openai/...``, ...), through ``litellm.completion``.

    ``retries``: transport retries per model; ``timeout``: seconds per request;
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

    def _route(self, spec: ModelSpec, api_base: str | None) -> dict[str, Any]:
        """The request fields that name one model: its string, server, timeout and injected faults."""
        route: dict[str, Any] = {"model": spec.text}
        if api_base:
            route["api_base"] = api_base
        if self.timeout is not None:
            route["timeout"] = self.timeout
        if self._faults is not None and spec.injects_faults:
            route["fault_injector"] = self._faults
        return route

    def _completion(self, request: dict[str, Any]) -> tuple[Any, int, bool]:
        """The response, the retries it took (the move to the fallback counts as one), and whether the
        fallback answered; ``ModelUnavailable`` when every model stayed unreachable."""
        routes = [(self.spec, self.api_base, False)]
        if self.fallback_spec is not None:
            routes.append((self.fallback_spec, None, True))
        retries, error, refused, in_process = 0, None, False, False
        for index, (spec, api_base, is_fallback) in enumerate(routes):
            if refused:
                break  # the request itself was refused: another model would be asked the same
            if index:
                retries += 1
            in_process = spec.in_process
            if in_process:
                try:
                    params = {k: v for k, v in request.items() if k not in ("messages", "drop_params")}
                    return IN_PROCESS_ANSWERS[spec.provider](spec.name, request["messages"], params), retries, is_fallback
                except IN_PROCESS_CODE_FAULTS:
                    raise
                except IN_PROCESS_FAILURES as failure:  # the model could not answer, not a fault of transport
                    error = failure
                    continue
            response, spent, error, refused = self._via_litellm(request, self._route(spec, api_base))
            retries += spent
            if response is not None:
                return response, retries, is_fallback
        tried = f"{self.model} (fallback {self.fallback})" if self.fallback else self.model
        cause = f"{type(error).__name__}: {(str(error).splitlines() or [''])[0][:200]}"
        # Said of the last model tried: an in-process one is never retried.
        how = "failed in process, not retried" if in_process else f"failed after {self.retries} retries"
        raise ModelUnavailable(f"{tried} {how}: {cause}", model=tried, cause=cause) from error

    def _via_litellm(self, request: dict[str, Any], route: dict[str, Any]) -> tuple[Any, int, Exception | None, bool]:
        """One model through ``litellm.completion`` with this model's retries: (response or None, retries
        spent, the last error, whether the request itself was refused)."""
        litellm = litellm_with_providers()
        transient = tuple(getattr(litellm, name) for name in TRANSIENT_ERRORS)
        retries, error = 0, None
        for attempt in range(self.retries + 1):
            try:
                # LiteLLM's and the provider SDK's own retries off: retrying is done here, once.
                return litellm.completion(**request, **route, num_retries=0, max_retries=0), retries, None, False
            except transient as failure:
                error = failure
                if attempt == self.retries or _no_credentials(failure):
                    break
                retries += 1
                headers = getattr(getattr(failure, "response", None), "headers", None)
                time.sleep(litellm.calculate_retry_after(self.retries - attempt, self.retries, headers)
                           * self.backoff_scale)
            except tuple(litellm.LITELLM_EXCEPTION_TYPES) as failure:
                return None, retries, failure, isinstance(failure, litellm.BadRequestError)
        return None, retries, error, False

    def send(self, messages: list[Message], sampling: Sampling, **extra: Any) -> tuple[Completion, Any]:
        """One request (with its retries and fallback): the completion, and LiteLLM's raw response (log-probabilities).

        ``extra`` are request fields beyond ``sampling`` (``logprobs``, ``response_format``, ...).
        """
        request: dict[str, Any] = {
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
        response, retries, fallback = self._completion(request)
        seconds = time.perf_counter() - started
        usage = getattr(response, "usage", None)
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

    def scoring_offer(self) -> ScoringOffer:
        """What this model offers for its ``scoring`` setting: log-probabilities, an enforced JSON schema."""
        return self.scoring.offer(self.send)
