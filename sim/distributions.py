"""Numeric scenario parameters given as probability distributions, drawn once per run.

A policy parameter (``states.<id>.policy.<key>``, ``states.<id>.toward.<other>.<key>``)
or a mission's ``diplomats``, ``admin_technical``, ``local_staff`` or ``consulates`` may
be written in TOML as a table instead of a number::

    ratio = { dist = "lognormal", median = 1.0, sigma = 0.2 }

Each run then draws its own value, once, before its first step, by inverting the
distribution's CDF at a uniform that belongs to the run: ``u = streams.uniform(
PARAM_STEP, slot("param", path))``, where ``path`` is the dotted path at which the
distribution was written. The slot name (``"param"`` and the path) differs from every
per-step decision's, and :data:`PARAM_STEP` is a step no simulation reaches, so the
draws are independent of everything else a run draws, and run ``r`` gets the same
value whatever the block size or the number of runs (see :mod:`sim.engine.rng`). A path used
by several relations (a state's ``policy`` applies to every counterpart) is drawn once
per run: the same value in each.

Supports and bounds. ``normal`` and ``lognormal`` are truncated to the parameter's own
range by default (a probability to [0, 1], ``ratio`` to [0, 10], ...), or to ``low``
and ``high`` if given (``lognormal`` is truncated on the log scale: its log is a
truncated normal); ``uniform``, ``beta`` and ``choice`` must lie inside the parameter's
range. Draws for integer parameters are rounded to the nearest integer.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from scipy import special
from scipy.stats import truncnorm

from sim.engine.rng import slot

if TYPE_CHECKING:
    from sim.engine.rng import RunStreams
    from sim.policies import Param

__all__ = [
    "DISTRIBUTIONS",
    "PARAM_STEP",
    "PER_RUN_RANGES",
    "SCALAR_ONLY",
    "Beta",
    "Choice",
    "Distribution",
    "LogNormal",
    "Normal",
    "ParamDraws",
    "Uniform",
    "describe_value",
    "parse_distribution",
    "scenario_distributions",
]

#: The step at which per-run parameter values are drawn: one no simulation reaches
#: (steps are at most 20,000; the stream keeps a step's low 32 bits), so these
#: uniforms never coincide with a per-step decision's even if two slot names collided.
PARAM_STEP = 0xFFFF_FFFF

#: The uniforms a distribution is evaluated at are kept in [U_MIN, U_MAX]: U_MIN is the
#: smallest :class:`~sim.engine.rng.RunStreams` returns, U_MAX the largest float below 1 (the
#: stream's largest word rounds to exactly 1.0, which would map an untruncated tail to
#: infinity). Draws are monotone in ``u``, so these two give a distribution's exact
#: support.
U_MIN = 0.5 / (1 << 53)
U_MAX = 1.0 - 1.0 / (1 << 53)

#: Parameters that stay a number, and why.
SCALAR_ONLY = {
    "notice": "it sets the length of the engine's deadline buffers, the same for every run",
    "provocation_size": "each exogenous act already draws its size uniformly from [min, max]",
    "conciliation_size": "each exogenous step already draws its size uniformly from [min, max]",
}
#: ``range`` parameters that take a distribution: one integer L per run, meaning [L, L].
PER_RUN_RANGES = {"lag"}

MAX_CHOICES = 10_000
#: A truncated normal or lognormal must keep at least this share of its probability:
#: less means the numbers were almost surely meant for another range.
MIN_MASS = 1e-6


@dataclass(frozen=True)
class Distribution:
    """A distribution of one numeric parameter, sampled per run by inverse CDF.

    ``path`` is the dotted path where it was written; ``integer`` rounds draws to the
    nearest integer; ``bounds`` is the parameter's own range, used by ``normal`` and
    ``lognormal`` as the default truncation.
    """

    name: ClassVar[str] = ""
    path: str = field(default="", kw_only=True)
    integer: bool = field(default=False, kw_only=True)
    bounds: tuple[float | None, float | None] = field(default=(None, None), kw_only=True)

    def _ppf(self, u: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def sample(self, u: np.ndarray) -> np.ndarray:
        """Values at uniforms ``u`` in (0, 1): float64, or int64 for an integer parameter."""
        x = self._ppf(np.clip(np.asarray(u, dtype=np.float64), U_MIN, U_MAX))
        return np.rint(x).astype(np.int64) if self.integer else x

    def support(self) -> tuple[float, float]:
        """The smallest and largest value a run can draw (exact: the extreme uniforms)."""
        lo, hi = self.sample(np.array([U_MIN, U_MAX]))
        return (int(lo), int(hi)) if self.integer else (float(lo), float(hi))

    def expected(self) -> float:
        """The distribution's mean (before rounding, for an integer parameter)."""
        raise NotImplementedError

    def mass(self) -> float:
        """The share of the untruncated distribution's probability it keeps (1 if none)."""
        return 1.0

    def to_dict(self) -> dict[str, Any]:
        """The TOML table it was written as."""
        out: dict[str, Any] = {"dist": self.name}
        for f in fields(self):
            if f.kw_only:
                continue
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    def describe(self) -> str:
        keys = ", ".join(f"{k} {_fmt(v)}" for k, v in self.to_dict().items() if k != "dist")
        return f"{self.name}({keys})"


def _fmt(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _edge(value: float | None, default: float) -> float:
    return default if value is None else float(value)


def _normal_mass(a: float, b: float) -> float:
    """P(a < Z < b) for a standard normal Z, accurate in either tail."""
    if a > 0:
        return float(special.ndtr(-a) - special.ndtr(-b))
    return float(special.ndtr(b) - special.ndtr(a))


@dataclass(frozen=True)
class Uniform(Distribution):
    """Uniform on [low, high]."""

    name: ClassVar[str] = "uniform"
    low: float
    high: float

    def _ppf(self, u: np.ndarray) -> np.ndarray:
        return np.clip(self.low + (self.high - self.low) * u, self.low, self.high)

    def expected(self) -> float:
        return (self.low + self.high) / 2


@dataclass(frozen=True)
class Normal(Distribution):
    """Normal(mean, sd), truncated to [low, high], by default the parameter's range."""

    name: ClassVar[str] = "normal"
    mean: float
    sd: float
    low: float | None = None
    high: float | None = None

    def limits(self) -> tuple[float, float]:
        """The truncation interval: low and high if given, else the parameter's range."""
        lo = self.low if self.low is not None else self.bounds[0]
        hi = self.high if self.high is not None else self.bounds[1]
        return _edge(lo, -math.inf), _edge(hi, math.inf)

    def interval(self) -> tuple[float, float]:
        """Truncation interval in standard units."""
        lo, hi = self.limits()
        return (lo - self.mean) / self.sd, (hi - self.mean) / self.sd

    def mass(self) -> float:
        return _normal_mass(*self.interval())

    def _ppf(self, u: np.ndarray) -> np.ndarray:
        a, b = self.interval()
        # Clipping only removes rounding error at the edges.
        return np.clip(truncnorm.ppf(u, a, b, loc=self.mean, scale=self.sd), *self.limits())

    def expected(self) -> float:
        a, b = self.interval()
        return float(truncnorm.mean(a, b, loc=self.mean, scale=self.sd))


@dataclass(frozen=True)
class LogNormal(Distribution):
    """exp(N(log median, sigma)), truncated to [low, high] on the log scale."""

    name: ClassVar[str] = "lognormal"
    median: float
    sigma: float
    low: float | None = None
    high: float | None = None

    def limits(self) -> tuple[float, float]:
        """The truncation interval: low and high if given, else the parameter's range."""
        lo = self.low if self.low is not None else self.bounds[0]
        hi = self.high if self.high is not None else self.bounds[1]
        return max(_edge(lo, 0.0), 0.0), _edge(hi, math.inf)

    def interval(self) -> tuple[float, float]:
        """Truncation interval of the log, in standard units."""
        lo, hi = self.limits()
        mu = math.log(self.median)
        log_lo = -math.inf if lo <= 0 else math.log(lo)
        log_hi = math.log(hi) if math.isfinite(hi) else math.inf
        return (log_lo - mu) / self.sigma, (log_hi - mu) / self.sigma

    def mass(self) -> float:
        return _normal_mass(*self.interval())

    def _ppf(self, u: np.ndarray) -> np.ndarray:
        a, b = self.interval()
        z = truncnorm.ppf(u, a, b)
        # Clipping only removes rounding error at the edges (exp(log(10)) > 10).
        return np.clip(np.exp(math.log(self.median) + self.sigma * z), *self.limits())

    def expected(self) -> float:
        a, b = self.interval()
        s = self.sigma
        mass = special.ndtr(b) - special.ndtr(a)
        shifted = special.ndtr(b - s) - special.ndtr(a - s)
        return float(self.median * math.exp(s * s / 2) * shifted / mass)


def _beta_ppf(a: float, b: float, u: np.ndarray) -> np.ndarray:
    """Inverse CDF of beta(a, b), from the nearer tail, accurate at the extreme uniforms.

    ``scipy.special.betaincinv`` gives up (NaN) deep in some tails (scipy 1.17: a = 1.02,
    b = 0.86 at u = 2^-54); there the leading term of the tail, F(x) ~ x^a / (a B(a, b)),
    is exact to double precision, and is used instead.
    """
    lower = u <= 0.5
    q = np.where(lower, u, 1.0 - u)  # exact for u in [0.5, 1)
    with np.errstate(all="ignore"):
        near = np.where(lower, special.betaincinv(a, b, q), special.betaincinv(b, a, q))
        lost = ~np.isfinite(near)
        if lost.any():
            shape = np.where(lower, a, b)
            tail = (q * shape * special.beta(a, b)) ** (1.0 / shape)
            near = np.where(lost, tail, near)
    return np.where(lower, near, 1.0 - near)


@dataclass(frozen=True)
class Beta(Distribution):
    """Beta(a, b) scaled to [low, high]."""

    name: ClassVar[str] = "beta"
    a: float
    b: float
    low: float = 0.0
    high: float = 1.0

    def _ppf(self, u: np.ndarray) -> np.ndarray:
        x = self.low + (self.high - self.low) * _beta_ppf(self.a, self.b, u)
        return np.clip(x, self.low, self.high)

    def expected(self) -> float:
        return self.low + (self.high - self.low) * self.a / (self.a + self.b)


@dataclass(frozen=True)
class Choice(Distribution):
    """One of ``values``, with probabilities proportional to ``weights`` (equal if None)."""

    name: ClassVar[str] = "choice"
    values: tuple[float, ...]
    weights: tuple[float, ...] | None = None

    def probabilities(self) -> np.ndarray:
        w = np.ones(len(self.values)) if self.weights is None else np.asarray(self.weights, float)
        return w / w.sum()

    def _ppf(self, u: np.ndarray) -> np.ndarray:
        w = np.ones(len(self.values)) if self.weights is None else np.asarray(self.weights, float)
        cum = np.cumsum(w)
        cum /= cum[-1]  # exactly 1.0 from the last value with a weight on (u is below 1)
        index = np.minimum(np.searchsorted(cum, u, side="right"), len(self.values) - 1)
        return np.asarray(self.values, dtype=np.float64)[index]

    def expected(self) -> float:
        return float(np.dot(self.probabilities(), np.asarray(self.values, dtype=np.float64)))


DISTRIBUTIONS: dict[str, type[Distribution]] = {
    cls.name: cls for cls in (Uniform, Normal, LogNormal, Beta, Choice)
}
#: Keys of each distribution's table: required, then optional.
KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "uniform": (("low", "high"), ()),
    "normal": (("mean", "sd"), ("low", "high")),
    "lognormal": (("median", "sigma"), ("low", "high")),
    "beta": (("a", "b"), ("low", "high")),
    "choice": (("values",), ("weights",)),
}


# ------------------------------------------------------------------ parsing
def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and abs(value) < 1e300
        and math.isfinite(value)
    )


def describe_value(value: Any) -> str:
    """How a value found in a scenario is named in an error message."""
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, dt.datetime):
        return f"{value.isoformat()} (a date-time)"
    if isinstance(value, dt.date):
        return f"{value.isoformat()} (a date)"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"{shown!r} (a string)"
    if isinstance(value, float):
        return f"{value!r} (a number)"
    if isinstance(value, int):
        return f"{value} (an integer)"
    return type(value).__name__


def param_range(param: Param) -> tuple[float | None, float | None]:
    """The range a parameter's values must lie in."""
    if param.kind == "prob":
        return 0.0, 1.0
    return param.low, param.high


def _range_text(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"[{low:g}, {high:g}]"
    if low is not None:
        return f">= {low:g}"
    if high is not None:
        return f"<= {high:g}"
    return "any number"


def parse_distribution(
    value: Any, param: Param, path: str, name: str | None = None
) -> tuple[Distribution | None, list[tuple[str, str]]]:
    """Check a ``{ dist = ..., ... }`` table for parameter ``param`` written at ``path``.

    ``name`` is the parameter's name (by default the last segment of ``path``): some
    parameters stay scalar (:data:`SCALAR_ONLY`, ``ladder``). Returns the distribution
    and no problems, or None and the problems found, each as (dotted path, "expected
    ..." message).
    """
    name = path.rsplit(".", 1)[-1] if name is None else name
    problems: list[tuple[str, str]] = []
    if not isinstance(value, dict):
        return None, [(path, f"expected a distribution table, found {describe_value(value)}")]
    if name in SCALAR_ONLY:
        return None, [
            (
                path,
                f"expected {param.describe()}: {name} cannot be a distribution, because "
                f"{SCALAR_ONLY[name]}",
            )
        ]
    if param.kind == "range" and name not in PER_RUN_RANGES:
        return None, [(path, f"expected {param.describe()}: {name} cannot be a distribution")]
    if param.kind not in ("float", "int", "prob", "range"):
        return None, [
            (
                path,
                f"expected {param.describe()}: {name} cannot be a distribution (only numeric "
                "parameters can)",
            )
        ]
    integer = param.kind in ("int", "range")
    low, high = param_range(param)
    kind = value.get("dist")
    if not isinstance(kind, str) or kind not in DISTRIBUTIONS:
        hint = ""
        if isinstance(kind, str):
            close = difflib.get_close_matches(kind, sorted(DISTRIBUTIONS), n=1, cutoff=0.5)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
        found = "nothing" if kind is None else describe_value(kind)
        return None, [
            (
                f"{path}.dist",
                f"expected one of {', '.join(DISTRIBUTIONS)}, found {found}{hint}",
            )
        ]
    required, optional = KEYS[kind]
    allowed = {"dist", *required, *optional}
    for key in value:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(
                (
                    f"{path}.{key}",
                    f"unknown key for {kind}{hint}; known: {', '.join(sorted(allowed))}",
                )
            )
    for key in required:
        if key not in value:
            what = "a list of numbers" if key == "values" else "a number"
            problems.append((f"{path}.{key}", f"required: expected {what}"))
    if problems:
        return None, problems
    if kind == "choice":
        return _parse_choice(value, param, path, name, integer, low, high)

    nums: dict[str, float] = {}
    for key in (*required, *optional):
        if key in value:
            if not _is_number(value[key]):
                found = describe_value(value[key])
                problems.append((f"{path}.{key}", f"expected a number, found {found}"))
            else:
                nums[key] = float(value[key])
    if problems:
        return None, problems

    def positive(key: str) -> None:
        if nums[key] <= 0:
            problems.append((f"{path}.{key}", f"expected a number > 0, found {value[key]!r}"))

    def inside(key: str) -> None:
        x = nums.get(key)
        if x is None:
            return
        if (low is not None and x < low) or (high is not None and x > high):
            problems.append(
                (
                    f"{path}.{key}",
                    f"expected a bound inside the parameter's range {_range_text(low, high)}, "
                    f"found {value[key]!r}",
                )
            )

    for key in ("low", "high"):
        inside(key)
    if kind == "beta":
        nums.setdefault("low", 0.0)
        nums.setdefault("high", 1.0)
        if ("low" not in value or "high" not in value) and not problems:
            for key in ("low", "high"):
                if key not in value:
                    x = nums[key]
                    if (low is not None and x < low) or (high is not None and x > high):
                        problems.append(
                            (
                                f"{path}.{key}",
                                f"required here: the default {x:g} lies outside the "
                                f"parameter's range {_range_text(low, high)}; expected a "
                                "bound inside it",
                            )
                        )
    if "low" in nums and "high" in nums and nums["low"] >= nums["high"]:
        problems.append(
            (f"{path}.high", f"expected a number above low {nums['low']:g}, found {nums['high']:g}")
        )
    if kind in ("normal",):
        positive("sd")
    if kind == "lognormal":
        positive("median")
        positive("sigma")
        if "high" in nums and nums["high"] <= 0:
            problems.append((f"{path}.high", f"expected a number > 0, found {value['high']!r}"))
    if kind == "beta":
        positive("a")
        positive("b")
    if problems:
        return None, problems

    common = {"path": path, "integer": integer, "bounds": (low, high)}
    if kind == "uniform":
        dist: Distribution = Uniform(nums["low"], nums["high"], **common)
    elif kind == "normal":
        dist = Normal(nums["mean"], nums["sd"], nums.get("low"), nums.get("high"), **common)
    elif kind == "lognormal":
        dist = LogNormal(nums["median"], nums["sigma"], nums.get("low"), nums.get("high"), **common)
    else:
        dist = Beta(nums["a"], nums["b"], nums["low"], nums["high"], **common)
    return _check_support(dist, path, low, high)


def _check_support(
    dist: Distribution, path: str, low: float | None, high: float | None
) -> tuple[Distribution | None, list[tuple[str, str]]]:
    """Refuse a distribution whose draws are not finite numbers inside the range.

    A normal truncated to an interval far out in its tail has no usable mass there.
    """
    with np.errstate(all="ignore"):
        lo, hi = dist.sample(np.array([U_MIN, U_MAX])).astype(float)
        mass = dist.mass()
    if not mass >= MIN_MASS:
        return None, [
            (
                path,
                f"expected a distribution with at least a millionth of its probability "
                f"in {_range_text(*_limits(dist, low, high))}, where it is truncated: "
                f"{dist.describe()} has {mass:.2g} there",
            )
        ]
    ok = math.isfinite(lo) and math.isfinite(hi) and lo <= hi
    if ok and low is not None:
        ok = lo >= low
    if ok and high is not None:
        ok = hi <= high
    if ok and dist.integer:
        ok = abs(lo) < 2**62 and abs(hi) < 2**62
    if not ok:
        return None, [
            (
                path,
                f"expected a distribution whose draws lie in {_range_text(low, high)}: "
                f"{dist.describe()} has (almost) no probability there",
            )
        ]
    return dist, []


def _limits(
    dist: Distribution, low: float | None, high: float | None
) -> tuple[float | None, float | None]:
    if isinstance(dist, Normal | LogNormal):
        lo, hi = dist.limits()
        return lo, (hi if math.isfinite(hi) else None)
    return low, high


def _parse_choice(
    value: dict,
    param: Param,
    path: str,
    name: str,
    integer: bool,
    low: float | None,
    high: float | None,
) -> tuple[Distribution | None, list[tuple[str, str]]]:
    problems: list[tuple[str, str]] = []
    values = value["values"]
    noun = "integers" if integer else "numbers"
    if not isinstance(values, list) or not values or len(values) > MAX_CHOICES:
        found = describe_value(values)
        return None, [
            (f"{path}.values", f"expected a list of 1 to {MAX_CHOICES:,} {noun}, found {found}")
        ]
    for i, v in enumerate(values):
        ok = _is_number(v) and (not integer or isinstance(v, int))
        if ok and ((low is not None and v < low) or (high is not None and v > high)):
            ok = False
        if not ok:
            kind = "an integer" if integer else "a number"
            problems.append(
                (
                    f"{path}.values.{i}",
                    f"expected {kind} in {_range_text(low, high)}, found {describe_value(v)}",
                )
            )
    weights = value.get("weights")
    if weights is not None:
        if not isinstance(weights, list) or len(weights) != len(values):
            problems.append(
                (
                    f"{path}.weights",
                    f"expected a list of {len(values)} weights (one per value), found "
                    f"{describe_value(weights)}",
                )
            )
        else:
            for i, w in enumerate(weights):
                if not _is_number(w) or w < 0:
                    problems.append(
                        (
                            f"{path}.weights.{i}",
                            f"expected a number >= 0, found {describe_value(w)}",
                        )
                    )
            if not problems and not sum(float(w) for w in weights) > 0:
                problems.append((f"{path}.weights", "expected weights with a sum above 0"))
    if problems:
        return None, problems
    cast = int if integer else float
    dist = Choice(
        tuple(cast(v) for v in values),
        None if weights is None else tuple(float(w) for w in weights),
        path=path,
        integer=integer,
        bounds=(low, high),
    )
    return dist, []


def scenario_distributions(scenario: Any) -> dict[str, Distribution]:
    """A validated scenario's distributions, by the dotted path each was written at.

    Those of a state's ``policy`` (or ``toward``) that no relation uses are included.
    """
    found: dict[str, Distribution] = {}
    for mission in scenario.missions.values():
        for key in ParamDraws.MISSION_COLUMNS:
            value = getattr(mission, key)
            if isinstance(value, Distribution):
                found[value.path] = value
    for state in scenario.states.values():
        for values in state.policies.values():
            for value in values.values():
                if isinstance(value, Distribution):
                    found.setdefault(value.path, value)
    return found


# ------------------------------------------------------------------ per run
class ParamDraws:
    """The per-run values of one block's distributions (and of values given per run).

    ``given`` maps dotted paths (``states.<id>.policy.<key>``,
    ``states.<id>.toward.<other>.<key>``, ``missions.<id>.<field>``) to one value per
    run of the block; it takes precedence over what the scenario says at that path (a
    ``toward`` path over a ``policy`` path for its relation). ``drawn`` collects every
    per-run array used, by path.
    """

    MISSION_COLUMNS: ClassVar[dict[str, str]] = {
        "diplomats": "diplomats",
        "admin_technical": "admin_technical",
        "local_staff": "local",
        "consulates": "posts",
    }

    def __init__(
        self, streams: RunStreams, n_runs: int, given: dict[str, Any] | None = None
    ) -> None:
        self.streams = streams
        self.n_runs = n_runs
        self.given: dict[str, np.ndarray] = {}
        for path, values in (given or {}).items():
            arr = np.asarray(values)
            if arr.ndim == 0:
                arr = np.full(n_runs, arr[()])
            if arr.shape != (n_runs,):
                raise ValueError(
                    f"param_values[{path!r}]: expected one value per run of the block "
                    f"({n_runs}), found shape {arr.shape}"
                )
            if arr.dtype.kind not in "iuf" or not np.all(np.isfinite(arr)):
                raise ValueError(f"param_values[{path!r}]: expected finite numbers")
            self.given[path] = arr
        self.used: set[str] = set()
        self.drawn: dict[str, np.ndarray] = {}

    def draw(self, dist: Distribution) -> np.ndarray:
        """The per-run values of a distribution: one draw per path per run."""
        if dist.path not in self.drawn:
            u = self.streams.uniform(PARAM_STEP, slot("param", dist.path))
            self.drawn[dist.path] = dist.sample(u)
        return self.drawn[dist.path]

    def _given(self, path: str, param: Param, name: str, record: bool = True) -> np.ndarray:
        """A given per-run array, checked against the parameter (and recorded in drawn)."""
        if path in self.drawn:
            return self.drawn[path]
        arr = self.given[path]
        if (
            name in SCALAR_ONLY
            or param.kind not in ("float", "int", "prob", "range")
            or (param.kind == "range" and name not in PER_RUN_RANGES)
        ):
            raise ValueError(f"param_values[{path!r}]: {name} cannot take per-run values")
        low, high = param_range(param)
        if (low is not None and np.any(arr < low)) or (high is not None and np.any(arr > high)):
            raise ValueError(f"param_values[{path!r}]: expected values in {_range_text(low, high)}")
        if param.kind in ("int", "range"):
            if not np.all(arr == np.rint(arr)):
                raise ValueError(f"param_values[{path!r}]: expected whole numbers")
            arr = arr.astype(np.int64)
        else:
            arr = arr.astype(np.float64)
        self.used.add(path)
        if record:
            self.drawn[path] = arr
        return arr

    def policy(self, sid: str, other: str, values: dict[str, Any]) -> dict[str, Any]:
        """A relation's validated policy values with per-run arrays where they vary."""
        from sim.policies import POLICIES

        params = POLICIES[values["kind"]].all_params()
        out = dict(values)
        for key, param in params.items():
            toward = f"states.{sid}.toward.{other}.{key}"
            base = f"states.{sid}.policy.{key}"
            if toward in self.given:
                per_run = self._given(toward, param, key)
                if base in self.given:  # checked, but overridden for this relation
                    self._given(base, param, key, record=False)
            elif base in self.given:
                per_run = self._given(base, param, key)
            elif isinstance(values.get(key), Distribution):
                per_run = self.draw(values[key])
            else:
                continue
            out[key] = [per_run, per_run] if param.kind == "range" else per_run
        return out

    def mission_columns(self, mid: str, fields_: dict[str, Any]) -> dict[str, np.ndarray]:
        """Per-run initial staff counts of a mission; ``fields_`` gets 0 in their place.

        Returns {Missions column attribute: per-run values}.
        """
        from sim.policies import Param

        out = {}
        for key, column in self.MISSION_COLUMNS.items():
            path = f"missions.{mid}.{key}"
            value = fields_.get(key)
            if path in self.given:
                per_run = self._given(path, Param(0, key, "int", 0, 10_000_000), key)  # MAX_STAFF
            elif isinstance(value, Distribution):
                per_run = self.draw(value)
            else:
                continue
            fields_[key] = 0
            out[column] = per_run
        return out

    def check_used(self) -> None:
        """Refuse given paths that named nothing in use (a typo would go unnoticed)."""
        unused = sorted(set(self.given) - self.used)
        if unused:
            raise ValueError(
                f"param_values: {', '.join(unused)}: no such parameter in use in this scenario "
                "(expected states.<id>.policy.<key>, states.<id>.toward.<other>.<key> or "
                "missions.<id>.diplomats|admin_technical|local_staff|consulates)"
            )
