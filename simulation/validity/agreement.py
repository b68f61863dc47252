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
* ``krippendorff_alpha``: agreement between raters of the same units (ordinal by default), computed by
  NLTK's ``AnnotationTask`` (``nltk.metrics.agreement``, Apache-2.0) with Krippendorff's difference
  functions: nominal (NLTK's ``binary_distance``), interval (``interval_distance``, the squared
  difference) and ordinal (``ordinal_distance``, built here from the pooled frequencies of the pairable
  values, Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

# aligned: part of this module's face too (validity human)
from .figures import RESAMPLES, SHUFFLES, Pairs, aligned, bootstrap_interval, few_notes, shuffled, spearman  # noqa: F401


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
    return bootstrap_interval(list(clusters.values()), statistic, resamples=resamples, seed=seed)


def conversation_shuffled(groups: list[Group], *, shuffles: int = SHUFFLES,
                          seed: int = 0) -> tuple[float | None, float | None, float | None]:
    """Mean rho and its 2.5% and 97.5% quantiles with whole conversations' person ratings permuted
    (``figures.shuffled``: the same control the ESConv harness reports)."""
    return shuffled([group.pairs for group in groups], shuffles=shuffles, seed=seed)


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
        "notes": few_notes(len(groups), len({g.cluster for g in groups})),
    }


LEVELS = ("nominal", "ordinal", "interval")


def ordinal_distance(frequencies: dict[float, int]):
    """Krippendorff's ordinal difference function over the pooled frequencies of the pairable values:
    delta(c, k) = (sum of n_g for g from c to k, minus (n_c + n_k) / 2) squared."""
    values = sorted(frequencies)
    rank = {value: position for position, value in enumerate(values)}
    cumulative = np.cumsum([frequencies[value] for value in values]).tolist()

    def distance(c: float, k: float) -> float:
        low, high = sorted((rank[c], rank[k]))
        between = cumulative[high] - (cumulative[low - 1] if low > 0 else 0)
        return float(between - (frequencies[values[low]] + frequencies[values[high]]) / 2) ** 2

    return distance


def krippendorff_alpha(units: dict[str, dict[str, float]], level: str = "ordinal") -> dict:
    """Krippendorff's alpha over the units two or more raters rated (``units``: unit -> rater -> value).

    None when there is nothing to compare (fewer than two raters on any unit, or a single value
    throughout, where alpha is undefined: NLTK would answer 1 there).
    """
    # lazy: NLTK (its agreement module only) loads when raters are compared
    from nltk.metrics.agreement import AnnotationTask
    from nltk.metrics.distance import binary_distance, interval_distance

    if level not in LEVELS:
        raise ValueError(f"unknown level of measurement '{level}' (one of {', '.join(LEVELS)})")
    shared = {unit: ratings for unit, ratings in units.items() if len(ratings) >= 2}
    raters = sorted({rater for ratings in shared.values() for rater in ratings})
    pooled: dict[float, int] = {}
    for ratings in shared.values():
        for value in ratings.values():
            pooled[value] = pooled.get(value, 0) + 1
    result = {"units": len(shared), "raters": len(raters), "pairable_values": sum(pooled.values()),
              "alpha": None, "level": level}
    if len(pooled) < 2:
        return result
    distance = {"nominal": binary_distance, "interval": interval_distance,
                "ordinal": ordinal_distance(pooled)}[level]
    task = AnnotationTask(data=[(rater, unit, value) for unit, ratings in shared.items()
                                for rater, value in ratings.items()], distance=distance)
    result["alpha"] = _rounded(task.alpha())
    return result
