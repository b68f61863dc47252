"""Token, time and fault accounting per role: a step's usage, a running meter, and the metering wrapper.

Usage tables themselves (``RoleUsage``, sums) are kernel values (``simulation.core.usage``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from muspsy_sim.simulation.core.usage import RoleUsage, UsageTable, add_tables, sum_tables

from .interface import (
    ChoiceScores,
    Completion,
    FailedStep,
    ItemScores,
    ItemSet,
    LanguageModel,
    Message,
    ModelUnavailable,
    Sampling,
    ScoringOffer,
)


def completion_usage(completion: Completion) -> RoleUsage:
    """One model call's usage."""
    return RoleUsage(calls=1, prompt_tokens=completion.prompt_tokens, completion_tokens=completion.completion_tokens,
                     seconds=completion.seconds, retries=completion.retries, fallbacks=int(completion.fallback),
                     reasks=int(bool(completion.rejected)))


def usage_of(completions: Iterable[Completion]) -> RoleUsage:
    """The usage of a step's model calls (every attempt, re-asks included)."""
    return sum_tables({"_": completion_usage(c)} for c in completions).get("_", RoleUsage())


class UsageMeter:
    """Thread-safe running totals per role, for live reporting across concurrent courses."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: UsageTable = {}
        self._failures: dict[str, int] = {}

    def record(self, role: str, completion: Completion) -> None:
        with self._lock:
            self._totals = add_tables(self._totals, {role: completion_usage(completion)})

    def record_fault(self, role: str, kind: str) -> None:
        """Count a re-ask ("reasks") or a failed step ("failures") under ``role``."""
        with self._lock:
            if kind == "failures":
                self._failures[role] = self._failures.get(role, 0) + 1
            else:
                self._totals = add_tables(self._totals, {role: RoleUsage(**{kind: 1})})

    def totals(self) -> UsageTable:
        with self._lock:
            return dict(self._totals)

    def failures(self) -> dict[str, int]:
        with self._lock:
            return dict(self._failures)


class MeteredModel(LanguageModel):
    """Wraps a model so each call is counted under a role: the role model the agents get.

    It plays ``role``, keeps the inner model's bound on re-asks, and counts re-asks and failed
    steps (``note_fault``) in ``meter``.
    """

    def __init__(self, inner: LanguageModel, role: str, meter: UsageMeter) -> None:
        self.inner = inner
        self.role = role
        self.meter = meter
        self.model = inner.model
        self.output_retries = inner.output_retries

    def note_fault(self, kind: str) -> None:
        self.meter.record_fault(self.role, kind)

    def complete(self, messages: list[Message], sampling: Sampling) -> Completion:
        completion = self.inner.complete(messages, sampling)
        self.meter.record(self.role, completion)
        return completion

    def score_choices(self, messages: list[Message], choices: list[str], seed: int | None = None,
                      baseline: list[Message] | None = None) -> ChoiceScores:
        return self._answered(lambda: self.inner.score_choices(messages, choices, seed, baseline))

    def score_items(self, items: ItemSet, seed: int | None = None) -> ItemScores:
        return self._answered(lambda: self.inner.score_items(items, seed))

    def scoring_offer(self) -> ScoringOffer | None:
        """The inner model's ``scoring_offer`` (its probe requests counted), or None when it has none."""
        ask = getattr(self.inner, "scoring_offer", None)
        if ask is None:
            return None
        offer = ask()
        for completion in offer.completions:
            self.meter.record(self.role, completion)
        return offer

    def _answered(self, ask):
        """Chosen answers, their calls counted; an unreachable model fails the step as the role's."""
        try:
            scored = ask()
        except ModelUnavailable as error:
            self.note_fault("failures")
            raise FailedStep(self.role, "answer", str(error)) from error
        for completion in scored.completions:
            self.meter.record(self.role, completion)
        return scored
