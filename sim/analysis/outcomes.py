"""Outcome statistics: probabilities with Wilson intervals, cumulative incidence, quantiles.

The outcome classes (:mod:`sim.outcome_classes`) are competing risks, each dated at a
step: besides the shares at the horizon we report the cumulative incidence of each
over time (the share of runs whose class at the horizon is that outcome, reached by
each step), so that every curve ends at the horizon's share. Intervals for
probabilities are Wilson score intervals (Brown, Cai & DasGupta, Stat. Sci. 16:101,
2001), computed by :func:`scipy.stats.binomtest`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import binomtest

from sim.outcome_classes import OUTCOMES, outcome_class

__all__ = [
    "OUTCOMES",
    "QUANTILES",
    "cumulative_incidence",
    "outcome_table",
    "quantiles",
    "wilson",
]

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def wilson(count: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion."""
    if n == 0:
        return (0.0, 1.0)
    ci = binomtest(int(count), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return (float(ci.low), float(ci.high))


def outcome_table(
    outcome: np.ndarray, names: Sequence[str] = OUTCOMES
) -> dict[str, dict[str, object]]:
    """For each outcome: probability, count and 95% Wilson interval.

    ``outcome`` (runs,) holds codes into ``names`` (a result's ``outcome_names``).
    """
    n = len(outcome)
    counts = np.bincount(outcome.astype(np.int64), minlength=len(names))
    return {
        name: {
            "p": float(counts[code] / n) if n else 0.0,
            "count": int(counts[code]),
            "ci95": list(wilson(int(counts[code]), n)),
        }
        for code, name in enumerate(names)
    }


def cumulative_incidence(
    outcome: np.ndarray,
    outcome_step: np.ndarray,
    first_step: int,
    n_steps: int,
    names: Sequence[str] = OUTCOMES,
) -> dict[str, np.ndarray]:
    """Share of runs that reached each timed outcome by each step from ``first_step`` on.

    ``outcome`` and ``outcome_step`` are (runs,), codes into ``names`` and steps;
    each curve is (n_steps,).
    """
    n = len(outcome)
    out = {}
    for code, name in enumerate(names):
        if not outcome_class(name).timed:
            continue
        steps = outcome_step[outcome == code] - first_step
        hist = np.bincount(steps, minlength=n_steps)[:n_steps] if len(steps) else np.zeros(n_steps)
        out[name] = np.cumsum(hist) / max(n, 1)
    return out


def quantiles(values: np.ndarray) -> dict[str, float] | None:
    """Mean and the 5/25/50/75/95% quantiles of ``values`` (None if empty)."""
    if len(values) == 0:
        return None
    qs = np.quantile(values, QUANTILES)
    out = {f"q{round(q * 100):02d}": float(v) for q, v in zip(QUANTILES, qs, strict=True)}
    out["mean"] = float(np.mean(values))
    return out
