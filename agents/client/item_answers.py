"""Answering several items of one scale: the one function the model appraisal asks through.

``answer_items`` takes one prompt per item and gives one ``ChoiceScores`` per item, in order.
Prompts that differ only in their last line (the item) are one ``ItemSet`` (the shared lines its
preamble), answered by ``LanguageModel.score_items``: per item by likelihood, or all items in
one JSON request, as the role's ``scoring`` says (``agents/llm/choice_scoring``). Other prompts
are asked one ``score_choices`` each.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from ..llm import ChoiceScores, ItemSet, LanguageModel, Message

_MAX_CONCURRENT_ITEMS = 8


def answer_items(llm: LanguageModel, prompts: list[list[Message]], choices: list[str], *, seed: int,
                 baseline: list[Message] | None = None) -> list[ChoiceScores]:
    """Each prompt's choice among ``choices``, with how it was made (``ChoiceScores.method``).

    Every request the items took is in the completions of one of the answers (the first, when
    they were asked as a set).
    """
    if not prompts:
        return []
    items = item_set_of(prompts, choices, baseline)
    if items is not None:
        scored = llm.score_items(items, seed)
        answers = [replace(answer, completions=()) for answer in scored.answers]
        answers[0] = replace(answers[0], completions=scored.completions)
        return answers

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


def item_set_of(prompts: list[list[Message]], choices: list[str], baseline: list[Message] | None) -> ItemSet | None:
    """The prompts as one ``ItemSet`` when each is one user message and they differ only in the last line."""
    if any(len(p) != 1 or p[0]["role"] != "user" or "\n" not in p[0]["content"] for p in prompts):
        return None
    if baseline is not None and (len(baseline) != 1 or baseline[0]["role"] != "user"):
        return None
    split = [p[0]["content"].rsplit("\n", 1) for p in prompts]
    if len({preamble for preamble, _ in split}) != 1:
        return None
    return ItemSet(split[0][0], tuple(item for _, item in split), tuple(choices),
                   baseline=baseline[0]["content"] if baseline else None)
