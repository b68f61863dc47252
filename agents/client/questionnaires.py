"""Self-report questionnaires the simulated client answers itself.

PHQ-9 and GAD-7 at the start of each session, WAI-SR and PANAS at its end.
Two modes (``SELF_REPORT_MODES``, a campaign's ``client.self_report``):

* ``model``: each item is put to the client's own model with its persona, how it feels in
  words (``feelings``) and what happened (the session's last turns, or the week before it);
  never a numeric level. An instrument is one ``ItemSet`` (its preamble: who answers, how it
  feels, what happened, the instructions and the scale; its items: the statements), answered by
  ``LanguageModel.score_items``: by likelihood, one short request per item, where the model gives
  log-probabilities, or all items in one validated JSON request (the role's ``scoring``). An
  answer is always a valid scale value; one the model did not give (the scale's middle, filled
  in) is listed in ``filled_in`` and counted under ``methods`` as "fallback".
* ``latent``: no model call; each answer is the scale value nearest to the client's latent
  level on the item (method ``latent-readout``), for models too small to answer sensibly.

Either way the record keeps, per item, the latent level (``latent_levels``) beside the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from muspsy_sim.scenarios.profile import CaseProfile
from muspsy_sim.simulation.core.course import Week
from muspsy_sim.simulation.core.questionnaires import QuestionnaireResult
from muspsy_sim.simulation.core.turns import Turn

from ..llm import Completion, ItemSet, LanguageModel
from ..prompting import render
from .feelings import feelings_in_words, situation_in_words
from .state import ClientState

INSTRUMENTS_DIR = Path(__file__).resolve().parent / "instruments"
PROMPTS = Path(__file__).resolve().parent / "prompts"
PREAMBLE = PROMPTS / "questionnaire_preamble.txt"
ITEM = PROMPTS / "questionnaire_item.txt"
SELF_REPORT_MODES = ("model", "latent")
LATENT_READOUT = "latent-readout"


@dataclass(frozen=True)
class Instrument:
    key: str
    title: str
    when: str
    instructions: str
    scale: dict[int, str]
    items: tuple[str, ...]
    subscales: dict[str, tuple[int, ...]]

    @property
    def values(self) -> list[int]:
        return sorted(self.scale)

    def nearest(self, level: float) -> int:
        """The scale value nearest to ``level`` (the lower one on a tie)."""
        return min(self.values, key=lambda v: (abs(v - level), v))

    def score(self, answers: list[int]) -> dict:
        subscales = {name: sum(answers[i - 1] for i in items) for name, items in self.subscales.items()}
        return {"total": sum(answers), "subscales": subscales}


@lru_cache(maxsize=None)
def instruments() -> dict[str, Instrument]:
    loaded = {}
    for path in sorted(INSTRUMENTS_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        loaded[data["key"]] = Instrument(
            key=data["key"], title=data["title"], when=data["when"], instructions=data["instructions"],
            scale={int(k): str(v) for k, v in data["scale"].items()}, items=tuple(data["items"]),
            subscales={k: tuple(v) for k, v in (data.get("subscales") or {}).items()},
        )
    return loaded


def latent_levels(instrument: Instrument, state: ClientState) -> list[float]:
    """The client's level on each item, on the instrument's own scale, read off its state."""
    if instrument.key == "phq9":
        return list(state.phq9)
    if instrument.key == "gad7":
        return list(state.gad7)
    if instrument.key == "wai_sr":
        bond = state.trust / 10
        goal = 0.5 * bond + 0.5 * state.recent_relevance
        task = 0.4 * state.insight + 0.3 * state.recent_relevance + 0.3 * bond
        per_item = {i: level for level, items in ((task, (1, 2, 10, 12)), (bond, (3, 5, 7, 9)), (goal, (4, 6, 8, 11)))
                    for i in items}
        return [1 + 4 * per_item[i] for i in range(1, 13)]
    if instrument.key == "panas":
        positive = set(instrument.subscales["positive"])
        return [1 + 4 * (state.positive_affect if i in positive else state.negative_affect) for i in range(1, 21)]
    if instrument.key == "session_rating":
        # Empathy and relevance as the client perceived them, and how intense its feelings are now.
        return [1 + 4 * state.recent_empathy, 1 + 4 * state.recent_relevance, 1 + 4 * state.distress / 10]
    raise KeyError(instrument.key)


def item_set(instrument: Instrument, profile: CaseProfile, state: ClientState, session_index: int,
             turns: Sequence[Turn] = (), week: Week | None = None) -> ItemSet:
    """The instrument as the client is asked it: one preamble (persona, feelings, what happened), its statements."""
    scale = ", ".join(f"{value} = {label}" for value, label in instrument.scale.items())
    fixed = {"pseudonym": profile.pseudonym, "age": profile.age, "occupation": profile.occupation,
             "presenting_problem": profile.presenting_problem, "title": instrument.title,
             "session_index": session_index, "moment": "before" if instrument.when == "start" else "after",
             "instructions": instrument.instructions, "scale": scale}
    told = {"feelings": feelings_in_words(state), "situation": situation_in_words(turns, week, session_index)}
    preamble = render(PREAMBLE, **told, **fixed)
    items = tuple(render(ITEM, item=item) for item in instrument.items)
    baseline = f"{render(PREAMBLE, feelings='N/A', situation='N/A', **fixed)}\n{render(ITEM, item='N/A')}"
    return ItemSet(preamble, items, tuple(str(v) for v in instrument.values), baseline=baseline)


def administer(llm: LanguageModel, instrument: Instrument, profile: CaseProfile, state: ClientState,
               session_index: int, seed: int, *, mode: str = "model", turns: Sequence[Turn] = (),
               week: Week | None = None) -> tuple[QuestionnaireResult, list[Completion]]:
    """Put every item to the client; returns the answers with their latent levels, and the model calls.

    ``turns`` (the session so far) and ``week`` (the week before it) are what happened, in words.
    """
    levels = latent_levels(instrument, state)
    if mode == "latent":
        answers = [instrument.nearest(level) for level in levels]
        return _result(instrument, answers, {LATENT_READOUT: len(answers)}, levels, mode, []), []
    if mode != "model":
        raise ValueError(f"unknown self-report mode '{mode}' (one of {', '.join(SELF_REPORT_MODES)})")
    scored = llm.score_items(item_set(instrument, profile, state, session_index, turns, week), seed)
    answers = [int(answer.choice) for answer in scored.answers]
    methods: dict[str, int] = {}
    for answer in scored.answers:
        methods[answer.method] = methods.get(answer.method, 0) + 1
    filled_in = [number for number, answer in enumerate(scored.answers, start=1) if answer.filled_in]
    return _result(instrument, answers, methods, levels, mode, filled_in), list(scored.completions)


def _result(instrument: Instrument, answers: list[int], methods: dict[str, int], levels: list[float], mode: str,
            filled_in: list[int]) -> QuestionnaireResult:
    return QuestionnaireResult(answers=answers, **instrument.score(answers), methods=methods,
                               latent=[round(level, 3) for level in levels], mode=mode, filled_in=filled_in)
