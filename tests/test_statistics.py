"""Bootstrap intervals and the trend slope against known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from muspsy_sim.simulation.evaluation.statistics import bootstrap_ci, paired_bootstrap_ci, slope


def test_bootstrap_ci_covers_the_true_mean_of_a_normal_distribution():
    mu, sigma, n, repetitions = 3.0, 2.0, 50, 200
    rng = np.random.default_rng(1234)
    covered, widths = 0, []
    for repetition in range(repetitions):
        sample = rng.normal(mu, sigma, size=n)
        mean, low, high = bootstrap_ci(sample, seed=repetition)
        assert low <= mean <= high
        covered += low <= mu <= high
        widths.append(high - low)
    assert 0.90 <= covered / repetitions <= 0.99
    expected_width = 2 * 1.96 * sigma / math.sqrt(n)
    assert np.mean(widths) == pytest.approx(expected_width, rel=0.20)


def test_bootstrap_ci_is_reproducible_with_a_seed_and_narrows_with_confidence():
    values = np.random.default_rng(5).normal(size=40)
    assert bootstrap_ci(values, seed=3) == bootstrap_ci(values, seed=3)
    _, low95, high95 = bootstrap_ci(values, seed=3)
    _, low80, high80 = bootstrap_ci(values, confidence=0.80, seed=3)
    assert high80 - low80 < high95 - low95


def test_bootstrap_ci_of_a_constant_sample_has_zero_width():
    mean, low, high = bootstrap_ci([2.5] * 30)
    assert (mean, low, high) == (2.5, 2.5, 2.5)


def test_bootstrap_ci_drops_none_and_nan():
    values = [1.0, None, 3.0, float("nan"), 5.0]
    assert bootstrap_ci(values, seed=9) == bootstrap_ci([1.0, 3.0, 5.0], seed=9)
    assert bootstrap_ci(values)[0] == pytest.approx(3.0)


def test_bootstrap_ci_of_one_value_and_of_nothing():
    assert bootstrap_ci([4.0]) == (4.0, 4.0, 4.0)
    assert bootstrap_ci([None, 7.0]) == (7.0, 7.0, 7.0)
    assert all(math.isnan(x) for x in bootstrap_ci([]))
    assert all(math.isnan(x) for x in bootstrap_ci([None, float("nan")]))


def test_bootstrap_ci_rejects_a_bad_confidence():
    with pytest.raises(ValueError):
        bootstrap_ci([1.0, 2.0], confidence=1.5)


def test_paired_ci_of_a_constant_shift_is_the_shift_with_zero_width():
    rng = np.random.default_rng(7)
    a = {("c", seed, 1): float(v) for seed, v in enumerate(rng.normal(10, 3, size=25))}
    b = {key: value + 1.0 for key, value in a.items()}
    diff, low, high, pairs = paired_bootstrap_ci(a, b)
    assert pairs == 25
    assert diff == pytest.approx(1.0, abs=1e-12)
    assert high - low == pytest.approx(0.0, abs=1e-12)


def test_paired_ci_uses_only_shared_keys():
    a = {"x": 1.0, "y": 2.0, "z": 3.0, "only_a": 100.0, "null_b": 4.0}
    b = {"x": 3.0, "y": 4.0, "z": 5.0, "only_b": -100.0, "null_b": None}
    diff, low, high, pairs = paired_bootstrap_ci(a, b, seed=2)
    assert pairs == 3
    assert (diff, low, high) == (2.0, 2.0, 2.0)


def test_paired_ci_with_no_shared_keys():
    diff, low, high, pairs = paired_bootstrap_ci({"a": 1.0}, {"b": 2.0})
    assert pairs == 0
    assert all(math.isnan(x) for x in (diff, low, high))


def test_paired_ci_is_the_same_whatever_the_key_order():
    keys = [f"k{i}" for i in range(20)]
    values = np.random.default_rng(3).normal(size=(2, 20))
    a = dict(zip(keys, values[0]))
    b = dict(zip(keys, values[1]))
    reordered_a = dict(reversed(list(a.items())))
    assert paired_bootstrap_ci(a, b, seed=4) == paired_bootstrap_ci(reordered_a, b, seed=4)


def test_slope_of_a_known_line():
    xs = [1, 2, 3, 4, 5]
    assert slope(xs, [2 * x + 1 for x in xs]) == pytest.approx(2.0)
    assert slope(xs, [7 - 0.5 * x for x in xs]) == pytest.approx(-0.5)


def test_slope_drops_missing_points_and_needs_two():
    assert slope([1, 2, None, 4], [1, 3, 100, 7]) == pytest.approx(2.0)
    assert math.isnan(slope([1], [1]))
    assert math.isnan(slope([], []))
    assert math.isnan(slope([2, 2], [1, 5]))


# --- clusters: sessions of one client are not independent (issue 16, point 5) -----------------------------------


def test_cluster_bootstrap_resamples_clients_not_sessions():
    """Ten sessions per client, all alike within a client: the interval is as wide as four numbers allow."""
    from muspsy_sim.simulation.evaluation.statistics import cluster_bootstrap_ci

    client_means = {"a": 1.0, "b": 2.0, "c": 6.0, "d": 7.0}
    by_client = {client: [value] * 10 for client, value in client_means.items()}
    mean, low, high, clusters = cluster_bootstrap_ci(by_client, seed=1)
    assert clusters == 4 and mean == pytest.approx(4.0)
    _, session_low, session_high = bootstrap_ci([v for values in by_client.values() for v in values], seed=1)
    _, client_low, client_high = bootstrap_ci(list(client_means.values()), resamples=2000, seed=1)
    assert high - low == pytest.approx(client_high - client_low, rel=0.15)
    assert high - low > 2 * (session_high - session_low)


def test_cluster_bootstrap_weights_clients_by_their_sessions_and_needs_two():
    from muspsy_sim.simulation.evaluation.statistics import cluster_bootstrap_ci

    mean, low, high, clusters = cluster_bootstrap_ci({"a": [1.0, 1.0, 1.0], "b": [5.0, None]})
    assert mean == pytest.approx(2.0) and clusters == 2 and low <= mean <= high
    one = cluster_bootstrap_ci({"a": [1.0, 3.0], "b": [None]})
    assert one[0] == 2.0 and math.isnan(one[1]) and math.isnan(one[2]) and one[3] == 1
    assert cluster_bootstrap_ci({"a": [2.0, 2.0], "b": [2.0]})[:3] == (2.0, 2.0, 2.0)
    assert cluster_bootstrap_ci({"a": [1.0], "b": [2.0], "c": [4.0]}, seed=3) == \
        cluster_bootstrap_ci({"c": [4.0], "a": [1.0], "b": [2.0]}, seed=3)
