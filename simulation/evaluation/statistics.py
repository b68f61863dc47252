"""Small statistics for run evaluation: bootstrap confidence intervals and a trend slope.

``cluster_bootstrap_ci`` is what ``compare`` uses: the sessions of one client are not
independent (one profile, one course), so it resamples whole clients with
``scipy.stats.bootstrap`` (percentile intervals), each client carrying the sum and the
count of its values; the statistic is the pooled mean (sum over count) of the resampled
clients. ``bootstrap_ci`` resamples single values, for samples that are independent.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping

import numpy as np

# Below this many clusters (clients, conversations) a bootstrap is coarse and tends to be too narrow: said so.
FEW_CLUSTERS = 10
# Resampled means are computed in blocks so memory stays bounded for large samples.
_BLOCK_CELLS = 4_000_000

Interval = tuple[float, float, float]


def _clean(values: Iterable[float | None]):
    """A float array of the values, without None and NaN."""
    array = np.array([math.nan if v is None else float(v) for v in values], dtype=float)
    return array[~np.isnan(array)]


def _check(confidence: float, resamples: int) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")


def _resampled_means(sample, resamples: int, seed: int):
    """Means of ``resamples`` bootstrap resamples of ``sample`` (drawn with replacement)."""
    rng = np.random.Generator(np.random.PCG64(seed))
    n = sample.size
    block = max(1, _BLOCK_CELLS // n)
    means = np.empty(resamples, dtype=float)
    for start in range(0, resamples, block):
        stop = min(start + block, resamples)
        means[start:stop] = sample[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
    return means


def _interval(sample, confidence: float, resamples: int, seed: int) -> Interval:
    _check(confidence, resamples)
    if sample.size == 0:
        return (math.nan, math.nan, math.nan)
    mean = float(sample.mean())
    if sample.size == 1:
        return (mean, mean, mean)
    means = _resampled_means(sample, resamples, seed)
    alpha = 1.0 - confidence
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return (mean, float(low), float(high))


def bootstrap_ci(
    values: Iterable[float | None], *, confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> Interval:
    """(mean, low, high): percentile bootstrap CI of the mean; None and NaN are dropped."""
    return _interval(_clean(values), confidence, resamples, seed)


def paired_bootstrap_ci(
    a: Mapping[Hashable, float | None],
    b: Mapping[Hashable, float | None],
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float, float, int]:
    """(mean, low, high, pairs) of b − a over the keys both have a number for."""
    diffs = _clean(
        b[key] - a[key]
        for key in a.keys() & b.keys()
        if a[key] is not None and b[key] is not None
    )
    # Set iteration order varies between processes; sort so a seed gives the same CI every time.
    diffs = np.sort(diffs)
    return (*_interval(diffs, confidence, resamples, seed), int(diffs.size))


def cluster_bootstrap_ci(
    values_by_cluster: Mapping[Hashable, Iterable[float | None]],
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float, float, int]:
    """(mean, low, high, clusters): the pooled mean of all values with a CI resampling clusters.

    None and NaN are dropped, and clusters left with no value. Under two clusters there is
    no interval: low and high are NaN. The mean weights each value alike (a client with more
    sessions weighs more); the result does not depend on the order of the clusters.
    """
    from scipy import stats  # lazy: scipy loads only when intervals are computed

    _check(confidence, resamples)
    cleaned = sorted(((repr(key), _clean(values)) for key, values in values_by_cluster.items()), key=lambda kv: kv[0])
    sums = np.array([values.sum() for _, values in cleaned if values.size], dtype=float)
    counts = np.array([values.size for _, values in cleaned if values.size], dtype=float)
    if sums.size == 0:
        return (math.nan, math.nan, math.nan, 0)
    mean = float(sums.sum() / counts.sum())
    if sums.size < 2:
        return (mean, math.nan, math.nan, int(sums.size))
    means = sums / counts
    if np.all(means == means[0]):
        return (mean, mean, mean, int(sums.size))  # every resample has this mean
    result = stats.bootstrap(
        (sums, counts), lambda s, c, axis=-1: s.sum(axis=axis) / c.sum(axis=axis), paired=True, vectorized=True,
        n_resamples=resamples, confidence_level=confidence, method="percentile",
        random_state=np.random.Generator(np.random.PCG64(seed)),
    )
    low, high = result.confidence_interval
    return (mean, float(low), float(high), int(sums.size))


def slope(xs: Iterable[float | None], ys: Iterable[float | None]) -> float:
    """Least-squares slope of ys on xs; pairs with a missing value are dropped; NaN under 2 points."""
    x = np.array([math.nan if v is None else float(v) for v in xs], dtype=float)
    y = np.array([math.nan if v is None else float(v) for v in ys], dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"xs and ys differ in length ({x.size} and {y.size})")
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    if x.size < 2:
        return math.nan
    dx = x - x.mean()
    spread = float(dx @ dx)
    if spread == 0.0:
        return math.nan
    return float(dx @ (y - y.mean()) / spread)
