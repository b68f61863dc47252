"""The validity figures: Spearman's rho with a 95% bootstrap interval, and the shuffled null.

Data come in groups, one per conversation (the rated turns of one conversation, or its one
end-of-session pair). The bootstrap resamples conversations, not turns, because the turns of one
conversation are not independent. The null control permutes whole conversations: each
conversation's simulated ratings are set beside another conversation's human ratings (a
derangement: none keeps its own), turn by turn at the same relative position, so the ratings of
one conversation stay together. Shuffling single turns instead would break up what a seeker
who rates consistently shares across a conversation and give too narrow a band. It reports the
mean rho over the shuffles and its central 95% band: a figure outside that band is unlikely to
be chance. With fewer than ``MIN_SHUFFLED`` conversations there are too few derangements for a band
(2, 3 and 4 conversations have 1, 2 and 9): none is given, and the figures' ``notes`` say why; they
also warn when the bootstrap resamples fewer than ``FEW_CLUSTERS`` clusters, as ``compare`` does.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..evaluation.statistics import FEW_CLUSTERS

Pairs = list[tuple[float, float]]
RESAMPLES = 1000
SHUFFLES = 200
MIN_SHUFFLED = 5  # conversations: 5 have 44 derangements, 4 only 9


def spearman(pairs: Pairs) -> float | None:
    """Spearman's rho of the pairs; None when either side is constant or there are fewer than 3."""
    # lazy: scipy loads only for the validity figures
    from scipy.stats import spearmanr

    if len(pairs) < 3:
        return None
    x, y = zip(*pairs)
    if len(set(x)) < 2 or len(set(y)) < 2:
        return None
    return float(spearmanr(x, y).statistic)


def _rounded(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(value, 4)


def bootstrap_interval(groups: list[Pairs], statistic: Callable[[Pairs], float | None] | None = None, *,
                       resamples: int = RESAMPLES, seed: int = 0) -> tuple[float | None, float | None]:
    """The 95% percentile interval of ``statistic`` (rho by default) over resamples of the groups
    (conversations, or any clusters), drawn with replacement."""
    statistic = statistic or spearman
    if len(groups) < 2:
        return None, None
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        chosen = rng.integers(0, len(groups), size=len(groups))
        value = statistic([pair for i in chosen for pair in groups[i]])
        if value is not None:
            values.append(value)
    if len(values) < resamples / 2:
        return None, None
    low, high = np.quantile(values, [0.025, 0.975])
    return float(low), float(high)


def derangement(n: int, rng: np.random.Generator) -> list[int]:
    """A random permutation of range(n) that moves every element (n >= 2)."""
    while True:
        order = rng.permutation(n).tolist()
        if all(i != j for i, j in enumerate(order)):
            return order


def aligned(simulated: list[float], human: list[float]) -> Pairs:
    """Each simulated rating beside the human rating at the same relative position of the other conversation."""
    if not simulated or not human:
        return []
    return [(value, human[min(len(human) - 1, j * len(human) // len(simulated))]) for j, value in enumerate(simulated)]


def shuffled_pairs(groups: list[Pairs], rng: np.random.Generator) -> Pairs:
    """One draw of the null: whole conversations' human ratings permuted (a derangement), aligned by position."""
    order = derangement(len(groups), rng)
    return [pair for group, other in zip(groups, order)
            for pair in aligned([x for x, _ in group], [y for _, y in groups[other]])]


def shuffled(groups: list[Pairs], *, shuffles: int = SHUFFLES, seed: int = 0) -> tuple[float | None, float | None, float | None]:
    """Mean rho, and its 2.5% and 97.5% quantiles, with whole conversations' human ratings permuted."""
    groups = [group for group in groups if group]
    if len(groups) < MIN_SHUFFLED or sum(len(group) for group in groups) < 3:
        return None, None, None
    rng = np.random.default_rng(seed)
    values = [rho for _ in range(shuffles) if (rho := spearman(shuffled_pairs(groups, rng))) is not None]
    if not values:
        return None, None, None
    low, high = np.quantile(values, [0.025, 0.975])
    return float(np.mean(values)), float(low), float(high)


def few_notes(conversations: int, clusters: int) -> list[str]:
    """What the figures cannot say with so few conversations or clusters, in words."""
    notes: list[str] = []
    if conversations == 0:  # no figure at all: nothing to qualify
        return notes
    if conversations < MIN_SHUFFLED:
        notes.append(f"only {conversations} conversation(s): too few for a shuffled band (fewer than {MIN_SHUFFLED})")
    if clusters < FEW_CLUSTERS:
        notes.append(f"only {clusters} cluster(s): a bootstrap over fewer than {FEW_CLUSTERS} is coarse and tends to "
                     "be too narrow; read the interval as descriptive")
    return notes


def target_figures(groups: list[Pairs], seed: int) -> dict:
    """n, rho, its 95% bootstrap interval and the shuffled null, for one target."""
    groups = [group for group in groups if group]
    pairs = [pair for group in groups for pair in group]
    low, high = bootstrap_interval(groups, seed=seed)
    null, null_low, null_high = shuffled(groups, seed=seed + 1)
    return {"n": len(pairs), "conversations": len(groups), "rho": _rounded(spearman(pairs)),
            "ci_low": _rounded(low), "ci_high": _rounded(high), "shuffled_rho": _rounded(null),
            "shuffled_low": _rounded(null_low), "shuffled_high": _rounded(null_high),
            "notes": few_notes(len(groups), len(groups))}


def left_out_line(left_out: dict[str, int] | None) -> str:
    """The printed line on the pairs left out because the simulated client's side was filled in (an answer its
    model did not give, or one measured on a state that moved on such answers): counted, never silent."""
    counts = ", ".join(f"{name} {count}" for name, count in sorted((left_out or {}).items()) if count)
    return f"Pairs left out, the simulated side filled in: {counts or 'none'}."


def notes_line(figures: dict[str, dict]) -> str:
    """The figures' notes (few conversations or clusters), once each with the targets they concern."""
    by_note: dict[str, list[str]] = {}
    for target, entry in figures.items():
        for note in entry.get("notes") or []:
            by_note.setdefault(note, []).append(target)
    return " ".join(f"{', '.join(targets)}: {note}." for note, targets in by_note.items())
