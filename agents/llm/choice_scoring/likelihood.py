"""Choosing by likelihood: each option's log-probability as the model's next token.

- ``NextTokenLikelihood``: this project's ``score_options`` request extension (``local/`` and the
  test double serve it): the exact log-probability of every option.
- ``WireLikelihood``: an OpenAI-compatible server's ``logprobs``/``top_logprobs`` (OpenAI, vLLM,
  llama.cpp's server): one short request per choice, the options read from the top log-probabilities.
  Whether the server returns them is asked once per role, with a one-token probe, and so is how
  many it lists (100, or the 20 that OpenAI and vLLM allow by default). An option missing from a
  full list is less likely than the last one listed: it gets that one's log-probability, an upper
  bound.

With a ``baseline`` (the same prompt with its content replaced by "N/A") the baseline's scores
are subtracted ("calibrate before use", Zhao et al. 2021), so a small model's prior preference
for one digit does not decide every answer; the baseline is scored once per strategy and cached.
"""

from __future__ import annotations

import json
import math
import threading

from ..interface import PARTIAL_METHOD, ChoiceScores, Completion, Message, ModelUnavailable, Sampling
from ..output_checks import reask_sampling, rejected
from .common import DECLINED, Send, declined

TOP_WIDE = 100  # top log-probabilities asked of a server first (llama.cpp's server gives any number)
TOP_NARROW = 20  # OpenAI's limit, and vLLM's by default (--max-logprobs)
PROBE = [{"role": "user", "content": "Reply with one digit."}]


class Likelihood:
    """Scores options by log-probability, calibrated against a baseline prompt when one is given."""

    def __init__(self) -> None:
        self._baselines: dict[str, dict[str, float]] = {}

    def score(self, send: Send, messages: list[Message], choices: list[str], *, seed: int | None,
              baseline: list[Message] | None, output_retries: int) -> ChoiceScores:
        scored = self._scored(send, messages, choices, seed, output_retries)
        if scored.method != DECLINED and baseline is not None:
            scored = self._calibrated(send, scored, baseline, choices, output_retries)
        return scored

    def _calibrated(self, send: Send, scored: ChoiceScores, baseline: list[Message], choices: list[str],
                    output_retries: int) -> ChoiceScores:
        key = json.dumps([baseline, choices])
        completions = scored.completions
        if key not in self._baselines:
            prior = self._scored(send, baseline, choices, None, output_retries)
            completions = (*completions, *prior.completions)
            if prior.method == DECLINED:
                return ChoiceScores(scored.choice, scored.scores, scored.method, completions)
            self._baselines[key] = prior.scores
        prior_scores = self._baselines[key]
        adjusted = {c: scored.scores[c] - prior_scores[c] for c in choices}
        best = max(choices, key=lambda c: adjusted[c])
        # A partial answer stays labelled partial, calibrated or not.
        method = PARTIAL_METHOD if scored.method == PARTIAL_METHOD else "likelihood-calibrated"
        return ChoiceScores(best, adjusted, method, completions)

    def _scored(self, send: Send, messages: list[Message], choices: list[str], seed: int | None,
                output_retries: int) -> ChoiceScores:
        raise NotImplementedError


class NextTokenLikelihood(Likelihood):
    def __init__(self) -> None:
        super().__init__()
        self.supported: bool | None = None  # False once the model answered without log-probabilities

    def _scored(self, send: Send, messages: list[Message], choices: list[str], seed: int | None,
                output_retries: int) -> ChoiceScores:
        """Scores from log-probabilities; declined when the model gives none (then JSON answers decide).

        An answer that has log-probabilities but not one for every option (empty, cut off or
        junk) is asked again, the same way as unusable text (``output_checks``).
        """
        completions: list[Completion] = []
        scores: dict[str, float] = {}
        for attempt in range(output_retries + 1):
            # score_options is this project's provider extension: the log-probability of
            # exactly these options, rather than of whatever the top 20 tokens happen to be.
            completion, response = send(
                messages, reask_sampling(Sampling(max_tokens=1, temperature=0.0, seed=seed), attempt),
                logprobs=True, top_logprobs=20, score_options=list(choices),
            )
            if not has_logprobs(response):
                self.supported = False
                return declined((*completions, completion))
            top, _ = top_logprobs(response)
            scores = {choice: top.get(choice, -math.inf) for choice in choices}
            if not any(math.isinf(v) for v in scores.values()):
                best = max(choices, key=lambda c: scores[c])
                return ChoiceScores(best, scores, "likelihood", (*completions, completion))
            completions.append(rejected(completion, "log-probabilities missing for some options"))
        if all(math.isinf(v) for v in scores.values()):
            return declined(completions)
        # Some options still had no log-probability after the re-asks: the best of those that had one,
        # labelled partial (counted in the record and the run's summary), never passed off as a full answer.
        best = max(choices, key=lambda c: scores[c])
        return ChoiceScores(best, scores, PARTIAL_METHOD, tuple(completions))


class WireLikelihood(Likelihood):
    """Log-probabilities from an OpenAI-compatible server (``logprobs``, ``top_logprobs``)."""

    def __init__(self) -> None:
        super().__init__()
        self.supported: bool | None = None  # None: not asked yet
        self.top = TOP_NARROW
        self._detecting = threading.Lock()

    def detect(self, send: Send) -> tuple[bool, tuple[Completion, ...]]:
        """Whether the server returns log-probabilities (asked once); the probe's completions the first time."""
        with self._detecting:
            if self.supported is not None:
                return self.supported, ()
            for top in (TOP_WIDE, TOP_NARROW):
                try:
                    completion, response = send(PROBE, Sampling(max_tokens=1, temperature=0.0, seed=0),
                                                logprobs=True, top_logprobs=top)
                except ModelUnavailable:
                    if top == TOP_NARROW:
                        raise
                    continue  # more than the server lists (OpenAI, vLLM): ask for fewer
                self.supported, self.top = has_logprobs(response), top
                return self.supported, (completion,)
            raise AssertionError("unreachable")

    def _scored(self, send: Send, messages: list[Message], choices: list[str], seed: int | None,
                output_retries: int) -> ChoiceScores:
        """Scores read off the server's top log-probabilities; an answer without any option is asked again."""
        completions: list[Completion] = []
        for attempt in range(output_retries + 1):
            completion, response = send(
                messages, reask_sampling(Sampling(max_tokens=1, temperature=0.0, seed=seed), attempt),
                logprobs=True, top_logprobs=self.top,
            )
            table, listed = top_logprobs(response)
            found = {choice: table[choice] for choice in choices if choice in table}
            # Every option listed, or some with a full list: the others are below its last entry.
            if found and (len(found) == len(choices) or listed >= self.top):
                floor = min(table.values())
                scores = {choice: found.get(choice, floor) for choice in choices}
                best = max(choices, key=lambda c: scores[c])
                return ChoiceScores(best, scores, "likelihood", (*completions, completion))
            completions.append(rejected(completion, "log-probabilities missing for the options"))
        return declined(completions)


def has_logprobs(response) -> bool:
    return getattr(response.choices[0], "logprobs", None) is not None


def top_logprobs(response) -> tuple[dict[str, float], int]:
    """The first token's top log-probabilities by stripped token (the best of equal ones), and how many were listed."""
    try:
        logprobs = response.choices[0].logprobs
        content = logprobs["content"] if isinstance(logprobs, dict) else logprobs.content
        first = content[0]
        entries = first["top_logprobs"] if isinstance(first, dict) else first.top_logprobs
    except (AttributeError, IndexError, KeyError, TypeError):
        return {}, 0
    table: dict[str, float] = {}
    for entry in entries or []:
        token = (entry["token"] if isinstance(entry, dict) else entry.token).strip()
        logprob = float(entry["logprob"] if isinstance(entry, dict) else entry.logprob)
        if token and logprob > table.get(token, -math.inf):
            table[token] = logprob
    return table, len(entries or [])
