"""Outcome statistics: Wilson intervals, cumulative incidence, quantiles."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.analysis.outcomes import cumulative_incidence, outcome_table, quantiles, wilson


def wilson_closed_form(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    # oracles.md §5
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (50, 100), (1928, 10_000), (10, 10)])
def test_wilson_matches_the_closed_form(k, n):
    low, high = wilson(k, n)
    exp_low, exp_high = wilson_closed_form(k, n)
    assert low == pytest.approx(max(exp_low, 0.0), abs=1e-12)
    assert high == pytest.approx(min(exp_high, 1.0), abs=1e-12)


def test_outcome_table_sums_to_one():
    outcome = np.array([0, 1, 1, 2, 2, 2, 1, 0, 2, 2], dtype=np.int8)
    table = outcome_table(outcome)
    assert [table[k]["count"] for k in ("unresolved", "spiral", "de_escalation")] == [2, 3, 5]
    assert sum(v["p"] for v in table.values()) == pytest.approx(1.0)
    for v in table.values():
        assert v["ci95"][0] <= v["p"] <= v["ci95"][1]


def test_cumulative_incidence_counts_runs_by_step():
    outcome = np.array([1, 2, 1, 0, 2], dtype=np.int8)
    step = np.array([12, 11, 14, -1, 13])
    cif = cumulative_incidence(outcome, step, first_step=10, n_steps=5)
    assert cif["spiral"].tolist() == [0, 0, 0.2, 0.2, 0.4]
    assert cif["de_escalation"].tolist() == [0, 0.2, 0.2, 0.4, 0.4]


def test_quantiles():
    q = quantiles(np.arange(101, dtype=float))
    assert q == {"q05": 5.0, "q25": 25.0, "q50": 50.0, "q75": 75.0, "q95": 95.0, "mean": 50.0}
    assert quantiles(np.array([])) is None
