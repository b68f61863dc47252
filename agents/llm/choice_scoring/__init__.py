"""Choosing one of fixed options (a questionnaire's levels, a judge's ratings), alone or for a set of items.

A routed model (``routing.LiteLLMModel``) has one ``ScoringPlan``, made from its model spec and the
role's ``scoring`` setting:

- ``auto`` (the default): likelihood where the model gives log-probabilities, else JSON. In process
  (``local/``, the test double) every option's exact log-probability (``NextTokenLikelihood``); over
  the wire the server's top log-probabilities (``WireLikelihood``), when a one-token probe, sent once
  per role, shows that it returns them; otherwise one JSON request per item set (``JsonItems``) and
  per single choice (``JsonAnswer``).
- ``logprobs``: likelihood only; a server that returns no log-probabilities fails the step.
- ``json``: one JSON request per item set (``JsonItems``), a JSON answer per single choice.
- ``json-per-item``: one JSON request per item (how every answer over the wire was asked before).

Likelihood answers an item set one item at a time (one short request each, concurrent, the first
alone so that the calibration baseline is scored once and cached). A strategy that cannot answer
gives way (``declined``) to the next; JSON answers always answer, filling in the scale's middle
(method "fallback", counted in the record) when the model gives no valid one.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ..interface import (
    ChoiceScores,
    Completion,
    ItemScores,
    ItemSet,
    Message,
    ModelUnavailable,
    ScoringOffer,
    item_seed,
)
from ..spec import ModelSpec
from .common import DECLINED, Send, middle_fallback
from .json_answers import JsonAnswer, JsonItems, enforces_schema
from .likelihood import Likelihood, NextTokenLikelihood, WireLikelihood

SCORING_MODES = ("auto", "logprobs", "json", "json-per-item")
MAX_CONCURRENT_ITEMS = 8


class ScoringPlan:
    """How one role's model answers single choices and item sets (its ``scoring`` setting)."""

    def __init__(self, spec: ModelSpec, mode: str = "auto"):
        if mode not in SCORING_MODES:
            raise ValueError(f"scoring must be one of {', '.join(SCORING_MODES)}; got {mode!r}")
        self.model = spec.text
        self.mode = mode
        likelihood = mode in ("auto", "logprobs")
        # This project's providers score exactly the options; any other is asked for its top log-probabilities.
        self.next_token = NextTokenLikelihood() if likelihood and spec.offers_likelihoods else None
        self.wire = WireLikelihood() if likelihood and not spec.offers_likelihoods else None
        self.json_answer = JsonAnswer()
        self.json_items = JsonItems()
        self._schema: bool | None = None  # does the server enforce a JSON schema (None: not asked yet)

    def offer(self, send: Send) -> ScoringOffer:
        """What the model offers for this setting, asked once of the server (the answers are cached)."""
        if self.next_token is not None:
            return ScoringOffer(self.model, self.mode, in_process=True, logprobs=True)
        logprobs, spent = None, ()
        if self.wire is not None:
            logprobs, spent = self.wire.detect(send)
        schema = None
        if self.mode == "json" or (self.mode == "auto" and not logprobs):
            if self._schema is None:
                self._schema, completion = enforces_schema(send)
                spent = (*spent, completion)
            schema = self._schema
        return ScoringOffer(self.model, self.mode, in_process=False, logprobs=logprobs, schema=schema,
                            completions=tuple(spent))

    def _likelihood(self, send: Send) -> tuple[Likelihood | None, tuple[Completion, ...]]:
        """The likelihood strategy to use (None: JSON answers), and the completions of a first probe."""
        if self.next_token is not None:
            return (self.next_token if self.next_token.supported is not False else None), ()
        if self.wire is None:
            return None, ()
        supported, probe = self.wire.detect(send)
        if not supported and self.mode == "logprobs":
            raise ModelUnavailable(f"{self.model}: the server returns no log-probabilities (scoring: logprobs)")
        return (self.wire if supported else None), probe

    def score_choices(self, send: Send, messages: list[Message], choices: list[str], *, seed: int | None,
                      baseline: list[Message] | None, output_retries: int) -> ChoiceScores:
        likelihood, spent = self._likelihood(send)
        if likelihood is not None:
            scored = likelihood.score(send, messages, choices, seed=seed, baseline=baseline,
                                      output_retries=output_retries)
            if scored.method != DECLINED:
                return _with_earlier(scored, spent)
            spent = (*spent, *scored.completions)
            if self.mode == "logprobs":
                return middle_fallback(choices, spent)
        scored = self.json_answer.score(send, messages, choices, seed=seed, baseline=baseline,
                                        output_retries=output_retries)
        return _with_earlier(scored, spent)

    def score_items(self, send: Send, items: ItemSet, *, seed: int | None, output_retries: int) -> ItemScores:
        if self.mode == "json":
            return self.json_items.score_items(send, items, seed=seed, output_retries=output_retries)
        likelihood, probe = self._likelihood(send)
        if likelihood is None and self.mode == "auto":
            scored = self.json_items.score_items(send, items, seed=seed, output_retries=output_retries)
            return ItemScores(scored.answers, (*probe, *scored.completions))

        def answer(index: int) -> ChoiceScores:
            return self.score_choices(send, items.item_messages(index), list(items.choices),
                                      seed=item_seed(seed, index), baseline=items.baseline_messages(),
                                      output_retries=output_retries)

        count = len(items.items)
        # The first item alone (it also scores the calibration baseline, which is cached), then the
        # rest at once: items are independent, and concurrent requests let a batching provider
        # (local/) or a server answer them together instead of one after another.
        answers = [answer(0)] if count else []
        if count > 1:
            workers = min(MAX_CONCURRENT_ITEMS, count - 1)
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="item") as pool:
                answers += list(pool.map(answer, range(1, count)))
        return ItemScores(tuple(answers), (*probe, *(c for a in answers for c in a.completions)))


def _with_earlier(scored: ChoiceScores, earlier: tuple[Completion, ...]) -> ChoiceScores:
    if not earlier:
        return scored
    return ChoiceScores(scored.choice, scored.scores, scored.method, (*earlier, *scored.completions))


__all__ = ["SCORING_MODES", "ScoringPlan"]
