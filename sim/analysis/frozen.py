"""A backtest across dyads, frozen before it is scored (docs/validation.md, part II).

A frozen questions file (``scenarios/backtest/frozen_2022_2023.toml``) names the
calibration (a state calibrated across its dyads, :mod:`sim.analysis.pooling`; each
counterpart on its own record), the windows (information cut-off, forecast period) and
the questions. For each window:

1. **Calibrate** on the record up to the cut-off: the pooled state across every dyad of
   the dyad set, each questioned counterpart on its own dyad.
2. **Forecast** each questioned dyad from the day after the cut-off to the window's end
   (both policies fitted, ``runs`` runs), and, for each act that happened in the window,
   a **conditional forecast**: the record to the cut-off, that act, and the other
   state's fitted policy answering it.
3. **Answer and score**: binary questions with the Brier and log scores, continuous
   targets with the CRPS (:mod:`sim.analysis.scoring`), beside two baselines:

   * ``laplace``: base rates from the record before the cut-off. A binary question's
     probability is (k + 1)/(n + 2) over the n whole past windows of the same length in
     that dyad's record (k: those in which it came true, read from the replayed record
     by the same code that reads a run); "answered within N weeks" counts the
     responder's past acts answered so (pooled over its dyads); a continuous target's
     forecast is the empirical distribution of its past values (a mission's staff: its
     level at the cut-off).
   * ``one_for_one``: "every act is answered one for one with the same instrument within
     three weeks". An act of either side is forecast with the Laplace rate of any act of
     that kind in the dyad, and the answer follows it; an answer's ratio is 1, its lag
     uniform over weeks 0, 1 and 2, a mission's staff stays where it is. Its certainties
     are tempered as the rule of succession tempers them: 1/(n + 2) and (n + 1)/(n + 2).

Resolutions are read from the replayed record (the dyad's CSV) with the same code that
reads a simulated run, so a question means the same thing on both sides.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis import backtest as bt
from sim.analysis import calibrate as cal
from sim.analysis import pooling, scoring
from sim.analysis.runner import check_stop
from sim.engine import instruments
from sim.engine.model import EscalationModel
from sim.scenario import Scenario, scenario_from_dict

__all__ = ["FrozenBacktest", "FrozenSpec", "load_frozen", "run_frozen"]

FORECASTERS = ("model", "laplace", "one_for_one")
BINARY_KINDS = ("event", "level", "answer")
TARGET_KINDS = ("ratio", "lag", "staff")


@dataclass(frozen=True)
class FrozenQuestion:
    """A binary question (``event``, ``level``, ``answer``) or a continuous target
    (``ratio``, ``lag``, ``staff``) about one dyad in one window."""

    id: str
    window: str
    dyad: str
    kind: str
    text: str
    actor: str = "any"
    action: str = "expel"
    min_size: int = 1
    mission: str | None = None
    fraction: float | None = None  # level: below this share of the level at the cut-off
    on: dt.date | None = None
    act_actor: str | None = None  # answer/ratio/lag: the act's state and date
    act_date: dt.date | None = None
    weeks: int | None = None  # answer: within this many weeks


@dataclass
class FrozenSpec:
    path: Path
    state: str
    dyads: Path
    pooling: str
    params: list[str]
    particles: int
    generations: int
    runs: int
    seed: int
    workers: int
    window_steps: int
    windows: list[bt.Window]
    questions: list[FrozenQuestion]


def load_frozen(path: str | Path) -> FrozenSpec:
    """Read a frozen questions file (errors say which field)."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise cal.CalibrationError(f"{path}: cannot read: {err}") from None
    meta = raw.get("backtest")
    if not isinstance(meta, dict):
        raise cal.CalibrationError(f"{path}: expected a [backtest] table")
    try:
        windows = [
            bt.Window(str(w["id"]), w["cutoff"], w["start"], w["end"]) for w in raw["window"]
        ]
    except (KeyError, TypeError):
        raise cal.CalibrationError(
            f"{path}: each [[window]] needs id, cutoff, start, end"
        ) from None
    ids = {w.id for w in windows}
    fields = set(FrozenQuestion.__dataclass_fields__)
    questions = []
    for i, q in enumerate(raw.get("question", [])):
        unknown = sorted(set(q) - fields)
        if unknown:
            raise cal.CalibrationError(f"{path}: question.{i}: unknown fields {unknown}")
        try:
            question = FrozenQuestion(**q)
        except TypeError as err:
            raise cal.CalibrationError(f"{path}: question.{i}: {err}") from None
        if question.window not in ids:
            raise cal.CalibrationError(f"{path}: question.{i}.window: not one of {sorted(ids)}")
        if question.kind not in BINARY_KINDS + TARGET_KINDS:
            raise cal.CalibrationError(f"{path}: question.{i}.kind: {question.kind!r}")
        questions.append(question)
    names = [q.id for q in questions]
    if len(set(names)) != len(names):
        raise cal.CalibrationError(f"{path}: question ids must be unique")
    return FrozenSpec(
        path,
        str(meta["state"]),
        (path.parent / str(meta["dyads"])).resolve(),
        str(meta.get("pooling", "partial")),
        list(meta.get("params", [])),
        int(meta.get("particles", 500)),
        int(meta.get("generations", 6)),
        int(meta.get("runs", 4000)),
        int(meta.get("seed", 0)),
        int(meta.get("workers", 1)),
        int(meta.get("window_steps", 10)),
        windows,
        questions,
    )


# ------------------------------------------------------------------ reading runs
@dataclass
class Runs:
    """What the questions read from a scenario's runs (or from the replayed record)."""

    scenario: Scenario
    announced: np.ndarray  # (steps, missions, runs)
    kinds: np.ndarray
    totals: np.ndarray  # (steps, missions, runs)


def simulate(sc: Scenario, runs: int, seed: int, block: int = 4096) -> Runs:
    parts = []
    for start in range(0, runs, block):
        check_stop()
        ids = np.arange(start, min(start + block, runs))
        model = EscalationModel(sc, runs=ids, seed=seed, keep_trajectories=True)
        model.run()
        announced, kinds = model.announcements()
        parts.append((announced.copy(), kinds.copy(), np.asarray(model.trajectories).copy()))
        model.release()
    return Runs(sc, *(np.concatenate([p[i] for p in parts], axis=2) for i in range(3)))


def replay_record(sc: Scenario) -> Runs:
    """The record itself, every state scripted: one run."""
    raw = cal._history_raw(sc, sc.end)
    for sid in raw["states"]:
        raw["states"][sid]["policy"] = {"kind": "scripted"}
    meta = raw["scenario"]
    meta["runs"] = 1
    return simulate(scenario_from_dict(raw, sc.source), 1, 0)


def _mission(sc: Scenario, sender: str, host: str) -> str:
    for mid, m in sc.missions.items():
        if (m.sender, m.host) == (sender, host):
            return mid
    raise cal.CalibrationError(f"{sc.source}: no mission of {sender} in {host}")


def _as_question(q: FrozenQuestion, start: dt.date, end: dt.date, below: float | None = None):
    return bt.Question(
        id=q.id,
        window=q.window,
        text=q.text,
        kind="level" if q.kind == "level" else "event",
        outcome=False,
        baseline=0.5,
        actor=q.actor,
        action=q.action,
        min_size=q.min_size,
        start=start,
        end=end,
        mission=q.mission,
        below=below,
        on=end if q.kind == "level" else None,
    )


def level_at(runs: Runs, mission: str, on: dt.date) -> np.ndarray:
    """Each run's total staff of ``mission`` after the last step ending on or before ``on``."""
    sc = runs.scenario
    last = min(max(sc.step_of(on + dt.timedelta(days=1)) - 1, 0), runs.totals.shape[0] - 1)
    return runs.totals[last, list(sc.missions).index(mission)].astype(float)


def read_binary(q: FrozenQuestion, runs: Runs, start: dt.date, end: dt.date, level0: float):
    """Per run: yes or no (event and level questions)."""
    below = q.fraction * level0 if q.kind == "level" else None
    question = _as_question(q, start, end, below)
    if q.kind == "level":
        return level_at(runs, q.mission, end) < below
    return bt.answer(question, runs.scenario, runs.announced, runs.kinds, runs.totals)


# ------------------------------------------------------------------ acts and answers
@dataclass(frozen=True)
class Answered:
    """An act and its answer in one run or in the record (window of ``steps``)."""

    answered: np.ndarray  # (runs,) bool
    lag: np.ndarray  # (runs,) whole weeks; NaN if unanswered
    ratio: np.ndarray  # (runs,) answer size / act size; NaN if unanswered


def answers_to(runs: Runs, actor: str, target: str, act_step: int, window: int) -> Answered:
    """How ``target`` answered ``actor``'s act of step ``act_step`` within ``window``."""
    sc = runs.scenario
    on_target = list(sc.missions).index(_mission(sc, target, actor))
    on_actor = list(sc.missions).index(_mission(sc, actor, target))
    act = runs.announced[act_step, on_target].astype(float)
    block = runs.announced[act_step + 1 : act_step + 1 + window, on_actor].astype(float)
    acted = block > 0
    answered = acted.any(axis=0)
    first = np.argmax(acted, axis=0).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(answered & (act > 0), block.sum(axis=0) / act, np.nan)
    return Answered(answered, np.where(answered, first, np.nan), ratio)


def record_answer(
    acts: dict[tuple[str, str], list[cal.Act]],
    actor: str,
    target: str,
    date: dt.date,
    window: int,
    step_days: int,
) -> tuple[bool, float, float]:
    """(answered, lag in weeks, ratio) of the record's act of ``actor`` on ``date``, as
    calibration reads the record (answers dated, lag = whole steps between dates)."""
    ep = cal.record_episodes(
        acts.get((actor, target), []), acts.get((target, actor), []), window, step_days, 1.0
    )
    grouped = sorted({a.date for a in acts.get((actor, target), [])})
    if date not in grouped:
        raise cal.CalibrationError(f"no act of {actor} against {target} on {date} in the record")
    i = grouped.index(date)
    if not ep.responded[i, 0]:
        return False, math.nan, math.nan
    return True, float(ep.lag[i, 0]), float(math.exp(ep.log_ratio[i, 0]))


# ------------------------------------------------------------------ the run
@dataclass
class FrozenBacktest:
    spec: FrozenSpec
    table: pd.DataFrame  # one row per question and forecaster score
    calibrations: dict[str, pooling.PooledCalibration] = field(default_factory=dict)
    counterparts: dict[tuple[str, str], pooling.PooledCalibration] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def scores(self, by: list[str] | None = None) -> pd.DataFrame:
        """Mean scores per group and overall, with paired differences model - baseline."""
        rows = []
        frame = self.table
        for score in ("brier", "log", "crps"):
            part = frame[frame.score == score]
            if part.empty:
                continue
            # CRPS is in the target's own unit (a ratio, weeks, staff): averaged per kind.
            kinds = list(dict.fromkeys(part.kind)) if score == "crps" else [""]
            for kind in kinds:
                chosen = part[part.kind == kind] if kind else part
                table = scoring.score_table(chosen, "model", ["laplace", "one_for_one"], by=by)
                table.insert(0, "kind", kind)
                table.insert(0, "score", score)
                rows.append(table)
        return pd.concat(rows, ignore_index=True)


def _fit(spec: FrozenSpec, dyads, until, pooling_kind, workers):
    settings = cal.SMCSettings(particles=spec.particles, generations=spec.generations)
    return pooling.calibrate_across(
        dyads,
        until,
        pooling=pooling_kind,
        params=spec.params or None,
        settings=settings,
        seed=spec.seed,
        window=spec.window_steps,
        workers=workers,
    )


def _temper(p: float, n: int) -> float:
    """A certainty held as the rule of succession holds one after n cases."""
    lo = 1.0 / (n + 2)
    return min(max(p, lo), 1.0 - lo)


def _past_windows(sc: Scenario, cutoff: dt.date, length: dt.timedelta):
    """Whole windows of ``length`` laid back to back from the cut-off inside the record."""
    out = []
    end = cutoff
    while end - length >= sc.start:
        out.append((end - length + dt.timedelta(days=1), end))
        end = end - length
    return out


def run_frozen(spec: FrozenSpec, runs: int | None = None) -> FrozenBacktest:
    import time

    runs = runs or spec.runs
    dyad_set = pooling.load_dyad_set(spec.dyads, spec.state)
    by_name = {d.name: d for d in dyad_set.dyads}
    rows: list[dict[str, Any]] = []
    result = FrozenBacktest(spec, pd.DataFrame())
    for window in spec.windows:
        mine = [q for q in spec.questions if q.window == window.id]
        if not mine:
            continue
        t0 = time.perf_counter()
        state_cal = _fit(spec, dyad_set.dyads, window.cutoff, spec.pooling, spec.workers)
        result.calibrations[window.id] = state_cal
        result.seconds[f"calibrate_{window.id}"] = time.perf_counter() - t0
        for dname in sorted({q.dyad for q in mine}):
            t1 = time.perf_counter()
            dyad = by_name[dname]
            other = dyad.counterpart
            flipped = pooling.Dyad(dname, dyad.scenario, other, spec.state)
            other_cal = _fit(spec, [flipped], window.cutoff, "none", 1)
            result.counterparts[(window.id, dname)] = other_cal
            rows.extend(
                _score_dyad(
                    spec,
                    window,
                    dyad,
                    state_cal,
                    other_cal,
                    [q for q in mine if q.dyad == dname],
                    runs,
                    dyad_set,
                )
            )
            result.seconds[f"{window.id}:{dname}"] = time.perf_counter() - t1
    result.table = pd.DataFrame(rows)
    return result


def _fitted_scenario(
    spec, window, dyad, state_cal, other_cal, runs: int, horizon: dt.date, extra_events=()
) -> Scenario:
    fits = {spec.state: state_cal.fits[dyad.name], dyad.counterpart: other_cal.fits[dyad.name]}
    expulsions = {spec.state: state_cal.expulsions(), dyad.counterpart: other_cal.expulsions()}
    calibration = cal.Calibration(
        dyad.scenario,
        window.cutoff,
        fits,
        state_cal.settings,
        spec.seed,
        spec.window_steps,
        expulsions=expulsions,
        policy=state_cal.policy,
    )
    raw = cal.fitted_raw(calibration)
    raw["events"] = [*raw["events"], *extra_events]
    meta = raw["scenario"]
    meta.pop("horizon_steps", None)
    meta["horizon"] = horizon
    meta["forecast_start"] = window.start
    meta["runs"] = runs
    return scenario_from_dict(raw, dyad.scenario.source)


def _score_dyad(spec, window, dyad, state_cal, other_cal, questions, runs, dyad_set):
    sc = dyad.scenario
    record = replay_record(sc)
    acts = cal.record_acts(sc, sc.end)
    acts_before = cal.record_acts(sc, window.cutoff)
    length = window.end - window.start + dt.timedelta(days=1)
    past = _past_windows(sc, window.cutoff, length)
    forecast = _fitted_scenario(spec, window, dyad, state_cal, other_cal, runs, window.end)
    sims = simulate(forecast, runs, spec.seed)
    out = []
    for q in questions:
        level0 = 0.0
        if q.kind in ("level", "staff"):
            level0 = float(level_at(record, q.mission, window.cutoff)[0])
        if q.kind in ("event", "level"):
            truth = bool(read_binary(q, record, window.start, window.end, level0)[0])
            yes = int(read_binary(q, sims, window.start, window.end, level0).sum())
            p_model = bt.model_probability(yes, runs)
            hits = []
            for a, b in past:
                base = (
                    float(level_at(record, q.mission, a - dt.timedelta(days=1))[0])
                    if (q.kind == "level")
                    else 0.0
                )
                hits.append(bool(read_binary(q, record, a, b, base)[0]))
            k, n = sum(hits), len(hits)
            p_laplace = scoring.laplace(k, n)
            if q.kind == "event":
                anyone = FrozenQuestion(**{**q.__dict__, "actor": "any"})
                k_any = sum(bool(read_binary(anyone, record, a, b, 0)[0]) for a, b in past)
                p_rule = scoring.laplace(k_any, n)
            else:  # the mission stays where it is
                p_rule = _temper(0.0, n)
            out += _binary_rows(
                q,
                truth,
                {"model": p_model, "laplace": p_laplace, "one_for_one": p_rule},
                f"k={k}/n={n}",
            )
        elif q.kind == "staff":
            truth = float(level_at(record, q.mission, q.on)[0])
            model = level_at(sims, q.mission, q.on)
            out += _crps_rows(
                q,
                truth,
                {
                    "model": scoring.crps_samples(model, truth),
                    "laplace": scoring.crps_point(level0, truth),
                    "one_for_one": scoring.crps_point(level0, truth),
                },
            )
        else:  # answer, ratio, lag: conditional on an act of the window
            out += _conditional(
                spec, window, dyad, state_cal, other_cal, q, acts, acts_before, runs, dyad_set
            )
    return out


def _binary_rows(q, truth: bool, probs: dict[str, float], note: str = "") -> list[dict]:
    rows = []
    for score, fn in (("brier", bt.brier), ("log", bt.log_score)):
        row = _base_row(q, score, float(truth))
        for who, p in probs.items():
            row[who] = fn(p, truth)
            row[f"p_{who}"] = p
        row["note"] = note
        rows.append(row)
    return rows


def _crps_rows(q, truth: float, crps: dict[str, float]) -> list[dict]:
    row = _base_row(q, "crps", truth)
    row.update(crps)
    return [row]


def _base_row(q: FrozenQuestion, score: str, outcome: float) -> dict[str, Any]:
    return {
        "window": q.window,
        "dyad": q.dyad,
        "question": q.id,
        "kind": q.kind,
        "text": q.text,
        "score": score,
        "outcome": outcome,
    }


def _responder_history(dyad_set, spec, responder, actor_of, cutoff, window_steps):
    """The responder's past answers (answered, lag, ratio) before the cut-off, pooled
    over its dyads (the state: all of the set's; a counterpart: its own)."""
    lags, ratios, answered = [], [], []
    for d in dyad_set.dyads:
        if responder == spec.state:
            other = d.counterpart
        elif d.counterpart == responder:
            other = spec.state
        else:
            continue
        acts = cal.record_acts(d.scenario, min(cutoff, d.scenario.end))
        ep = cal.record_episodes(
            acts.get((other, responder), []),
            acts.get((responder, other), []),
            window_steps,
            d.scenario.step_days,
            1.0,
        )
        for i in range(ep.responded.shape[0]):
            answered.append(bool(ep.responded[i, 0]))
            if ep.responded[i, 0]:
                lags.append(float(ep.lag[i, 0]))
                if np.isfinite(ep.log_ratio[i, 0]):
                    ratios.append(float(math.exp(ep.log_ratio[i, 0])))
    return answered, np.array(lags), np.array(ratios)


def _conditional(spec, window, dyad, state_cal, other_cal, q, acts, acts_before, runs, dyad_set):
    sc = dyad.scenario
    actor = q.act_actor
    target = spec.state if actor == dyad.counterpart else dyad.counterpart
    truth_answered, truth_lag, truth_ratio = record_answer(
        acts, actor, target, q.act_date, spec.window_steps, sc.step_days
    )
    # The conditional forecast: the record to the cut-off plus this act's rows.
    rows_of_act = [
        ev
        for ev in sc.raw.get("events", [])
        if ev.get("actor") == actor
        and ev.get("target") == target
        and cal._event_date(ev) == q.act_date
    ]
    horizon = q.act_date + dt.timedelta(days=7 * (spec.window_steps + 2))
    cond = _fitted_scenario(
        spec, window, dyad, state_cal, other_cal, runs, horizon, extra_events=rows_of_act
    )
    # Only the answer is forecast: the act's author does nothing else.
    raw = cond.raw
    raw["states"][actor]["policy"] = {"kind": "scripted"}
    cond = scenario_from_dict(raw, sc.source)
    sims = simulate(cond, runs, spec.seed)
    step = cond.step_of(q.act_date)
    got = answers_to(sims, actor, target, step, spec.window_steps)
    history = _responder_history(dyad_set, spec, target, actor, window.cutoff, spec.window_steps)
    past_answered, past_lags, past_ratios = history
    n = len(past_answered)
    if q.kind == "answer":
        weeks = q.weeks or 3
        truth = bool(truth_answered and truth_lag < weeks)
        yes = int((got.answered & (got.lag < weeks)).sum())
        k = int(sum(lag < weeks for lag in past_lags))
        rule = min(weeks, 3) / 3.0
        return _binary_rows(
            q,
            truth,
            {
                "model": bt.model_probability(yes, runs),
                "laplace": scoring.laplace(k, n),
                "one_for_one": _temper(rule, n),
            },
            f"k={k}/n={n}",
        )
    # No answer within the window reads as a ratio of 0 and a lag of the whole window
    # (censored), in the record, in the runs and in the past alike.
    censored = float(spec.window_steps)
    if q.kind == "ratio":
        truth = truth_ratio if truth_answered and math.isfinite(truth_ratio) else 0.0
        model = np.where(np.isfinite(got.ratio), got.ratio, 0.0)
        past = np.concatenate([past_ratios, np.zeros(n - len(past_lags))])
    else:
        truth = truth_lag if truth_answered else censored
        model = np.where(np.isfinite(got.lag), got.lag, censored)
        past = np.concatenate([past_lags, np.full(n - len(past_lags), censored)])
    model_crps = scoring.crps_samples(model, truth)
    laplace = scoring.crps_samples(past, truth) if len(past) else scoring.crps_point(1.0, truth)
    if q.kind == "ratio":
        rule = scoring.crps_point(1.0, truth)
    else:
        rule = scoring.crps_discrete(np.array([0.0, 1.0, 2.0]), np.full(3, 1 / 3), truth)
    return _crps_rows(q, truth, {"model": model_crps, "laplace": laplace, "one_for_one": rule})


# ------------------------------------------------------------------ drafting the questions
#: The binary questions asked of every dyad and window (and the staff targets).
TEMPLATES = (
    ("russia_expels", "event", "{state} expels staff of {other}'s mission", "state", "expel", 1),
    ("other_expels", "event", "{other} expels staff of {state}'s mission", "other", "expel", 1),
    ("expel_10", "event", "either side expels 10 or more at once", "any", "expel", 10),
    ("consulate", "event", "either side orders a consulate closed", "any", "close_consulate", 1),
    ("cap", "event", "either side caps the other's mission", "any", "cap", 1),
    ("closed", "event", "either mission is suspended or emptied", "any", "suspend", 1),
)


def draft_questions(dyad_set: pooling.DyadSet, dyads: list[str], windows: list[bt.Window]):
    """The question tables of a frozen file, drafted from templates and the record's acts
    (written once into the file, then frozen; kept here so that the file is reproducible).
    """
    out: list[dict[str, Any]] = []
    by_name = {d.name: d for d in dyad_set.dyads}
    state = dyad_set.state
    for w in windows:
        for dname in dyads:
            d = by_name[dname]
            sc = d.scenario
            names = {"state": sc.states[state].name, "other": sc.states[d.counterpart].name}
            for key, kind, text, who, action, size in TEMPLATES:
                actor = {"state": state, "other": d.counterpart, "any": "any"}[who]
                out.append(
                    {
                        "id": f"{w.id}_{dname}_{key}",
                        "window": w.id,
                        "dyad": dname,
                        "kind": kind,
                        "text": text.format(**names) + f", {w.start} to {w.end}",
                        "actor": actor,
                        "action": action,
                        "min_size": size,
                    }
                )
            theirs = _mission(sc, d.counterpart, state)
            mine = _mission(sc, state, d.counterpart)
            out.append(
                {
                    "id": f"{w.id}_{dname}_level_90",
                    "window": w.id,
                    "dyad": dname,
                    "kind": "level",
                    "text": f"{names['other']}'s mission in {names['state']} below 90% of its "
                    f"level on {w.cutoff} by {w.end}",
                    "mission": theirs,
                    "fraction": 0.9,
                }
            )
            for mission in (theirs, mine):
                out.append(
                    {
                        "id": f"{w.id}_{dname}_staff_{mission}",
                        "window": w.id,
                        "dyad": dname,
                        "kind": "staff",
                        "text": f"staff of {mission} on {w.end}",
                        "mission": mission,
                        "on": w.end,
                    }
                )
            acts = cal.record_acts(sc, sc.end)
            for actor, target in ((d.counterpart, state), (state, d.counterpart)):
                for act in acts.get((actor, target), []):
                    if not w.start <= act.date <= w.end:
                        continue
                    who = sc.states[actor].name
                    label = instruments.label(act.kind)
                    base = {
                        "window": w.id,
                        "dyad": dname,
                        "act_actor": actor,
                        "act_date": act.date,
                    }
                    stem = f"{w.id}_{dname}_{actor}_{act.date:%Y%m%d}"
                    what = f"{who}'s {label} of {act.date} ({act.size:g} staff-equivalents)"
                    out.append(
                        {
                            **base,
                            "id": f"{stem}_answer_3w",
                            "kind": "answer",
                            "weeks": 3,
                            "text": f"{what} answered within 3 weeks",
                        }
                    )
                    out.append(
                        {
                            **base,
                            "id": f"{stem}_ratio",
                            "kind": "ratio",
                            "text": f"size of the answer to {what}, relative to it",
                        }
                    )
                    out.append(
                        {
                            **base,
                            "id": f"{stem}_lag",
                            "kind": "lag",
                            "text": f"weeks until the answer to {what}",
                        }
                    )
    return out


# ------------------------------------------------------------------ outputs
def is_frozen(path: str | Path) -> bool:
    """Whether a questions file is a frozen one (it has a ``[backtest]`` table)."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return isinstance(raw.get("backtest"), dict)


def posterior_table(result: FrozenBacktest) -> pd.DataFrame:
    """Every calibrated parameter with its intervals: the state per dyad (and its
    population), each counterpart on its own dyad, per window."""
    parts = []
    for wid, pooled in result.calibrations.items():
        parts.append(pooled.table().assign(window=wid))
    for (wid, _), other in result.counterparts.items():
        parts.append(other.table().assign(window=wid))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def report(result: FrozenBacktest, command: list[str]) -> dict[str, Any]:
    spec = result.spec
    return {
        "questions_file": str(spec.path),
        "state": spec.state,
        "pooling": spec.pooling,
        "params": spec.params,
        "particles": spec.particles,
        "generations": spec.generations,
        "runs": spec.runs,
        "seed": spec.seed,
        "seconds": {k: round(v, 1) for k, v in result.seconds.items()},
        "scores": result.scores(by=["window"]).to_dict(orient="records"),
        "command": command,
    }


def format_scores(scores: pd.DataFrame, result: FrozenBacktest) -> str:
    """The mean scores per window, with paired differences (SE): a text table."""
    lines = [
        f"frozen backtest {result.spec.path.name}: {result.spec.runs:,} runs, "
        f"{result.spec.particles} particles; lower is better; difference = model - baseline",
        "",
        f"{'score':<6}{'kind':<7}{'window':<8}{'n':>4}{'model':>9}{'laplace':>9}"
        f"{'one-for-one':>12}{'vs laplace (SE)':>20}{'vs one-for-one (SE)':>22}",
    ]
    for row in scores.itertuples():
        kind = row.kind
        lines.append(
            f"{row.score:<6}{kind:<7}{row.window:<8}{row.n:>4}{row.mean_model:>9.3f}"
            f"{row.mean_laplace:>9.3f}{row.mean_one_for_one:>12.3f}"
            f"{f'{row.diff_laplace:+.3f} ({row.se_laplace:.3f})':>20}"
            f"{f'{row.diff_one_for_one:+.3f} ({row.se_one_for_one:.3f})':>22}"
        )
    return "\n".join(lines)
