"""Calibration of one state's policy across several counterparts (dyads).

A state's record with one counterpart is a handful of acts; Russia answered the United
States, the United Kingdom, Poland, Czechia, France, Germany and the 2018 coalition, and
each of those records says something about the same state. This module fits one state's
policy on all of them at once, in two ways (docs/calibration.md, "Across counterparts"):

* **pooled**: one parameter vector for every dyad. ABC-SMC as for one dyad
  (:func:`sim.analysis.calibrate.abc_smc`), with the summary statistics of every dyad side
  by side: a proposal is simulated in each dyad's conditional replay and judged on all.
* **partial** (partially pooled): each dyad has its own parameters, drawn from a
  state-level population, ``u_d ~ N(mu, tau^2)`` truncated to the prior box on the
  sampler's scale, independently per parameter. Fitted in two stages (Lunn, Barrett,
  Sweeting & Richardson 2013, *JRSS C* 62:551): stage one fits every dyad on its own
  under the flat prior (the no-pooling fits, which run in parallel); stage two treats
  each dyad's weighted ABC sample as its likelihood, computes the posterior of
  ``(mu, tau)`` on a grid, and reweights each dyad's sample by the population density
  averaged over the posterior of ``(mu, tau)`` given the other dyads. A dyad with a thin
  record is pulled toward the state's other dyads; a dyad with a clear record keeps it.

Both work for any policy whose parameters declare priors, the mechanisms' opt-in ones
included (instrument choice, restraint floor, saturation). Category weights are not
fitted: they are a scenario's ``[staff_weights]``, one value for every run, and they
define how the record itself is summarised (docs/calibration.md says why that rules out
comparing fits across weights).
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.calibrate import (
    QUANTILES,
    CalibrationError,
    ConditionalReplay,
    Episodes,
    PriorBox,
    SMCResult,
    SMCSettings,
    StateFit,
    _conditional_raw,
    _missions,
    _seed_for,
    abc_smc,
    calibratable,
    default_params,
    prior_boxes,
    record_acts,
    record_episodes,
    statistics,
    summarise,
    weighted_quantiles,
)
from sim.engine.rng import slot
from sim.policies import POLICIES
from sim.scenario import Scenario, scenario_from_dict

__all__ = [
    "POOLING",
    "Dyad",
    "DyadSet",
    "PooledCalibration",
    "calibrate_across",
    "dyads_of",
    "load_dyad_set",
    "two_state",
]

#: How dyads share a state's parameters.
POOLING = ("none", "pooled", "partial")


# ------------------------------------------------------------------ dyads
@dataclass(frozen=True)
class Dyad:
    """One state and one counterpart: a two-state scenario cut from a record."""

    name: str
    scenario: Scenario
    state: str
    counterpart: str


def two_state(scenario: Scenario, a: str, b: str) -> Scenario:
    """The scenario reduced to states ``a`` and ``b``: their missions in each other's
    capital and the events between them (their own measures on those missions too)."""
    raw = copy.deepcopy(scenario.raw)
    raw.setdefault("scenario", {}).pop("events_file", None)
    keep = {a, b}
    raw["states"] = {sid: raw["states"][sid] for sid in raw["states"] if sid in keep}
    for state in raw["states"].values():
        state.pop("toward", None)
    missions = {
        mid: m
        for mid, m in raw.get("missions", {}).items()
        if {m.get("sender"), m.get("host")} == keep
    }
    raw["missions"] = missions
    raw["events"] = [
        ev
        for ev in raw.get("events", [])
        if ev.get("actor") in keep and ev.get("target") in keep and _on(ev.get("mission"), missions)
    ]
    outcomes = raw.get("outcomes")
    if isinstance(outcomes, dict) and "missions" in outcomes:
        outcomes["missions"] = [m for m in outcomes["missions"] if m in missions]
        if not outcomes["missions"]:
            outcomes.pop("missions")
    return scenario_from_dict(raw, scenario.source)


def _on(mission: Any, missions: dict[str, Any]) -> bool:
    """Whether an event's ``mission`` (none, an id or a list of ids) is among ``missions``."""
    if mission in (None, ""):
        return True
    listed = mission if isinstance(mission, list) else [mission]
    return all(m in missions for m in listed)


def dyads_of(
    scenario: Scenario, state: str, exclude: tuple[str, ...] = (), label: str | None = None
) -> list[Dyad]:
    """Every counterpart of ``state`` in ``scenario`` with missions both ways, as dyads,
    named by the counterpart (``label:counterpart`` if a label is given)."""
    if state not in scenario.states:
        raise CalibrationError(f"{scenario.source}: no state {state!r}")
    out = []
    for other in scenario.states:
        if other == state or other in exclude or not _missions(scenario, state, other):
            continue
        name = f"{label}:{other}" if label else other
        out.append(Dyad(name, two_state(scenario, state, other), state, other))
    return out


@dataclass
class DyadSet:
    """The records a state is calibrated on (a dyad-set file)."""

    path: Path
    state: str
    dyads: list[Dyad]


def load_dyad_set(path: str | Path, state: str | None = None) -> DyadSet:
    """Read a dyad-set file: the state, and the scenario files holding its records.

    ``[[records]]`` tables name a ``scenario`` (relative to the file) and, for a
    many-state record, the counterparts to leave out (``exclude``): those whose record is
    in a file of its own.
    """
    import tomllib

    from sim.scenario import ScenarioError, load_scenario

    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise CalibrationError(f"{path}: cannot read the dyad set: {err}") from None
    state = state or raw.get("state")
    if not isinstance(state, str):
        raise CalibrationError(f'{path}: expected `state = "<id>"` (the state calibrated)')
    records = raw.get("records")
    if not isinstance(records, list) or not records:
        raise CalibrationError(f"{path}: expected [[records]] tables, each with a scenario")
    dyads: list[Dyad] = []
    for i, entry in enumerate(records):
        if not isinstance(entry, dict) or not isinstance(entry.get("scenario"), str):
            raise CalibrationError(f'{path}: records.{i}: expected scenario = "<file>"')
        exclude = entry.get("exclude", [])
        if not isinstance(exclude, list) or not all(isinstance(x, str) for x in exclude):
            raise CalibrationError(f"{path}: records.{i}.exclude: expected a list of state ids")
        try:
            scenario = load_scenario(path.parent / entry["scenario"])
        except ScenarioError as err:
            raise CalibrationError(f"{path}: records.{i}: {err}") from None
        dyads.extend(dyads_of(scenario, state, tuple(exclude), entry.get("label")))
    names = [d.name for d in dyads]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise CalibrationError(f"{path}: dyads listed twice: {', '.join(twice)}")
    return DyadSet(path, state, dyads)


# ------------------------------------------------------------------ one dyad's record
@dataclass
class DyadRecord:
    """What the forward model of one dyad needs, and what its record shows."""

    dyad: Dyad
    until: dt.date
    episodes: Episodes
    observed: np.ndarray
    replay: ConditionalReplay
    expulsions: list[int]


def _dyad_record(
    dyad: Dyad,
    until: dt.date,
    params: list[str],
    fixed: dict[str, Any],
    boxes: dict[str, PriorBox],
    window: int,
    block: int,
    seed: int,
    policy: str,
) -> DyadRecord | None:
    """The dyad cut at ``until`` (or its own end), or None if it starts after ``until``."""
    sc = dyad.scenario
    cut = min(until, sc.end)
    if cut < sc.start:
        return None
    acts = record_acts(sc, cut)
    years = ((cut - sc.start).days + 1) / 365.25
    ep = record_episodes(
        acts.get((dyad.counterpart, dyad.state), []),
        acts.get((dyad.state, dyad.counterpart), []),
        window,
        sc.step_days,
        years,
    )
    names = statistics(params)
    raw = _conditional_raw(sc, cut, dyad.state, dyad.counterpart, fixed, policy)
    cond = scenario_from_dict(raw, sc.source)
    replay = ConditionalReplay(
        cond, dyad.state, dyad.counterpart, params, window, block, seed, boxes, names
    )
    from sim.engine.missions import Kind

    sizes = [
        round(a.size)
        for a in acts.get((dyad.state, dyad.counterpart), [])
        if a.kind == Kind.EXPEL and a.size >= 1
    ]
    return DyadRecord(dyad, cut, ep, summarise(ep, names)[0], replay, sizes)


def merge_episodes(parts: list[Episodes]) -> Episodes:
    """The episodes of several dyads as one record: acts and answers side by side,
    initiatives and years added up (the same parameters act in every dyad)."""
    runs = parts[0].responded.shape[1]
    codes = set().union(*(p.used for p in parts))

    def stack(get) -> np.ndarray:
        return np.concatenate([get(p) for p in parts], axis=0)

    def same(p: Episodes) -> np.ndarray:
        if p.log_ratio_same is None:
            return np.full(p.responded.shape, np.nan)
        return p.log_ratio_same

    return Episodes(
        stack(lambda p: p.responded),
        stack(lambda p: p.log_ratio),
        stack(lambda p: p.lag),
        stack(lambda p: p.other_instrument),
        np.sum([p.initiatives for p in parts], axis=0),
        float(sum(p.years for p in parts)),
        stack(lambda p: p.steps),
        stack(same),
        {
            c: stack(lambda p, c=c: p.used.get(c, np.full((len(p.steps), runs), np.nan)))
            for c in codes
        },
    )


class PooledReplay:
    """Every dyad's conditional replay with the same parameter vectors, summarised as one
    record (:func:`merge_episodes`): the share of all acts answered, the mean over all
    answers, initiatives over all years. Side by side, the statistics would grow with
    the dyads, and an ABC tolerance over more statistics is a looser one: pooling more
    dyads would then narrow nothing (tests/test_pooling.py checks that it does)."""

    def __init__(self, records: list[DyadRecord], names: tuple[str, ...]) -> None:
        self.records = records
        self.names = names
        self.block = records[0].replay.block

    def __call__(self, theta: np.ndarray, run_ids: np.ndarray) -> np.ndarray:
        out = []
        for start in range(0, len(theta), self.block):
            part = slice(start, start + self.block)
            eps = [r.replay.episodes(theta[part], run_ids[part]) for r in self.records]
            out.append(summarise(merge_episodes(eps), self.names))
        return np.concatenate(out) if out else np.empty((0, len(self.names)))


# ------------------------------------------------------------------ results
@dataclass
class Hyper:
    """The state-level population of one parameter (partial pooling), on a grid."""

    mu: np.ndarray  # grid of mu (sampler scale)
    tau: np.ndarray  # grid of tau (sampler scale)
    posterior: np.ndarray  # (mu, tau) posterior mass


@dataclass
class PooledCalibration:
    """A state's policy fitted across dyads: per dyad, a :class:`StateFit` whose sample
    is that dyad's posterior (the same sample for every dyad when pooled)."""

    state: str
    pooling: str
    until: dt.date
    params: list[str]
    priors: dict[str, PriorBox]
    fits: dict[str, StateFit]  # by dyad name
    dyads: dict[str, DyadRecord]
    settings: SMCSettings
    seed: int
    policy: str
    hyper: dict[str, Hyper] = field(default_factory=dict)
    state_fit: StateFit | None = None  # pooled: the one fit
    seconds: float = 0.0

    def expulsions(self) -> list[int]:
        return [n for r in self.dyads.values() for n in r.expulsions]

    def table(self) -> pd.DataFrame:
        """Per dyad and parameter (and, when pooled in part, the state's population):
        weighted median, 50% and 90% intervals."""
        rows = []
        if self.pooling == "partial":
            for name in self.params:
                rows.append(self._population_row(name))
        elif self.pooling == "pooled" and self.state_fit is not None:
            rows.extend(self._fit_rows("all (pooled)", self.state_fit))
        for dname, fit in self.fits.items():
            if self.pooling == "pooled":
                continue
            rows.extend(self._fit_rows(dname, fit))
        return pd.DataFrame(rows)

    def _fit_rows(self, dname: str, fit: StateFit) -> list[dict[str, Any]]:
        samples = fit.samples()
        out = []
        for name in self.params:
            q = weighted_quantiles(
                samples[name].to_numpy(), samples["weight"].to_numpy(), QUANTILES
            )
            out.append(_row(self.state, dname, name, q, self.pooling))
        return out

    def _population_row(self, name: str) -> dict[str, Any]:
        """The state-level median of a parameter: the posterior of ``mu``, on the
        natural scale; ``tau`` (the spread between dyads, sampler scale) beside it."""
        h = self.hyper[name]
        prior = self.priors[name]
        mass_mu = h.posterior.sum(axis=1)
        mass_tau = h.posterior.sum(axis=0)
        q = weighted_quantiles(prior.to_natural(h.mu), mass_mu, QUANTILES)
        row = _row(self.state, "state (mu)", name, q, self.pooling)
        tq = weighted_quantiles(h.tau, mass_tau, (0.05, 0.5, 0.95))
        row["tau_q05"], row["tau_median"], row["tau_q95"] = (float(t) for t in tq)
        return row


def _row(state: str, dyad: str, name: str, q: np.ndarray, pooling: str) -> dict[str, Any]:
    return {
        "state": state,
        "dyad": dyad,
        "parameter": name,
        "median": float(q[2]),
        "q05": float(q[0]),
        "q25": float(q[1]),
        "q75": float(q[3]),
        "q95": float(q[4]),
        "pooling": pooling,
    }


# ------------------------------------------------------------------ calibration
def calibrate_across(
    dyads: list[Dyad],
    until: dt.date,
    pooling: str = "partial",
    params: list[str] | None = None,
    fixed: dict[str, Any] | None = None,
    settings: SMCSettings | None = None,
    seed: int = 0,
    window: int = 10,
    priors: dict[str, tuple[float, float]] | None = None,
    policy: str = "proportional",
    workers: int = 1,
    histories: dict[str, Episodes] | None = None,
    scheduler: str | None = None,
) -> PooledCalibration:
    """Fit one state's ``policy`` on the records of ``dyads`` up to ``until``.

    ``pooling``: ``"pooled"`` (one parameter vector), ``"partial"`` (dyad parameters from
    a state population, two-stage) or ``"none"`` (each dyad on its own). ``histories``
    replaces dyads' observed episodes (synthetic records, for recovery checks).
    ``workers`` > 1 fits the dyads of ``partial``/``none`` in that many processes, and
    ``scheduler`` (a Dask scheduler's address) on a Dask cluster; the result depends on
    neither: each dyad's sampler has its own seed.
    """
    import time

    started = time.perf_counter()
    if pooling not in POOLING:
        raise CalibrationError(f"pooling must be one of {', '.join(POOLING)}; got {pooling!r}")
    if not dyads:
        raise CalibrationError("no dyads to calibrate on")
    states = {d.state for d in dyads}
    if len(states) != 1:
        raise CalibrationError(f"dyads of one state only; got {', '.join(sorted(states))}")
    state = dyads[0].state
    settings = settings or SMCSettings()
    fixed = dict(fixed or {})
    known = calibratable(policy)
    params = list(params or [p for p in default_params(known) if p not in fixed])
    for name in params:
        if name not in known:
            raise CalibrationError(f"cannot calibrate {name}: no prior for it in {policy}")
    allowed = POLICIES[policy].all_params()
    for name, value in fixed.items():
        if name not in allowed or allowed[name].check(value)[1] is not None:
            raise CalibrationError(f"--fix {name}={value!r}: not a valid {policy} value")
    boxes = prior_boxes(priors, policy)
    records: dict[str, DyadRecord] = {}
    for d in dyads:
        rec = _dyad_record(d, until, params, fixed, boxes, window, settings.batch, seed, policy)
        if rec is None:
            continue
        if histories and d.name in histories:
            rec.episodes = histories[d.name]
            rec.observed = summarise(rec.episodes, statistics(params))[0]
        records[d.name] = rec
    if not records:
        raise CalibrationError(f"no dyad has a record on or before {until}")
    bounds = np.array([boxes[p].box for p in params])
    names = statistics(params)
    result = PooledCalibration(
        state, pooling, until, params, boxes, {}, records, settings, seed, policy
    )
    if pooling == "pooled":
        simulate = PooledReplay(list(records.values()), names)
        merged = merge_episodes([r.episodes for r in records.values()])
        observed = summarise(merged, names)[0]
        smc = abc_smc(simulate, observed, bounds, settings, seed=_seed_for(seed, state))
        result.state_fit = StateFit(
            state,
            "all",
            params,
            observed,
            merged,
            smc,
            fixed,
            None,
            boxes,
            policy,
            names,
        )
        for dname, rec in records.items():
            result.fits[dname] = replace(
                result.state_fit,
                counterpart=rec.dyad.counterpart,
                record=rec.episodes,
                simulate=rec.replay,
            )
    else:
        jobs = [
            (dname, rec.replay, rec.observed, bounds, settings, _dyad_seed(seed, dname))
            for dname, rec in records.items()
        ]
        smcs = _map(_fit_one, jobs, workers, scheduler)
        for (dname, rec), smc in zip(records.items(), smcs, strict=True):
            result.fits[dname] = StateFit(
                state,
                rec.dyad.counterpart,
                params,
                rec.observed,
                rec.episodes,
                smc,
                fixed,
                rec.replay,
                boxes,
                policy,
                names,
            )
        if pooling == "partial":
            result.hyper = _partial_pooling(result)
    result.seconds = time.perf_counter() - started
    return result


def _dyad_seed(seed: int, dyad: str) -> int:
    return (int(seed) * 1_000_003 + slot("pool", dyad)) % 2**63


#: How long to wait for a Dask scheduler before saying it cannot be reached.
CONNECT_TIMEOUT = "10s"


def _map(fn, jobs: list, workers: int, scheduler: str | None) -> list:
    """``[fn(job) for job in jobs]``, in this process, a process pool or on Dask."""
    if scheduler:
        try:
            from distributed import Client
        except ImportError:
            raise CalibrationError(
                "--scheduler needs dask.distributed: pip install 'escalation-sim[cluster]'"
            ) from None
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT)
        except OSError as exc:
            raise CalibrationError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
        with client:
            return client.gather(client.map(fn, jobs, pure=False))
    if workers <= 1 or len(jobs) <= 1:
        return [fn(job) for job in jobs]
    from sim.analysis.workers import forkserver_context, init_worker, terminate_pool

    # Workers ignore Ctrl-C (the main process stops them, as sweeps do) and end
    # themselves if the main process dies.
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=forkserver_context(),
        initializer=init_worker,
        initargs=(os.getpid(),),
    )
    try:
        out = list(pool.map(fn, jobs))
    except BaseException:
        terminate_pool(pool)
        raise
    pool.shutdown()
    return out


def _fit_one(job) -> SMCResult:
    _, replay, observed, bounds, settings, seed = job
    return abc_smc(replay, observed, bounds, settings, seed=seed)


# ------------------------------------------------------------------ stage two
#: Grid of the population's centre and spread, per parameter (sampler scale).
MU_POINTS = 81
TAU_POINTS = 41
#: tau from 1% to 100% of the prior box's width, log-spaced; half-normal prior on tau
#: with scale half the box (weakly informative: Gelman 2006, *Bayesian Analysis* 1:515).
TAU_RANGE = (0.01, 1.0)
TAU_PRIOR_SCALE = 0.5


def _population_density(u: np.ndarray, mu: np.ndarray, tau: np.ndarray, lo: float, hi: float):
    """N(u; mu, tau) truncated to [lo, hi]: (samples, mu, tau)."""
    from scipy.stats import norm

    z = (u[:, None, None] - mu[None, :, None]) / tau[None, None, :]
    mass = norm.cdf((hi - mu[:, None]) / tau[None, :]) - norm.cdf((lo - mu[:, None]) / tau[None, :])
    return np.exp(-0.5 * z**2) / (math.sqrt(2 * math.pi) * tau[None, None, :]) / mass[None]


def _partial_pooling(result: PooledCalibration) -> dict[str, Hyper]:
    """Stage two (module docstring): the population's posterior per parameter, and each
    dyad's sample reweighted by it (leaving that dyad out of the population it is
    shrunk toward, as the full conditional has it)."""
    hyper: dict[str, Hyper] = {}
    names = list(result.fits)
    # log density of each dyad's sample under each (mu, tau), per parameter
    factors = {dname: np.zeros(len(result.fits[dname].smc.final.weights)) for dname in names}
    for i, name in enumerate(result.params):
        lo, hi = result.priors[name].box
        width = hi - lo
        mu = np.linspace(lo, hi, MU_POINTS)
        tau = width * np.geomspace(*TAU_RANGE, TAU_POINTS)
        log_prior = -0.5 * (tau / (TAU_PRIOR_SCALE * width)) ** 2  # half-normal; mu flat
        log_lik = {}
        dens = {}
        for dname in names:
            pop = result.fits[dname].smc.final
            g = _population_density(pop.theta[:, i], mu, tau, lo, hi)
            dens[dname] = g
            # The ABC sample is the likelihood times the flat prior 1/width.
            lik = np.einsum("s,smt->mt", pop.weights, g) * width
            log_lik[dname] = np.log(np.maximum(lik, 1e-300))
        total = log_prior[None, :] + sum(log_lik.values())
        post = np.exp(total - total.max())
        hyper[name] = Hyper(mu, tau, post / post.sum())
        for dname in names:
            loo = total - log_lik[dname]
            p = np.exp(loo - loo.max())
            p /= p.sum()
            factor = np.einsum("smt,mt->s", dens[dname], p) * width
            factors[dname] += np.log(np.maximum(factor, 1e-300))
    for dname in names:
        fit = result.fits[dname]
        pop = fit.smc.final
        logw = np.log(np.maximum(pop.weights, 1e-300)) + factors[dname]
        w = np.exp(logw - logw.max())
        w /= w.sum()
        shrunk = replace(pop, weights=w)
        fit.smc = SMCResult([*fit.smc.populations[:-1], shrunk], fit.smc.scale, fit.smc.stop_reason)
    return hyper


# ------------------------------------------------------------------ recovery checks
def synthetic_histories(
    dyads: list[Dyad],
    truth: dict[str, float],
    until: dt.date,
    params: list[str],
    run: int,
    seed: int,
    window: int = 10,
    policy: str = "proportional",
    fixed: dict[str, Any] | None = None,
) -> dict[str, Episodes]:
    """One history per dyad, simulated by the forward model with the parameters ``truth``
    (natural scale), each dyad's counterpart replaying its record."""
    boxes = calibratable(policy)
    theta = np.array([[boxes[name].to_sampler(truth[name]) for name in params]])
    out = {}
    for d in dyads:
        rec = _dyad_record(d, until, params, dict(fixed or {}), boxes, window, 1, seed, policy)
        if rec is not None:
            out[d.name] = rec.replay.episodes(theta, np.array([run]))
    return out


def coverage_across(
    dyads: list[Dyad],
    until: dt.date,
    params: list[str],
    repetitions: int,
    settings: SMCSettings | None = None,
    pooling_kind: str = "pooled",
    policy: str = "proportional",
) -> pd.DataFrame:
    """Calibrate ``repetitions`` synthetic sets of records, each made by one parameter
    vector drawn from the prior and shared by every dyad; per repetition and parameter,
    whether the 50% and 90% intervals hold the truth (for ``partial``: the dyads'
    intervals, each of which should cover the shared truth at least as often)."""
    boxes = calibratable(policy)
    rows = []
    for rep in range(repetitions):
        rng = np.random.default_rng(np.random.SeedSequence([0x7208, rep]))
        truth = {
            n: float(boxes[n].to_natural(np.array(rng.uniform(*boxes[n].box)))) for n in params
        }
        histories = synthetic_histories(
            dyads, truth, until, params, run=rep, seed=20_000 + rep, policy=policy
        )
        fit = calibrate_across(
            dyads,
            until,
            pooling=pooling_kind,
            params=params,
            settings=settings,
            seed=rep,
            policy=policy,
            histories=histories,
        )
        table = fit.table()
        table = table[table.dyad != "state (mu)"]
        for row in table.itertuples():
            value = float(
                boxes[row.parameter].to_natural(
                    np.array(boxes[row.parameter].to_sampler(truth[row.parameter]))
                )
            )
            rows.append(
                {
                    "repetition": rep,
                    "dyad": row.dyad,
                    "parameter": row.parameter,
                    "truth": value,
                    "median": row.median,
                    "covered_50": bool(row.q25 <= value <= row.q75),
                    "covered_90": bool(row.q05 <= value <= row.q95),
                }
            )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ outputs
def report(result: PooledCalibration, command: list[str] | None = None) -> dict[str, Any]:
    """A JSON-ready account: settings, each dyad's record and sampler, the posterior."""
    return {
        "state": result.state,
        "pooling": result.pooling,
        "until": result.until.isoformat(),
        "policy": result.policy,
        "params": result.params,
        "seed": result.seed,
        "particles": result.settings.particles,
        "generations": result.settings.generations,
        "seconds": round(result.seconds, 1),
        "priors": {
            name: {"low": b.low, "high": b.high, "scale": b.scale, "meaning": b.doc}
            for name, b in result.priors.items()
            if name in result.params
        },
        "hyperpriors": (
            {
                "mu": "uniform on the prior's box (sampler scale)",
                "tau": f"half-normal, scale {TAU_PRIOR_SCALE} x the box's width, on a grid "
                f"from {TAU_RANGE[0]} to {TAU_RANGE[1]} x the width",
            }
            if result.pooling == "partial"
            else None
        ),
        "dyads": {
            name: {
                "counterpart": rec.dyad.counterpart,
                "until": rec.until.isoformat(),
                "acts_to_answer": int(rec.episodes.responded.shape[0]),
                "answered": int(rec.episodes.responded.sum()),
                "observed": dict(
                    zip(
                        statistics(result.params),
                        [None if not np.isfinite(v) else round(float(v), 6) for v in rec.observed],
                        strict=True,
                    )
                ),
                "effective_sample_size": round(
                    float(1.0 / np.sum(result.fits[name].smc.final.weights ** 2)), 1
                ),
            }
            for name, rec in result.dyads.items()
        },
        "posterior": result.table().to_dict(orient="records"),
        "command": command,
    }


def format_table(result: PooledCalibration) -> str:
    """The posterior as text: per dyad (and the state's population), medians and 90%."""
    lines = [
        f"{result.state}: {result.policy} policy across {len(result.dyads)} dyads, "
        f"{result.pooling} pooling, records to {result.until} ({result.seconds:.0f} s)",
        "",
        f"{'dyad':<18}{'parameter':<26}{'median':>9}{'90% interval':>24}",
    ]
    for row in result.table().itertuples():
        lines.append(
            f"{row.dyad:<18}{row.parameter:<26}{row.median:>9.3g}"
            f"{f'[{row.q05:.3g}, {row.q95:.3g}]':>24}"
        )
    return "\n".join(lines)
