"""What every choice-scoring strategy shares: how it sends, and how it gives way to the next one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ..interface import FALLBACK_METHOD, ChoiceScores, Completion, Message

# One request of the role's model (with its retries and fallback): (messages, sampling, **request extras) -> (completion, raw response).
Send = Callable[..., tuple[Completion, Any]]
# The method of a strategy's answer when it could not answer (the next strategy is tried).
DECLINED = "declined"
# Attempts at a JSON answer (at least; a role's output_retries + 1 when that is more).
STRUCTURED_RETRIES = 3


class ChoiceStrategy(Protocol):
    def score(self, send: Send, messages: list[Message], choices: list[str], *, seed: int | None,
              baseline: list[Message] | None, output_retries: int) -> ChoiceScores:
        """The choice, or a ``declined`` one when this strategy cannot score with this model."""


def declined(completions: tuple[Completion, ...] | list[Completion] = ()) -> ChoiceScores:
    """No answer from this strategy; ``completions`` are the requests it spent finding out."""
    return ChoiceScores("", {}, DECLINED, tuple(completions))


def middle_fallback(choices: list[str] | tuple[str, ...], completions: tuple[Completion, ...] = ()) -> ChoiceScores:
    """The scale's middle, filled in (method "fallback") because no valid answer came back."""
    middle = choices[len(choices) // 2]
    return ChoiceScores(middle, {c: float("-inf") for c in choices}, FALLBACK_METHOD, tuple(completions))
