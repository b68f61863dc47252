"""The judge against the people it stands in for: `validity esconv --judge`.

The judge (``agents/judge``, as `eval` runs it) rates each real support conversation on its own
items, and its ratings are set beside the help-seeker's own end-of-conversation survey: the judge's
empathy beside the seeker's "the supporter empathized", its coherence ("do the counselor's turns
follow from what was said") beside the seeker's "the responses were relevant" (the judge has no
item named relevance; coherence is the nearest). One pair per conversation: Spearman with a 95%
interval resampling conversations, the shuffled control (seekers' ratings permuted across
conversations) and the mean difference (``agreement``).

The judge reads the conversation up to the supporter's last turn: the seeker's words after it (a
thank-you, a goodbye) would tell it how the seeker felt, which is what it is checked against.
"""

from __future__ import annotations

from muspsy_sim.agents.judge import Judge

from ..core.questionnaires import FALLBACK_METHOD
from ..core.turns import Turn, last_counselor_index
from .agreement import Group, agreement_figures
from .esconv import ChatTurn, Conversation

# target -> (the judge's item, the seeker's survey item)
JUDGE_TARGETS = {"judge_empathy": ("judge_empathy", "empathy"), "judge_relevance": ("judge_coherence", "relevance")}


def until_last_supporter_turn(turns: list[ChatTurn]) -> list[Turn]:
    """The conversation as the judge reads it: the turns up to the supporter's last one."""
    heard = [turn.as_turn() for turn in turns]
    return heard[: last_counselor_index(heard) + 1]


def judge_conversations(conversations: list[Conversation], judge: Judge, seed: int = 0,
                        pseudonym: str = "the help-seeker") -> dict:
    """The judge's figures against the seekers' survey: per target n, rho, interval, shuffled control, mean difference."""
    groups: dict[str, list[Group]] = {target: [] for target in JUDGE_TARGETS}
    methods: dict[str, int] = {}
    for conversation in conversations:
        scores, _ = judge.rate(until_last_supporter_turn(conversation.turns), 1, pseudonym, seed)
        for target, (item, survey) in JUDGE_TARGETS.items():
            score = scores[item]
            methods[score["method"]] = methods.get(score["method"], 0) + 1
            rated = conversation.survey.get(survey)
            # A rating the judge model did not give (filled in) is left out, like every score `eval` keeps.
            if rated is not None and score["method"] != FALLBACK_METHOD:
                key = str(conversation.index)
                groups[target].append(Group(key, key, [(float(score["score"]), float(rated))]))
    described = judge.describe()
    return {"model": described["model"], "prompt_version": described["prompt_version"], "methods": methods,
            "items": {target: {"judge": item, "seeker": survey} for target, (item, survey) in JUDGE_TARGETS.items()},
            "targets": {target: agreement_figures(g, seed) for target, g in groups.items()}}
