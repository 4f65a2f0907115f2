"""Outcome probabilities of several results side by side, with differences from the first.

The first result is the baseline. For every other result and every outcome class both
have, the difference P(outcome) in it minus in the baseline comes with a 95% interval
whose kind depends on how the two results were run:

* **paired**: the same seed and the same runs (common random numbers, as ``sim.run``
  gives for the same ``runs`` and ``seed``). The interval comes from the run-by-run
  differences (:func:`sim.analysis.sweep.paired_difference`), which is what makes it
  much narrower than the two results' own intervals suggest.
* **independent**: different seeds, or no run in common. The two estimates are
  independent; the interval combines their two Wilson intervals (Newcombe's hybrid
  score interval for a difference of two proportions, method 10 of Newcombe 1998).
* **none**: the same seed with some runs in common but not all (say 1,000 and 2,000
  runs). The estimates are neither paired nor independent, so no interval is given.

Results of different scenarios are compared too, and the comparison says so: a
difference between them is the difference between the scenarios, everything that
differs included.

The inputs are :class:`sim.analysis.runner.Ensemble` objects (``Result.ensemble``);
``sim.compare_results`` (:mod:`sim.api`) takes results or result directories.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.analysis.outcomes import outcome_table
from sim.analysis.sweep import paired_difference
from sim.outcome_classes import display_order, outcome_class

if TYPE_CHECKING:
    from sim.analysis.runner import Ensemble

__all__ = [
    "COLUMNS",
    "CompareError",
    "Comparison",
    "Pairing",
    "compare_ensembles",
    "newcombe_interval",
    "pairing",
]

#: The columns of :attr:`Comparison.table`, one row per result and outcome class.
COLUMNS = (
    "result",
    "outcome",
    "p",
    "count",
    "runs",
    "ci95_low",
    "ci95_high",
    "diff",
    "diff_ci95_low",
    "diff_ci95_high",
    "method",
)


class CompareError(ValueError):
    """Results that cannot be compared (fewer than two, a sweep, unreadable, ...)."""


@dataclass(frozen=True)
class Pairing:
    """How a result's differences from the baseline are estimated, and why.

    ``method`` is ``"paired"``, ``"independent"`` or ``"none"`` (no interval);
    ``reason`` says what the two results share, in words.
    """

    method: str
    reason: str
    shared_runs: int = 0


def pairing(base: Ensemble, other: Ensemble) -> Pairing:
    """Whether ``other`` can be compared with ``base`` run by run, and why (not)."""
    n_base, n_other = base.n_runs, other.n_runs
    if base.seed == other.seed and np.array_equal(base.run_ids, other.run_ids):
        same = base.scenario.name == other.scenario.name
        return Pairing(
            "paired",
            f"same seed {base.seed} and the same {n_base:,} runs"
            + (" (common random numbers)" if same else ", of another scenario"),
            n_base,
        )
    shared = 0
    if base.seed == other.seed:
        shared = int(np.intersect1d(base.run_ids, other.run_ids).size)
    if base.seed != other.seed:
        why = f"seed {other.seed} vs {base.seed}"
    elif shared == 0:
        why = f"same seed {base.seed} but no run in common"
    else:
        why = (
            f"same seed {base.seed} and {shared:,} runs in common, "
            f"but {n_other:,} runs vs {n_base:,}"
        )
    if shared:
        return Pairing("none", why, shared)
    return Pairing("independent", why, 0)


def newcombe_interval(
    p_a: float, ci_a: tuple[float, float], p_b: float, ci_b: tuple[float, float]
) -> tuple[float, float]:
    """95% interval for p_b - p_a from two independent estimates' Wilson intervals.

    Newcombe's hybrid score interval (1998, method 10): the difference minus
    sqrt((p_b - low_b)^2 + (high_a - p_a)^2), plus sqrt((high_b - p_b)^2 + (p_a - low_a)^2).
    """
    low_a, high_a = ci_a
    low_b, high_b = ci_b
    diff = p_b - p_a
    return (
        diff - math.sqrt((p_b - low_b) ** 2 + (high_a - p_a) ** 2),
        diff + math.sqrt((high_b - p_b) ** 2 + (p_a - low_a) ** 2),
    )


def _indicator(ens: Ensemble, outcome: str) -> np.ndarray:
    """(runs,) codes into ``("other", outcome)``: 1 where the run ended in ``outcome``."""
    code = ens.outcome_names.index(outcome)
    return (np.asarray(ens.outcome) == code).astype(np.int8)


def _ordered_outcomes(ensembles: list[Ensemble]) -> list[str]:
    names: list[str] = []
    for ens in ensembles:
        for name in ens.outcome_names:
            if name not in names:
                names.append(name)
    try:
        return [c.name for c in display_order(names)]
    except ValueError:  # a class no longer registered: keep the order found
        return names


def _describe(ens: Ensemble) -> dict[str, Any]:
    sc = ens.scenario
    return {
        "scenario": sc.name,
        "source": sc.source,
        "runs": ens.n_runs,
        "seed": ens.seed,
        "forecast_start": sc.forecast_start.isoformat(),
        "horizon_end": sc.end.isoformat(),
        "overrides": {k: _plain(v) for k, v in sc.overrides.items()},
        "events_added": [dict(rec) for rec in sc.added_events],
    }


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)


@dataclass
class Comparison:
    """Several results' outcome probabilities, and their differences from the first.

    ``table`` has one row per result and outcome class (:data:`COLUMNS`): ``p``,
    ``count``, ``runs`` and the Wilson ``ci95_low``/``ci95_high``; for every result but
    the baseline, ``diff`` (P in it minus in the baseline) with ``diff_ci95_low`` and
    ``diff_ci95_high``, and ``method``: ``paired``, ``independent`` or ``none`` (no
    interval), as :attr:`pairings` explains; ``baseline`` in the baseline's rows.
    Probabilities are shares (0 to 1), not percentages.
    """

    labels: tuple[str, ...]
    table: pd.DataFrame
    pairings: dict[str, Pairing]
    results: dict[str, dict[str, Any]]
    outcomes: tuple[str, ...]
    notes: list[str] = field(default_factory=list)

    @property
    def baseline(self) -> str:
        """The label of the first result, which the others are compared with."""
        return self.labels[0]

    @property
    def same_scenario(self) -> bool:
        """True if every result is of the same scenario (by name)."""
        return len({r["scenario"] for r in self.results.values()}) == 1

    def differences(self) -> dict[str, dict[str, dict[str, Any]]]:
        """``{label: {outcome: {"diff", "ci95_low", "ci95_high", "method"}}}`` for every
        result but the baseline (what :func:`sim.plots.plot_paired_differences` draws)."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for label in self.labels[1:]:
            rows = self.table[(self.table.result == label) & self.table["diff"].notna()]
            out[label] = {
                row.outcome: {
                    "diff": float(row.diff),
                    "ci95_low": float(row.diff_ci95_low),
                    "ci95_high": float(row.diff_ci95_high),
                    "method": row.method,
                }
                for row in rows.itertuples()
            }
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the baseline, each result's description and pairing, the table."""
        records = self.table.astype(object).where(self.table.notna(), None)
        return {
            "baseline": self.baseline,
            "results": {
                label: {
                    **self.results[label],
                    **(
                        {
                            "pairing": self.pairings[label].method,
                            "pairing_reason": self.pairings[label].reason,
                        }
                        if label in self.pairings
                        else {}
                    ),
                }
                for label in self.labels
            },
            "notes": list(self.notes),
            "table": records.to_dict(orient="records"),
        }

    def format(self) -> str:
        """The comparison as ``python -m sim compare`` prints it (percentages as ``run``)."""
        width = max(6, *(len(label) for label in self.labels))
        base = self.baseline
        lines = [
            f"escalation-sim compare · {len(self.labels)} results; the first, {base}, is the "
            "baseline"
        ]
        for label in self.labels:
            r = self.results[label]
            lines.append(
                f"  {label:<{width}}  {r['scenario']} ({r['source']}) · {r['runs']:,} runs · "
                f"seed {r['seed']} · forecast {r['forecast_start']} to {r['horizon_end']}"
            )
            pad = " " * (width + 4)
            if r["overrides"]:
                shown = ", ".join(f"{k}={v!r}" for k, v in r["overrides"].items())
                lines.append(f"{pad}overrides: {shown}")
            for rec in r["events_added"]:
                lines.append(
                    f"{pad}what-if: {rec.get('date')} {rec.get('actor')} {rec.get('kind')} "
                    f"-> {rec.get('target')} ({rec.get('added_by', 'added')})"
                )
        change = f"change from {base}, points [95% CI]"
        head = f"{'outcome':<15}{'result':<{width + 2}}"
        lines += ["", f"{head}{'P':>7}   {'95% CI':<16}{'runs':>8}   {change}"]
        for outcome in self.outcomes:
            rows = self.table[self.table.outcome == outcome]
            for i, row in enumerate(rows.itertuples()):
                head = f"{_label(outcome) if i == 0 else '':<15}{row.result:<{width + 2}}"
                if math.isnan(row.p):
                    lines.append(f"{head}{'-':>7}   (not a class of it)")
                    continue
                ci = f"[{100 * row.ci95_low:4.1f}, {100 * row.ci95_high:4.1f}]%"
                line = f"{head}{_pct(row.p):>7}   {ci:<16}{row.count:>8,}"
                if row.method == "baseline":
                    line += "   (baseline)"
                elif not math.isnan(row.diff):
                    line += f"   {100 * row.diff:+5.1f}"
                    if row.method == "none":
                        line += "  (no interval)"
                    else:
                        line += (
                            f" [{100 * row.diff_ci95_low:+.1f}, {100 * row.diff_ci95_high:+.1f}]"
                            f"  {row.method}"
                        )
                lines.append(line.rstrip())
        lines.append("")
        for label, pair in self.pairings.items():
            if pair.method == "paired":
                text = (
                    f"{label} vs {base}: paired, {pair.reason}: the interval comes from the "
                    "run-by-run differences"
                )
            elif pair.method == "independent":
                text = (
                    f"{label} vs {base}: not paired, {pair.reason}: independent estimates; "
                    "the interval combines the two Wilson intervals (Newcombe)"
                )
            else:
                text = (
                    f"{label} vs {base}: not paired, {pair.reason}: the estimates are neither "
                    "paired nor independent, so no interval is given (the same --runs and "
                    "--seed give a paired difference)"
                )
            lines.append(text)
        lines += self.notes
        return "\n".join(lines)


def _pct(p: float) -> str:
    # As ``python -m sim run`` prints a probability.
    return f"{100 * p:5.1f}%"


def _label(outcome: str) -> str:
    try:
        return outcome_class(outcome).label
    except ValueError:
        return outcome.replace("_", "-")


def compare_ensembles(ensembles: Mapping[str, Ensemble]) -> Comparison:
    """Compare ensembles (the first is the baseline); see the module's docstring."""
    labels = tuple(str(label) for label in ensembles)
    if len(labels) < 2:
        raise CompareError(f"a comparison needs at least two results, found {len(labels)}")
    if len(set(labels)) != len(labels):
        repeated = sorted({label for label in labels if labels.count(label) > 1})
        raise CompareError(f"labels must differ; repeated: {', '.join(repeated)}")
    ens = list(ensembles.values())
    base = ens[0]
    outcomes = _ordered_outcomes(ens)
    tables = [outcome_table(np.asarray(e.outcome), e.outcome_names) for e in ens]
    pairings = {label: pairing(base, e) for label, e in zip(labels[1:], ens[1:], strict=True)}
    rows = []
    for outcome in outcomes:
        for i, (label, e, table) in enumerate(zip(labels, ens, tables, strict=True)):
            row: dict[str, Any] = dict.fromkeys(COLUMNS, math.nan)
            row.update(result=label, outcome=outcome, runs=e.n_runs, method="")
            if outcome not in table:
                rows.append(row)
                continue
            o = table[outcome]
            row.update(p=o["p"], count=o["count"], ci95_low=o["ci95"][0], ci95_high=o["ci95"][1])
            if i == 0:
                row["method"] = "baseline"
            elif outcome in tables[0]:
                pair = pairings[label]
                b = tables[0][outcome]
                row["diff"] = o["p"] - b["p"]
                row["method"] = pair.method
                if pair.method == "paired":
                    d = paired_difference(
                        _indicator(base, outcome), _indicator(e, outcome), outcome, ("", outcome)
                    )
                    row.update(
                        diff=d["diff"], diff_ci95_low=d["ci95_low"], diff_ci95_high=d["ci95_high"]
                    )
                elif pair.method == "independent":
                    low, high = newcombe_interval(b["p"], b["ci95"], o["p"], o["ci95"])
                    row.update(diff_ci95_low=low, diff_ci95_high=high)
            rows.append(row)
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    table["count"] = table["count"].astype("Int64")
    results = {label: _describe(e) for label, e in zip(labels, ens, strict=True)}
    notes = []
    names = list(dict.fromkeys(r["scenario"] for r in results.values()))
    if len(names) > 1:
        notes.append(
            f"different scenarios ({', '.join(names)}): a difference compares the scenarios, "
            "everything that differs between them included, not one change"
        )
    horizons = {(r["forecast_start"], r["horizon_end"]) for r in results.values()}
    if len(horizons) > 1:
        notes.append("the results are judged over different forecast periods (see above)")
    missing = [o for o in outcomes if any(o not in t for t in tables)]
    if missing:
        notes.append(
            "not a class of every result (no difference given): "
            + ", ".join(_label(o) for o in missing)
        )
    if any(p.method == "paired" for p in pairings.values()) and len(names) == 1:
        notes.append(
            "in this model, a paired difference is the effect of what differs between the two "
            "(overrides, what-if events), on the same runs"
        )
    return Comparison(labels, table, pairings, results, tuple(outcomes), notes)
