"""Proper scores for continuous and discrete forecasts, and paired comparisons of scores.

The backtest (:mod:`sim.analysis.backtest`) scores binary questions with the Brier and
log scores. Questions with a numeric answer (how many staff are expelled, how many weeks
until the reply) need a score for a whole forecast distribution: here the continuous
ranked probability score (CRPS),

    CRPS(F, y) = ∫ (F(t) - 1{t >= y})² dt = E|X - y| - ½ E|X - X'|,

with X, X' independent draws from the forecast F (Gneiting & Raftery, JASA 102:359,
2007, eq. 21). It is in the units of the answer, it reduces to the absolute error for a
point forecast and to the Brier score integrated over thresholds for any forecast, and
it is strictly proper: the expected score is lowest when the forecast is the
distribution the answer is drawn from. As with the Brier and log scores, lower is
better.

The module is plain numpy (and pandas for :func:`score_table`); it imports nothing of
the engine, so it can score forecasts from anywhere. Every input must be finite: a NaN
sample or observation is a bug upstream, and is reported rather than averaged away.

The paired comparison follows :meth:`sim.analysis.backtest.Backtest.scores`: the mean of
the per-question differences (model - baseline), with the standard error of that mean
from the sample standard deviation (ddof=1), NaN when there is a single question.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = [
    "crps_discrete",
    "crps_point",
    "crps_samples",
    "crps_uniform",
    "laplace",
    "paired_difference",
    "score_table",
]

#: The half-width of a 95% normal interval in standard errors (the 0.975 quantile of the
#: standard normal, rounded as in :func:`sim.analysis.sweep.paired_difference`).
Z95 = 1.96


def _finite(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def _finite_array(name: str, values: np.ndarray) -> np.ndarray:
    out = np.asarray(values, dtype=float)
    if out.ndim != 1 or out.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-d array, got shape {out.shape}")
    if np.isnan(out).any():
        raise ValueError(f"{name} contains NaN")
    if not np.isfinite(out).all():
        raise ValueError(f"{name} contains an infinite value")
    return out


# ------------------------------------------------------------------ CRPS
def crps_samples(samples: np.ndarray, y: float) -> float:
    """CRPS of an ensemble forecast: the empirical distribution of ``samples``, at ``y``.

    This is the exact CRPS of the empirical CDF F_n (each sample has weight 1/n), that is
    the "plain" estimator

        CRPS = (1/n) Σ |x_i - y| - (1/(2n²)) Σ_i Σ_j |x_i - x_j|.

    It is not the "fair" estimator, which divides the second sum by n(n - 1) instead of
    n² and is unbiased for the CRPS of the distribution the samples were drawn from. The
    plain one scores the ensemble as the forecast actually issued (so a single sample
    scores |x - y|, and an ensemble realising a discrete distribution's frequencies
    scores exactly what :func:`crps_discrete` gives that distribution); the two differ by
    E|X - X'| / (2n), negligible for the thousands of runs of a simulation.

    The double sum is O(n²) as written. With the samples sorted, x_(1) <= ... <= x_(n),
    Σ_i Σ_j |x_i - x_j| = 2 Σ_i (2i - n - 1) x_(i) (each x_(i) is the larger of i - 1
    pairs and the smaller of n - i), so the score costs one sort, O(n log n). The samples
    are first shifted by y (the CRPS is unchanged when forecast and observation move
    together), which keeps the sums small when the values are large but close to y.

    Raises ValueError for an empty or non-1-d array, or a NaN or infinite sample or y.
    """
    x = _finite_array("samples", samples)
    d = np.sort(x - _finite("y", y))
    n = d.size
    weights = 2.0 * np.arange(1, n + 1) - n - 1.0
    return float(np.abs(d).mean() - np.dot(weights, d) / n**2)


def crps_point(x: float, y: float) -> float:
    """CRPS of a deterministic forecast x: the absolute error |x - y|.

    A point forecast is the step CDF 1{t >= x}, and ∫ (1{t >= x} - 1{t >= y})² dt is the
    length of the interval between x and y. It equals ``crps_samples([x], y)``.
    """
    return abs(_finite("x", x) - _finite("y", y))


def crps_uniform(low: float, high: float, y: float) -> float:
    """CRPS of the continuous uniform forecast on [low, high] (low < high), in closed form.

    With w = high - low, E|X - X'| = w/3 for X, X' uniform, so CRPS = E|X - y| - w/6, and

        E|X - y| = (low + high)/2 - y                     if y <= low,
                   ((y - low)² + (high - y)²) / (2w)      if low <= y <= high,
                   y - (low + high)/2                     if y >= high.

    At the midpoint this is w/12; outside the interval it grows like the distance to
    the midpoint, minus w/6. It is the baseline of "anything in this range, equally".
    """
    low, high, y = _finite("low", low), _finite("high", high), _finite("y", y)
    if not low < high:
        raise ValueError(f"expected low < high, got low={low}, high={high}")
    w = high - low
    if y <= low:
        mean_abs = (low + high) / 2.0 - y
    elif y >= high:
        mean_abs = y - (low + high) / 2.0
    else:
        mean_abs = ((y - low) ** 2 + (high - y) ** 2) / (2.0 * w)
    return mean_abs - w / 6.0


def crps_discrete(values: np.ndarray, probs: np.ndarray, y: float) -> float:
    """CRPS of a discrete forecast: ``probs[i]`` on ``values[i]``, exactly.

    For example a lag uniform over whole weeks 0..3 is ``values=[0, 1, 2, 3]``,
    ``probs=[0.25] * 4``. The CDF F is a step function, so the integrand
    (F(t) - 1{t >= y})² is constant between consecutive points of {values} ∪ {y}; the
    integral is the sum of each piece's constant times its length (before the first
    point both terms are 0, after the last both are 1). No quadrature is involved.

    Values need not be sorted or distinct (probabilities of equal values add up). The
    probabilities must be non-negative and sum to 1 within 1e-9; they are divided by
    their sum so that F reaches 1 after the largest value.
    """
    v = _finite_array("values", values)
    p = _finite_array("probs", probs)
    y = _finite("y", y)
    if v.shape != p.shape:
        raise ValueError(f"values and probs differ in shape: {v.shape} and {p.shape}")
    if (p < 0).any():
        raise ValueError("probs must be non-negative")
    total = p.sum()
    if abs(total - 1.0) > 1e-9:
        raise ValueError(f"probs must sum to 1, got {total!r}")
    support, inverse = np.unique(v, return_inverse=True)
    cdf = np.cumsum(np.bincount(inverse, weights=p / total))
    cdf[-1] = 1.0
    points = np.union1d(support, [y])
    # F at each point (and on the piece to its right): the mass at or below it.
    at = np.searchsorted(support, points, side="right") - 1
    f = np.where(at >= 0, cdf[np.maximum(at, 0)], 0.0)
    h = (points >= y).astype(float)
    return float(np.sum((f[:-1] - h[:-1]) ** 2 * np.diff(points)))


# ------------------------------------------------------------------ probabilities
def laplace(k: int, n: int) -> float:
    """Laplace's rule of succession, (k + 1)/(n + 2): the chance of a yes after k of n.

    The posterior mean of a rate under a uniform prior. It gives the naive base-rate
    forecast from a short record (0 of 0 is 1/2) and is never 0 or 1, so a log score
    stays finite. (The model's own share of runs, :func:`sim.analysis.backtest.
    model_probability`, uses half a run instead, (k + 1/2)/(n + 1), as it has thousands.)
    """
    if not (isinstance(k, int | np.integer) and isinstance(n, int | np.integer)):
        raise TypeError(f"expected whole numbers, got k={k!r}, n={n!r}")
    if not 0 <= k <= n:
        raise ValueError(f"expected 0 <= k <= n, got k={k}, n={n}")
    return (k + 1) / (n + 2)


# ------------------------------------------------------------------ comparisons
def paired_difference(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Mean paired difference of two forecasters' scores on the same questions.

    ``a[i]`` and ``b[i]`` score the same question. Returns ``diff`` (the mean of a - b),
    ``se`` (its standard error, sample SD with ddof=1 over sqrt(n); NaN when n < 2),
    ``n``, and ``ci95_low`` and ``ci95_high``, the 95% normal interval diff ± 1.96 se
    (NaN with the se). The keys are those of :func:`sim.analysis.sweep.paired_difference`
    plus ``n``; note the sign: that one is b - a (the what-if minus the base), this one
    is a - b (the model minus the baseline), as in the backtest's score table.
    Pairing removes the variation between questions (some are hard for everyone), which
    is most of the variation when there are few; the normal interval is a rough guide
    with a dozen questions, not a test.

    For lower-is-better scores (Brier, log, CRPS) a negative ``diff`` favours ``a``.
    """
    x = _finite_array("a", a)
    z = _finite_array("b", b)
    if x.shape != z.shape:
        raise ValueError(f"a and b differ in shape: {x.shape} and {z.shape}")
    diff = x - z
    n = diff.size
    mean = float(diff.mean())
    se = float(diff.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    return {
        "diff": mean,
        "se": se,
        "n": n,
        "ci95_low": mean - Z95 * se,
        "ci95_high": mean + Z95 * se,
    }


def score_table(
    frame: pd.DataFrame, model: str, baselines: list[str], by: list[str] | None = None
) -> pd.DataFrame:
    """Mean scores of a model and its baselines, and the paired differences, per group.

    ``frame`` is wide: one row per question, and one column of scores per forecaster,
    all of one lower-is-better score (``model`` and ``baselines`` name those columns),
    so the model and the baselines are paired by row. :meth:`Backtest.table
    <sim.analysis.backtest.Backtest.table>` is such a frame: ``score_table(table,
    "brier_model", ["brier_baseline"], by=["window"])``.

    One row per group of ``by`` (in order of appearance), then a row over all questions
    whose ``by`` columns read ``"all"``; with ``by=None``, only that row, and no key
    columns. The columns are the ``by`` columns, ``n`` (questions), ``mean_<column>``
    for the model and each baseline, and for each baseline ``diff_<baseline>`` and
    ``se_<baseline>``: the mean of (model - baseline) and its standard error from
    :func:`paired_difference` (negative favours the model; SE NaN for one question).
    """
    keys = list(by or [])
    names = [model, *baselines]
    missing = [c for c in [*keys, *names] if c not in frame.columns]
    if missing:
        raise KeyError(f"columns not in the frame: {missing}")
    if len(set(names)) != len(names):
        raise ValueError(f"model and baselines must be distinct columns, got {names}")
    columns = [*keys, "n", *(f"mean_{c}" for c in names)]
    columns += [f"{what}_{c}" for c in baselines for what in ("diff", "se")]
    if len(set(columns)) != len(columns):
        raise ValueError(f"by columns clash with the output columns: {columns}")
    if frame.empty:
        raise ValueError("no rows to score")
    for name in names:
        _finite_array(name, frame[name].to_numpy())
    groups = list(frame.groupby(keys, sort=False, dropna=False)) if keys else []
    groups.append((("all",) * len(keys), frame))
    rows = []
    for key, part in groups:
        row: dict[str, object] = dict(zip(keys, key, strict=True))
        row["n"] = len(part)
        for name in names:
            row[f"mean_{name}"] = float(part[name].mean())
        for name in baselines:
            diff = paired_difference(part[model].to_numpy(), part[name].to_numpy())
            row[f"diff_{name}"] = diff["diff"]
            row[f"se_{name}"] = diff["se"]
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)
