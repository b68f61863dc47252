"""Self-report questionnaires the simulated client answers itself.

PHQ-9 and GAD-7 at the start of each session, WAI-SR and PANAS at its end.
Two modes (``SELF_REPORT_MODES``, a campaign's ``client.self_report``):

* ``model``: each item is put to the client's own model with its persona, how it feels in
  words (``feelings``) and what happened (the session's last turns, or the week before it);
  never a numeric level. The answer is chosen among the scale values by likelihood for local
  models and by validated JSON for API models (``LanguageModel.score_choices``), so it is
  always a valid scale value.
* ``latent``: no model call; each answer is the scale value nearest to the client's latent
  level on the item (method ``latent-readout``), for models too small to answer sensibly.

Either way the record keeps, per item, the latent level (``latent_levels``) beside the answer.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from muspsy_sim.agents.client.feelings import feelings_in_words, situation_in_words
from muspsy_sim.agents.client.state import ClientState
from muspsy_sim.agents.llm import Completion, LanguageModel
from muspsy_sim.agents.prompting import render
from muspsy_sim.scenarios.profile import CaseProfile

INSTRUMENTS_DIR = Path(__file__).resolve().parent / "instruments"
PROMPT = Path(__file__).resolve().parent / "prompts" / "questionnaire_item.txt"
AT_START = ("phq9", "gad7")
AT_END = ("wai_sr", "panas")
_MAX_CONCURRENT_ITEMS = 8
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


def administer(llm: LanguageModel, instrument: Instrument, profile: CaseProfile, state: ClientState,
               session_index: int, seed: int, *, mode: str = "model", turns: list[dict] | None = None,
               week: dict | None = None) -> tuple[dict, list[Completion]]:
    """Put every item to the client; returns the answers with their latent levels, and the model calls.

    ``turns`` (the session so far) and ``week`` (the week before it) are what happened, in words.
    """
    levels = latent_levels(instrument, state)
    if mode == "latent":
        answers = [instrument.nearest(level) for level in levels]
        return _result(instrument, answers, {LATENT_READOUT: len(answers)}, levels, mode), []
    if mode != "model":
        raise ValueError(f"unknown self-report mode '{mode}' (one of {', '.join(SELF_REPORT_MODES)})")
    scale = ", ".join(f"{value} = {label}" for value, label in instrument.scale.items())
    fixed = {"pseudonym": profile.pseudonym, "age": profile.age, "occupation": profile.occupation,
             "presenting_problem": profile.presenting_problem, "title": instrument.title,
             "session_index": session_index, "moment": "before" if instrument.when == "start" else "after",
             "instructions": instrument.instructions, "scale": scale}
    told = {"feelings": feelings_in_words(state), "situation": situation_in_words(turns or [], week, session_index)}
    baseline = [{"role": "user", "content": render(PROMPT, item="N/A", feelings="N/A", situation="N/A", **fixed)}]
    choices = [str(v) for v in instrument.values]

    def answer(number: int, item: str):
        prompt = render(PROMPT, item=item, **told, **fixed)
        return llm.score_choices([{"role": "user", "content": prompt}], choices, seed=seed + number, baseline=baseline)

    numbered = list(enumerate(instrument.items, start=1))
    # The first item alone (it also scores the calibration baseline, which is cached), then the
    # rest at once: items are independent, and concurrent requests let a batching provider
    # (local/) or a remote API answer them together instead of one after another.
    scored = [answer(*numbered[0])]
    with ThreadPoolExecutor(max_workers=min(_MAX_CONCURRENT_ITEMS, len(numbered)), thread_name_prefix="item") as pool:
        scored += list(pool.map(lambda entry: answer(*entry), numbered[1:]))
    answers, methods, completions = [], {}, []
    for result in scored:
        answers.append(int(result.choice))
        methods[result.method] = methods.get(result.method, 0) + 1
        completions.extend(result.completions)
    return _result(instrument, answers, methods, levels, mode), completions


def _result(instrument: Instrument, answers: list[int], methods: dict[str, int], levels: list[float], mode: str) -> dict:
    return {"answers": answers, **instrument.score(answers), "methods": methods,
            "latent": [round(level, 3) for level in levels], "mode": mode}
