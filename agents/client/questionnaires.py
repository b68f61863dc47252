"""Self-report questionnaires the simulated client answers itself.

PHQ-9 and GAD-7 at the start of each session, WAI-SR and PANAS at its end.
Each item is put to the client's own model with the client's current level on
what the item measures (from its state). An instrument is one ``ItemSet`` (its preamble:
who answers, the instructions and the scale; its items: a statement and the level), answered
by ``LanguageModel.score_items``: by likelihood, one short request per item, where the model
gives log-probabilities, or all items in one validated JSON request (the role's ``scoring``).
An answer is always a valid scale value; one the model did not give (the scale's middle,
filled in) is listed in ``filled_in`` and counted under ``methods`` as "fallback".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from muspsy_sim.agents.client.state import ClientState
from muspsy_sim.agents.llm import Completion, ItemSet, LanguageModel
from muspsy_sim.agents.prompting import render
from muspsy_sim.scenarios.profile import CaseProfile

INSTRUMENTS_DIR = Path(__file__).resolve().parent / "instruments"
PROMPTS = Path(__file__).resolve().parent / "prompts"
PREAMBLE = PROMPTS / "questionnaire_preamble.txt"
ITEM = PROMPTS / "questionnaire_item.txt"
AT_START = ("phq9", "gad7")
AT_END = ("wai_sr", "panas")


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

    def label(self, level: float) -> str:
        return self.scale[min(self.values, key=lambda v: abs(v - level))]

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
    raise KeyError(instrument.key)


def item_set(instrument: Instrument, profile: CaseProfile, state: ClientState, session_index: int) -> ItemSet:
    """The instrument as the client is asked it: one preamble, each item with the client's level on it."""
    scale = ", ".join(f"{value} = {label}" for value, label in instrument.scale.items())
    preamble = render(PREAMBLE, pseudonym=profile.pseudonym, title=instrument.title, session_index=session_index,
                      moment="before" if instrument.when == "start" else "after",
                      instructions=instrument.instructions, scale=scale)
    items = tuple(render(ITEM, item=item, level_words=instrument.label(level).lower(), level=f"{level:.1f}")
                  for item, level in zip(instrument.items, latent_levels(instrument, state)))
    baseline = f"{preamble}\n{render(ITEM, item='N/A', level_words='N/A', level='N/A')}"
    return ItemSet(preamble, items, tuple(str(v) for v in instrument.values), baseline=baseline)


def administer(llm: LanguageModel, instrument: Instrument, profile: CaseProfile, state: ClientState,
               session_index: int, seed: int) -> tuple[dict, list[Completion]]:
    """Put every item to the client; returns the answers with their scores, and the model calls."""
    scored = llm.score_items(item_set(instrument, profile, state, session_index), seed)
    answers = [int(answer.choice) for answer in scored.answers]
    methods: dict[str, int] = {}
    for answer in scored.answers:
        methods[answer.method] = methods.get(answer.method, 0) + 1
    filled_in = [number for number, answer in enumerate(scored.answers, start=1) if answer.filled_in]
    return {"answers": answers, **instrument.score(answers), "methods": methods, "filled_in": filled_in}, \
        list(scored.completions)
