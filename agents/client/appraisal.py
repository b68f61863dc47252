"""How the client takes a counselor turn: the ``Appraiser`` interface and its two implementations.

Both give an ``Appraisal`` (``simulation.core.turns``), so the state moves by one set of
documented rules whichever appraiser a campaign uses (``client.appraisal`` in its config):

* ``RulesAppraiser`` ("rules"): lexical cues, the cheap baseline (``agents.client.lexical_cues``).
  Empathy is the count of empathic phrases ("sounds like", "makes sense", ...) that no negation
  governs, less for a phrase repeated in the session; push the count of directive ones ("you
  should", "just", ...) and of negated empathic ones (dismissals), with "never"/"always" only
  outside a reflection of the client's words; relevance the share of the client's last content
  words the counselor takes up. The ``legacy`` dynamics preset uses the cues before issue 23.
* ``ModelAppraiser`` ("model"): the client's own model rates the turn on a few short items
  (``prompts/appraisal_items.yaml``), given its persona, how it feels in words and the dialogue
  so far; each 1..5 rating maps onto its Appraisal field as (rating - 1) / 4.

``reference`` (does a claim about earlier sessions match what the client heard,
``past_references``) and ``reflective`` (does the turn ask a question) are facts about the
turn, not feelings: both appraisers take them from the same checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol, runtime_checkable

import yaml

from muspsy_sim.scenarios.profile import CaseProfile
from muspsy_sim.simulation.core.turns import Appraisal, CounselorTurn, Turn, last_client_text

from ..llm import Completion, LanguageModel
from ..prompting import render
from .feelings import dialogue_in_words, feelings_in_words
from .item_answers import answer_items
from .lexical_cues import contextual_cues, legacy_cues
from .past_references import content_words, reference_truth
from .state import ClientState

PROMPTS = Path(__file__).resolve().parent / "prompts"
APPRAISERS = ("rules", "model")


@dataclass(frozen=True)
class AppraisalContext:
    """What the client knows when it takes a counselor turn.

    ``turns`` is this session so far and ends with the counselor's turn; ``earlier`` holds the
    transcripts of earlier sessions (what the client heard then).
    """

    profile: CaseProfile
    session_index: int
    state: ClientState
    turns: Sequence[Turn]
    earlier: Sequence[Sequence[Turn]] = ()
    seed: int = 0

    @property
    def counselor_text(self) -> str:
        return self.turns[-1].text if self.turns and isinstance(self.turns[-1], CounselorTurn) else ""

    @property
    def last_client_text(self) -> str:
        return last_client_text(self.turns)


@runtime_checkable
class Appraiser(Protocol):
    """Takes a counselor turn from the client's point of view."""

    name: str

    def appraise(self, context: AppraisalContext) -> tuple[Appraisal, list[Completion]]:
        """The appraisal of ``context.counselor_text``, and the model calls it took (none for rules)."""
        ...


def appraise(counselor_text: str, client_said: str, earlier: Sequence[Sequence[Turn]] = (), *,
             session_turns: Sequence[Turn] = (), legacy: bool = False) -> Appraisal:
    """The lexical appraisal of one counselor turn (the rules appraiser's cues), ``client_said`` the turn before.

    ``session_turns`` are this session's turns before it (for reflections and repeated phrases);
    ``legacy`` reads the cues as before issue 23 (``lexical_cues``).
    """
    said = content_words(client_said)
    relevance = len(said & content_words(counselor_text)) / len(said) if said else 0.5
    empathy, push = legacy_cues(counselor_text) if legacy else contextual_cues(counselor_text, session_turns)
    return Appraisal(
        empathy=empathy,
        relevance=min(1.0, 2 * relevance),
        push=push,
        reference=reference_truth(counselor_text, earlier),
        reflective=1.0 if "?" in counselor_text else 0.0,
    )


class RulesAppraiser:
    name = "rules"

    def __init__(self, legacy: bool = False):
        self.legacy = legacy

    def appraise(self, context: AppraisalContext) -> tuple[Appraisal, list[Completion]]:
        return appraise(context.counselor_text, context.last_client_text, context.earlier,
                        session_turns=context.turns[:-1], legacy=self.legacy), []


@dataclass(frozen=True)
class AppraisalItem:
    field: str
    text: str


@lru_cache(maxsize=None)
def appraisal_items() -> tuple[dict[int, str], tuple[AppraisalItem, ...]]:
    """The model appraisal's scale and items (``prompts/appraisal_items.yaml``)."""
    data = yaml.safe_load((PROMPTS / "appraisal_items.yaml").read_text(encoding="utf-8"))
    return ({int(k): str(v) for k, v in data["scale"].items()},
            tuple(AppraisalItem(item["field"], item["text"]) for item in data["items"]))


class ModelAppraiser:
    """The client's own model rates the turn; the ratings map onto the Appraisal's fields."""

    name = "model"
    prompt = PROMPTS / "appraisal_item.txt"

    def __init__(self, llm: LanguageModel):
        self.llm = llm

    def prompts(self, context: AppraisalContext) -> tuple[list[list[dict]], list[dict]]:
        """One prompt per item, and the calibration baseline (the same with its content "N/A")."""
        scale, items = appraisal_items()
        profile = context.profile
        fixed = {"pseudonym": profile.pseudonym, "age": profile.age, "occupation": profile.occupation,
                 "session_index": context.session_index, "presenting_problem": profile.presenting_problem,
                 "scale": ", ".join(f"{value} = {label}" for value, label in scale.items())}
        told = {"feelings": feelings_in_words(context.state),
                "dialogue": dialogue_in_words(list(context.turns[:-1])) or "(nothing yet)",
                "counselor_turn": " ".join(context.counselor_text.split())}
        prompts = [[{"role": "user", "content": render(self.prompt, item=item.text, **told, **fixed)}] for item in items]
        blank = {key: "N/A" for key in told}
        baseline = [{"role": "user", "content": render(self.prompt, item="N/A", **blank, **fixed)}]
        return prompts, baseline

    def appraise(self, context: AppraisalContext) -> tuple[Appraisal, list[Completion]]:
        scale, items = appraisal_items()
        prompts, baseline = self.prompts(context)
        answers = answer_items(self.llm, prompts, [str(v) for v in sorted(scale)], seed=context.seed, baseline=baseline)
        low, high = min(scale), max(scale)
        ratings = {item.field: (int(answer.choice) - low) / (high - low) for item, answer in zip(items, answers)}
        methods: dict[str, int] = {}
        completions: list[Completion] = []
        for answer in answers:
            methods[answer.method] = methods.get(answer.method, 0) + 1
            completions.extend(answer.completions)
        facts = appraise(context.counselor_text, context.last_client_text, context.earlier)
        # An item the model gave no valid rating for is the scale's middle: marked, counted, and its session's
        # outcomes left out by eval (it still moves the state, as every appraisal does).
        filled_in = [item.field for item, answer in zip(items, answers) if answer.filled_in]
        appraisal = Appraisal(empathy=ratings["empathy"], relevance=ratings["relevance"], push=ratings["push"],
                              reference=facts.reference, reflective=facts.reflective,
                              engagement=ratings.get("engagement"), source="model", methods=methods,
                              filled_in=filled_in)
        return appraisal, completions


def build_appraiser(kind: str, llm: LanguageModel, *, legacy_cues: bool = False) -> Appraiser:
    """The appraiser a campaign's ``client.appraisal`` names (``legacy_cues``: the rules before issue 23)."""
    if kind == "rules":
        return RulesAppraiser(legacy=legacy_cues)
    if kind == "model":
        return ModelAppraiser(llm)
    raise ValueError(f"unknown appraisal '{kind}' (one of {', '.join(APPRAISERS)})")
