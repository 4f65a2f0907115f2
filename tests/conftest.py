"""Helpers shared by the engine tests: scenarios from Python dicts, runs, per-step records.

Scenarios are built with :func:`sim.scenario.scenario_from_dict`, exactly as the TOML
loader does, so every test goes through the same validation as a scenario file. Dates
are ``datetime.date``; events are given by step (``ev(3, "a", "b", "expel", size=2)``)
and turned into dates on the weekly grid starting at :data:`START`.

The helpers are plain functions (import them with ``from conftest import ...``); there
are no autouse fixtures, so other test modules are unaffected.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from sim.analysis.runner import Ensemble, run_ensemble
from sim.engine.model import EscalationModel
from sim.engine.rng import RunStreams, slot
from sim.scenario import Scenario, scenario_from_dict

#: Cases run by tests/test_fuzz.py, reported at the end of the session.
FUZZ = {"cases": 0}


def pytest_terminal_summary(terminalreporter) -> None:
    if FUZZ["cases"]:
        terminalreporter.write_line(f"fuzz: {FUZZ['cases']:,} cases ran")


#: The test files, longest first (approximate seconds on one core, measured 2026-11-30).
#: CI runs ``--dist loadfile --no-loadscope-reorder``: each worker takes the next file in
#: this order, so the long files start first and the two workers finish together (xdist's
#: default order, by number of tests, started the notebooks last). Only the order matters;
#: a file not listed (a new one) goes before all of these, in case it is long.
LONGEST_FIRST = [
    *("test_fuzz.py", "test_notebooks.py", "test_hardening.py", "test_calibrate.py"),  # > 100
    *("test_pooling.py", "test_oracles.py", "test_sweep.py", "test_invariants.py"),  # 35-100
    *("test_story.py", "test_backtest.py", "test_shipped_scenarios.py", "test_frozen.py"),
    *("test_distributions.py", "test_api.py", "test_cli.py", "test_outcome_classes.py"),
    *("test_golden.py", "test_plots.py", "test_event_record.py", "test_explore.py"),  # 15
    *("test_mechanism_effects.py", "test_plugins.py", "test_instrument_plugin.py"),
    *("test_rng.py", "test_event_mechanisms.py", "test_readme.py", "test_architecture.py"),
    *("test_whatif_events.py", "test_model.py", "test_policy_suite.py"),
    *("test_fitted_support.py", "test_outcome_plugin.py", "test_runner.py"),
    *("test_policy_mechanisms.py", "test_policies.py", "test_staff_categories.py"),
    *("test_ablation.py", "test_scoring.py", "test_scenario.py", "test_instrument_suite.py"),
    "test_outcomes.py",  # < 1
]


def pytest_collection_modifyitems(items) -> None:
    """Files in the order of LONGEST_FIRST; the tests of a file keep their order."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, -1))


#: A Friday; every test scenario starts here with one-week steps.
START = dt.date(2021, 1, 1)
STEP_DAYS = 7


def day(step: int, offset: int = 0) -> dt.date:
    """The first day of ``step`` (plus ``offset`` days) on the test grid."""
    return START + dt.timedelta(days=step * STEP_DAYS + offset)


def ev(
    step: int,
    actor: str,
    target: str,
    kind: str,
    *,
    deadline: int | None = None,
    mission: list[str] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """An ``[[events]]`` table announced in ``step``; ``deadline`` is a step too."""
    out: dict[str, Any] = {
        "date": day(step),
        "actor": actor,
        "target": target,
        "kind": kind,
        "source": "[test]",
    }
    if deadline is not None:
        out["deadline"] = day(deadline)
    if mission is not None:
        out["mission"] = mission
    out.update(fields)
    return out


def mission(sender: str, host: str, diplomats: int, **fields: Any) -> dict[str, Any]:
    return {"sender": sender, "host": host, "diplomats": diplomats, **fields}


def scenario(
    states: dict[str, dict[str, Any]],
    missions: dict[str, dict[str, Any]],
    events: list[dict[str, Any]] | None = None,
    outcomes: dict[str, Any] | None = None,
    *,
    horizon_steps: int = 20,
    runs: int = 1,
    seed: int = 0,
    forecast_step: int | None = None,
) -> Scenario:
    """Any scenario from Python dicts (validated by the real scenario parser)."""
    meta: dict[str, Any] = {
        "name": "test",
        "start": START,
        "step_days": STEP_DAYS,
        "horizon_steps": horizon_steps,
        "runs": runs,
        "seed": seed,
    }
    if forecast_step is not None:
        meta["forecast_start"] = day(forecast_step)
    raw: dict[str, Any] = {"scenario": meta, "states": states, "missions": missions}
    if events:
        raw["events"] = events
    if outcomes is not None:
        raw["outcomes"] = outcomes
    return scenario_from_dict(raw, "<test>")


def two_state(
    policy_a: dict[str, Any] | None = None,
    policy_b: dict[str, Any] | None = None,
    *,
    a_in_b: int | dict[str, Any] = 100,
    b_in_a: int | dict[str, Any] = 100,
    events: list[dict[str, Any]] | None = None,
    outcomes: dict[str, Any] | None = None,
    horizon_steps: int = 20,
    runs: int = 1,
    seed: int = 0,
    toward_a: dict[str, Any] | None = None,
    toward_b: dict[str, Any] | None = None,
    forecast_step: int | None = None,
) -> Scenario:
    """States ``a`` and ``b`` with missions ``a_in_b`` and ``b_in_a``.

    A mission is given as a number of diplomats or as a table of mission fields.
    Policies default to ``scripted``.
    """

    def mission_of(sender: str, host: str, spec: int | dict[str, Any]) -> dict[str, Any]:
        if isinstance(spec, int):
            return mission(sender, host, spec)
        return {"sender": sender, "host": host, **spec}

    states: dict[str, dict[str, Any]] = {
        "a": {"policy": policy_a or {"kind": "scripted"}},
        "b": {"policy": policy_b or {"kind": "scripted"}},
    }
    if toward_a:
        states["a"]["toward"] = toward_a
    if toward_b:
        states["b"]["toward"] = toward_b
    return scenario(
        states,
        {"a_in_b": mission_of("a", "b", a_in_b), "b_in_a": mission_of("b", "a", b_in_a)},
        events,
        outcomes,
        horizon_steps=horizon_steps,
        runs=runs,
        seed=seed,
        forecast_step=forecast_step,
    )


def run(sc: Scenario, runs: int | None = None, seed: int | None = None, **kw: Any) -> Ensemble:
    """An ensemble with trajectories kept."""
    return run_ensemble(sc, runs, seed, keep_trajectories=True, **kw)


def staff(ens: Ensemble, mission_id: str, run_index: int = 0) -> list[int]:
    """Total staff of one mission after each step, in one run."""
    i = ens.mission_ids.index(mission_id)
    return [int(v) for v in ens.trajectories[:, i, run_index]]


class Recorder:
    """Steps a model and records, per step, what was announced on each mission.

    ``size[t, m, r]`` is the hostile size announced on mission ``m`` in step ``t``
    (staff-equivalents), ``kind`` its instrument, ``concil`` the conciliatory size,
    ``total`` the mission totals after the step.
    """

    def __init__(self, sc: Scenario, runs: np.ndarray | None = None, seed: int | None = None):
        self.model = EscalationModel(sc, runs=runs, seed=seed, keep_trajectories=True)
        self.mission_ids = self.model.mission_ids
        sizes, kinds, concils, totals, caps = [], [], [], [], []
        while self.model.running:
            self.model.step()
            # After step() the model has swapped buffers: `last` holds this step's announcements.
            sizes.append(self.model.last.size.copy())
            kinds.append(self.model.last.kind.copy())
            concils.append(self.model.last.concil.copy())
            totals.append(self.model.missions.totals().copy())
            caps.append(self.model.missions.cap.copy())
        self.size = np.array(sizes)
        self.kind = np.array(kinds)
        self.concil = np.array(concils)
        self.total = np.array(totals)
        self.cap = np.array(caps)
        self.result = self.model.result()

    def m(self, mission_id: str) -> int:
        return self.mission_ids.index(mission_id)


def path(start: int, changes: dict[int, int], n_steps: int) -> list[int]:
    """A staff series: ``start``, changed by ``changes[k]`` in step k (cumulative)."""
    out, level = [], start
    for k in range(n_steps):
        level += changes.get(k, 0)
        out.append(level)
    return out


def uniforms(seed: int, runs: np.ndarray | int, step: int, *name: object) -> np.ndarray:
    """The uniforms the engine draws for a named decision (e.g. ``"respond", "b", "a"``)."""
    ids = np.arange(runs) if isinstance(runs, int) else np.asarray(runs)
    return RunStreams(seed, ids).uniform(step, slot(*name))


def bernoulli_p(rate_per_year: float, step_days: int = STEP_DAYS) -> float:
    """Per-step probability of an exogenous act with the given yearly rate (SPEC)."""
    return 1.0 - np.exp(-rate_per_year * step_days / 365.25)


def rate_for(p: float, step_days: int = STEP_DAYS) -> float:
    """The yearly rate whose per-step Bernoulli probability is ``p``."""
    return float(-np.log1p(-p) * 365.25 / step_days)
