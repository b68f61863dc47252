"""Answering several items of one scale: the one function the model appraisal asks through.

``answer_items`` takes one prompt per item and gives one ``ChoiceScores`` per item, in order.
Today each item is its own ``LanguageModel.score_choices`` request (local models: option
likelihood, calibrated against ``baseline``; API models: a validated JSON answer per item).
A path that answers all items of a scale in one request (one JSON object for an API model)
plugs in here, and every caller follows.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from muspsy_sim.agents.llm import ChoiceScores, LanguageModel, Message

_MAX_CONCURRENT_ITEMS = 8


def answer_items(llm: LanguageModel, prompts: list[list[Message]], choices: list[str], *, seed: int,
                 baseline: list[Message] | None = None) -> list[ChoiceScores]:
    """Each prompt's choice among ``choices``, with how it was made (``ChoiceScores.method``)."""
    if not prompts:
        return []

    def answer(numbered: tuple[int, list[Message]]) -> ChoiceScores:
        number, messages = numbered
        return llm.score_choices(messages, choices, seed=seed + number, baseline=baseline)

    numbered = list(enumerate(prompts, start=1))
    # The first alone (it also scores the calibration baseline, which is cached), then the rest
    # at once, so a batching provider (local/) or a remote API answers them together.
    answers = [answer(numbered[0])]
    if len(numbered) > 1:
        with ThreadPoolExecutor(max_workers=min(_MAX_CONCURRENT_ITEMS, len(numbered) - 1),
                                thread_name_prefix="item") as pool:
            answers += list(pool.map(answer, numbered[1:]))
    return answers
