"""Token and time accounting per role."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

from agents.llm.base import ChoiceScores, Completion, LanguageModel, Message, Sampling

USAGE_FIELDS = ("calls", "prompt_tokens", "completion_tokens", "seconds")


def usage_of(completion: Completion) -> dict[str, float]:
    return {
        "calls": 1,
        "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion.completion_tokens,
        "seconds": completion.seconds,
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

    def record(self, role: str, completion: Completion) -> None:
        with self._lock:
            self._totals = add_usage(self._totals, {role: usage_of(completion)})

    def totals(self) -> dict:
        with self._lock:
            return {role: dict(fields) for role, fields in self._totals.items()}


class MeteredModel:
    """Wraps a model so each call is counted under a role."""

    def __init__(self, inner: LanguageModel, role: str, meter: UsageMeter) -> None:
        self.inner = inner
        self.role = role
        self.meter = meter
        self.model = inner.model

    def complete(self, messages: list[Message], sampling: Sampling) -> Completion:
        completion = self.inner.complete(messages, sampling)
        self.meter.record(self.role, completion)
        return completion

    def score_choices(self, messages: list[Message], choices: list[str], seed: int | None = None,
                      baseline: list[Message] | None = None) -> ChoiceScores:
        scored = self.inner.score_choices(messages, choices, seed, baseline)
        for completion in scored.completions:
            self.meter.record(self.role, completion)
        return scored
