"""Scores for distributional forecasts: the CRPS against closed forms, numeric integration
and the brute-force double sum; its propriety; Laplace's rule; paired differences and the
score table, on numbers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad

from sim.analysis import scoring as sc

# ------------------------------------------------------------------ oracles


def integrate_crps(cdf, y: float, lo: float, hi: float, breaks: list[float]) -> float:
    """∫ (F(t) - 1{t >= y})² dt by quadrature over [lo, hi], outside which it is 0."""

    def integrand(t: float) -> float:
        return (cdf(t) - (1.0 if t >= y else 0.0)) ** 2

    points = sorted({b for b in breaks if lo < b < hi})
    value, _ = quad(integrand, lo, hi, points=points, limit=200, epsabs=1e-13, epsrel=1e-13)
    return value


def brute_crps(x: np.ndarray, y: float) -> float:
    """E|X - y| - ½ E|X - X'| over the empirical distribution, by the O(n²) double sum."""
    return float(np.mean(np.abs(x - y)) - 0.5 * np.mean(np.abs(x[:, None] - x[None, :])))


finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


# ------------------------------------------------------------------ CRPS
class TestCrpsSamples:
    @pytest.mark.parametrize(("x", "y"), [(0.0, 0.0), (2.5, -1.0), (-3.0, 4.25), (1e6, 1e6 + 1)])
    def test_a_single_sample_is_the_absolute_error(self, x, y):
        assert sc.crps_samples(np.array([x]), y) == abs(x - y)
        assert sc.crps_point(x, y) == abs(x - y)

    @settings(max_examples=100, deadline=None)
    @given(st.lists(finite, min_size=1, max_size=15), finite)
    def test_agrees_with_the_double_sum(self, xs, y):
        x = np.array(xs)
        scale = 1.0 + max(abs(y), float(np.abs(x).max()))
        assert sc.crps_samples(x, y) == pytest.approx(brute_crps(x, y), rel=1e-9, abs=1e-12 * scale)

    @settings(max_examples=50, deadline=None)
    @given(st.lists(finite, min_size=1, max_size=15), finite)
    def test_is_crps_discrete_with_equal_weights(self, xs, y):
        x = np.array(xs)
        p = np.full(x.size, 1.0 / x.size)
        scale = 1.0 + max(abs(y), float(np.abs(x).max()))
        assert sc.crps_samples(x, y) == pytest.approx(
            sc.crps_discrete(x, p, y), rel=1e-9, abs=1e-12 * scale
        )

    @pytest.mark.parametrize("y", [-1.0, 0.3, 2.0, 3.7, 6.0])
    def test_a_large_uniform_sample_approaches_the_uniform(self, y):
        # U(1, 4): |X - y| has an SD below w/2 = 1.5, so with 100,000 draws the estimate of
        # E|X - y| has an SE below 0.005 and that of ½E|X - X'| less; the plain estimator's
        # bias, E|X - X'|/(2n) = 5e-6, is negligible. 0.02 is four SEs or more.
        rng = np.random.default_rng(20240501)
        x = rng.uniform(1.0, 4.0, 100_000)
        assert sc.crps_samples(x, y) == pytest.approx(sc.crps_uniform(1.0, 4.0, y), abs=0.02)

    def test_is_unchanged_by_order_and_shift(self):
        x = np.array([3.0, -1.0, 2.0, 2.0, 0.5])
        base = sc.crps_samples(x, 1.2)
        assert sc.crps_samples(x[::-1], 1.2) == pytest.approx(base, abs=1e-15)
        assert sc.crps_samples(x + 1e6, 1.2 + 1e6) == pytest.approx(base, abs=1e-9)

    @pytest.mark.parametrize(
        ("samples", "y"),
        [
            (np.array([1.0, np.nan, 2.0]), 1.0),
            (np.array([1.0, np.inf]), 1.0),
            (np.array([]), 1.0),
            (np.ones((2, 2)), 1.0),
            (np.array([1.0, 2.0]), float("nan")),
        ],
    )
    def test_nan_and_malformed_input_are_errors(self, samples, y):
        with pytest.raises(ValueError):
            sc.crps_samples(samples, y)

    def test_a_nan_sample_is_named(self):
        with pytest.raises(ValueError, match="samples contains NaN"):
            sc.crps_samples(np.array([0.0, np.nan]), 0.0)


class TestCrpsUniform:
    @pytest.mark.parametrize(
        ("low", "high", "y"),
        [(0.0, 1.0, -0.7), (0.0, 1.0, 0.0), (0.0, 1.0, 0.3), (-2.0, 5.0, 4.9), (2.0, 3.0, 8.0)],
    )
    def test_matches_numeric_integration(self, low, high, y):
        def cdf(t):
            return min(max((t - low) / (high - low), 0.0), 1.0)

        lo, hi = min(low, y) - 1.0, max(high, y) + 1.0
        expected = integrate_crps(cdf, y, lo, hi, [low, high, y])
        assert sc.crps_uniform(low, high, y) == pytest.approx(expected, abs=1e-10)

    def test_known_values(self):
        assert sc.crps_uniform(0.0, 1.0, 0.5) == pytest.approx(1 / 12)  # w/12 at the middle
        assert sc.crps_uniform(0.0, 1.0, 3.0) == pytest.approx(2.5 - 1 / 6)

    @pytest.mark.parametrize(("low", "high"), [(1.0, 1.0), (2.0, 1.0)])
    def test_an_empty_interval_is_an_error(self, low, high):
        with pytest.raises(ValueError):
            sc.crps_uniform(low, high, 0.0)


class TestCrpsDiscrete:
    LAG = np.array([0.0, 1.0, 2.0, 3.0])  # whole weeks
    QUARTERS = np.full(4, 0.25)

    def test_a_lag_uniform_over_weeks_by_hand(self):
        # F = 1/4, 1/2, 3/4, 1 from 0, 1, 2, 3; y = 1.5: 1/16 + 1/8 + 1/8 + 1/16.
        assert sc.crps_discrete(self.LAG, self.QUARTERS, 1.5) == pytest.approx(0.375, abs=1e-15)

    @pytest.mark.parametrize("y", [-2.0, 0.0, 0.5, 1.0, 2.25, 3.0, 7.5])
    @pytest.mark.parametrize(
        ("values", "probs"),
        [
            ([0.0, 1.0, 2.0, 3.0], [0.25] * 4),
            ([3.0, -1.0, 0.5, 0.5], [0.1, 0.2, 0.3, 0.4]),  # unsorted, a repeated value
            ([2.0], [1.0]),
        ],
    )
    def test_matches_numeric_integration(self, values, probs, y):
        v, p = np.array(values), np.array(probs)

        def cdf(t):
            return float(p[v <= t].sum())

        lo, hi = min(v.min(), y) - 1.0, max(v.max(), y) + 1.0
        expected = integrate_crps(cdf, y, lo, hi, [*values, y])
        assert sc.crps_discrete(v, p, y) == pytest.approx(expected, abs=1e-10)

    @pytest.mark.parametrize("y", [-1.0, 0.0, 1.5, 2.0, 2.6, 3.0, 5.0])
    @pytest.mark.parametrize(
        ("probs", "counts"),
        [
            ([0.25] * 4, [5, 5, 5, 5]),
            ([0.1, 0.2, 0.3, 0.4], [1, 2, 3, 4]),
            ([0.5, 0, 0, 0.5], [3, 0, 0, 3]),
        ],
    )
    def test_is_an_ensemble_with_the_same_frequencies(self, probs, counts, y):
        ensemble = np.repeat(self.LAG, counts)
        assert sc.crps_discrete(self.LAG, np.array(probs), y) == pytest.approx(
            sc.crps_samples(ensemble, y), abs=1e-12
        )

    @pytest.mark.parametrize(
        ("values", "probs"),
        [
            ([0.0, 1.0], [0.5, 0.6]),  # sums to 1.1
            ([0.0, 1.0], [1.5, -0.5]),
            ([0.0, 1.0], [1.0]),
            ([0.0, np.nan], [0.5, 0.5]),
        ],
    )
    def test_bad_distributions_are_errors(self, values, probs):
        with pytest.raises(ValueError):
            sc.crps_discrete(np.array(values), np.array(probs), 0.0)


class TestPropriety:
    def test_the_true_distribution_scores_best_in_expectation(self):
        # Y ~ N(0, 1). Exact expectations for an N(mu, s²) forecast: E|X - Y| - ½E|X - X'|
        # with X - Y ~ N(mu, 1 + s²): 0.564 for the truth, 0.835 shifted by 1 and 0.656 with
        # twice the spread. 2,000 observations, paired, give SEs near 0.01 for the gaps.
        rng = np.random.default_rng(7)
        ys = rng.normal(0.0, 1.0, 2_000)
        draws = rng.normal(0.0, 1.0, 1_000)  # one ensemble, reused: the same noise for all
        truth = np.array([sc.crps_samples(draws, y) for y in ys])
        shifted = np.array([sc.crps_samples(draws + 1.0, y) for y in ys])
        wide = np.array([sc.crps_samples(2.0 * draws, y) for y in ys])
        assert truth.mean() == pytest.approx(1 / math.sqrt(math.pi), abs=0.03)
        assert shifted.mean() - truth.mean() > 0.2
        assert wide.mean() - truth.mean() > 0.05
        # The same with the closed form: y ~ U(0, 1) against the truth and a shift.
        u = rng.uniform(0.0, 1.0, 2_000)
        own = np.array([sc.crps_uniform(0.0, 1.0, y) for y in u])
        off = np.array([sc.crps_uniform(0.3, 1.3, y) for y in u])
        assert own.mean() == pytest.approx(1 / 6, abs=0.01)  # E(w/12 + (y - ½)²) = 1/6
        assert off.mean() - own.mean() > 0.05  # exactly 0.3² = 0.09


# ------------------------------------------------------------------ probabilities
class TestLaplace:
    @pytest.mark.parametrize(
        ("k", "n", "p"), [(0, 0, 0.5), (0, 10, 1 / 12), (3, 10, 4 / 12), (10, 10, 11 / 12)]
    )
    def test_values(self, k, n, p):
        assert sc.laplace(k, n) == pytest.approx(p, abs=1e-15)

    @pytest.mark.parametrize(("k", "n"), [(-1, 3), (4, 3)])
    def test_impossible_counts_are_errors(self, k, n):
        with pytest.raises(ValueError):
            sc.laplace(k, n)


# ------------------------------------------------------------------ comparisons
class TestPairedDifference:
    def test_known_arrays(self):
        # a - b = 1, 3, 2, 6: mean 3; squared deviations 4, 0, 1, 9 sum to 14, so the
        # variance is 14/3 and the SE sqrt(14/3)/2 = sqrt(7/6).
        out = sc.paired_difference(np.array([2.0, 5.0, 3.0, 7.0]), np.array([1.0, 2.0, 1.0, 1.0]))
        se = math.sqrt(7 / 6)
        assert out["n"] == 4
        assert out["diff"] == pytest.approx(3.0, abs=1e-15)
        assert out["se"] == pytest.approx(se, rel=1e-12)
        assert out["ci95_low"] == pytest.approx(3.0 - 1.96 * se, rel=1e-12)
        assert out["ci95_high"] == pytest.approx(3.0 + 1.96 * se, rel=1e-12)

    def test_one_pair_has_no_standard_error(self):
        out = sc.paired_difference(np.array([0.2]), np.array([0.5]))
        assert out["diff"] == pytest.approx(-0.3) and out["n"] == 1
        assert (
            math.isnan(out["se"]) and math.isnan(out["ci95_low"]) and math.isnan(out["ci95_high"])
        )

    @pytest.mark.parametrize(
        ("a", "b"), [([1.0, 2.0], [1.0]), ([1.0, np.nan], [1.0, 2.0]), ([], [])]
    )
    def test_mismatched_or_missing_scores_are_errors(self, a, b):
        with pytest.raises(ValueError):
            sc.paired_difference(np.array(a), np.array(b))


class TestScoreTable:
    FRAME = pd.DataFrame(
        {
            "window": ["w1", "w1", "w2"],
            "question": ["q1", "q2", "q3"],
            "crps_model": [0.10, 0.30, 0.20],
            "crps_naive": [0.20, 0.20, 0.50],
            "crps_uniform": [0.25, 0.25, 0.25],
        }
    )

    def test_by_window_by_hand(self):
        out = sc.score_table(
            self.FRAME, "crps_model", ["crps_naive", "crps_uniform"], by=["window"]
        )
        assert list(out.columns) == [
            "window",
            "n",
            "mean_crps_model",
            "mean_crps_naive",
            "mean_crps_uniform",
            "diff_crps_naive",
            "se_crps_naive",
            "diff_crps_uniform",
            "se_crps_uniform",
        ]
        assert list(out["window"]) == ["w1", "w2", "all"]
        assert list(out["n"]) == [2, 1, 3]
        rows = out.set_index("window")
        # w1: model - naive = -0.1, 0.1 (mean 0, SD sqrt(0.02), SE 0.1);
        #     model - uniform = -0.15, 0.05 (mean -0.05, SE 0.1).
        w1 = rows.loc["w1"]
        assert w1["mean_crps_model"] == pytest.approx(0.2)
        assert w1["mean_crps_naive"] == pytest.approx(0.2)
        assert w1["mean_crps_uniform"] == pytest.approx(0.25)
        assert w1["diff_crps_naive"] == pytest.approx(0.0, abs=1e-15)
        assert w1["se_crps_naive"] == pytest.approx(0.1)
        assert w1["diff_crps_uniform"] == pytest.approx(-0.05)
        assert w1["se_crps_uniform"] == pytest.approx(0.1)
        # w2: one question, no SE.
        w2 = rows.loc["w2"]
        assert w2["diff_crps_naive"] == pytest.approx(-0.3)
        assert w2["diff_crps_uniform"] == pytest.approx(-0.05)
        assert math.isnan(w2["se_crps_naive"]) and math.isnan(w2["se_crps_uniform"])
        # all: model - naive = -0.1, 0.1, -0.3 (mean -0.1, SD 0.2, SE 0.2/sqrt 3);
        #      model - uniform = -0.15, 0.05, -0.05 (mean -0.05, SD 0.1, SE 0.1/sqrt 3).
        total = rows.loc["all"]
        assert total["mean_crps_model"] == pytest.approx(0.2)
        assert total["mean_crps_naive"] == pytest.approx(0.3)
        assert total["diff_crps_naive"] == pytest.approx(-0.1)
        assert total["se_crps_naive"] == pytest.approx(0.2 / math.sqrt(3))
        assert total["diff_crps_uniform"] == pytest.approx(-0.05)
        assert total["se_crps_uniform"] == pytest.approx(0.1 / math.sqrt(3))

    def test_without_groups_is_the_all_row(self):
        out = sc.score_table(self.FRAME, "crps_model", ["crps_naive"], by=None)
        assert len(out) == 1 and "window" not in out.columns
        assert out.loc[0, "n"] == 3
        assert out.loc[0, "diff_crps_naive"] == pytest.approx(-0.1)

    def test_matches_the_backtest_score_table(self):
        from sim.analysis.backtest import Backtest, WindowResult

        frame = self.FRAME.rename(
            columns={"crps_model": "brier_model", "crps_naive": "brier_baseline"}
        )
        frame = frame.assign(log_model=0.0, log_baseline=0.0)
        windows = [WindowResult(None, None, None, part) for _, part in frame.groupby("window")]
        expected = Backtest(windows, runs=1, seed=0).scores()
        out = sc.score_table(frame, "brier_model", ["brier_baseline"], by=["window"])
        assert list(out["window"]) == list(expected["window"])
        assert np.allclose(out["diff_brier_baseline"], expected["brier_diff"], equal_nan=True)
        assert np.allclose(out["se_brier_baseline"], expected["brier_diff_se"], equal_nan=True)

    @pytest.mark.parametrize(
        ("model", "baselines", "by", "error"),
        [
            ("crps_model", ["nope"], None, KeyError),
            ("crps_model", ["crps_model"], None, ValueError),
            ("crps_model", ["crps_naive"], ["n"], KeyError),
        ],
    )
    def test_bad_columns_are_errors(self, model, baselines, by, error):
        with pytest.raises(error):
            sc.score_table(self.FRAME, model, baselines, by=by)

    def test_a_by_column_clashing_with_the_output_is_an_error(self):
        with pytest.raises(ValueError, match="clash"):
            sc.score_table(self.FRAME.assign(n=1), "crps_model", ["crps_naive"], by=["n"])

    def test_a_missing_score_is_an_error(self):
        frame = self.FRAME.copy()
        frame.loc[1, "crps_model"] = np.nan
        with pytest.raises(ValueError):
            sc.score_table(frame, "crps_model", ["crps_naive"], by=["window"])
