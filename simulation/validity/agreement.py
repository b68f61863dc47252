"""How far one rater's ratings agree with people's: Spearman, intervals, a shuffled control, mean difference,
and Krippendorff's alpha between people as the ceiling.

Ratings come in conversations (one session, or one support conversation): ``Group`` holds a
conversation's (simulated, person) pairs in turn order, and the cluster the bootstrap resamples
(the session itself, or the rater, all of whose sessions go together).

* ``rho``: Spearman over all pairs; its 95% interval resamples clusters with replacement.
* The shuffled control permutes whole conversations: each conversation's simulated ratings are paired
  with another conversation's person ratings (a derangement: none keeps its own), turn by turn at the
  same relative position. What survives it is what does not depend on which counselor turns were
  rated: position-in-session trends, each side's spread. Its mean rho over the shuffles and the
  central 95% band say what chance gives; a rho inside the band is no evidence of agreement.
* ``mean_difference``: mean of simulated minus person over the pairs, with its cluster-bootstrap
  interval (does the simulation rate higher than people?).
* ``krippendorff_alpha``: agreement between raters of the same units (ordinal), from the
  ``krippendorff`` package.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .figures import spearman

Pairs = list[tuple[float, float]]
RESAMPLES = 1000
SHUFFLES = 200


@dataclass(frozen=True)
class Group:
    """One conversation's pairs (simulated, person) in turn order; ``cluster`` is resampled as one."""

    conversation: str
    cluster: str
    pairs: Pairs = field(default_factory=list)


def _rounded(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 4)


def _pooled(groups: list[Group]) -> Pairs:
    return [pair for group in groups for pair in group.pairs]


def cluster_interval(groups: list[Group], statistic: Callable[[Pairs], float | None], *,
                     resamples: int = RESAMPLES, seed: int = 0) -> tuple[float | None, float | None]:
    """The 95% percentile interval of ``statistic`` over resamples of whole clusters, drawn with replacement."""
    clusters: dict[str, Pairs] = {}
    for group in groups:
        clusters.setdefault(group.cluster, []).extend(group.pairs)
    if len(clusters) < 2:
        return None, None
    members = list(clusters.values())
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        chosen = rng.integers(0, len(members), size=len(members))
        value = statistic([pair for i in chosen for pair in members[i]])
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


def aligned(simulated: list[float], person: list[float]) -> Pairs:
    """Each simulated rating with the person rating at the same relative position of the other conversation."""
    if not simulated or not person:
        return []
    return [(value, person[min(len(person) - 1, j * len(person) // len(simulated))]) for j, value in enumerate(simulated)]


def conversation_shuffled(groups: list[Group], *, shuffles: int = SHUFFLES,
                          seed: int = 0) -> tuple[float | None, float | None, float | None]:
    """Mean rho and its 2.5% and 97.5% quantiles with whole conversations' person ratings permuted."""
    groups = [group for group in groups if group.pairs]
    if len(groups) < 2 or len(_pooled(groups)) < 3:
        return None, None, None
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(shuffles):
        order = derangement(len(groups), rng)
        pairs = [pair for group, other in zip(groups, order)
                 for pair in aligned([s for s, _ in group.pairs], [p for _, p in groups[other].pairs])]
        rho = spearman(pairs)
        if rho is not None:
            values.append(rho)
    if not values:
        return None, None, None
    low, high = np.quantile(values, [0.025, 0.975])
    return float(np.mean(values)), float(low), float(high)


def _mean_difference(pairs: Pairs) -> float | None:
    return sum(s - p for s, p in pairs) / len(pairs) if pairs else None


def agreement_figures(groups: list[Group], seed: int) -> dict:
    """n, rho with its cluster-bootstrap interval, the conversation-level shuffled control, and the mean
    difference (simulated minus person) with its interval."""
    groups = [group for group in groups if group.pairs]
    pairs = _pooled(groups)
    low, high = cluster_interval(groups, spearman, seed=seed)
    null, null_low, null_high = conversation_shuffled(groups, seed=seed + 1)
    difference_low, difference_high = cluster_interval(groups, _mean_difference, seed=seed + 2)
    return {
        "n": len(pairs), "conversations": len(groups), "clusters": len({g.cluster for g in groups}),
        "rho": _rounded(spearman(pairs)), "ci_low": _rounded(low), "ci_high": _rounded(high),
        "shuffled_rho": _rounded(null), "shuffled_low": _rounded(null_low), "shuffled_high": _rounded(null_high),
        "mean_simulated": _rounded(sum(s for s, _ in pairs) / len(pairs)) if pairs else None,
        "mean_person": _rounded(sum(p for _, p in pairs) / len(pairs)) if pairs else None,
        "mean_difference": _rounded(_mean_difference(pairs)),
        "difference_low": _rounded(difference_low), "difference_high": _rounded(difference_high),
    }


def krippendorff_alpha(units: dict[str, dict[str, float]], level: str = "ordinal") -> dict:
    """Krippendorff's alpha over the units two or more raters rated (``units``: unit -> rater -> value).

    None when there is nothing to compare (fewer than two raters on any unit, or a single value
    throughout, where alpha is undefined).
    """
    # lazy: the krippendorff package (and its numpy work) only when raters are compared
    import krippendorff

    shared = {unit: ratings for unit, ratings in units.items() if len(ratings) >= 2}
    raters = sorted({rater for ratings in shared.values() for rater in ratings})
    result = {"units": len(shared), "raters": len(raters), "pairable_values": sum(map(len, shared.values())),
              "alpha": None, "level": level}
    if not shared:
        return result
    data = np.full((len(raters), len(shared)), np.nan)
    for column, ratings in enumerate(shared.values()):
        for rater, value in ratings.items():
            data[raters.index(rater), column] = value
    try:
        result["alpha"] = _rounded(krippendorff.alpha(reliability_data=data, level_of_measurement=level))
    except ValueError:  # one value in the whole domain: no disagreement to measure against
        pass
    return result
