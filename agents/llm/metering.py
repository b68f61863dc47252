"""Token, time and fault accounting per role: usage tables, a running meter, and the metering wrapper."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

from muspsy_sim.agents.llm.interface import (
    ChoiceScores,
    Completion,
    FailedStep,
    ItemScores,
    ItemSet,
    LanguageModel,
    Message,
    ModelUnavailable,
    Sampling,
)

# retries: extra attempts made (same model, or moving to the fallback);
# fallbacks: answers served by the role's fallback model; reasks: outputs refused and asked again.
FAULT_FIELDS = ("retries", "fallbacks", "reasks")
USAGE_FIELDS = ("calls", "prompt_tokens", "completion_tokens", "seconds", *FAULT_FIELDS)


def usage_of(completion: Completion) -> dict[str, float]:
    return {
        "calls": 1,
        "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion.completion_tokens,
        "seconds": completion.seconds,
        "retries": completion.retries,
        "fallbacks": int(completion.fallback),
        "reasks": int(bool(completion.rejected)),
    }


def add_usage(left: Mapping[str, Mapping[str, float]] | None, right: Mapping[str, Mapping[str, float]] | None) -> dict:
    """Sum two ``{role: {field: number}}`` tables (also a LangGraph reducer)."""
    total: dict[str, dict[str, float]] = {}
    for table in (left or {}, right or {}):
        for role, fields in table.items():
            into = total.setdefault(role, dict.fromkeys(USAGE_FIELDS, 0))
            for name in USAGE_FIELDS:
                into[name] = round(into[name] + fields.get(name, 0), 6)
    return total


def sum_usage(tables: Iterable[Mapping[str, Mapping[str, float]]]) -> dict:
    total: dict = {}
    for table in tables:
        total = add_usage(total, table)
    return total


class UsageMeter:
    """Thread-safe running totals, for live reporting across concurrent courses."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict = {}
        self._failures: dict[str, int] = {}

    def record(self, role: str, completion: Completion) -> None:
        with self._lock:
            self._totals = add_usage(self._totals, {role: usage_of(completion)})

    def record_fault(self, role: str, kind: str) -> None:
        """Count a re-ask ("reasks") or a failed step ("failures") under ``role``."""
        with self._lock:
            if kind == "failures":
                self._failures[role] = self._failures.get(role, 0) + 1
            else:
                self._totals = add_usage(self._totals, {role: {kind: 1}})

    def totals(self) -> dict:
        with self._lock:
            return {role: dict(fields) for role, fields in self._totals.items()}

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
