"""The language-model interface every agent talks to, and what it returns or raises.

Agents never call a provider directly: they get a ``LanguageModel`` and ask it for text
(``complete``), for one of fixed options (``score_choices``), or for answers to several items on
one scale (``score_items``: a questionnaire, ratings of a turn). Wrappers stack on the interface
(``metering.MeteredModel`` over ``routing.LiteLLMModel``); output checks
(``output_checks.complete_checked``) work on any ``LanguageModel`` through its declared members.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Protocol, runtime_checkable

Message = dict[str, str]
DEFAULT_OUTPUT_RETRIES = 2


@dataclass(frozen=True)
class Completion:
    """One answer of a model, and how it was served."""

    text: str
    model: str  # the model string that answered (the fallback's, when the fallback did)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    retries: int = 0  # extra attempts made (same model, or moving to the fallback)
    fallback: bool = False  # served by the role's fallback model
    finish_reason: str = ""
    cut_off: bool = False  # stopped "for length" before spending its token budget: cut in transit
    rejected: str = ""  # why the output was refused and asked again (output checks); "" when it was used

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

    @property
    def filled_in(self) -> bool:
        """A fallback answer: the scale's middle, filled in because the model gave no valid one."""
        return self.method == FALLBACK_METHOD


@dataclass(frozen=True)
class ScoringOffer:
    """What a role's model offers for choosing among options, as its ``scoring`` setting uses it.

    ``logprobs``: log-probabilities (exact in process, or a server's top ones); ``schema``: a JSON schema the
    server enforces (it can only answer validly). None: not asked, because the setting does not use it.
    """

    model: str
    scoring: str
    in_process: bool
    logprobs: bool | None = None
    schema: bool | None = None
    completions: tuple[Completion, ...] = ()

    @property
    def free_form(self) -> bool:
        """Whether answers rest on the model's free-form JSON (no log-probabilities, no enforced schema)."""
        return self.logprobs is not True and self.schema is not True

    def words(self, role: str) -> str:
        """What it offers, in plain words (a warning when answers rest on the model's free-form JSON)."""
        head = f"{role} ({self.model}, scoring {self.scoring})"
        if self.logprobs and self.in_process:
            return f"{head}: options are scored by their exact log-probabilities, in process."
        if self.logprobs:
            return f"{head}: the server returns log-probabilities; answers are read off them."
        if self.schema:
            return (f"{head}: the server returns no log-probabilities"
                    f"{'' if self.logprobs is False else ' (not asked)'} but enforces a JSON schema: "
                    "one request per questionnaire, every answer valid by construction.")
        asked = [what for what, offered in (("log-probabilities", self.logprobs), ("an enforced JSON schema",
                                                                                   self.schema)) if offered is False]
        return (f"WARNING: {head}: " + (f"the server offers neither {' nor '.join(asked)}, so "
                                         if asked else "by this setting ")
                + "every questionnaire answer and rating rests on the model's free-form JSON. Invalid answers "
                "are asked again, then filled in with the scale's middle, counted and left out of the scores; "
                "expect many with a small model.")


FALLBACK_METHOD = "fallback"
# A likelihood answer chosen among the options that had a log-probability, after the re-asks left some
# without one: the model's choice, but not among all options; counted beside filled-in answers.
PARTIAL_METHOD = "likelihood-partial"


@dataclass(frozen=True)
class ItemSet:
    """Items answered on one scale under one preamble: a questionnaire, or ratings of one counselor turn.

    Asked one at a time, an item's prompt is the preamble, a newline and the item's text
    (``item_messages``); asked together, the items are numbered under the preamble
    (``choice_scoring``). ``baseline`` is a whole prompt with its content replaced by "N/A" (the
    item's, and whatever of the preamble describes the case): the content-free prompt that
    likelihoods are calibrated against (None: not calibrated).
    """

    preamble: str
    items: tuple[str, ...]
    choices: tuple[str, ...]
    baseline: str | None = None

    def item_messages(self, index: int) -> list[Message]:
        return [{"role": "user", "content": f"{self.preamble}\n{self.items[index]}"}]

    def baseline_messages(self) -> list[Message] | None:
        return None if self.baseline is None else [{"role": "user", "content": self.baseline}]


@dataclass(frozen=True)
class ItemScores:
    """The answers to an ``ItemSet``, one per item in order, and every request they took."""

    answers: tuple[ChoiceScores, ...]
    completions: tuple[Completion, ...] = ()


def item_seed(seed: int | None, index: int) -> int | None:
    """The seed of item ``index`` (0-based) of a set asked with ``seed``: one apart per item."""
    return None if seed is None else seed + index + 1


class ModelUnavailable(RuntimeError):
    """LiteLLM gave up on a request: its retries (and the fallback model, if any) all failed.

    ``model``: the model string(s) tried; ``cause``: the last error in one line (a missing API key,
    a refused connection); ``role``: the role that asked, where the raiser knows it. Commands that
    end on it say all three in one line (``simulation/cli/output.py``).
    """

    def __init__(self, message: str, *, model: str | None = None, cause: str | None = None,
                 role: str | None = None):
        super().__init__(message)
        self.model, self.cause, self.role = model, cause, role

    def plain_cause(self) -> str:
        """The cause without the chain of exception names LiteLLM puts in front of the provider's own words."""
        parts = (self.cause or str(self)).split(": ")
        while len(parts) > 1 and re.fullmatch(r"(litellm\.)?\w*(Error|Exception)", parts[0]):
            parts.pop(0)
        return ": ".join(parts)


class FailedStep(RuntimeError):
    """A step whose model output stayed unusable (or whose model stayed unreachable) within the bound."""

    def __init__(self, role: str, step: str, reason: str, completions: tuple[Completion, ...] = ()):
        super().__init__(f"{role} {step}: {reason}")
        self.role = role
        self.step = step
        self.reason = reason
        self.completions = completions


@runtime_checkable
class LanguageModel(Protocol):
    """What every agent talks to.

    ``model`` is the model string, as recorded. ``role``, ``output_retries`` and ``note_fault``
    are what output checks need from the role's model: the role's name (in a failed step's
    reason), its bound on re-asks, and where re-asks and failed steps are counted. A class that
    subclasses ``LanguageModel`` inherits their defaults: no role ("model"), the default bound,
    faults counted nowhere. ``metering.MeteredModel`` gives a role model all three.
    """

    model: str
    role: str = "model"
    output_retries: int = DEFAULT_OUTPUT_RETRIES

    def note_fault(self, kind: str) -> None:
        """Count a re-ask ("reasks") or a failed step ("failures"); by default nowhere."""

    def complete(self, messages: list[Message], sampling: Sampling) -> Completion: ...

    def score_choices(self, messages: list[Message], choices: list[str], seed: int | None = None,
                      baseline: list[Message] | None = None) -> ChoiceScores: ...

    def score_items(self, items: ItemSet, seed: int | None = None) -> ItemScores:
        """Answer every item of ``items``; by default one ``score_choices`` per item, in turn."""
        answers = tuple(self.score_choices(items.item_messages(i), list(items.choices), item_seed(seed, i),
                                           items.baseline_messages()) for i in range(len(items.items)))
        return ItemScores(answers, tuple(c for answer in answers for c in answer.completions))
