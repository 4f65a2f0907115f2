"""Outcome classes that hold at the horizon, over every shipped scenario and generated ones.

The invariants (sim/outcome_classes.py):
* spiral is absorbing: P(spiral) is the share of runs in which a watched mission was at
  or below the closure threshold (or suspended, which leaves it at zero) at any
  forecast step, dated at the first such step;
* no run classified as de-escalation has a watched mission at or below the threshold at
  any forecast step, nor a hostile measure announced after the step it calmed;
* a relapse is dated at a hostile measure announced after a calm;
* the cumulative incidence curves end at the horizon table's numbers.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import matplotlib.colors
import numpy as np
import pytest
from conftest import ev, two_state
from hypothesis import given
from test_invariants import PROPERTY, scenarios

from sim.analysis.outcomes import cumulative_incidence, outcome_table
from sim.analysis.runner import run_ensemble
from sim.outcome_classes import (
    DE_ESCALATION,
    DEFAULT_CLASSES,
    DISPLAY_ORDER,
    OUTCOME_CLASSES,
    OUTCOMES,
    RELAPSE,
    SPIRAL,
    TIMED_OUTCOMES,
    UNRESOLVED,
    OutcomeClass,
    OutcomeError,
    OutcomeTracker,
    check_outcome_classes,
    outcome_class,
    outcome_names,
    register_outcome,
    registered_outcomes,
)
from sim.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
PLUGINS = Path(__file__).resolve().parent / "plugins"
SHIPPED = sorted(p.name for p in SCENARIOS.glob("*.toml"))
HOSTILE = {"expel", "cap", "ban_local_hires", "close_consulate", "visa_denial", "suspend"}


def check_outcome_invariants(ens) -> None:
    sc = ens.scenario
    traj = ens.trajectories  # (steps, missions, runs)
    first = sc.forecast_step
    watched = [list(sc.missions).index(m) for m in sc.outcomes.missions]
    threshold = sc.outcomes.closure_threshold
    if watched:
        shut = (traj[first:, watched, :] <= threshold).any(axis=1)  # (forecast steps, runs)
    else:
        shut = np.zeros((sc.n_steps - first, ens.n_runs), dtype=bool)
    reached = shut.any(axis=0)
    first_shut = np.where(reached, first + np.argmax(shut, axis=0), -1)

    spiral = ens.outcome == SPIRAL
    # Spiral is exactly "closed at some forecast step", dated at the first such step.
    np.testing.assert_array_equal(spiral, reached)
    np.testing.assert_array_equal(ens.outcome_step[spiral], first_shut[spiral])
    # No other class has a closed watched mission at any forecast step.
    assert not reached[~spiral].any()

    # De-escalation: no hostile measure announced after the calm; relapse: one at its step.
    events = ens.events
    # What the engine counts as a hostile act: one that bites (size > 0), or any act of
    # the history (dated before the forecast start).
    before = events["date"] < np.datetime64(sc.forecast_start)
    hostile = events[
        events["instrument"].isin(HOSTILE)
        & ~events["own"]
        & ~events["cause"].isin(["departure", "standing"])  # effects, not announcements
        & ((events["size"] > 0) | ((events["cause"] == "event") & before))
    ]
    last_hostile = hostile.groupby("run")["step"].max()
    last = np.full(ens.n_runs, -1)
    idx = np.searchsorted(ens.run_ids, last_hostile.index.to_numpy())
    last[idx] = last_hostile.to_numpy()
    calm = ens.outcome == DE_ESCALATION
    assert (last[calm] <= ens.outcome_step[calm]).all()
    relapse = ens.outcome == RELAPSE
    announced = set(zip(hostile["run"], hostile["step"], strict=True))
    for run, step in zip(ens.run_ids[relapse], ens.outcome_step[relapse], strict=True):
        assert (run, step) in announced
    assert (ens.outcome_step[ens.outcome == UNRESOLVED] == -1).all()
    assert (ens.outcome_step[ens.outcome != UNRESOLVED] >= first).all()

    # The cumulative incidence curves end at the horizon's shares.
    n_forecast = sc.n_steps - first
    cif = cumulative_incidence(ens.outcome, ens.outcome_step, first, n_forecast)
    table = outcome_table(ens.outcome)
    for name in TIMED_OUTCOMES:
        assert cif[name][-1] == pytest.approx(table[name]["p"], abs=1e-12)
    assert sum(o["p"] for o in table.values()) == pytest.approx(1.0)


@pytest.mark.parametrize("name", SHIPPED)
def test_outcome_invariants_hold_for_every_shipped_scenario(name):
    sc = load_scenario(SCENARIOS / name)
    ens = run_ensemble(sc, 400, keep_trajectories=True, keep_events=True)
    check_outcome_invariants(ens)


@PROPERTY
@given(scenarios())
def test_outcome_invariants_hold_for_generated_scenarios(sc):
    ens = run_ensemble(sc, keep_trajectories=True, keep_events=True)
    check_outcome_invariants(ens)


def test_the_main_scenario_has_no_de_escalation_that_ends_closed():
    """Finding 1 of the outcomes issue: 1,911 'de-escalations' ended with the US mission
    at or below 65. With the classes that hold at the horizon, none does, and P(spiral)
    is the share of runs whose US mission is at or below 65 at the horizon (staff never
    comes back above the threshold in this scenario)."""
    sc = load_scenario(SCENARIOS / "us_russia_2021.toml")
    ens = run_ensemble(sc, 2000, keep_trajectories=True)
    us = list(sc.missions).index("us_in_russia")
    final = ens.trajectories[-1, us, :]
    calm = ens.outcome == DE_ESCALATION
    assert (final[calm] > sc.outcomes.closure_threshold).all()
    closed_at_horizon = (final <= sc.outcomes.closure_threshold).mean()
    assert (ens.outcome == SPIRAL).mean() >= closed_at_horizon


def calm_then_flare(flare_step: int | None):
    """a expels 3 of b's staff at step 1; b answers nothing (scripted); an optional second
    expulsion at ``flare_step``; quiet period 4 steps."""
    events = [ev(1, "a", "b", "expel", size=3, deadline=2)]
    if flare_step is not None:
        events.append(ev(flare_step, "a", "b", "expel", size=2, deadline=flare_step + 1))
    return two_state(
        events=events,
        outcomes={"closure_threshold": 0, "quiet": True, "quiet_steps": 4},
        horizon_steps=20,
    )


def test_a_calm_held_to_the_horizon_is_de_escalation_dated_when_reached():
    ens = run_ensemble(calm_then_flare(None), 1)
    assert OUTCOMES[ens.outcome[0]] == "de_escalation"
    assert ens.outcome_step[0] == 5  # last hostile act at step 1, quiet for 4 steps


def test_a_calm_followed_by_a_new_measure_is_a_relapse_dated_at_the_measure():
    ens = run_ensemble(calm_then_flare(12), 1)
    assert OUTCOMES[ens.outcome[0]] == "relapse"
    assert ens.outcome_step[0] == 12


def test_a_measure_before_the_calm_is_not_a_relapse():
    ens = run_ensemble(calm_then_flare(4), 1)  # quiet from step 4: calm at step 8
    assert OUTCOMES[ens.outcome[0]] == "de_escalation"
    assert ens.outcome_step[0] == 8


def test_a_closure_after_a_calm_is_a_spiral_at_the_closure():
    sc = two_state(
        events=[
            ev(1, "a", "b", "expel", size=3, deadline=2),
            ev(12, "a", "b", "expel", size=97, deadline=14),
        ],
        outcomes={"closure_threshold": 0, "quiet": True, "quiet_steps": 4},
        horizon_steps=20,
    )
    ens = run_ensemble(sc, 1)
    assert OUTCOMES[ens.outcome[0]] == "spiral"
    assert ens.outcome_step[0] == 14


def test_the_built_ins_keep_their_codes_and_display_order():
    assert OUTCOMES == tuple(c.name for c in OUTCOME_CLASSES)
    assert OUTCOMES == ("unresolved", "spiral", "de_escalation", "relapse")
    assert (UNRESOLVED, SPIRAL, DE_ESCALATION, RELAPSE) == (0, 1, 2, 3)
    assert outcome_names() == OUTCOMES == outcome_names(DEFAULT_CLASSES)
    assert [c.name for c in DISPLAY_ORDER] == ["de_escalation", "relapse", "spiral", "unresolved"]
    assert [c.name for c in OUTCOME_CLASSES if not c.timed] == ["unresolved"]
    with pytest.raises(ValueError, match="unknown outcome 'closed'; the outcomes are"):
        outcome_class("closed")


# ------------------------------------------------ every registered outcome class
@pytest.fixture(scope="module")
def every_class():
    """Every registered class (the example plugin's too), tracked in one ensemble."""
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(PLUGINS))
        importlib.import_module("example_outcome")
    registered = registered_outcomes()
    assert "halved" in {c.name for c in registered}
    sc = load_scenario(SCENARIOS / "us_russia_2021.toml").with_overrides(
        {"outcomes.closure_threshold": 30}
    )
    sc.outcomes.classes = [c.name for c in registered if c.timed]
    return registered, run_ensemble(sc, 400, keep_trajectories=True)


def test_every_registered_class_has_a_complete_and_distinct_style(every_class):
    registered, _ = every_class
    for attr in ("label", "color", "linestyle", "marker", "hatch", "precedence"):
        values = [str(getattr(c, attr)) for c in registered]
        assert all(values), attr
        assert len(set(values)) == len(values), attr
    for c in registered:
        assert matplotlib.colors.is_color_like(c.color)
        assert c.description and c.name == c.name.lower()
        assert c.timed == (c.name != "unresolved")
        assert all(outcome_class(r).timed for r in c.requires)


def test_classification_partitions_the_runs_by_highest_precedence(every_class):
    registered, ens = every_class
    names = ens.outcome_names
    assert set(names) == {c.name for c in registered}
    assert names[0] == "unresolved" and list(names[1:4]) == ["spiral", "de_escalation", "relapse"]
    counts = np.bincount(ens.outcome, minlength=len(names))
    assert len(counts) == len(names) and counts.sum() == ens.n_runs
    assert (counts[1:] > 0).all(), dict(zip(names, counts, strict=True))
    table = ens.summary()["outcomes"]
    assert [table[n]["count"] for n in names] == counts.tolist()


def test_every_class_is_dated_within_the_forecast(every_class):
    _, ens = every_class
    sc = ens.scenario
    for code, name in enumerate(ens.outcome_names):
        steps = ens.outcome_step[ens.outcome == code]
        if outcome_class(name).timed:
            assert ((steps >= sc.forecast_step) & (steps < sc.n_steps)).all(), name
        else:
            assert (steps == -1).all()


def test_every_cumulative_incidence_ends_at_the_horizon_table(every_class):
    _, ens = every_class
    sc = ens.scenario
    n_forecast = sc.n_steps - sc.forecast_step
    cif = cumulative_incidence(
        ens.outcome, ens.outcome_step, sc.forecast_step, n_forecast, ens.outcome_names
    )
    table = outcome_table(ens.outcome, ens.outcome_names)
    assert set(cif) == {n for n in ens.outcome_names if n != "unresolved"}
    for name, curve in cif.items():
        assert len(curve) == n_forecast
        assert (np.diff(curve) >= 0).all()
        assert curve[-1] == pytest.approx(table[name]["p"], abs=1e-12)


def test_the_engine_tracks_only_the_chosen_classes():
    sc = calm_then_flare(12)
    sc.outcomes.classes = ["spiral"]
    ens = run_ensemble(sc, 1)
    assert ens.outcome_names == ("unresolved", "spiral")
    assert ens.outcome.tolist() == [0] and ens.calm_step.tolist() == [-1]
    sc.outcomes.classes = ["spiral", "de_escalation"]  # a calm, not judged again
    ens = run_ensemble(sc, 1)
    assert ens.outcome_names[ens.outcome[0]] == "de_escalation"
    assert ens.outcome_step.tolist() == ens.calm_step.tolist() == [5]


# ------------------------------------------------------- [outcomes] classes
def test_check_outcome_classes():
    assert check_outcome_classes(None, "outcomes.classes") == (list(DEFAULT_CLASSES), [])
    names, problems = check_outcome_classes(
        ["spiral", "unresolved", "de_escalation"], "outcomes.classes"
    )
    assert names == ["spiral", "de_escalation"] and problems == []
    _, problems = check_outcome_classes(["spirall", 3, "spiral", "spiral"], "outcomes.classes")
    assert [p for p, _ in problems] == [
        "outcomes.classes.0",
        "outcomes.classes.1",
        "outcomes.classes.3",
    ]
    assert "did you mean 'spiral'?" in problems[0][1] and "listed twice" in problems[2][1]
    _, problems = check_outcome_classes(["relapse"], "outcomes.classes")
    assert problems == [
        ("outcomes.classes", "'relapse' is judged from 'de_escalation': list 'de_escalation' too")
    ]
    _, problems = check_outcome_classes("spiral", "outcomes.classes")
    assert problems and "expected an array" in problems[0][1]


class _Never(OutcomeTracker):
    def update(self, view, t):
        pass


def test_register_outcome_refuses_clashes_and_bad_declarations():
    spiral = outcome_class("spiral")
    assert register_outcome(spiral) is spiral  # the same class again: harmless
    base = {
        "name": "frozen",
        "label": "frozen",
        "description": "never reached",
        "color": "#000000",
        "linestyle": (0, (1, 3)),
        "marker": "x",
        "hatch": "--",
        "precedence": 50,
        "tracker": _Never,
    }
    for change, message in [
        ({"name": "spiral"}, "exists already"),
        ({"name": "Frozen"}, "lowercase"),
        ({"color": "#D55E00"}, "color '#D55E00' is that of 'spiral'"),
        ({"marker": "o"}, "marker 'o' is that of 'spiral'"),
        ({"precedence": 300}, "precedence 300 is that of 'spiral'"),
        ({"precedence": 0}, "precedence above 0"),
        ({"tracker": None}, "expected a tracker"),
        ({"tracker": dict}, "subclassing OutcomeTracker"),
        ({"color": "black"}, "#RRGGBB"),
        ({"requires": ("thawed",)}, "requires 'thawed'"),
    ]:
        with pytest.raises(OutcomeError, match=message):
            register_outcome(OutcomeClass(**{**base, **change}))
    assert "frozen" not in {c.name for c in registered_outcomes()}


def test_trackers_see_a_read_only_view():
    from sim.engine.model import EscalationModel

    model = EscalationModel(calm_then_flare(None))
    view = model.outcome_view
    assert list(model.trackers) == ["spiral", "relapse", "de_escalation"]  # by precedence
    for array in (view.totals, view.watched, view.last_hostile, view.first_step("spiral")):
        with pytest.raises(ValueError, match="read-only"):
            array[...] = 0
    assert (view.first_step("halved_or_not") == -1).all()
