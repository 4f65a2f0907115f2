"""Scenario discovery: which parameter values lead to an outcome (PRIM, and CART as a check).

The question an analyst asks of an uncertain ensemble or a sweep is "in which worlds
does the quarrel spiral?". Scenario discovery (Bryant and Lempert 2010) answers it with
a *box*: a range for a few parameters inside which the outcome is much more frequent
than outside, found by the Patient Rule Induction Method (PRIM; Friedman and Fisher
1999). A box is judged by its

* **coverage**: the share of all cases of interest (runs that spiral) that fall in it;
* **density**: the share of the runs in it that are cases of interest;
* **mass**: the share of all runs in it;

and each restriction by a **quasi-p-value**: the one-sided binomial probability of at
least the box's cases of interest if the box's density were that of the same box
without the restriction (Bryant and Lempert 2010, section 3.3). PRIM trades coverage
for density step by step; the *peeling trajectory* lists the boxes it passed through.

Rows and trials. Every row of the data has a number of *trials* and of *cases of
interest* among them: a run of an uncertain scenario is one trial (its own drawn
parameters, one outcome); a sweep point is ``runs`` trials at the point's parameters,
with its count of the outcome. Means, coverage and density are ratios of these counts,
so a sweep is analysed exactly as its runs would be, one row per point.

Why PRIM is written here rather than imported: the EMA Workbench's
``ema_workbench.analysis.prim`` is the reference implementation, but its releases split
by Python (3.0 needs Python 3.12; 3.11 gets 2.5), which would give different results on
the Pythons this project supports, and it brings about 600 MB of dependencies
(statsmodels, seaborn, platypus, ...). The standalone ``prim`` package (Project
Platypus) is licensed GPL-3, which this MIT project cannot depend on. This module
follows the workbench's algorithm (the ``lenient1`` objective, its quantile rule, peeling
then pasting) and adds what a paired, reproducible statement needs: rows weighted by
their trials, resampling by counter-based random numbers, and an automatic box choice
that is written down. CART comes from scikit-learn, which serves it well.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from sim.engine.rng import RunStreams, slot

if TYPE_CHECKING:
    from sim.analysis.sweep import SweepResult
    from sim.api import Result

__all__ = [
    "Box",
    "Discovery",
    "DiscoveryData",
    "DiscoveryError",
    "discover",
    "prim",
]

#: Defaults, as in the EMA Workbench (peel and paste 5% at a time, stop at 5% mass).
PEEL_ALPHA = 0.05
PASTE_ALPHA = 0.05
MASS_MIN = 0.05
#: A restriction whose quasi-p-value is above this is dropped from the chosen box.
MAX_P = 0.05
RESAMPLES = 20
CART_DEPTH = 3


class DiscoveryError(Exception):
    """Data on which scenario discovery cannot run (no parameters, unknown outcome, ...)."""


# ------------------------------------------------------------------- data
@dataclass(frozen=True)
class DiscoveryData:
    """Rows of parameter values, each with ``trials`` and ``hits`` (cases of interest).

    ``x`` has one column per parameter (by dotted path): numbers, or words (a
    categorical parameter such as a policy ``kind``).
    """

    x: pd.DataFrame
    hits: np.ndarray
    trials: np.ndarray
    outcome: str
    source: str  # "runs" (one row per run) or "points" (one row per sweep point)
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if len(self.x) != len(self.hits) or len(self.x) != len(self.trials):
            raise DiscoveryError("x, hits and trials must have one entry per row")
        if len(self.x) == 0:
            raise DiscoveryError("no rows to analyse")
        if self.x.shape[1] == 0:
            raise DiscoveryError(
                "no parameter varies across the rows: scenario discovery needs the per-run "
                "drawn parameters of an uncertain scenario or the parameters of a sweep"
            )

    @property
    def names(self) -> list[str]:
        return list(self.x.columns)

    def categorical(self, name: str) -> bool:
        return not pd.api.types.is_numeric_dtype(self.x[name])

    @classmethod
    def from_result(cls, result: Result, outcome: str = "spiral") -> DiscoveryData:
        """One row per run: the run's drawn parameters and whether it ended in ``outcome``."""
        _check_outcome(outcome, result.outcome_names)
        table = result.runs
        columns = [c for c in table.columns if c.startswith("param.")]
        x = table[columns].rename(columns=lambda c: c[len("param.") :])
        x, notes = _varying(x)
        if x.shape[1] == 0:
            raise DiscoveryError(
                f"{result.scenario.name}: its runs draw no parameters, so there is nothing to "
                "discover; run a scenario whose parameters are distributions (such as "
                "scenarios/us_russia_2021_uncertain.toml), or a sweep"
            )
        hits = (table["outcome"].to_numpy() == outcome).astype(np.int64)
        return cls(x, hits, np.ones(len(x), dtype=np.int64), outcome, "runs", notes)

    @classmethod
    def from_sweep(cls, sweep: SweepResult, outcome: str = "spiral") -> DiscoveryData:
        """One row per finished sweep point: its parameters, runs and count of ``outcome``."""
        _check_outcome(outcome, sweep.outcome_names)
        table = sweep.points
        ok = table[table["status"] == "ok"]
        notes = []
        if len(ok) < len(table):
            notes.append(f"{len(table) - len(ok)} failed point(s) left out")
        if ok.empty:
            raise DiscoveryError("the sweep has no finished point")
        x = ok[[p.path for p in sweep.spec.params]].reset_index(drop=True)
        x, dropped = _varying(x)
        notes.extend(dropped)
        hits = ok[f"count_{outcome}"].to_numpy(dtype=np.int64)
        trials = ok["runs"].to_numpy(dtype=np.int64)
        return cls(x, hits, trials, outcome, "points", tuple(notes))

    @classmethod
    def from_robust(cls, robust: Any, outcome: str = "spiral") -> DiscoveryData:
        """One row per (policy, world): the levers and the world's drawn parameters, the
        world's runs and their count of ``outcome``."""
        _check_outcome(outcome, robust.outcome_names)
        table = robust.world_table()
        paths = [*robust.worlds.columns, *(lever.path for lever in robust.levers)]
        x, notes = _varying(table[paths])
        hits = table[f"count_{outcome}"].to_numpy(dtype=np.int64)
        trials = table["runs"].to_numpy(dtype=np.int64)
        return cls(x, hits, trials, outcome, "worlds", tuple(notes))


def _check_outcome(outcome: str, names: Sequence[str]) -> None:
    if outcome not in names:
        raise DiscoveryError(f"unknown outcome {outcome!r}; the outcomes are {', '.join(names)}")


def _varying(x: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The columns that take more than one value (a constant cannot be restricted)."""
    keep = [c for c in x.columns if x[c].nunique(dropna=False) > 1]
    notes = [f"{c} left out: it takes a single value" for c in x.columns if c not in keep]
    x = x[keep].copy()
    for c in keep:
        if pd.api.types.is_numeric_dtype(x[c]):
            x[c] = x[c].astype(float)
        else:
            x[c] = x[c].astype(str)
    return x, notes


# -------------------------------------------------------------------- box
@dataclass(frozen=True)
class Limit:
    """One parameter's range in a box: ``[low, high]``, or a set of words."""

    name: str
    low: float | None = None
    high: float | None = None
    values: tuple[str, ...] | None = None

    def describe(self) -> str:
        if self.values is not None:
            return f"{self.name} in {{{', '.join(self.values)}}}"
        return f"{_num(self.low)} <= {self.name} <= {_num(self.high)}"

    def to_json(self) -> dict[str, Any]:
        if self.values is not None:
            return {"values": list(self.values)}
        return {"low": self.low, "high": self.high}


def _num(value: float | None) -> str:
    return "?" if value is None else f"{value:.4g}"


@dataclass(frozen=True)
class Box:
    """A box with its statistics.

    ``limits`` holds only the restricted parameters; ``quasi_p`` their quasi-p-values
    (the one-sided binomial test of the box against the box without that restriction).
    """

    limits: tuple[Limit, ...]
    coverage: float
    density: float
    mass: float
    hits: int
    trials: int
    quasi_p: dict[str, float] = field(default_factory=dict)

    @property
    def restricted(self) -> list[str]:
        return [limit.name for limit in self.limits]

    def describe(self) -> str:
        return " and ".join(limit.describe() for limit in self.limits) or "(the whole space)"

    def to_json(self) -> dict[str, Any]:
        return {
            "coverage": self.coverage,
            "density": self.density,
            "mass": self.mass,
            "hits": self.hits,
            "trials": self.trials,
            "restricted": {
                limit.name: {**limit.to_json(), "quasi_p": self.quasi_p.get(limit.name)}
                for limit in self.limits
            },
        }


class _Space:
    """The data as arrays, and boxes as (lower, upper, allowed) over them."""

    def __init__(self, data: DiscoveryData) -> None:
        self.data = data
        self.names = data.names
        self.is_cat = np.array([data.categorical(n) for n in self.names])
        self.categories: dict[int, np.ndarray] = {}
        columns = []
        for j, name in enumerate(self.names):
            column = data.x[name]
            if self.is_cat[j]:
                cats, codes = np.unique(column.to_numpy(dtype=str), return_inverse=True)
                self.categories[j] = cats
                columns.append(codes.astype(float))
            else:
                columns.append(column.to_numpy(dtype=float))
        self.x = np.column_stack(columns)
        self.hits = data.hits.astype(np.int64)
        self.trials = data.trials.astype(np.int64)
        self.total_hits = int(self.hits.sum())
        self.total_trials = int(self.trials.sum())
        self.lower0 = self.x.min(axis=0)
        self.upper0 = self.x.max(axis=0)

    def initial(self) -> _Limits:
        allowed = {j: np.ones(len(c), dtype=bool) for j, c in self.categories.items()}
        return _Limits(self.lower0.copy(), self.upper0.copy(), allowed)

    def inside(self, box: _Limits, rows: np.ndarray | None = None) -> np.ndarray:
        x = self.x if rows is None else self.x[rows]
        keep = np.ones(len(x), dtype=bool)
        for j in range(x.shape[1]):
            if self.is_cat[j]:
                keep &= box.allowed[j][x[:, j].astype(int)]
            else:
                keep &= (x[:, j] >= box.lower[j]) & (x[:, j] <= box.upper[j])
        return keep

    def restricted(self, box: _Limits) -> list[int]:
        out = []
        for j in range(len(self.names)):
            if self.is_cat[j]:
                if not box.allowed[j].all():
                    out.append(j)
            elif box.lower[j] > self.lower0[j] or box.upper[j] < self.upper0[j]:
                out.append(j)
        return out

    def release(self, box: _Limits, j: int) -> _Limits:
        """``box`` without its restriction on parameter ``j``."""
        new = box.copy()
        if self.is_cat[j]:
            new.allowed[j] = np.ones(len(self.categories[j]), dtype=bool)
        else:
            new.lower[j], new.upper[j] = self.lower0[j], self.upper0[j]
        return new

    def counts(self, mask: np.ndarray) -> tuple[int, int]:
        return int(self.hits[mask].sum()), int(self.trials[mask].sum())

    def box(self, limits: _Limits, mask: np.ndarray | None = None, quasi_p: bool = True) -> Box:
        mask = self.inside(limits) if mask is None else mask
        k, t = self.counts(mask)
        restricted = self.restricted(limits)
        found = []
        for j in restricted:
            name = self.names[j]
            if self.is_cat[j]:
                found.append(Limit(name, values=tuple(self.categories[j][limits.allowed[j]])))
            else:
                found.append(Limit(name, float(limits.lower[j]), float(limits.upper[j])))
        qp = {self.names[j]: self.quasi_p(limits, j, k, t) for j in restricted} if quasi_p else {}
        return Box(
            tuple(found),
            coverage=k / self.total_hits if self.total_hits else 0.0,
            density=k / t if t else 0.0,
            mass=t / self.total_trials,
            hits=k,
            trials=t,
            quasi_p=qp,
        )

    def quasi_p(self, limits: _Limits, j: int, k: int, t: int) -> float:
        """Bryant and Lempert's quasi-p-value of restriction ``j`` (one-sided binomial)."""
        k_without, t_without = self.counts(self.inside(self.release(limits, j)))
        p = k_without / t_without
        if t == 0:
            return 1.0
        return float(binomtest(k, t, min(max(p, 0.0), 1.0), alternative="greater").pvalue)


@dataclass
class _Limits:
    lower: np.ndarray
    upper: np.ndarray
    allowed: dict[int, np.ndarray]

    def copy(self) -> _Limits:
        return _Limits(
            self.lower.copy(), self.upper.copy(), {j: a.copy() for j, a in self.allowed.items()}
        )


# ------------------------------------------------------------------- PRIM
def _quantile(values: np.ndarray, q: float) -> float:
    """The peeling quantile of sdtoolkit and the EMA Workbench: halfway between the two
    order statistics around ``q``, moved outward past ties so that a peel removes whole
    groups of equal values (which matters for a sweep's grid values)."""
    data = np.sort(values)
    i = (len(data) - 1) * q
    lo, hi = math.floor(i), math.ceil(i)
    if q > 0.5:
        while data[lo] == data[hi] and lo > 0:
            lo -= 1
    else:
        while data[lo] == data[hi] and hi < len(data) - 1:
            hi += 1
    return float((data[lo] + data[hi]) / 2)


def _lenient1(k_old: int, t_old: int, k_new: int, t_new: int) -> float:
    """The EMA Workbench's default objective: the change in mean per trial removed
    (or added), which keeps PRIM patient with categorical parameters."""
    if t_new == t_old:
        return 0.0
    mean_old = k_old / t_old
    mean_new = k_new / t_new if t_new else 0.0
    return (mean_new - mean_old) / abs(t_old - t_new)


@dataclass(frozen=True)
class Trajectory:
    """The boxes PRIM passed through, from the whole space to its last box."""

    boxes: tuple[Box, ...]
    limits: tuple[Any, ...] = field(repr=False, default=())

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "box": range(len(self.boxes)),
                "coverage": [b.coverage for b in self.boxes],
                "density": [b.density for b in self.boxes],
                "mass": [b.mass for b in self.boxes],
                "restricted": [len(b.limits) for b in self.boxes],
            }
        )


def prim(
    data: DiscoveryData,
    peel_alpha: float = PEEL_ALPHA,
    paste_alpha: float = PASTE_ALPHA,
    mass_min: float = MASS_MIN,
    rows: np.ndarray | None = None,
) -> Trajectory:
    """The peeling (then pasting) trajectory of PRIM's first box on ``data``.

    ``rows`` restricts the search to a subset of rows (the resampling check).
    """
    space = _Space(data) if rows is None else _Space(_subset(data, rows))
    limits = space.initial()
    mask = np.ones(len(space.x), dtype=bool)
    boxes, history = [space.box(limits, mask, quasi_p=False)], [limits]
    # Peeling: remove the slice (alpha of the box's rows at one end of one parameter,
    # or one word of a categorical parameter) whose removal raises the mean most per
    # trial removed; stop when no peel helps or the box would fall below mass_min.
    while True:
        best = _best_move(space, limits, mask, _peels(space, limits, mask, peel_alpha))
        if best is None:
            break
        score, new_limits, new_mask = best
        t_new = int(space.trials[new_mask].sum())
        t_old = int(space.trials[mask].sum())
        if not (t_new / space.total_trials >= mass_min and t_new < t_old and score > 0):
            break
        limits, mask = new_limits, new_mask
        boxes.append(space.box(limits, mask, quasi_p=False))
        history.append(limits)
    # Pasting: widen a restricted parameter again where that raises the mean.
    while True:
        best = _best_move(space, limits, mask, _pastes(space, limits, mask, paste_alpha))
        if best is None:
            break
        score, new_limits, new_mask = best
        k_old, t_old = space.counts(mask)
        k_new, t_new = space.counts(new_mask)
        if not (
            t_new / space.total_trials >= mass_min
            and t_new > t_old
            and score > 0
            and k_new / t_new > k_old / t_old
        ):
            break
        limits, mask = new_limits, new_mask
        boxes.append(space.box(limits, mask, quasi_p=False))
        history.append(limits)
    return Trajectory(tuple(boxes), tuple(history))


def _subset(data: DiscoveryData, rows: np.ndarray) -> DiscoveryData:
    x, _ = _varying(data.x.iloc[rows].reset_index(drop=True))
    return DiscoveryData(x, data.hits[rows], data.trials[rows], data.outcome, data.source)


def _peels(space: _Space, limits: _Limits, mask: np.ndarray, alpha: float):
    for j in range(len(space.names)):
        xj = space.x[mask, j]
        if space.is_cat[j]:
            present = np.unique(xj.astype(int))
            if len(present) < 2:
                continue
            for code in present:
                new = limits.copy()
                new.allowed[j][code] = False
                yield new
            continue
        # Upper end first, as the EMA Workbench orders them: ties go to the first.
        low, high = _quantile(xj, alpha), _quantile(xj, 1 - alpha)
        new = limits.copy()
        new.upper[j] = high
        yield new
        new = limits.copy()
        new.lower[j] = low
        yield new


def _pastes(space: _Space, limits: _Limits, mask: np.ndarray, alpha: float):
    for j in space.restricted(limits):
        if space.is_cat[j]:
            for code in np.flatnonzero(~limits.allowed[j]):
                new = limits.copy()
                new.allowed[j][code] = True
                yield new
            continue
        # The rows just outside the box along j (inside it along every other parameter).
        released = space.inside(space.release(limits, j))
        xj = space.x[:, j]
        below = xj[released & (xj < limits.lower[j])]
        above = xj[released & (xj > limits.upper[j])]
        new = limits.copy()
        new.lower[j] = _quantile(below, 1 - alpha) if len(below) > 1 else space.lower0[j]
        yield new
        new = limits.copy()
        new.upper[j] = _quantile(above, alpha) if len(above) > 1 else space.upper0[j]
        yield new


def _best_move(space: _Space, limits: _Limits, mask: np.ndarray, candidates):
    """The candidate with the highest objective; ties go to fewer restricted parameters,
    then to the first found (parameters in column order, upper end before lower)."""
    k_old, t_old = space.counts(mask)
    best = None
    for new in candidates:
        new_mask = space.inside(new)
        k_new, t_new = space.counts(new_mask)
        if t_new == t_old or t_new == 0:
            continue
        key = (_lenient1(k_old, t_old, k_new, t_new), -len(space.restricted(new)))
        if best is None or key > best[0]:
            best = (key, new, new_mask)
    if best is None:
        return None
    return best[0][0], best[1], best[2]


def choose(trajectory: Trajectory) -> int:
    """The box on the trajectory with the most cases of interest beyond what a box of
    the same mass would hold by chance: ``hits - trials * base_rate``.

    This is weighted relative accuracy, mass x (density - base rate), the usual quality
    measure of subgroup discovery (Lavrac, Flach and Zupan 1999), times the number of
    trials. Unlike coverage x density it does not favour the whole space when the
    outcome is common and the signal weak, and unlike density alone it does not favour
    the smallest box. Ties go to the earlier box (fewer restrictions).
    """
    whole = trajectory.boxes[0]
    base = whole.hits / whole.trials
    excess = [b.hits - b.trials * base for b in trajectory.boxes]
    return int(np.argmax(excess))


def _significant(space: _Space, limits: _Limits, max_p: float) -> tuple[_Limits, list[dict]]:
    """Drop, one at a time, the restriction with the highest quasi-p-value above ``max_p``
    (Bryant and Lempert: a restriction that does not raise the density significantly
    only makes the box harder to read)."""
    dropped = []
    while True:
        box = space.box(limits)
        if not box.quasi_p:
            return limits, dropped
        name, p = max(box.quasi_p.items(), key=lambda item: item[1])
        if p <= max_p:
            return limits, dropped
        limit = next(lim for lim in box.limits if lim.name == name)
        dropped.append({"name": name, "quasi_p": p, "limit": limit.describe(), **limit.to_json()})
        limits = space.release(limits, space.names.index(name))


# -------------------------------------------------------------------- CART
@dataclass(frozen=True)
class Leaf:
    """One leaf of the CART tree: its rule, as a box, and the box's statistics."""

    rule: str
    coverage: float
    density: float
    mass: float
    hits: int
    trials: int

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "coverage": self.coverage,
            "density": self.density,
            "mass": self.mass,
            "hits": self.hits,
            "trials": self.trials,
        }


def cart(data: DiscoveryData, depth: int = CART_DEPTH, mass_min: float = MASS_MIN) -> list[Leaf]:
    """The leaves of a classification tree (scikit-learn's CART) of the cases of interest,
    densest first. Every leaf holds at least ``mass_min`` of the trials."""
    from sklearn.tree import DecisionTreeClassifier

    columns, names = [], []
    for name in data.names:
        column = data.x[name]
        if data.categorical(name):
            for value in sorted(column.unique()):
                columns.append((column == value).to_numpy(dtype=float))
                names.append((name, value))
        else:
            columns.append(column.to_numpy(dtype=float))
            names.append((name, None))
    x = np.column_stack(columns)
    n = len(x)
    # A row of t trials with k hits is two weighted rows: k of class 1, t - k of class 0.
    weights = np.concatenate([data.hits, data.trials - data.hits]).astype(float)
    labels = np.concatenate([np.ones(n, dtype=int), np.zeros(n, dtype=int)])
    keep = weights > 0
    tree = DecisionTreeClassifier(
        max_depth=depth, min_weight_fraction_leaf=mass_min, random_state=0
    ).fit(np.vstack([x, x])[keep], labels[keep], sample_weight=weights[keep])
    leaf_of_row = tree.apply(x)
    rules = _leaf_rules(tree.tree_, names)
    total_hits, total_trials = int(data.hits.sum()), int(data.trials.sum())
    leaves = []
    for leaf, rule in rules.items():
        rows = leaf_of_row == leaf
        k, t = int(data.hits[rows].sum()), int(data.trials[rows].sum())
        if t == 0:
            continue
        leaves.append(
            Leaf(
                rule,
                coverage=k / total_hits if total_hits else 0.0,
                density=k / t,
                mass=t / total_trials,
                hits=k,
                trials=t,
            )
        )
    return sorted(leaves, key=lambda leaf: (-leaf.density, -leaf.coverage))


def _leaf_rules(tree, names: list[tuple[str, str | None]]) -> dict[int, str]:
    """Each leaf's path from the root as a readable rule (bounds merged per parameter)."""
    out: dict[int, str] = {}

    def walk(node: int, low: dict, high: dict, words: dict) -> None:
        left, right = tree.children_left[node], tree.children_right[node]
        if left == right:  # a leaf
            parts = []
            for name in dict.fromkeys([*low, *high, *words]):
                if name in words:
                    parts.append(words[name])
                    continue
                lo, hi = low.get(name), high.get(name)
                if lo is not None and hi is not None:
                    parts.append(f"{lo:.4g} < {name} <= {hi:.4g}")
                elif lo is not None:
                    parts.append(f"{name} > {lo:.4g}")
                else:
                    parts.append(f"{name} <= {hi:.4g}")
            out[node] = " and ".join(parts) or "(the whole space)"
            return
        name, value = names[tree.feature[node]]
        threshold = float(tree.threshold[node])
        if value is None:
            walk(left, low, {**high, name: min(high.get(name, math.inf), threshold)}, words)
            walk(right, {**low, name: max(low.get(name, -math.inf), threshold)}, high, words)
        else:
            walk(left, low, high, {**words, name: f"{name} != {value}"})
            walk(right, low, high, {**words, name: f"{name} = {value}"})

    walk(0, {}, {}, {})
    return out


# --------------------------------------------------------------- discovery
@dataclass
class Discovery:
    """What :func:`discover` found: PRIM's trajectory and chosen box, the resampling
    check, and CART's leaves."""

    data: DiscoveryData
    trajectory: Trajectory
    chosen: int
    box: Box
    dropped: list[dict]
    resampled: dict[str, float]
    resamples: int
    leaves: list[Leaf]
    settings: dict[str, Any]
    timing: dict[str, float] = field(default_factory=dict)

    @property
    def base_rate(self) -> float:
        return float(self.data.hits.sum() / self.data.trials.sum())

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": self.data.outcome,
            "rows": len(self.data.x),
            "rows_are": self.data.source,
            "trials": int(self.data.trials.sum()),
            "hits": int(self.data.hits.sum()),
            "base_rate": self.base_rate,
            "parameters": self.data.names,
            "notes": list(self.data.notes),
            "settings": self.settings,
            "prim": {
                "chosen_box": self.chosen,
                "box": self.box.to_json(),
                "box_on_trajectory": self.trajectory.boxes[self.chosen].to_json(),
                "dropped_restrictions": self.dropped,
                "resampling": {"resamples": self.resamples, "restricted_share": self.resampled},
                "trajectory": self.trajectory.table().to_dict(orient="records"),
            },
            "cart": [leaf.to_json() for leaf in self.leaves],
            "timing_s": self.timing,
        }

    def report(self) -> str:
        d, box = self.data, self.box
        unit = {
            "runs": "runs",
            "points": f"sweep points ({int(d.trials.sum()):,} runs)",
            "worlds": f"(policy, world) pairs ({int(d.trials.sum()):,} runs)",
        }.get(d.source, "rows")
        lines = [
            f"Scenario discovery for {d.outcome!r}: {len(d.x):,} {unit}, "
            f"{int(d.hits.sum()):,} cases of interest (base rate {_pct(self.base_rate)}).",
            f"Parameters: {', '.join(d.names)}.",
            *[f"Note: {note}." for note in d.notes],
            "",
            f"PRIM (peel {self.settings['peel_alpha']:g}, paste {self.settings['paste_alpha']:g}, "
            f"mass at least {self.settings['mass_min']:g}): "
            f"{len(self.trajectory.boxes)} boxes on the trajectory; box {self.chosen} chosen "
            "(most cases of interest beyond chance: hits - runs x base rate).",
            "",
            f"  {'box':>4} {'coverage':>9} {'density':>8} {'mass':>7} {'restricted':>10}",
        ]
        for row in self.trajectory.table().itertuples():
            mark = "  <- chosen" if row.box == self.chosen else ""
            lines.append(
                f"  {row.box:>4} {_pct(row.coverage):>9} {_pct(row.density):>8} "
                f"{_pct(row.mass):>7} {row.restricted:>10}{mark}"
            )
        lines += [
            "",
            f"The box: coverage {_pct(box.coverage)}, density {_pct(box.density)}, mass "
            f"{_pct(box.mass)} ({box.hits:,} of {box.trials:,} runs in it end in "
            f"{d.outcome!r}; {_pct(self.base_rate)} overall).",
        ]
        if not box.limits:
            lines.append("  No restriction raises the density significantly: no box.")
        for limit in box.limits:
            share = self.resampled.get(limit.name, 0.0)
            again = (
                f", restricted in {_pct(share)} of {self.resamples} resamples"
                if self.resamples
                else ""
            )
            lines.append(f"  {limit.describe():<60} quasi-p {_p(box.quasi_p[limit.name])}{again}")
        for drop in self.dropped:
            lines.append(
                f"  dropped: {drop['limit']} (quasi-p {_p(drop['quasi_p'])} > "
                f"{self.settings['max_p']:g})"
            )
        others = [n for n in d.names if n not in box.restricted]
        if others:
            lines.append("  Not restricted: " + ", ".join(others) + ".")
        if self.resamples:
            lines += [
                "",
                f"Resampling: PRIM on {self.resamples} random halves of the rows; how often "
                "each parameter is restricted in the box chosen there:",
            ]
            for name in d.names:
                share = _pct(self.resampled.get(name, 0.0))
                lines.append(f"  {name:<50} restricted in {share}")
        lines += [
            "",
            f"CART (scikit-learn, depth {self.settings['cart_depth']}, leaves of at least "
            f"{self.settings['mass_min']:g} of the runs), densest leaves first:",
            f"  {'coverage':>9} {'density':>8} {'mass':>7}  rule",
        ]
        for leaf in self.leaves:
            lines.append(
                f"  {_pct(leaf.coverage):>9} {_pct(leaf.density):>8} {_pct(leaf.mass):>7}  "
                f"{leaf.rule}"
            )
        lines += [
            "",
            "A box describes where the outcome is frequent in this model's runs; it is an "
            "association among runs, not a cause.",
        ]
        return "\n".join(lines)

    def plot_tradeoff(self, ax=None):
        """The peeling trajectory: density against coverage, coloured by the number of
        restricted parameters, the chosen box marked."""
        from sim.plots.discovery import plot_tradeoff

        return plot_tradeoff(self, ax=ax)

    def plot_box(self):
        """The runs on pairwise scatter plots of the box's parameters, the box drawn."""
        from sim.plots.discovery import plot_box_pairs

        return plot_box_pairs(self)

    def save(self, directory: str | Path, force: bool = False) -> Path:
        """Write report.txt, boxes.json, tradeoff.png and box_pairs.png into ``directory``."""
        from sim.analysis.results import staged_output
        from sim.plots import save_figure

        with staged_output(directory, force) as staging:
            (staging / "report.txt").write_text(self.report() + "\n", encoding="utf-8")
            (staging / "boxes.json").write_text(
                json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8"
            )
            save_figure(self.plot_tradeoff(), staging / "tradeoff.png")
            save_figure(self.plot_box(), staging / "box_pairs.png")
        return Path(directory)


def _pct(p: float) -> str:
    return f"{100 * p:.1f}%"


def _p(p: float) -> str:
    return f"{p:.2g}" if p >= 0.001 else "<0.001"


def resample(
    data: DiscoveryData,
    resamples: int = RESAMPLES,
    seed: int = 0,
    peel_alpha: float = PEEL_ALPHA,
    paste_alpha: float = PASTE_ALPHA,
    mass_min: float = MASS_MIN,
    max_p: float = MAX_P,
) -> dict[str, float]:
    """How often each parameter is restricted in the box PRIM chooses on random halves.

    Half ``b`` holds the rows with the smallest counter-based uniforms at (seed, row, b):
    the same halves on every machine, whatever else was drawn.
    """
    n = len(data.x)
    streams = RunStreams(seed, np.arange(n))
    counts = dict.fromkeys(data.names, 0)
    for b in range(resamples):
        u = streams.uniform(b, slot("discover", "resample"))
        rows = np.sort(np.argsort(u, kind="stable")[: max(2, n // 2)])
        sub = _subset(data, rows)
        if sub.x.shape[1] == 0:
            continue
        trajectory = prim(sub, peel_alpha, paste_alpha, mass_min)
        space = _Space(sub)
        limits, _ = _significant(space, trajectory.limits[choose(trajectory)], max_p)
        for j in space.restricted(limits):
            counts[space.names[j]] += 1
    return {name: counts[name] / resamples if resamples else 0.0 for name in data.names}


def discover(
    source: Result | SweepResult | DiscoveryData | str | Path,
    outcome: str = "spiral",
    *,
    peel_alpha: float = PEEL_ALPHA,
    paste_alpha: float = PASTE_ALPHA,
    mass_min: float = MASS_MIN,
    max_p: float = MAX_P,
    box: int | None = None,
    resamples: int = RESAMPLES,
    cart_depth: int = CART_DEPTH,
    seed: int = 0,
) -> Discovery:
    """Which parameter values lead to ``outcome``: PRIM's box, its resampling check, CART.

    ``source`` is a :class:`~sim.Result` of a scenario with drawn parameters, a
    :class:`~sim.SweepResult`, a results directory, or :class:`DiscoveryData`. ``box``
    picks a box on the trajectory instead of the one :func:`choose` picks.
    """
    import time

    from sim.analysis.robust import RobustResult
    from sim.analysis.sweep import SweepResult
    from sim.api import Result, load_results

    for name, value, low, high in [
        ("peel_alpha", peel_alpha, 0.0, 0.5),
        ("paste_alpha", paste_alpha, 0.0, 0.5),
        ("mass_min", mass_min, 0.0, 1.0),
        ("max_p", max_p, 0.0, 1.0),
    ]:
        if not low < value < high:
            raise DiscoveryError(f"{name} must lie strictly between {low:g} and {high:g}")
    if resamples < 0 or cart_depth < 1:
        raise DiscoveryError("resamples must be at least 0 and cart_depth at least 1")
    if isinstance(source, str | Path):
        source = load_results(source)
    if isinstance(source, Result):
        data = DiscoveryData.from_result(source, outcome)
    elif isinstance(source, SweepResult):
        data = DiscoveryData.from_sweep(source, outcome)
    elif isinstance(source, DiscoveryData):
        if outcome != source.outcome:
            raise DiscoveryError(
                f"the data describes {source.outcome!r}, not {outcome!r}; build it for that outcome"
            )
        data = source
    elif isinstance(source, RobustResult):
        data = DiscoveryData.from_robust(source, outcome)
    else:
        raise DiscoveryError(f"cannot discover in a {type(source).__name__}")
    if data.hits.sum() == 0:
        raise DiscoveryError(f"no run ends in {outcome!r}: there is nothing to describe")
    timing = {}
    started = time.perf_counter()
    trajectory = prim(data, peel_alpha, paste_alpha, mass_min)
    if box is None:
        chosen = choose(trajectory)
    elif 0 <= box < len(trajectory.boxes):
        chosen = box
    else:
        raise DiscoveryError(
            f"box {box}: the trajectory has boxes 0 to {len(trajectory.boxes) - 1}"
        )
    space = _Space(data)
    limits, dropped = _significant(space, trajectory.limits[chosen], max_p)
    final = space.box(limits)
    timing["prim_s"] = round(time.perf_counter() - started, 3)
    started = time.perf_counter()
    shares = resample(data, resamples, seed, peel_alpha, paste_alpha, mass_min, max_p)
    timing["resampling_s"] = round(time.perf_counter() - started, 3)
    started = time.perf_counter()
    leaves = cart(data, cart_depth, mass_min)
    timing["cart_s"] = round(time.perf_counter() - started, 3)
    settings = {
        "peel_alpha": peel_alpha,
        "paste_alpha": paste_alpha,
        "mass_min": mass_min,
        "max_p": max_p,
        "box": box,
        "resamples": resamples,
        "cart_depth": cart_depth,
        "seed": seed,
    }
    return Discovery(
        data, trajectory, chosen, final, dropped, shares, resamples, leaves, settings, timing
    )
