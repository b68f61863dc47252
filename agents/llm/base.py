"""The minimal language-model interface every agent talks to.

Agents never call a provider directly: they get a ``LanguageModel`` and ask it
for text. Wrappers (usage metering, retries, limits) stack on the interface.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Protocol, runtime_checkable

Message = dict[str, str]


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0

    def to_record(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Sampling:
    """How to sample one completion; per call, so roles can differ."""

    max_tokens: int = 64
    temperature: float = 0.7
    seed: int | None = None
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChoiceScores:
    """A choice among fixed options, and how it was made."""

    choice: str
    scores: dict[str, float]  # log-probability per option ("likelihood"), or 0/-inf ("structured")
    method: str  # "likelihood", "likelihood-calibrated", "structured" or "fallback" (no valid answer after retries)
    completions: tuple[Completion, ...] = ()


@runtime_checkable
class LanguageModel(Protocol):
    model: str

    def complete(self, messages: list[Message], sampling: Sampling) -> Completion: ...

    def score_choices(self, messages: list[Message], choices: list[str], seed: int | None = None,
                      baseline: list[Message] | None = None) -> ChoiceScores: ...
