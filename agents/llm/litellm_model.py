"""The one path every LLM call takes: a model string served through LiteLLM."""

from __future__ import annotations

import json
import math
import re
import time
from typing import Any

from agents.llm.base import ChoiceScores, Completion, Message, Sampling
from agents.llm.providers import litellm_with_providers

# Providers whose next-token log-probabilities we trust for scoring options.
LIKELIHOOD_PROVIDERS = frozenset({"local", "testdouble"})
STRUCTURED_RETRIES = 3
_JSON_OBJECT = re.compile(r"\{.*?\}", re.DOTALL)


class LiteLLMModel:
    """``LanguageModel`` over any LiteLLM model string (``local/...``, ``openai/...``, ...)."""

    def __init__(self, model: str, *, api_base: str | None = None, params: dict[str, Any] | None = None):
        self.model = model
        self.api_base = api_base
        self.params = dict(params or {})
        self._baselines: dict[str, dict[str, float]] = {}

    def _call(self, messages: list[Message], sampling: Sampling, **extra: Any):
        litellm = litellm_with_providers()
        request: dict[str, Any] = {
            "model": self.model,
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
        if self.api_base:
            request["api_base"] = self.api_base
        started = time.perf_counter()
        response = litellm.completion(**request)
        seconds = time.perf_counter() - started
        usage = getattr(response, "usage", None)
        completion = Completion(
            text=(response.choices[0].message.content or "").strip(),
            model=self.model,
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            seconds=round(seconds, 6),
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
        if self.model.partition("/")[0] in LIKELIHOOD_PROVIDERS:
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
        # score_options is this project's provider extension: the log-probability of
        # exactly these options, rather than of whatever the top 20 tokens happen to be.
        completion, response = self._call(
            messages, Sampling(max_tokens=1, temperature=0.0, seed=seed), logprobs=True, top_logprobs=20,
            score_options=list(choices),
        )
        top = _top_logprobs(response)
        scores = {choice: top.get(choice, -math.inf) for choice in choices}
        if all(math.isinf(v) for v in scores.values()):
            return None
        best = max(choices, key=lambda c: scores[c])
        return ChoiceScores(best, scores, "likelihood", (completion,))

    def _choose_structured(self, messages, choices, seed) -> ChoiceScores:
        instruction = (
            f'Reply with JSON only, exactly like {{"answer": "{choices[0]}"}}, '
            f"where answer is one of: {', '.join(choices)}."
        )
        asked = [*messages, {"role": "user", "content": instruction}]
        completions = []
        for attempt in range(STRUCTURED_RETRIES):
            completion, _ = self._call(
                asked, Sampling(max_tokens=24, temperature=0.0, seed=None if seed is None else seed + attempt),
                response_format={"type": "json_object"},
            )
            completions.append(completion)
            answer = _json_answer(completion.text)
            if answer in choices:
                scores = {c: 0.0 if c == answer else -math.inf for c in choices}
                return ChoiceScores(answer, scores, "structured", tuple(completions))
        middle = choices[len(choices) // 2]
        return ChoiceScores(middle, {c: -math.inf for c in choices}, "fallback", tuple(completions))


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
