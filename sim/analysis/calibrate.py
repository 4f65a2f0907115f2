"""Calibration: policy parameters estimated from the dated event record.

The record is short (a handful of rounds per pair of states), the simulator is
stochastic and its likelihood is intractable once lags, instruments and exogenous
acts interact, so the parameters are estimated by approximate Bayesian computation
with a sequential Monte Carlo sampler (ABC-SMC, the population Monte Carlo scheme of
Beaumont, Cornuet, Marin & Robert, *Biometrika* 96:983, 2009, with the adaptive
tolerances of Del Moral, Doucet & Jasra, *Stat. Comput.* 22:1009, 2012). Why this
module has its own sampler rather than pyabc's or ELFI's is in docs/calibration.md:
in short, the forward model is the ensemble engine, which simulates thousands of
parameter vectors in one vectorised model, and neither library fitted that without
costs we measured.

Each state is calibrated on its own, by *conditional replay*: its counterpart's
historical acts are replayed as they happened, the state's own hostile acts are
removed, and the state follows a policy (``proportional`` unless another is named)
whose parameters vary from run to run (each run is one particle). The parameters that
can be calibrated, and their priors, are declared with the policy's parameters
(``Param(..., prior=Prior(...))`` in :mod:`sim.policies`): any registered policy,
plugins included, can be calibrated on the parameters it gives a prior. The same summary
statistics are computed from the historical record and from each simulated run:

* the share of the counterpart's acts (episodes) answered within the response window;
* the mean log ratio of a response's size to the act it answers (staff-equivalents);
* the mean lag of a response, in steps, counted as the engine counts ``lag``;
* the share of responses that used another instrument than the act answered;
* the state's own initiatives (acts answering nothing) per year.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.runner import check_stop
from sim.distributions import PER_RUN_RANGES, SCALAR_ONLY
from sim.engine import instruments
from sim.engine.missions import Kind
from sim.engine.model import EscalationModel
from sim.engine.rng import slot
from sim.policies import CHOICE_PREFIX, COMMON_PARAMS, POLICIES, choice_params
from sim.priors import Prior
from sim.scenario import Scenario, scenario_from_dict

__all__ = [
    "CALIBRATED",
    "Calibration",
    "CalibrationError",
    "Episodes",
    "PriorBox",
    "SMCSettings",
    "StateFit",
    "abc_smc",
    "calibratable",
    "calibrate",
    "fitted_policy",
    "record_episodes",
    "simulated_episodes",
    "summarise",
]

STAT_NAMES = ("response_rate", "log_ratio", "lag", "other_instrument", "initiatives_per_year")
#: Prefix of the statistic "share of answers that used this instrument" (choices fitted).
USED_PREFIX = "used_"


def chosen_instruments(params: list[str]) -> list[str]:
    """The instruments whose ``choice_<name>`` is among ``params``."""
    return [
        p[len(CHOICE_PREFIX) :]
        for p in params
        if p.startswith(CHOICE_PREFIX) and not p.endswith("_amount")
    ]


def statistics(params: list[str]) -> tuple[str, ...]:
    """The summary statistics that inform ``params``.

    The default five, unless an instrument choice is fitted: then an answer's size is
    read on the act's own instrument (``log_ratio_same``) and each chosen instrument
    adds the share of answers that used it. Otherwise a ban on 182 local staff answering
    an expulsion of 10 reads as a ratio of 18 (or 4.6 at a weight of 0.2), and the
    ratio, not the choice, absorbs it.
    """
    chosen = chosen_instruments(params)
    if not chosen:
        return STAT_NAMES
    base = tuple("log_ratio_same" if n == "log_ratio" else n for n in STAT_NAMES)
    return base + tuple(f"{USED_PREFIX}{name}" for name in chosen)


def _hostile_labels() -> set[str]:
    """The hostile instruments' names (plugins' included): the acts calibration reads."""
    return {i.name for i in instruments.hostile()}


class CalibrationError(Exception):
    """A calibration that cannot be done (no record to fit, bad settings)."""


# ------------------------------------------------------------------ parameters
@dataclass(frozen=True)
class PriorBox:
    """A calibrated parameter's prior: its name, its box and scale (a
    :class:`sim.priors.Prior`), what the record says about it, and the widest box a
    user may give it instead (``limits``).

    ``log`` parameters are uniform in their logarithm; ``floor`` parameters are whole
    numbers: the sampler moves a continuous value ``u`` and the policy uses
    ``floor(u)``, so each whole number has prior mass 1 / (high - low).
    """

    name: str
    low: float
    high: float
    scale: str = "linear"  # linear | log | floor
    doc: str = ""
    limits: tuple[float, float] = field(default=(-math.inf, math.inf), compare=False)
    #: Fitted only when named (the mechanisms' parameters): see ``Prior.opt_in``.
    opt_in: bool = field(default=False, compare=False)

    @property
    def prior(self) -> Prior:
        return Prior(self.low, self.high, self.scale, self.doc)

    def to_natural(self, x: np.ndarray) -> np.ndarray:
        return self.prior.to_natural(x)

    def to_sampler(self, value: float) -> float:
        return self.prior.to_sampler(value)

    @property
    def box(self) -> tuple[float, float]:
        return self.prior.box


def calibratable(policy: str = "proportional") -> dict[str, PriorBox]:
    """The parameters of a registered policy that declare a prior, with those priors.

    In the order the sampler holds them: ``respond_prob``, the policy's own parameters
    (as declared), then the other common parameters (as declared). The order is part
    of what a seed reproduces.
    """
    cls = POLICIES.get(policy)
    if cls is None:
        raise CalibrationError(f"unknown policy {policy!r}; known: {', '.join(sorted(POLICIES))}")
    if not cls.active:
        raise CalibrationError(f"policy {policy!r} never acts: there is nothing to calibrate")
    params = cls.all_params()
    order = [
        "respond_prob",
        *cls.params,
        *(k for k in COMMON_PARAMS if k != "respond_prob"),
        *choice_params(),
    ]
    boxes = {}
    for name in dict.fromkeys(order):
        param = params.get(name)
        if param is None or param.prior is None:
            continue
        if (
            name in SCALAR_ONLY
            or param.kind not in ("float", "int", "prob", "range")
            or (param.kind == "range" and name not in PER_RUN_RANGES)
        ):
            raise CalibrationError(
                f"policy {policy!r}: {name} declares a prior but cannot take a value per "
                "run, so it cannot be calibrated"
            )
        prior = param.prior
        boxes[name] = PriorBox(
            name,
            prior.low,
            prior.high,
            prior.scale,
            prior.doc or param.doc,
            param.prior_limits(),
            prior.opt_in,
        )
    return boxes


def default_params(boxes: dict[str, PriorBox]) -> list[str]:
    """The parameters fitted unless others are named: every prior but the opt-in ones."""
    return [name for name, box in boxes.items() if not box.opt_in]


def _not_calibratable(name: str, policy: str, known: dict[str, PriorBox]) -> str:
    """Why ``name`` cannot be calibrated for ``policy``, with the names that can."""
    listed = ", ".join(known) or "none"
    if name in POLICIES[policy].all_params():
        why = f"{name} is a parameter of {policy} without a prior, so it cannot be calibrated"
    else:
        why = f"{name} is not a parameter of {policy}"
    return f"{why}; calibratable parameters of {policy}: {listed}"


#: The parameters estimated for each state of a ``proportional`` policy (the default),
#: with their priors, as declared in :mod:`sim.policies`.
CALIBRATED: dict[str, PriorBox] = {
    name: box for name, box in calibratable("proportional").items() if not box.opt_in
}
#: The widest prior each of them may be given (the policy's own range; ratio > 0).
PRIOR_LIMITS: dict[str, tuple[float, float]] = {n: b.limits for n, b in CALIBRATED.items()}


def prior_boxes(
    priors: dict[str, tuple[float, float]] | None, policy: str = "proportional"
) -> dict[str, PriorBox]:
    """The policy's declared priors with some ranges replaced (``{"ratio": (0.5, 3.0)}``)."""
    known = calibratable(policy)
    boxes = dict(known)
    for name, bounds in (priors or {}).items():
        if name not in known:
            raise CalibrationError(f"--prior {name}: {_not_calibratable(name, policy, known)}")
        low, high = (float(b) for b in bounds)
        lo, hi = known[name].limits
        if not (lo <= low < high <= hi):
            raise CalibrationError(
                f"--prior {name}={low:g}:{high:g}: expected {lo:g} <= low < high <= {hi:g}"
            )
        if boxes[name].scale == "floor" and not (low.is_integer() and high.is_integer()):
            unit = "steps" if name == "lag" else "numbers"
            raise CalibrationError(f"--prior {name}: expected whole {unit}, found {low:g}:{high:g}")
        problem = Prior.problem(low, high, boxes[name].scale)
        if problem:
            raise CalibrationError(f"--prior {name}={low:g}:{high:g}: {problem}")
        boxes[name] = PriorBox(
            name,
            low,
            high,
            boxes[name].scale,
            boxes[name].doc,
            known[name].limits,
            known[name].opt_in,
        )
    return boxes


# ------------------------------------------------------------------ episodes
@dataclass
class Episodes:
    """The counterpart's acts and the state's answers, per episode and run.

    Arrays are (episodes, runs); the record is one run. ``responded`` is False where
    the state did not act within the window; the other per-episode arrays are NaN there.
    """

    responded: np.ndarray
    log_ratio: np.ndarray
    lag: np.ndarray
    other_instrument: np.ndarray
    initiatives: np.ndarray  # (runs,) acts outside every window
    years: float  # length of the period, for the initiative rate
    steps: np.ndarray  # (episodes,) the step of each episode's act
    #: log(answers on the act's own instrument / act); NaN where none was on it.
    log_ratio_same: np.ndarray | None = None
    #: per hostile instrument code: did the answer use it (NaN where unanswered).
    used: dict[int, np.ndarray] = field(default_factory=dict)


def _windows(steps: np.ndarray, window: int, n_steps: int) -> np.ndarray:
    """Last step of each episode's window: ``window`` steps, or up to the next episode."""
    ends = np.minimum(steps + window, n_steps - 1)
    if len(steps) > 1:
        ends[:-1] = np.minimum(ends[:-1], steps[1:])
    return ends


def simulated_episodes(
    provocation: np.ndarray,
    provocation_kind: np.ndarray,
    answer: np.ndarray,
    answer_kind: np.ndarray,
    window: int,
    step_days: int,
) -> Episodes:
    """Episodes in simulated runs, from the announcement log (steps, runs).

    ``provocation`` is what the counterpart announced against the state's mission,
    ``answer`` what the state announced against the counterpart's. An answer to an act
    of step ``s`` comes at a step ``s + 1 + lag`` (the engine's lag), within the window.
    """
    n_steps, runs = answer.shape
    hit = (provocation > 0).any(axis=1)
    steps = np.nonzero(hit)[0]
    ends = _windows(steps, window, n_steps)
    e = len(steps)
    responded = np.zeros((e, runs), dtype=bool)
    log_ratio = np.full((e, runs), np.nan)
    lag = np.full((e, runs), np.nan)
    other = np.full((e, runs), np.nan)
    same_ratio = np.full((e, runs), np.nan)
    codes = [i.code for i in instruments.hostile()]
    used = {code: np.full((e, runs), np.nan) for code in codes}
    acted = answer > 0
    covered = np.zeros(n_steps, dtype=bool)
    for i, (s, end) in enumerate(zip(steps, ends, strict=True)):
        covered[s + 1 : end + 1] = True
        block = acted[s + 1 : end + 1]
        if not len(block):
            continue
        any_act = block.any(axis=0)
        first = np.argmax(block, axis=0)
        size = answer[s + 1 : end + 1].sum(axis=0)
        prov_size = provocation[s].astype(float)
        prov_kind = provocation_kind[s]
        kinds = answer_kind[s + 1 : end + 1]
        differs = ((kinds != prov_kind) & block).any(axis=0)
        size_same = np.where((kinds == prov_kind) & block, answer[s + 1 : end + 1], 0).sum(axis=0)
        for code in codes:
            used[code][i] = np.where(any_act, ((kinds == code) & block).any(axis=0), np.nan)
        responded[i] = any_act
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ratio[i] = np.where(any_act, np.log(size / prov_size), np.nan)
            same_ratio[i] = np.where(size_same > 0, np.log(size_same / prov_size), np.nan)
        lag[i] = np.where(any_act, first, np.nan)
        other[i] = np.where(any_act, differs, np.nan)
    initiatives = (acted & ~covered[:, None]).sum(axis=0)
    return Episodes(
        responded,
        log_ratio,
        lag,
        other,
        initiatives,
        n_steps * step_days / 365.25,
        steps,
        same_ratio,
        used,
    )


@dataclass(frozen=True)
class Act:
    """One state's hostile announcements on one mission on one date (the record)."""

    date: dt.date
    step: int
    size: float  # staff-equivalents, as the engine counts them
    kind: int


def record_episodes(
    provocations: list[Act], answers: list[Act], window: int, step_days: int, years: float
) -> Episodes:
    """Episodes in the historical record (one run), from dated acts.

    Dates, not steps, order an act and its answer: Russia's answer of 29 March 2018 fell
    in the same weekly step as the US act of 26 March it answered. Its lag is the whole
    steps between them, ``floor(days / step_days)``, as the engine's lag would be.
    """
    provocations = sorted(provocations, key=lambda a: a.date)
    answers = sorted(answers, key=lambda a: a.date)
    # Acts of one date form one episode (as the engine merges one step's acts).
    grouped: list[Act] = []
    for act in provocations:
        if grouped and grouped[-1].date == act.date:
            last = grouped[-1]
            kind = last.kind if last.size >= act.size else act.kind
            grouped[-1] = Act(last.date, last.step, last.size + act.size, kind)
        else:
            grouped.append(act)
    e = len(grouped)
    responded = np.zeros((e, 1), dtype=bool)
    log_ratio = np.full((e, 1), np.nan)
    lag = np.full((e, 1), np.nan)
    other = np.full((e, 1), np.nan)
    same_ratio = np.full((e, 1), np.nan)
    used_by = {i.code: np.full((e, 1), np.nan) for i in instruments.hostile()}
    used = set()
    for i, act in enumerate(grouped):
        limit = act.date + dt.timedelta(days=window * step_days)
        if i + 1 < len(grouped):
            limit = min(limit, grouped[i + 1].date)
        mine = [
            j for j, ans in enumerate(answers) if j not in used and act.date <= ans.date < limit
        ]
        if not mine:
            continue
        used.update(mine)
        responded[i, 0] = True
        size = sum(answers[j].size for j in mine)
        log_ratio[i, 0] = math.log(size / act.size) if act.size > 0 and size > 0 else np.nan
        lag[i, 0] = (answers[mine[0]].date - act.date).days // step_days
        other[i, 0] = float(any(answers[j].kind != act.kind for j in mine))
        same = sum(answers[j].size for j in mine if answers[j].kind == act.kind)
        if act.size > 0 and same > 0:
            same_ratio[i, 0] = math.log(same / act.size)
        for code, flags in used_by.items():
            flags[i, 0] = float(any(answers[j].kind == code for j in mine))
    initiatives = np.array([len(answers) - len(used)])
    steps = np.array([a.step for a in grouped], dtype=int)
    return Episodes(
        responded, log_ratio, lag, other, initiatives, years, steps, same_ratio, used_by
    )


def summarise(ep: Episodes, names: tuple[str, ...] = STAT_NAMES) -> np.ndarray:
    """The summary statistics ``names`` (runs, k), NaN where undefined (no episode, no
    answer)."""
    e, runs = ep.responded.shape
    out = np.full((runs, len(names)), np.nan)
    for j, name in enumerate(names):
        if name == "initiatives_per_year":
            out[:, j] = ep.initiatives / max(ep.years, 1e-9)
        elif not e:
            continue
        elif name == "response_rate":
            out[:, j] = ep.responded.sum(axis=0) / e
        elif name in ("log_ratio", "lag", "other_instrument"):
            column = {
                "log_ratio": ep.log_ratio,
                "lag": ep.lag,
                "other_instrument": ep.other_instrument,
            }
            out[:, j] = _mean_defined(column[name])
        elif name == "log_ratio_same":
            out[:, j] = _mean_defined(ep.log_ratio_same)
        elif name.startswith(USED_PREFIX):
            code = instruments.code_of(name[len(USED_PREFIX) :])
            out[:, j] = _mean_defined(ep.used[code])
        else:
            raise CalibrationError(f"unknown summary statistic {name!r}")
    return out


def _mean_defined(a: np.ndarray) -> np.ndarray:
    """Column means over the finite entries; NaN for a column with none."""
    ok = np.isfinite(a)
    count = ok.sum(axis=0)
    total = np.where(ok, a, 0.0).sum(axis=0)
    return np.divide(total, count, out=np.full(count.shape, np.nan), where=count > 0)


def distance(stats: np.ndarray, observed: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Scaled Euclidean distance; a statistic defined on one side only costs 1."""
    diff = (stats - observed) / scale
    one_side = np.isnan(stats) != np.isnan(observed)
    diff = np.where(np.isnan(diff), 0.0, diff)
    diff = np.where(one_side, 1.0, diff)
    return np.sqrt((diff**2).sum(axis=1))


# ------------------------------------------------------------------ sampler
@dataclass(frozen=True)
class SMCSettings:
    """ABC-SMC settings. The defaults take seconds on the US–Russia record."""

    particles: int = 1000
    generations: int = 10
    quantile: float = 0.5  # the next tolerance: this quantile of the last distances
    min_acceptance: float = 0.02  # stop when fewer proposals than this are accepted
    batch: int = 4096  # proposals simulated together in one model
    max_simulations: int = 2_000_000


@dataclass
class Population:
    theta: np.ndarray  # (particles, params) on the sampler's scale
    weights: np.ndarray
    distances: np.ndarray
    tolerance: float
    acceptance: float
    simulations: int


@dataclass
class SMCResult:
    populations: list[Population]
    scale: np.ndarray
    stop_reason: str

    @property
    def final(self) -> Population:
        return self.populations[-1]


def abc_smc(
    simulate: Callable[[np.ndarray, np.ndarray], np.ndarray],
    observed: np.ndarray,
    bounds: np.ndarray,
    settings: SMCSettings,
    seed: int,
) -> SMCResult:
    """Population Monte Carlo ABC with a uniform prior on a box.

    ``simulate(theta, run_ids)`` returns the summary statistics (n, k) of the parameter
    vectors ``theta`` (n, d); ``run_ids`` number the simulations so that each has its own
    random stream. Generation 0 samples the prior and keeps the ``particles`` closest;
    each later generation's tolerance is the ``quantile`` of the last distances, and
    proposals are drawn from the last population moved by a Gaussian kernel with twice
    its weighted covariance (Beaumont et al. 2009). Everything is determined by ``seed``.
    """
    n, d = settings.particles, len(bounds)
    lo, hi = bounds[:, 0], bounds[:, 1]
    next_run = 0

    def run(theta: np.ndarray) -> np.ndarray:
        nonlocal next_run
        ids = np.arange(next_run, next_run + len(theta))
        next_run += len(theta)
        check_stop()
        return simulate(theta, ids)

    def rng_for(generation: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([seed, 0xABC, generation]))

    rng = rng_for(0)
    first = lo + (hi - lo) * rng.random((max(3 * n, settings.batch), d))
    stats = run(first)
    scale = _robust_scale(stats, observed)
    dist = distance(stats, observed, scale)
    keep = np.argsort(dist, kind="stable")[:n]
    populations = [
        Population(
            first[keep], np.full(n, 1.0 / n), dist[keep], float(dist[keep].max()), 1.0, len(first)
        )
    ]
    stop_reason = f"{settings.generations} generations"
    for generation in range(1, settings.generations):
        prev = populations[-1]
        tolerance = float(np.quantile(prev.distances, settings.quantile))
        cov = 2.0 * np.atleast_2d(np.cov(prev.theta, rowvar=False, aweights=prev.weights))
        cov += np.eye(d) * 1e-12 * (hi - lo) ** 2
        chol = np.linalg.cholesky(cov)
        rng = rng_for(generation)
        accepted_theta: list[np.ndarray] = []
        accepted_dist: list[np.ndarray] = []
        n_acc = simulated = proposed = 0
        while n_acc < n:
            if next_run >= settings.max_simulations:
                break
            parents = rng.choice(n, size=settings.batch, p=prev.weights)
            moved = prev.theta[parents] + rng.standard_normal((settings.batch, d)) @ chol.T
            inside = np.all((moved >= lo) & (moved < hi), axis=1)
            proposed += settings.batch
            moved = moved[inside]
            if not len(moved):
                continue
            stats = run(moved)
            simulated += len(moved)
            dist = distance(stats, observed, scale)
            ok = dist <= tolerance
            accepted_theta.append(moved[ok])
            accepted_dist.append(dist[ok])
            n_acc += int(ok.sum())
        if n_acc < n:
            stop_reason = f"simulation budget ({settings.max_simulations:,}) spent"
            break
        theta = np.concatenate(accepted_theta)[:n]
        dists = np.concatenate(accepted_dist)[:n]
        weights = _importance_weights(theta, prev.theta, prev.weights, cov)
        acceptance = n_acc / max(simulated, 1)
        populations.append(Population(theta, weights, dists, tolerance, acceptance, simulated))
        if acceptance < settings.min_acceptance:
            stop_reason = f"acceptance {acceptance:.3f} below {settings.min_acceptance}"
            break
    return SMCResult(populations, scale, stop_reason)


def _robust_scale(stats: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Each statistic's spread under the prior (MAD), so that none dominates the distance."""
    scale = np.ones(stats.shape[1])
    for j in range(stats.shape[1]):
        col = stats[:, j][np.isfinite(stats[:, j])]
        if len(col) > 1:
            mad = 1.4826 * np.median(np.abs(col - np.median(col)))
            scale[j] = mad if mad > 0 else (col.std() if col.std() > 0 else 1.0)
    return scale


def _importance_weights(
    theta: np.ndarray, prev: np.ndarray, prev_w: np.ndarray, cov: np.ndarray
) -> np.ndarray:
    """w_i ∝ prior(θ_i) / Σ_j w_j K(θ_i | θ_j); the prior is flat on the box."""
    inv = np.linalg.inv(cov)
    weights = np.empty(len(theta))
    for start in range(0, len(theta), 512):
        diff = theta[start : start + 512, None, :] - prev[None, :, :]
        quad = np.einsum("ijk,kl,ijl->ij", diff, inv, diff)
        weights[start : start + 512] = 1.0 / (np.exp(-0.5 * quad) @ prev_w)
    return weights / weights.sum()


# ------------------------------------------------------------------ the forward model
@dataclass
class StateFit:
    """The calibration of one state's policy toward one counterpart."""

    state: str
    counterpart: str
    params: list[str]
    observed: np.ndarray  # (5,) summary statistics of the record
    record: Episodes
    smc: SMCResult
    fixed: dict[str, Any]
    simulate: ConditionalReplay | None = None
    priors: dict[str, PriorBox] = field(default_factory=lambda: dict(CALIBRATED))
    policy: str = "proportional"  # the kind of policy fitted
    stats: tuple[str, ...] = STAT_NAMES  # the summary statistics fitted (``observed``)

    def samples(self) -> pd.DataFrame:
        """The final population on the natural scale, with weights and distances."""
        pop = self.smc.final
        table = {
            name: self.priors[name].to_natural(pop.theta[:, i])
            for i, name in enumerate(self.params)
        }
        table["weight"] = pop.weights
        table["distance"] = pop.distances
        frame = pd.DataFrame(table)
        frame.insert(0, "state", self.state)
        return frame

    def table(self) -> pd.DataFrame:
        """Per parameter: weighted median, 50% and 90% intervals, prior range."""
        samples = self.samples()
        rows = []
        for name in self.params:
            q = weighted_quantiles(
                samples[name].to_numpy(), samples["weight"].to_numpy(), QUANTILES
            )
            prior = self.priors[name]
            rows.append(
                {
                    "state": self.state,
                    "parameter": name,
                    "median": q[2],
                    "q05": q[0],
                    "q25": q[1],
                    "q75": q[3],
                    "q95": q[4],
                    "prior": f"{prior.scale} uniform [{prior.low:g}, {prior.high:g}"
                    + ("]" if prior.scale != "floor" else ")"),
                }
            )
        return pd.DataFrame(rows)


QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, qs) -> np.ndarray:
    """Quantiles of a weighted sample (the inverse of its step CDF)."""
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    cdf = np.cumsum(w) / w.sum()
    idx = np.searchsorted(cdf, np.asarray(qs), side="left")
    return v[np.minimum(idx, len(v) - 1)]


@dataclass
class Calibration:
    """Fits for each calibrated state, with what they were fitted on."""

    scenario: Scenario
    until: dt.date
    fits: dict[str, StateFit]
    settings: SMCSettings
    seed: int
    window: int
    #: Staff expelled per expulsion in the record, per state (sizes for initiatives).
    expulsions: dict[str, list[int]] = field(default_factory=dict)
    policy: str = "proportional"  # the kind of policy fitted

    def provocation_size(self, state: str) -> list[int] | None:
        """[min, max] staff of the state's own expulsions in the record, else of everyone's.

        The engine's initiatives are expulsions of this size; the record has few of
        them, so a state without one borrows the sizes its counterparts used.
        """
        sizes = self.expulsions.get(state) or [n for many in self.expulsions.values() for n in many]
        return [min(sizes), max(sizes)] if sizes else None

    def samples(self) -> pd.DataFrame:
        return pd.concat([fit.samples() for fit in self.fits.values()], ignore_index=True)

    def table(self) -> pd.DataFrame:
        return pd.concat([fit.table() for fit in self.fits.values()], ignore_index=True)


def _pair_of(scenario: Scenario, state: str) -> str:
    others = [
        o for o in scenario.states[state].policies if o != state and _missions(scenario, state, o)
    ]
    if len(others) != 1:
        raise CalibrationError(
            f"state {state!r}: calibration fits a state against one counterpart; it has "
            f"missions with {len(others)} ({', '.join(others) or 'none'}); choose states "
            "with one counterpart with --states"
        )
    return others[0]


def _missions(scenario: Scenario, state: str, other: str) -> tuple[str, str] | None:
    """(the state's mission in the other, the other's mission in the state), if both exist."""
    mine = [m.id for m in scenario.missions.values() if (m.sender, m.host) == (state, other)]
    theirs = [m.id for m in scenario.missions.values() if (m.sender, m.host) == (other, state)]
    return (mine[0], theirs[0]) if mine and theirs else None


def _hostile_event(ev: dict, actor: str, target: str) -> bool:
    return (
        ev.get("actor") == actor
        and ev.get("target") == target
        and ev.get("kind") in _hostile_labels()
    )


def _cut_raw(scenario: Scenario, until: dt.date) -> dict[str, Any]:
    """A copy of the scenario's document with only the events dated up to ``until``.

    Its ``raw`` holds an events file's rows inline, so the reference to the file goes.
    """
    raw = copy.deepcopy(scenario.raw)
    raw.setdefault("scenario", {}).pop("events_file", None)
    raw["events"] = [ev for ev in raw.get("events", []) if _event_date(ev) <= until]
    return raw


def _history_raw(scenario: Scenario, until: dt.date) -> dict[str, Any]:
    """The scenario cut at ``until``: events up to it, policies acting from the start."""
    raw = _cut_raw(scenario, until)
    meta = raw["scenario"]
    meta.pop("horizon_steps", None)
    meta["horizon"] = until
    meta["forecast_start"] = scenario.start
    return raw


def _event_date(ev: dict) -> dt.date:
    value = ev.get("date")
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _replay(raw: dict[str, Any], source: str, runs: int = 1, **kwargs) -> EscalationModel:
    scenario = scenario_from_dict(raw, source)
    model = EscalationModel(scenario, runs=np.arange(runs), **kwargs)
    model.run()
    return model


def record_acts(scenario: Scenario, until: dt.date) -> dict[tuple[str, str], list[Act]]:
    """The hostile acts of the record up to ``until``, per (actor, target), sized by the engine.

    Sizes come from a scripted replay (every state scripted): a cap of 455 on a mission
    of 1,210 is 755 staff-equivalents, as the engine counts it for any policy.
    """
    raw = _history_raw(scenario, until)
    for sid in raw.get("states", {}):
        raw["states"][sid]["policy"] = {"kind": "scripted"}
        raw["states"][sid].pop("toward", None)
    model = _replay(raw, scenario.source)
    replayed = model.scenario
    announced, announced_kind = model.announcements()
    m_index = {mid: i for i, mid in enumerate(replayed.missions)}
    acts: dict[tuple[str, str], list[Act]] = {}
    seen: set[tuple[int, str]] = set()
    for ev in sorted(replayed.events, key=lambda e: (e.date, e.index)):
        if ev.own or not instruments.by_code(ev.kind).hostile or (ev.step, ev.mission) in seen:
            continue
        # Acts on one mission in one step were announced together: one act, dated by the
        # first of them, sized by all (as the engine merges them).
        seen.add((ev.step, ev.mission))
        m = m_index[ev.mission]
        size = float(announced[ev.step, m, 0])
        if size <= 0:
            continue  # a measure that removed nobody (a cap above the staff) is no act
        kind = int(announced_kind[ev.step, m, 0])
        acts.setdefault((ev.actor, ev.target), []).append(Act(ev.date, ev.step, size, kind))
    model.release()
    return acts


def _conditional_raw(
    scenario: Scenario,
    until: dt.date,
    state: str,
    counterpart: str,
    fixed: dict[str, Any],
    policy: str = "proportional",
) -> dict[str, Any]:
    """The counterpart replays the record; the state's hostile acts are left to a
    ``policy`` with the ``fixed`` values (the policy's defaults for the others)."""
    raw = _history_raw(scenario, until)
    raw["events"] = [ev for ev in raw["events"] if not _hostile_event(ev, state, counterpart)]
    states = raw["states"]
    base = dict(states[state].get("policy", {}))
    values = {
        "kind": policy,
        "noise": 0.0,
        "notice": base.get("notice", 4),
        "ladder": base.get("ladder", None),
    }
    values = {k: v for k, v in values.items() if v is not None}
    values.update(fixed)
    states[state]["policy"] = values
    states[state].pop("toward", None)
    states[counterpart]["policy"] = {"kind": "scripted"}
    states[counterpart].pop("toward", None)
    return raw


def calibrate(
    scenario: Scenario,
    until: dt.date | None = None,
    states: list[str] | None = None,
    params: list[str] | None = None,
    fixed: dict[str, Any] | None = None,
    settings: SMCSettings | None = None,
    seed: int | None = None,
    window: int = 10,
    record: dict[tuple[str, str], list[Act]] | None = None,
    history: dict[str, Episodes] | None = None,
    priors: dict[str, tuple[float, float]] | None = None,
    policy: str = "proportional",
) -> Calibration:
    """Fit each state's policy toward its counterpart to the events up to ``until``.

    ``policy`` is the kind of policy fitted (any registered one); ``params`` are the
    names of its parameters to estimate, among those that declare a prior
    (:func:`calibratable`; default: all of them but those in ``fixed``); ``fixed``
    gives policy values for any of its parameters (the others have the policy's
    defaults); ``priors`` replaces prior ranges by name (:func:`prior_boxes`).
    ``record`` replaces the scenario's events as the observed acts; ``history`` gives a
    state's observed episodes directly (a history simulated by the forward model itself,
    to test that calibration recovers the parameters that made it).
    """
    settings = settings or SMCSettings()
    seed = scenario.seed if seed is None else int(seed)
    until = until or scenario.end
    if until < scenario.start:
        raise CalibrationError(f"--until {until} is before the scenario starts ({scenario.start})")
    fixed = dict(fixed or {})
    known = calibratable(policy)
    params = list(params or [p for p in default_params(known) if p not in fixed])
    for name in params:
        if name not in known:
            raise CalibrationError(
                f"cannot calibrate {name}: {_not_calibratable(name, policy, known)}"
            )
    allowed = POLICIES[policy].all_params()
    for name, value in fixed.items():
        if name not in allowed:
            raise CalibrationError(f"--fix {name}: not a parameter of a {policy} policy")
        if allowed[name].check(value)[1] is not None:
            raise CalibrationError(f"--fix {name}={value!r}: expected {allowed[name].describe()}")
    both = sorted(set(params) & set(fixed))
    if both:
        raise CalibrationError(f"{', '.join(both)}: both calibrated and fixed")
    if not params:
        raise CalibrationError("nothing to calibrate: every parameter is fixed")
    boxes = prior_boxes(priors, policy)
    states = list(states or scenario.states)
    for sid in states:
        if sid not in scenario.states:
            raise CalibrationError(f"no state {sid!r} in the scenario")
    history = history or {}
    need_record = record is None and any(sid not in history for sid in states)
    acts = record if record is not None else (record_acts(scenario, until) if need_record else {})
    years = ((until - scenario.start).days + 1) / 365.25
    bounds = np.array([boxes[p].box for p in params])
    fits = {}
    for sid in states:
        other = _pair_of(scenario, sid)
        if sid in history:
            observed_ep = history[sid]
        else:
            observed_ep = record_episodes(
                acts.get((other, sid), []),
                acts.get((sid, other), []),
                window,
                scenario.step_days,
                years,
            )
        names = statistics(params)
        observed = summarise(observed_ep, names)[0]
        raw = _conditional_raw(scenario, until, sid, other, fixed, policy)
        cond = scenario_from_dict(raw, scenario.source)
        simulate = ConditionalReplay(
            cond, sid, other, params, window, settings.batch, seed, priors=boxes, stats=names
        )
        smc = abc_smc(simulate, observed, bounds, settings, seed=_seed_for(seed, sid))
        fits[sid] = StateFit(
            sid, other, params, observed, observed_ep, smc, fixed, simulate, boxes, policy, names
        )
    expulsions: dict[str, list[int]] = {}
    for (actor, _), listed in acts.items():
        sizes = [round(a.size) for a in listed if a.kind == Kind.EXPEL and a.size >= 1]
        expulsions.setdefault(actor, []).extend(sizes)
    return Calibration(
        scenario, until, fits, settings, seed, window, expulsions=expulsions, policy=policy
    )


def _seed_for(seed: int, state: str) -> int:
    return (int(seed) * 1_000_003 + slot("calibrate", state)) % 2**63


class ConditionalReplay:
    """The forward model: the counterpart replays the record, the state follows a policy.

    One run per parameter vector, ``block`` runs stepped together in one model; run ``r``
    draws from ``(seed, r)`` as in any ensemble, so a particle's simulation does not
    depend on the batch it was simulated in.
    """

    def __init__(
        self,
        scenario: Scenario,
        state: str,
        other: str,
        params: list[str],
        window: int,
        block: int,
        seed: int,
        priors: dict[str, PriorBox] | None = None,
        stats: tuple[str, ...] = STAT_NAMES,
    ) -> None:
        self.priors = dict(CALIBRATED) if priors is None else priors
        self.stats = stats
        self.scenario = scenario
        self.state = state
        self.params = params
        self.window = window
        self.block = block
        self.seed = seed
        mine, theirs = _missions(scenario, state, other)
        ids = list(scenario.missions)
        self.obs_m, self.act_m = ids.index(mine), ids.index(theirs)

    def __call__(self, theta: np.ndarray, run_ids: np.ndarray) -> np.ndarray:
        """Summary statistics (n, 5) of the parameter vectors ``theta`` (sampler scale)."""
        out = []
        for start in range(0, len(theta), self.block):
            part = slice(start, start + self.block)
            out.append(summarise(self.episodes(theta[part], run_ids[part]), self.stats))
        return np.concatenate(out) if out else np.empty((0, len(self.stats)))

    def values(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """Per-run policy values by dotted path, on the natural scale."""
        out = {}
        for i, name in enumerate(self.params):
            prior = self.priors[name]
            value = prior.to_natural(theta[:, i])
            if prior.scale == "floor":  # whole numbers (lag, int parameters)
                value = value.astype(np.int64)
            out[f"states.{self.state}.policy.{name}"] = value
        return out

    def episodes(self, theta: np.ndarray, run_ids: np.ndarray) -> Episodes:
        model = EscalationModel(
            self.scenario,
            runs=run_ids,
            seed=self.seed,
            param_values=self.values(theta),
        )
        model.run()
        # The simulated record is read as the history's is: from the event record.
        announced, announced_kind = model.announcements()
        ep = simulated_episodes(
            announced[:, self.obs_m, :],
            announced_kind[:, self.obs_m, 0],
            announced[:, self.act_m, :],
            announced_kind[:, self.act_m, :],
            self.window,
            self.scenario.step_days,
        )
        model.release()
        return ep


def posterior_predictive(fit: StateFit, n: int = 1000, seed: int = 0) -> dict[str, np.ndarray]:
    """Simulate ``n`` histories from the posterior: their statistics, lags and size ratios.

    Runs are numbered from 10**12 so that they are not the sampler's own simulations.
    """
    pop = fit.smc.final
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x99C]))
    theta = pop.theta[rng.choice(len(pop.theta), size=n, p=pop.weights)]
    ids = 10**12 + np.arange(n)
    eps = [
        fit.simulate.episodes(theta[i : i + fit.simulate.block], ids[i : i + fit.simulate.block])
        for i in range(0, n, fit.simulate.block)
    ]
    stats = np.concatenate([summarise(ep, fit.stats) for ep in eps])
    lags = np.concatenate([ep.lag[ep.responded] for ep in eps])
    ratios = np.concatenate([ep.log_ratio[ep.responded] for ep in eps])
    responded = np.concatenate([ep.responded.sum(axis=0) for ep in eps])
    return {"stats": stats, "lags": lags, "log_ratios": ratios, "responded": responded}


# ------------------------------------------------------------------ fitted scenario
def fitted_policy(fit: StateFit, base: dict[str, Any]) -> dict[str, Any]:
    """The fitted policy (``fit.policy``) whose calibrated parameters are distributions.

    Marginal fits to the weighted posterior: beta (by moments) for parameters with a
    linear prior (probabilities and rates, scaled to their prior range), lognormal for
    those with a log prior (the ratio), truncated to the prior's range, the posterior's
    own frequencies for whole numbers (the lag). Every draw from a fitted distribution
    lies in its prior's range, as the posterior does. Correlations between parameters
    are not carried over.
    """
    samples = fit.samples()
    w = samples["weight"].to_numpy()
    policy = {k: v for k, v in base.items() if k in ("notice", "noise", "reciprocate", "ladder")}
    policy["kind"] = fit.policy
    policy.update(fit.fixed)
    for name in fit.params:
        x = samples[name].to_numpy()
        prior = fit.priors[name]
        if prior.scale == "log":
            logs = np.log(x)
            mean = float(np.average(logs, weights=w))
            sd = float(np.sqrt(np.average((logs - mean) ** 2, weights=w)))
            # Truncated to the prior's range (on the log scale): an untruncated fit to a
            # posterior piled against a bound would draw values the prior rules out.
            policy[name] = {
                "dist": "lognormal",
                "median": round(math.exp(mean), 4),
                "sigma": round(max(sd, 1e-3), 4),
                "low": float(prior.low),
                "high": float(prior.high),
            }
        elif prior.scale == "floor":
            values = np.arange(int(prior.low), int(prior.high))
            mass = np.array([w[x == v].sum() for v in values])
            keep = mass > 0.005
            policy[name] = {
                "dist": "choice",
                "values": [int(v) for v in values[keep]],
                "weights": [round(float(m), 4) for m in mass[keep] / mass[keep].sum()],
            }
        else:
            policy[name] = _beta_fit(x, w, prior.low, prior.high)
    return policy


def _beta_fit(x: np.ndarray, w: np.ndarray, low: float, high: float) -> dict[str, Any]:
    u = (x - low) / (high - low)
    m = float(np.average(u, weights=w))
    v = float(np.average((u - m) ** 2, weights=w))
    m = min(max(m, 1e-3), 1 - 1e-3)
    if v <= 0 or v >= m * (1 - m):
        return {"dist": "uniform", "low": low, "high": high}
    common = m * (1 - m) / v - 1
    # Four significant digits: a U-shaped posterior (mass at both ends of the prior) has
    # shapes far below 1, which four decimals would round to 0, an invalid beta.
    out: dict[str, Any] = {
        "dist": "beta",
        "a": float(f"{m * common:.4g}"),
        "b": float(f"{(1 - m) * common:.4g}"),
    }
    if (low, high) != (0.0, 1.0):
        out.update(low=low, high=high)
    return out


def fitted_raw(cal: Calibration) -> dict[str, Any]:
    """The input scenario with fitted policies, cut at ``until`` and forecast from the next day.

    Events after ``until`` are dropped: they are what the fitted scenario forecasts.
    """
    sc = cal.scenario
    raw = _cut_raw(sc, cal.until)
    meta = raw["scenario"]
    forecast = cal.until + dt.timedelta(days=1)
    if forecast <= sc.end:
        meta["forecast_start"] = forecast
    # A replay needs one run; a forecast needs an ensemble.
    meta["runs"] = max(int(meta.get("runs", 1)), 10_000)
    # The policies perceive the acts of the last response window before the forecast
    # (an order three days before it is still to be answered).
    meta["recall_days"] = cal.window * sc.step_days
    for sid, fit in cal.fits.items():
        state = raw["states"][sid]
        base = state.get("policy", {})
        state["policy"] = fitted_policy(fit, base)
        sizes = cal.provocation_size(sid)
        if sizes is not None and "provocation_rate" in fit.params:
            state["policy"]["provocation_size"] = sizes
        state.pop("toward", None)
    meta["description"] = (
        f"{meta.get('description', '')} Policies of {', '.join(cal.fits)} calibrated by "
        f"ABC-SMC on the events up to {cal.until} (sim calibrate, seed {cal.seed})."
    ).strip()
    return raw


# ------------------------------------------------------------------ outputs
def predictive_checks(cal: Calibration, n: int = 1000) -> dict[str, dict[str, Any]]:
    """Posterior predictive draws per state, with the record's values beside them."""
    checks = {}
    for sid, fit in cal.fits.items():
        sims = posterior_predictive(fit, n=n, seed=cal.seed)
        rec = fit.record
        checks[sid] = {
            **sims,
            "obs_lags": rec.lag[rec.responded],
            "obs_log_ratios": rec.log_ratio[rec.responded],
            "obs_responded": int(rec.responded.sum()),
            "episodes": int(rec.responded.shape[0]),
        }
    return checks


def report(cal: Calibration, checks: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """A JSON-ready account of the calibration: settings, record, generations, posterior."""
    out: dict[str, Any] = {
        "scenario": cal.scenario.name,
        "source": cal.scenario.source,
        "until": cal.until.isoformat(),
        "seed": cal.seed,
        "policy": cal.policy,
        "method": "ABC-SMC (population Monte Carlo, Beaumont et al. 2009; adaptive tolerances)",
        "window_steps": cal.window,
        "settings": {
            "particles": cal.settings.particles,
            "generations": cal.settings.generations,
            "quantile": cal.settings.quantile,
            "min_acceptance": cal.settings.min_acceptance,
            "batch": cal.settings.batch,
        },
        "priors": {
            name: {"low": p.low, "high": p.high, "scale": p.scale, "meaning": p.doc}
            for name, p in (
                next(iter(cal.fits.values())).priors if cal.fits else calibratable(cal.policy)
            ).items()
            if not p.opt_in or any(name in fit.params for fit in cal.fits.values())
        },
        "states": {},
    }
    for sid, fit in cal.fits.items():
        rec = fit.record
        entry = {
            "counterpart": fit.counterpart,
            "calibrated": fit.params,
            "fixed": fit.fixed,
            "record": {
                "episodes": int(rec.responded.shape[0]),
                "answered": int(rec.responded.sum()),
                "initiatives": int(rec.initiatives[0]),
                "years": round(rec.years, 3),
            },
            "observed_statistics": dict(zip(fit.stats, _json_floats(fit.observed), strict=True)),
            "statistic_scales": dict(zip(fit.stats, _json_floats(fit.smc.scale), strict=True)),
            "generations": [
                {
                    "tolerance": round(p.tolerance, 6),
                    "acceptance": round(p.acceptance, 6),
                    "simulations": p.simulations,
                    "ess": round(float(1.0 / np.sum(p.weights**2)), 1),
                }
                for p in fit.smc.populations
            ],
            "stopped": fit.smc.stop_reason,
            "posterior": fit.table().drop(columns="state").to_dict(orient="records"),
        }
        if checks and sid in checks:
            stats = checks[sid]["stats"]
            entry["predictive_p_values"] = {
                name: _json_floats([_tail_p(stats[:, j], fit.observed[j])])[0]
                for j, name in enumerate(fit.stats)
            }
        out["states"][sid] = entry
    return out


def _tail_p(simulated: np.ndarray, observed: float) -> float:
    """Two-sided posterior predictive p-value of one statistic (NaN if undefined)."""
    sim = simulated[np.isfinite(simulated)]
    if not len(sim) or not np.isfinite(observed):
        return float("nan")
    below = np.mean(sim <= observed)
    above = np.mean(sim >= observed)
    return float(min(1.0, 2 * min(below, above)))


def _json_floats(values) -> list[float | None]:
    return [None if not np.isfinite(v) else round(float(v), 6) for v in values]


def fitted_toml(cal: Calibration) -> str:
    """The fitted scenario as TOML text, with a header saying where it came from."""
    import tomli_w

    raw = fitted_raw(cal)
    scenario_from_dict(raw, cal.scenario.source)  # never write a scenario that cannot load
    header = (
        f"# Written by `escalation-sim calibrate` from {cal.scenario.source}\n"
        f"# Policies of {', '.join(cal.fits)}: fitted by ABC-SMC (seed {cal.seed}) to the\n"
        f"# events up to {cal.until}; events after that date are dropped, and the forecast\n"
        "# starts the next day. Each calibrated parameter is a distribution fitted to its\n"
        "# marginal posterior (see docs/calibration.md); correlations are not kept.\n"
    )
    return header + tomli_w.dumps(raw)


# ------------------------------------------------------------------ synthetic checks
def synthetic_history(
    scenario: Scenario,
    state: str,
    truth: dict[str, float],
    run: int,
    seed: int,
    window: int = 10,
    policy: str = "proportional",
    fixed: dict[str, Any] | None = None,
    params: list[str] | None = None,
) -> Episodes:
    """The episodes of one history simulated by the forward model with known parameters.

    ``truth`` gives every calibratable parameter of ``policy`` (:func:`calibratable`)
    not in ``fixed``, on its natural scale (a whole number for ``lag``).
    """
    fixed = dict(fixed or {})
    other = _pair_of(scenario, state)
    raw = _conditional_raw(scenario, scenario.end, state, other, fixed, policy)
    cond = scenario_from_dict(raw, scenario.source)
    boxes = calibratable(policy)
    params = list(params or [p for p in default_params(boxes) if p not in fixed])
    replay = ConditionalReplay(
        cond, state, other, params, window, 1, seed, priors=boxes, stats=statistics(params)
    )
    theta = np.array([[boxes[name].to_sampler(truth[name]) for name in params]])
    return replay.episodes(theta, np.array([run]))


def coverage_study(
    scenario: Scenario,
    state: str,
    truth: dict[str, float] | None,
    repetitions: int,
    settings: SMCSettings | None = None,
    policy: str = "proportional",
    fixed: dict[str, Any] | None = None,
    params: list[str] | None = None,
) -> pd.DataFrame:
    """Calibrate ``repetitions`` synthetic histories; per history and parameter, whether
    the 50% and 90% intervals hold the truth.

    With ``truth=None`` each history's parameters are drawn from the prior: averaged
    over the prior, a calibrated posterior's intervals cover the truth at their nominal
    rate, whereas for one fixed truth they need not (a parameter the data barely inform
    has a posterior close to its prior, wherever the truth lies).
    """
    fixed = dict(fixed or {})
    known = calibratable(policy)
    params = list(params or [p for p in default_params(known) if p not in fixed])
    boxes = {n: known[n] for n in params}
    rows = []
    for rep in range(repetitions):
        if truth is None:
            rng = np.random.default_rng(np.random.SeedSequence([0x7207, rep]))
            values = {
                name: float(prior.to_natural(np.array(rng.uniform(*prior.box))))
                for name, prior in boxes.items()
            }
        else:
            values = truth
        history = synthetic_history(
            scenario,
            state,
            values,
            run=rep,
            seed=10_000 + rep,
            policy=policy,
            fixed=fixed,
            params=params,
        )
        fit = calibrate(
            scenario,
            states=[state],
            history={state: history},
            settings=settings,
            seed=rep,
            policy=policy,
            fixed=fixed,
            params=params,
        )
        table = fit.table().set_index("parameter")
        for name, prior in boxes.items():
            value = float(prior.to_natural(np.array(prior.to_sampler(values[name]))))
            row = table.loc[name]
            rows.append(
                {
                    "repetition": rep,
                    "parameter": name,
                    "truth": value,
                    "median": row["median"],
                    "covered_50": bool(row["q25"] <= value <= row["q75"]),
                    "covered_90": bool(row["q05"] <= value <= row["q95"]),
                }
            )
    return pd.DataFrame(rows)
