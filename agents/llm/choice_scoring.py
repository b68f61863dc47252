"""Choosing one of fixed options (a questionnaire's levels, a judge's ratings): strategies tried in turn.

A routed model (``routing.LiteLLMModel``) tries the strategies ``strategies_for`` gives its model
spec, in order, until one answers:

- ``NextTokenLikelihood``: the log-probability of each option as the next token, through this
  project's ``score_options`` request extension (``local/`` and the test double serve it). With a
  ``baseline`` (the same prompt with its content replaced by "N/A") the baseline's scores are
  subtracted ("calibrate before use", Zhao et al. 2021), so a small model's prior preference for
  one digit does not decide every answer; the baseline is scored once per strategy and cached.
  It gives way (None) when the model returns no log-probabilities.
- ``JsonAnswer``: ask for ``{"answer": ...}`` and validate it; after the re-asks, the middle
  option (method "fallback"). It always answers, so it comes last.

A strategy sends its requests through ``send`` (one request through the role's Router: the
completion, and LiteLLM's raw response). Another way to score, such as log-probabilities from an
OpenAI-compatible server, is one more class with a ``score`` method, listed in ``strategies_for``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any, Protocol

from muspsy_sim.agents.llm.interface import ChoiceScores, Completion, Message, Sampling
from muspsy_sim.agents.llm.output_checks import reask_sampling, rejected
from muspsy_sim.agents.llm.spec import ModelSpec

STRUCTURED_RETRIES = 3
_JSON_OBJECT = re.compile(r"\{.*?\}", re.DOTALL)

# One request through the role's Router: (messages, sampling, **request extras) -> (completion, raw response).
Send = Callable[..., tuple[Completion, Any]]


class ChoiceStrategy(Protocol):
    def score(self, send: Send, messages: list[Message], choices: list[str], *, seed: int | None,
              baseline: list[Message] | None, output_retries: int) -> ChoiceScores | None:
        """The choice, or None when this strategy cannot score with this model (the next one is tried)."""


def strategies_for(spec: ModelSpec) -> tuple[ChoiceStrategy, ...]:
    """Likelihood first where the serving provider may give log-probabilities; JSON answers always last."""
    if spec.offers_likelihoods:
        return NextTokenLikelihood(), JsonAnswer()
    return (JsonAnswer(),)


class NextTokenLikelihood:
    def __init__(self) -> None:
        self._baselines: dict[str, dict[str, float]] = {}

    def score(self, send: Send, messages: list[Message], choices: list[str], *, seed: int | None,
              baseline: list[Message] | None, output_retries: int) -> ChoiceScores | None:
        scored = self._scored(send, messages, choices, seed, output_retries)
        if scored is not None and baseline is not None:
            scored = self._calibrated(send, scored, baseline, choices, output_retries)
        return scored

    def _calibrated(self, send: Send, scored: ChoiceScores, baseline: list[Message], choices: list[str],
                    output_retries: int) -> ChoiceScores:
        key = json.dumps([baseline, choices])
        completions = scored.completions
        if key not in self._baselines:
            prior = self._scored(send, baseline, choices, None, output_retries)
            if prior is None:
                return scored
            self._baselines[key] = prior.scores
            completions = (*completions, *prior.completions)
        prior_scores = self._baselines[key]
        adjusted = {c: scored.scores[c] - prior_scores[c] for c in choices}
        best = max(choices, key=lambda c: adjusted[c])
        return ChoiceScores(best, adjusted, "likelihood-calibrated", completions)

    @staticmethod
    def _scored(send: Send, messages: list[Message], choices: list[str], seed: int | None,
                output_retries: int) -> ChoiceScores | None:
        """Scores from log-probabilities; None when the model gives none (then JSON answers decide).

        An answer that has log-probabilities but not one for every option (empty, cut off or
        junk) is asked again, the same way as unusable text (``output_checks``).
        """
        completions: list[Completion] = []
        for attempt in range(output_retries + 1):
            # score_options is this project's provider extension: the log-probability of
            # exactly these options, rather than of whatever the top 20 tokens happen to be.
            completion, response = send(
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


class JsonAnswer:
    def score(self, send: Send, messages: list[Message], choices: list[str], *, seed: int | None,
              baseline: list[Message] | None, output_retries: int) -> ChoiceScores:
        instruction = (
            f'Reply with JSON only, exactly like {{"answer": "{choices[0]}"}}, '
            f"where answer is one of: {', '.join(choices)}."
        )
        asked = [*messages, {"role": "user", "content": instruction}]
        completions = []
        for attempt in range(max(STRUCTURED_RETRIES, output_retries + 1)):
            completion, _ = send(
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
